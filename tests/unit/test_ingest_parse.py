"""What the ingest function reads from a message body: the EventBridge event's detail, its time as a default."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from audit_service.services.ingest import Rejected, parse

DETAIL = {"event_id": "e-1", "type": "deployment_created", "tenant_id": 1, "author": {"id": 1, "name": "Jane Smith"}}


def envelope(detail: dict[str, object], **fields: object) -> str:
    return json.dumps({"detail-type": "Audit Event", "source": "svc", "detail": detail, **fields})


def test_an_event_without_its_own_time_happened_when_the_bus_received_it() -> None:
    event = parse(envelope(DETAIL, time="2025-01-02T03:04:05Z"))
    assert event.occurred_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_the_producers_own_time_wins() -> None:
    event = parse(envelope({**DETAIL, "occurred_at": "2025-01-01T00:00:00.250Z"}, time="2025-01-02T03:04:05Z"))
    assert event.occurred_at == datetime(2025, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC)


def test_no_time_at_all_is_refused_with_the_field_named() -> None:
    with pytest.raises(Rejected, match="occurred_at"):
        parse(json.dumps(DETAIL))
