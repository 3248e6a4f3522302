"""The event-type registry's rules and its cache (the store is counted, not emulated: no AWS here)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError

from audit_service.domain.event_types import (
    BUILTIN_TYPES,
    EventType,
    EventTypeDeclaration,
    Operation,
    next_version,
)
from audit_service.services.event_types import EventTypeRegistry

DECLARATION = EventTypeDeclaration(
    type="topic_deleted",
    name="Topic Deleted",
    resource="topic",
    action="deleted",
    operation=Operation.DELETE,
    context=("deployment",),
    previous_schema={"type": "object", "required": ["partitions"]},
    current_schema={"type": "null"},
)


class CountingStore:
    """Answers ``all_versions`` from a list and counts the scans; the registry never writes here."""

    def __init__(self, versions: list[EventType]) -> None:
        self.versions = versions
        self.scans = 0

    def all_versions(self) -> Iterator[EventType]:
        self.scans += 1
        yield from self.versions

    def put_version(self, event_type: EventType, audit_record: dict[str, Any]) -> None:
        raise AssertionError("not in these tests")


def test_registering_the_same_declaration_creates_nothing_and_a_change_the_next_version() -> None:
    current = EventType(declaration=DECLARATION, version=3)
    assert next_version(None, DECLARATION) == 1
    assert next_version(current, DECLARATION) is None
    assert next_version(current, DECLARATION.model_copy(update={"name": "Topic Removed"})) == 4
    # the context's order is not a change
    reordered = EventTypeDeclaration.model_validate({**DECLARATION.model_dump(), "context": ["deployment"]})
    assert next_version(current, reordered) is None


def test_todays_catalog_is_version_1_open_to_every_context_without_schemas() -> None:
    created = BUILTIN_TYPES["deployment_created"]
    assert created.version == 1 and created.declaration.operation is Operation.CREATE
    assert created.declaration.context == ("division", "environment", "deployment")
    assert BUILTIN_TYPES["member_removed"].declaration.operation is Operation.DELETE
    assert all(
        t.declaration.previous_schema is None and t.declaration.current_schema is None for t in BUILTIN_TYPES.values()
    )


@pytest.mark.parametrize(
    "field", [{"type": "TopicDeleted"}, {"operation": "rename"}, {"context": ["region"]}, {"unknown": 1}]
)
def test_a_malformed_declaration_is_refused(field: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        EventTypeDeclaration.model_validate({**DECLARATION.model_dump(mode="json"), **field})


def test_the_registry_reads_the_table_once_per_ttl_and_again_for_an_unknown_type_at_most_per_floor() -> None:
    now = [0.0]
    store = CountingStore([EventType(declaration=DECLARATION, version=1)])
    registry = EventTypeRegistry(
        store,  # type: ignore[arg-type]
        lambda: pytest.fail("no change recorder needed"),
        ttl=60,
        miss_floor=5,
        clock=lambda: now[0],
    )
    for _ in range(1000):  # a warm container: one scan for any number of events of known types
        assert registry.current("topic_deleted") is not None
        assert registry.current("deployment_created") is not None
    assert store.scans == 1
    now[0] = 1.0
    assert registry.current("topic_archived") is None  # unknown, but read a second ago: not again
    assert store.scans == 1
    now[0] = 6.0
    store.versions.append(
        EventType(
            declaration=DECLARATION.model_copy(update={"type": "topic_archived", "name": "Topic Archived"}), version=1
        )
    )
    assert registry.current("topic_archived") is not None  # registered a moment ago: found
    assert store.scans == 2
    for _ in range(100):
        registry.current("topic_exploded")
    assert store.scans == 2  # a stream of unknown types costs nothing more within the floor
    now[0] = 70.0
    registry.current("topic_deleted")
    assert store.scans == 3
