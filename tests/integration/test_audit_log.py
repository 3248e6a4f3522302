"""The audit log: ingestion from the bus, storage guarantees, and the two read routes."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from audit_service import container
from audit_service.crypto.envelope import DecryptionFailed
from audit_service.domain.shards import expiry
from audit_service.services.pagination import PageRequest
from localcloud.pollers import Pollers
from localcloud.provision import Stack
from localcloud.runtime import Runtime
from tests.conftest import REGION, Api, clients, log_items, user


def product_page_event(tenant_id: int, **overrides: Any) -> dict[str, Any]:
    """The product page's example, as a producer publishes it."""
    event = {
        "event_id": str(uuid.uuid4()),
        "type": "deployment_created",
        "tenant_id": tenant_id,
        "author": {"id": 1, "name": "Jane Smith"},
        "division": {"id": 1, "name": "Platform Engineering"},
        "environment": {"id": 1, "name": "production"},
        "deployment": {"id": 42, "name": "prod-cluster"},
        "request_id": "req-42",
        "source_ip": "198.51.100.77",
        "user_agent": "terraform/1.9",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    event.update(overrides)
    return event


@pytest.fixture
def pollers(runtime: Runtime, stack: Stack) -> Pollers:
    return Pollers(stack.mappings, runtime, clients, REGION)


def publish(stack: Stack, *details: dict[str, Any] | str) -> None:
    entries = [
        {
            "Source": "laserdata.deployments",
            "DetailType": "Audit Event",
            "Detail": detail if isinstance(detail, str) else json.dumps(detail),
            "EventBusName": stack.ref("AuditEventBus"),
        }
        for detail in details
    ]
    response = clients("events").put_events(Entries=entries)
    assert response["FailedEntryCount"] == 0


def dead_letters(stack: Stack) -> list[dict[str, Any]]:
    response = clients("sqs").receive_message(
        QueueUrl=stack.ref("AuditIngestDeadLetterQueue"), MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return response.get("Messages", [])


def audit_items(stack: Stack) -> list[dict[str, Any]]:
    return log_items(stack, "audit")


def get(api: Api, path: str, key: str) -> tuple[int, Any]:
    result = api.request("GET", path, key=key)
    return result.status, json.loads(result.body)


def short_visibility(stack: Stack) -> None:
    """A one-second visibility timeout, so a failed message comes back within the test."""
    clients("sqs").set_queue_attributes(QueueUrl=stack.ref("AuditIngestQueue"), Attributes={"VisibilityTimeout": "1"})


def redeliver(pollers: Pollers) -> None:
    import time

    time.sleep(1.2)
    pollers.drain()


# ---------------------------------------------------------------- ingestion


def test_published_event_is_stored_once_encrypted_and_served_in_the_product_shape(
    api: Api, stack: Stack, demo: dict[str, Any], pollers: Pollers
) -> None:
    tenant_id = demo["tenants"][0]["id"]
    event = product_page_event(tenant_id, occurred_at="2026-11-26T06:00:00.123Z")
    event["occurred_at"] = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    publish(stack, event)
    pollers.drain()

    (item,) = audit_items(stack)
    stored = json.dumps(item, default=str)
    for personal in ("Jane Smith", "Platform Engineering", "prod-cluster", "198.51.100.77", "terraform/1.9"):
        assert personal not in stored
    status, body = get(api, f"/audit/tenants/{tenant_id}?page=1&results=10", user(demo, "auditor")["api_key"])
    assert status == 200
    assert set(body) == {"data", "page", "results", "total", "next"}
    assert (body["page"], body["results"], body["total"], body["next"]) == (1, 10, 1, None)
    (record,) = body["data"]
    assert record["type"] == "deployment_created" and record["name"] == "Deployment Created"
    assert record["author"] == {"id": 1, "name": "Jane Smith"}
    assert record["division"] == {"id": 1, "name": "Platform Engineering"}
    assert record["environment"] == {"id": 1, "name": "production"}
    assert record["deployment"] == {"id": 42, "name": "prod-cluster"}
    assert record["id"] == event["event_id"]
    assert record["timestamp"].endswith("Z")
    assert datetime.fromisoformat(record["timestamp"]) == datetime.fromisoformat(event["occurred_at"]).replace(
        microsecond=datetime.fromisoformat(event["occurred_at"]).microsecond // 1000 * 1000
    )
    assert record["previous"] is None and record["current"] is None


def test_a_replayed_event_changes_nothing(stack: Stack, demo: dict[str, Any], pollers: Pollers) -> None:
    event = product_page_event(
        demo["tenants"][0]["id"], previous={"replicas": 1}, current={"replicas": 3}, type="deployment_updated"
    )
    publish(stack, event)
    pollers.drain()
    before = audit_items(stack)

    publish(stack, event, event)
    pollers.drain()

    assert audit_items(stack) == before
    assert dead_letters(stack) == []


def test_a_different_event_reusing_an_event_id_is_refused_and_the_original_kept(
    stack: Stack, demo: dict[str, Any], pollers: Pollers
) -> None:
    original = product_page_event(demo["tenants"][0]["id"])
    publish(stack, original)
    pollers.drain()
    before = audit_items(stack)

    forged = {**original, "author": {"id": 2, "name": "Mallory"}}
    publish(stack, forged)
    pollers.drain()

    assert audit_items(stack) == before
    (dead,) = dead_letters(stack)
    assert "already stored for another event" in dead["MessageAttributes"]["reason"]["StringValue"]


@pytest.mark.parametrize(
    ("detail", "reason"),
    [
        ("{not json", "invalid JSON"),
        (json.dumps({"event_id": "x"}), "not a valid audit event"),
        ("TYPE", "unknown audit event type"),
        ("TENANT", "tenant 999 does not exist"),
        ("FUTURE", "occurred_at is in the future"),
    ],
)
def test_bad_events_go_to_the_dead_letter_queue_with_their_reason(
    stack: Stack, demo: dict[str, Any], pollers: Pollers, detail: str, reason: str
) -> None:
    tenant_id = demo["tenants"][0]["id"]
    if detail == "TYPE":
        detail = json.dumps(product_page_event(tenant_id, type="deployment_exploded"))
    elif detail == "TENANT":
        detail = json.dumps(product_page_event(999))
    elif detail == "FUTURE":
        detail = json.dumps(
            product_page_event(tenant_id, occurred_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
        )
    sqs = clients("sqs")
    # Invalid JSON cannot travel through EventBridge; producers writing to the queue directly can send it.
    if detail.startswith("{not"):
        sqs.send_message(QueueUrl=stack.ref("AuditIngestQueue"), MessageBody=detail)
    else:
        publish(stack, detail)
    pollers.drain()

    assert audit_items(stack) == []
    (dead,) = dead_letters(stack)
    assert reason in dead["MessageAttributes"]["reason"]["StringValue"]
    remaining = sqs.get_queue_attributes(
        QueueUrl=stack.ref("AuditIngestQueue"),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert remaining == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_one_bad_event_does_not_block_the_others(stack: Stack, demo: dict[str, Any], pollers: Pollers) -> None:
    tenant_id = demo["tenants"][0]["id"]
    good = [product_page_event(tenant_id) for _ in range(3)]
    publish(stack, good[0], product_page_event(tenant_id, type="nope"), good[1], good[2])
    pollers.drain()
    assert {item["sk"]["S"] for item in audit_items(stack)} == {event["event_id"] for event in good}
    assert len(dead_letters(stack)) == 1


def test_a_dynamodb_fault_is_retried_and_the_event_stored_exactly_once(
    stack: Stack, runtime: Runtime, demo: dict[str, Any], pollers: Pollers, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.client
    from botocore.exceptions import ClientError

    original = botocore.client.BaseClient._make_api_call
    failures = {"left": 1}

    def flaky(self: Any, operation: str, params: Any) -> Any:
        if operation == "PutItem" and params.get("TableName") == stack.ref("AuditLogTable") and failures["left"]:
            failures["left"] -= 1
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", flaky)
    short_visibility(stack)
    event = product_page_event(demo["tenants"][0]["id"])
    publish(stack, event)
    pollers.drain()
    assert audit_items(stack) == []  # the first attempt failed and was reported, not dropped

    redeliver(pollers)

    assert [item["sk"]["S"] for item in audit_items(stack)] == [event["event_id"]]
    assert dead_letters(stack) == []


def test_a_kms_fault_is_retried_and_the_event_stored_exactly_once(
    stack: Stack, demo: dict[str, Any], pollers: Pollers, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.client
    from botocore.exceptions import ClientError

    container.reset()  # a fresh container: no data key cached yet
    original = botocore.client.BaseClient._make_api_call
    failures = {"left": 1}

    def flaky(self: Any, operation: str, params: Any) -> Any:
        if operation == "GenerateDataKey" and failures["left"]:
            failures["left"] -= 1
            raise ClientError({"Error": {"Code": "KMSInternalException", "Message": "injected"}}, operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", flaky)
    short_visibility(stack)
    runtime_event = product_page_event(demo["tenants"][0]["id"])
    publish(stack, runtime_event)
    pollers.drain()
    assert audit_items(stack) == []

    redeliver(pollers)

    assert [item["sk"]["S"] for item in audit_items(stack)] == [runtime_event["event_id"]]


# ---------------------------------------------------------------- storage guarantees


def test_a_ciphertext_moved_to_another_tenant_fails_to_decrypt(stack: Stack, demo: dict[str, Any]) -> None:
    from audit_service.domain.audit import AuditEventIn
    from audit_service.domain.models import Plan

    other = container.accounts().create_tenant("Other", Plan.PRO)
    audit_log = container.audit_log()
    event = AuditEventIn.model_validate(product_page_event(demo["tenants"][0]["id"]))
    record = audit_log.build(event, Plan.PRO.retention_days)
    moved = type(record)(
        f"{other.id}#audit", record.sk, record.ts_key, {**record.attributes, "tenant_id": str(other.id)}, record.sealed
    )
    container.log_record_store().put(moved)

    with pytest.raises(DecryptionFailed):
        audit_log.tenant_page(other.id, PageRequest())


def test_expired_but_not_yet_deleted_records_are_not_returned(
    api: Api, stack: Stack, demo: dict[str, Any], pollers: Pollers
) -> None:
    tenant_id = demo["tenants"][0]["id"]  # the demo tenant is on Pro: 90 days
    old = product_page_event(tenant_id, occurred_at=(datetime.now(UTC) - timedelta(days=91)).isoformat())
    fresh = product_page_event(tenant_id)
    publish(stack, old, fresh)
    pollers.drain()
    assert len(audit_items(stack)) == 2  # TTL has not deleted the expired one

    status, body = get(api, f"/audit/tenants/{tenant_id}", user(demo, "auditor")["api_key"])
    assert status == 200
    assert [r["id"] for r in body["data"]] == [fresh["event_id"]] and body["total"] == 1


def test_retention_follows_the_plan_and_a_plan_change_is_audited(
    api: Api, stack: Stack, demo: dict[str, Any], pollers: Pollers
) -> None:
    from audit_service.domain.models import Plan

    tenant_id = demo["tenants"][0]["id"]
    owner = user(demo, "owner")
    change = container.accounts().change_plan(tenant_id, Plan.BASIC, actor_id=owner["id"])

    eight_days_ago = product_page_event(tenant_id, occurred_at=(datetime.now(UTC) - timedelta(days=8)).isoformat())
    publish(stack, eight_days_ago)
    pollers.drain()

    status, body = get(api, f"/audit/tenants/{tenant_id}", owner["api_key"])
    assert status == 200
    assert [r["type"] for r in body["data"]] == ["tenant_plan_changed"]  # the 8-day-old one is past Basic's 7
    (plan_record,) = body["data"]
    assert plan_record["id"] == change.event_id
    assert plan_record["previous"] == {"plan": "pro"} and plan_record["current"] == {"plan": "basic"}
    assert plan_record["author"] == {"id": owner["id"], "name": owner["name"]}
    expires = {item["sk"]["S"]: int(item["expires_at"]["N"]) for item in audit_items(stack)}
    occurred = datetime.fromisoformat(eight_days_ago["occurred_at"])
    assert expires[eight_days_ago["event_id"]] == expiry(occurred, 7)  # the UTC midnight after 7 days
    assert expiry(occurred, 7) - (occurred + timedelta(days=7)).timestamp() <= 86_400


# ---------------------------------------------------------------- dead letters


def test_dead_letters_are_sealed_and_the_operator_opens_them(
    stack: Stack, demo: dict[str, Any], pollers: Pollers
) -> None:
    from audit_service.admin.cli import run as admin

    original = product_page_event(demo["tenants"][0]["id"])
    publish(stack, original)
    pollers.drain()
    publish(stack, {**original, "author": {"id": 2, "name": "Mallory Forger"}})
    pollers.drain()

    shown = admin(["dead-letters", "show", "--queue", "ingest"])
    (message,) = shown["messages"]
    assert "already stored for another event" in message["attributes"]["reason"]
    assert message["body"]["detail"]["author"]["name"] == "Mallory Forger"
    (dead,) = dead_letters(stack)  # looking left it there
    assert "Mallory" not in dead["Body"] and original["event_id"] not in dead["Body"]  # 14 days in a queue: sealed


def test_a_message_that_keeps_failing_is_sealed_into_the_dead_letters_and_can_be_redriven(
    stack: Stack, demo: dict[str, Any], pollers: Pollers, monkeypatch: pytest.MonkeyPatch
) -> None:
    import botocore.client
    from botocore.exceptions import ClientError

    original = botocore.client.BaseClient._make_api_call

    def down(self: Any, operation: str, params: Any) -> Any:
        if operation == "PutItem" and params.get("TableName") == stack.ref("AuditLogTable"):
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "injected"}}, operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", down)
    short_visibility(stack)
    event = product_page_event(demo["tenants"][0]["id"])
    publish(stack, event)
    pollers.drain()
    for _ in range(4):
        redeliver(pollers)

    (dead,) = dead_letters(stack)
    assert dead["MessageAttributes"]["reason"]["StringValue"] == "failed 5 times; last: ClientError"
    assert event["event_id"] not in dead["Body"] and "Jane Smith" not in dead["Body"]
    assert (
        clients("sqs").get_queue_attributes(
            QueueUrl=stack.ref("AuditIngestQueue"), AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "0"
    )

    # fixed; the operator moves the dead letter back (what SQS's dead-letter redrive does), and it is stored
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", original)
    clients("sqs").send_message(QueueUrl=stack.ref("AuditIngestQueue"), MessageBody=dead["Body"])
    pollers.drain()
    assert [item["sk"]["S"] for item in audit_items(stack)] == [event["event_id"]]
