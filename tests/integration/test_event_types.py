"""Event types the platform's services register themselves (issue #12), end to end on the template's resources.

A service declares a type on the bus (``Audit Event Type Registered``), publishes
events of it with the AWS SDK, and they are checked against the declaration and
served like any other; nothing in this repository names the type.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from audit_service import container
from audit_service.admin import cli
from audit_service.services.audit_log import AuditFilters
from audit_service.services.pagination import PageRequest
from localcloud.pollers import Pollers
from localcloud.provision import Stack
from localcloud.runtime import Runtime
from tests.conftest import REGION, Api, clients, scan_all, user
from tests.integration.test_audit_log import dead_letters, get

TOPIC_CREATED: dict[str, Any] = {
    "type": "topic_created",
    "name": "Topic Created",
    "resource": "topic",
    "action": "created",
    "operation": "create",
    "context": ["environment", "deployment"],
    "current_schema": {
        "type": "object",
        "required": ["partitions"],
        "properties": {"partitions": {"type": "integer", "minimum": 1}, "compacted": {"type": "boolean"}},
    },
}
AUTHOR = {"id": 1, "name": "Streaming Platform CI"}


@pytest.fixture
def pollers(runtime: Runtime, stack: Stack) -> Pollers:
    return Pollers(stack.mappings, runtime, clients, REGION)


def put(stack: Stack, detail_type: str, detail: dict[str, Any], source: str = "laserdata.streaming") -> None:
    response = clients("events").put_events(
        Entries=[
            {
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "EventBusName": stack.ref("AuditEventBus"),
            }
        ]
    )
    assert response["FailedEntryCount"] == 0


def register(stack: Stack, pollers: Pollers, declaration: dict[str, Any]) -> None:
    put(stack, "Audit Event Type Registered", {"declaration": declaration, "author": AUTHOR})
    pollers.drain()


def topic_event(tenant_id: int, **overrides: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "topic_created",
        "tenant_id": tenant_id,
        "author": {"id": 1, "name": "Jane Smith"},
        "environment": {"id": 1, "name": "production"},
        "deployment": {"id": 42, "name": "prod-cluster"},
        "current": {"partitions": 12, "compacted": True},
        "occurred_at": datetime.now(UTC).isoformat(),
        **overrides,
    }


def registry_items(stack: Stack) -> list[dict[str, Any]]:
    return clients("dynamodb").scan(TableName=stack.ref("EventTypesTable"))["Items"]


def reasons(stack: Stack) -> list[str]:
    return [m["MessageAttributes"]["reason"]["StringValue"] for m in dead_letters(stack)]


def test_a_new_service_audits_a_new_resource_type_without_a_code_change(
    stack: Stack, api: Api, pollers: Pollers, demo: dict[str, Any]
) -> None:
    tenant_id, auditor = demo["tenants"][0]["id"], user(demo, "auditor")["api_key"]
    register(stack, pollers, TOPIC_CREATED)

    status, types = get(api, "/audit/types", auditor)
    assert status == 200
    (listed,) = [t for t in types if t["type"] == "topic_created"]
    assert listed | {"version": 1, "deprecated": False, "resource": "topic", "action": "created"} == listed
    assert [t["type"] for t in types][: len(types) - 1] == [t["type"] for t in types if t["type"] != "topic_created"]

    event = topic_event(tenant_id)
    put(stack, "Audit Event", event)
    pollers.drain()
    status, page = get(api, f"/audit/tenants/{tenant_id}?type=topic_created", auditor)
    assert status == 200 and page["total"] == 1
    (record,) = page["data"]
    assert record["id"] == event["event_id"]
    assert record["name"] == "Topic Created" and record["current"] == {"partitions": 12, "compacted": True}
    (item,) = [i for i in scan_all(stack) if i.get("sk", {}).get("S") == event["event_id"]]
    assert "type_version" not in item  # version 1: nothing stored (a later version is, sealed with the record)
    assert dead_letters(stack) == []


def test_an_event_violating_its_types_schema_lands_in_the_dead_letter_queue_with_the_reason(
    stack: Stack, pollers: Pollers, demo: dict[str, Any]
) -> None:
    tenant_id = demo["tenants"][0]["id"]
    register(stack, pollers, TOPIC_CREATED)
    put(stack, "Audit Event", topic_event(tenant_id, current={"partitions": "many"}))
    put(stack, "Audit Event", topic_event(tenant_id, current={"compacted": True}))
    put(stack, "Audit Event", topic_event(tenant_id, division={"id": 1, "name": "Platform Engineering"}))
    put(stack, "Audit Event", topic_event(tenant_id, type="topic_exploded"))
    pollers.drain()
    assert sorted(reasons(stack)) == sorted(
        [
            "current at partitions: fails 'type' of the schema of 'topic_created' version 1",
            "current at (root): fails 'required' of the schema of 'topic_created' version 1",
            "type 'topic_created' does not carry division (declared: ['environment', 'deployment'])",
            "unknown audit event type 'topic_exploded' (see GET /audit/types)",
        ]
    )
    assert not [i for i in scan_all(stack) if i.get("type", {}).get("S") in ("topic_created", "topic_exploded")]


def test_registering_is_idempotent_a_change_is_a_new_version_and_each_is_audited(
    stack: Stack, pollers: Pollers, demo: dict[str, Any]
) -> None:
    tenant_id = demo["tenants"][0]["id"]
    register(stack, pollers, TOPIC_CREATED)
    register(stack, pollers, TOPIC_CREATED)  # a service deploying again
    assert len(registry_items(stack)) == 1
    first = topic_event(tenant_id)
    put(stack, "Audit Event", first)
    pollers.drain()

    register(stack, pollers, {**TOPIC_CREATED, "name": "Kafka Topic Created"})
    assert sorted(int(i["sk"]["N"]) for i in registry_items(stack)) == [1, 2]
    second = topic_event(tenant_id)
    put(stack, "Audit Event", second)
    put(stack, "Audit Event", first)  # a redelivery after the change: still the same event
    pollers.drain()
    versions = {
        i["sk"]["S"]: i.get("type_version", {"N": "1"})["N"]
        for i in scan_all(stack)
        if i.get("type", {}).get("S") == "topic_created"
    }
    assert versions == {first["event_id"]: "1", second["event_id"]: "2"}
    assert dead_letters(stack) == []
    names = {r["id"]: r["name"] for r in container.audit_log().tenant_page(tenant_id, PageRequest(results=10)).data}
    assert (names[first["event_id"]], names[second["event_id"]]) == ("Topic Created", "Kafka Topic Created")

    # Kept in the platform partition, shown in the registering author's activity.
    page = (
        container.audit_log()
        .user_activity(
            AUTHOR["id"], PageRequest(results=10), AuditFilters(type="audit_event_type_registered"), member_of=set()
        )
        .data
    )
    assert [r["tenant"] for r in page] == [None, None]
    assert [(r["previous"] or {}).get("version") for r in page] == [1, None]  # newest first
    newest = page[0]["current"]
    assert newest["version"] == 2 and newest["name"] == "Kafka Topic Created"
    assert newest["registered_by"] == "laserdata.streaming" and newest["current_schema_sha256"]
    assert page[0]["author"] == AUTHOR


def test_an_update_type_needs_previous_and_a_deprecated_type_takes_no_new_events(
    stack: Stack,
    api: Api,
    pollers: Pollers,
    demo: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant_id, auditor = demo["tenants"][0]["id"], user(demo, "auditor")["api_key"]
    owner = user(demo, "owner")
    # A warm ingest container reads the registry again after EVENT_TYPES_CACHE_SECONDS (60 by default; a
    # deprecation takes effect within it): here at once, so that the test need not wait.
    monkeypatch.setenv("EVENT_TYPES_CACHE_SECONDS", "0")
    container.reset()
    updated = {
        **TOPIC_CREATED,
        "type": "topic_updated",
        "name": "Topic Updated",
        "action": "updated",
        "operation": "update",
    }
    declaration = tmp_path / "topic_updated.json"
    declaration.write_text(json.dumps(updated))
    assert cli.run(["types", "register", "--file", str(declaration), "--actor", str(owner["id"])])["created"] is True

    kept = topic_event(tenant_id, type="topic_updated", previous={"partitions": 6})
    put(stack, "Audit Event", kept)
    put(stack, "Audit Event", topic_event(tenant_id, type="topic_updated"))  # no previous
    pollers.drain()
    assert reasons(stack) == ["type 'topic_updated' is an update: 'previous' is required"]

    done = cli.run(["types", "deprecate", "--type", "topic_updated", "--actor", str(owner["id"])])
    assert done["type"]["deprecated"] is True and done["type"]["version"] == 2
    put(stack, "Audit Event", topic_event(tenant_id, type="topic_updated", previous={"partitions": 6}))
    pollers.drain()
    assert "type 'topic_updated' is deprecated (version 2): publish its successor" in reasons(stack)

    status, page = get(api, f"/audit/tenants/{tenant_id}?type=topic_updated", auditor)
    assert status == 200 and [r["id"] for r in page["data"]] == [kept["event_id"]]  # old records stay readable
    assert page["data"][0]["name"] == "Topic Updated"
    _, types = get(api, "/audit/types", auditor)
    assert {t["type"]: t["deprecated"] for t in types}["topic_updated"] is True


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"current_schema": {"type": "objekt"}}, "not a valid JSON Schema"),
        ({"current_schema": {"$ref": "https://attacker.example/schema.json"}}, "may not reference other documents"),
        ({"type": "Topic-Created"}, "declaration.type"),
        ({"operation": "create", "previous_schema": {"type": "object"}}, "a create has no previous state"),
        ({"context": ["deployment", "deployment"]}, "a context is named twice"),
    ],
)
def test_a_bad_declaration_is_refused_with_the_reason_and_stores_nothing(
    stack: Stack, pollers: Pollers, change: dict[str, Any], reason: str
) -> None:
    register(stack, pollers, {**TOPIC_CREATED, **change})
    (refused,) = reasons(stack)
    assert reason in refused
    assert registry_items(stack) == []


def test_todays_producers_and_types_are_unchanged(stack: Stack, api: Api, demo: dict[str, Any]) -> None:
    """Version 1 of every type of today's catalog, open to every context, with no schema: as before."""
    from audit_service.domain.catalog import AUDIT_EVENT_TYPES

    _, types = get(api, "/audit/types", user(demo, "auditor")["api_key"])
    assert [(t["type"], t["name"]) for t in types] == [(t.type, t.name) for t in AUDIT_EVENT_TYPES.values()]
    assert {(t["version"], tuple(t["context"]), t["current_schema"]) for t in types} == {
        (1, ("division", "environment", "deployment"), None)
    }
