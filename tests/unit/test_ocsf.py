"""The OCSF mapping of a stream's records (domain/ocsf.py): class, activity, type_uid, time, id."""

from __future__ import annotations

from typing import Any

import pytest

from audit_service.domain.ocsf import to_ocsf

AUDIT: dict[str, Any] = {
    "id": "3f0e1c1e",
    "type": "deployment_created",
    "name": "Deployment Created",
    "author": {"id": 1, "name": "Jane Smith"},
    "timestamp": "2025-01-15T10:30:00.000Z",
    "previous": None,
    "current": None,
    "request_id": "req-42",
    "source_ip": "198.51.100.77",
    "user_agent": "terraform/1.9",
}


@pytest.mark.parametrize(
    ("kind", "record", "class_uid", "activity_id", "status_id"),
    [
        ("audit", AUDIT, 6003, 1, 1),
        ("audit", {**AUDIT, "type": "deployment_updated"}, 6003, 3, 1),
        ("audit", {**AUDIT, "type": "tenant_plan_changed"}, 6003, 3, 1),
        ("audit", {**AUDIT, "type": "member_removed", "previous": {"user_id": 3, "role": "member"}}, 3001, 6, 1),
        ("audit", {**AUDIT, "type": "member_role_changed"}, 3001, 99, 1),
        ("audit", {**AUDIT, "type": "api_key_created"}, 3001, 1, 1),
        (
            "access",
            {"id": "a1", "action": "audit_log.read", "actor": {"id": 2}, "timestamp": "2026-11-26T06:40:00.123Z"},
            6003,
            2,
            1,
        ),
        (
            "security",
            {
                "id": "s1",
                "type": "authentication_failed",
                "reason": "unknown_api_key",
                "actor": None,
                "count": 4,
                "timestamp": "2026-11-26T06:40:00.123Z",
            },
            3002,
            1,
            2,
        ),
        (
            "security",
            {
                "id": "s2",
                "type": "permission_denied",
                "permission": "audit:read",
                "actor": {"id": 3},
                "timestamp": "2026-11-26T06:40:00.123Z",
            },
            6003,
            99,
            2,
        ),
    ],
)
def test_each_kind_maps_to_its_class_and_activity(
    kind: str, record: dict[str, Any], class_uid: int, activity_id: int, status_id: int
) -> None:
    event = to_ocsf(kind, record, tenant_id=1, replayed=False)
    assert (event["class_uid"], event["activity_id"], event["status_id"]) == (class_uid, activity_id, status_id)
    assert event["type_uid"] == class_uid * 100 + activity_id
    assert event["category_uid"] == (3 if class_uid < 4000 else 6)
    assert event["metadata"]["uid"] == record["id"] and event["metadata"]["version"] == "1.1.0"
    assert event["unmapped"]["record"] == record and event["unmapped"]["kind"] == kind


def test_an_audit_record_keeps_who_where_and_when() -> None:
    event = to_ocsf("audit", AUDIT, tenant_id=7, replayed=True)
    assert event["time"] == 1736937000000
    assert event["actor"] == {"user": {"uid": "1", "name": "Jane Smith"}}
    assert event["src_endpoint"] == {"ip": "198.51.100.77"}
    assert event["http_request"] == {"user_agent": "terraform/1.9"}
    assert event["api"] == {"operation": "deployment_created", "request": {"uid": "req-42"}}
    assert event["metadata"]["tenant_uid"] == "7" and event["unmapped"]["replayed"] is True


def test_an_account_change_names_the_account() -> None:
    event = to_ocsf(
        "audit", {**AUDIT, "type": "member_removed", "previous": {"user_id": 3}}, tenant_id=1, replayed=False
    )
    assert event["user"] == {"uid": "3"}
