"""Log streams (issue #15): configured through the API, audited, and delivering a tenant's records to its own
endpoint (a real HTTP receiver on this machine), signed, at least once, never another tenant's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from audit_service import container
from audit_service.domain.models import Plan
from audit_service.domain.permissions import Role
from audit_service.domain.streams import SIGNATURE_HEADER, STREAM_HEADER, signature, verify_signature
from localcloud.provision import Stack
from localcloud.receiver import Receiver
from tests.conftest import Api, clients, scan_all, user
from tests.integration.test_audit_log import product_page_event, publish

SECRET = "s" * 40


@pytest.fixture
def receiver(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """A tenant's endpoint on loopback (allowed only by the local cloud's parameter), retried at once."""
    monkeypatch.setenv("LOG_STREAM_ALLOW_LOCAL_DESTINATIONS", "true")
    monkeypatch.setenv("LOG_STREAM_RETRY_BASE_SECONDS", "0")
    monkeypatch.setenv("LOG_STREAM_DELIVERY_ATTEMPTS", "3")
    container.reset()
    started = Receiver(secret=SECRET).start()
    yield started
    started.stop()


def new_stream(receiver: Receiver, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "SIEM",
        "destination": {"type": "https", "url": receiver.url, "secret": SECRET},
        "kinds": ["audit"],
        **overrides,
    }


def create(api: Api, tenant_id: int, key: str, body: dict[str, Any]) -> dict[str, Any]:
    status, created = api.call("POST", f"/tenants/{tenant_id}/streams", key, body)
    assert status == 201, created
    return created


def audit_of(api: Api, tenant_id: int, key: str, event_type: str) -> list[dict[str, Any]]:
    status, page = api.call("GET", f"/audit/tenants/{tenant_id}?type={event_type}", key)
    assert status == 200, page
    return list(page["data"])


def test_an_owner_creates_lists_reads_and_deletes_a_stream_audited_and_the_secret_never_returned(
    api: Api, stack: Stack, demo: dict[str, Any], receiver: Receiver
) -> None:
    tenant_id, owner = demo["tenants"][0]["id"], user(demo, "owner")

    created = create(api, tenant_id, owner["api_key"], new_stream(receiver, types=["deployment_created"]))
    status, listed = api.call("GET", f"/tenants/{tenant_id}/streams", owner["api_key"])
    status_one, one = api.call("GET", f"/tenants/{tenant_id}/streams/{created['id']}", owner["api_key"])

    assert created["destination"] == {"type": "https", "url": receiver.url}
    assert created["kinds"] == ["audit"] and created["types"] == ["deployment_created"]
    assert created["health"]["state"] == "active" and created["health"]["delivered"] == 0
    assert status == 200 and listed["total"] == 1 and listed["data"] == [created]
    assert status_one == 200 and one == created
    everything = json.dumps([created, listed, one]) + json.dumps(scan_all(stack), default=str)
    assert SECRET not in everything, "the secret is never returned nor stored readable"
    (record,) = audit_of(api, tenant_id, owner["api_key"], "log_stream_created")
    assert record["previous"] is None and record["current"]["destination"] == created["destination"]
    assert "secret" not in json.dumps(record)

    status, _ = api.call("DELETE", f"/tenants/{tenant_id}/streams/{created['id']}", owner["api_key"])
    assert status == 204
    status, _ = api.call("GET", f"/tenants/{tenant_id}/streams/{created['id']}", owner["api_key"])
    assert status == 404
    (deleted,) = audit_of(api, tenant_id, owner["api_key"], "log_stream_deleted")
    assert deleted["previous"]["stream_id"] == created["id"] and deleted["current"] is None


@pytest.mark.parametrize("role", ["auditor", "member"])
def test_only_owners_hold_audit_stream(api: Api, demo: dict[str, Any], receiver: Receiver, role: str) -> None:
    tenant_id = demo["tenants"][0]["id"]
    status, body = api.call("POST", f"/tenants/{tenant_id}/streams", user(demo, role)["api_key"], new_stream(receiver))
    assert status == 403 and body["error"]["permission"] == "audit:stream"


def test_a_tenant_has_at_most_ten_streams_even_when_two_creates_race(
    api: Api, stack: Stack, demo: dict[str, Any], receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audit_service.dal.streams import StreamsRepository

    tenant_id, key = demo["tenants"][0]["id"], user(demo, "owner")["api_key"]
    made = [create(api, tenant_id, key, new_stream(receiver, name=f"SIEM {n}")) for n in range(10)]
    status, refused = api.call("POST", f"/tenants/{tenant_id}/streams", key, new_stream(receiver))
    assert status == 409 and "at most 10" in refused["error"]["message"]

    # A create that read the tenant's streams before a racing create stored the tenth: its check passes.
    monkeypatch.setattr(StreamsRepository, "of_tenant", lambda self, tenant: made[:9])
    status, refused = api.call("POST", f"/tenants/{tenant_id}/streams", key, new_stream(receiver))
    assert status == 409 and "at most 10" in refused["error"]["message"]  # the slot was taken
    monkeypatch.undo()

    assert api.call("DELETE", stream_path(tenant_id, made[0]), key)[0] == 204
    create(api, tenant_id, key, new_stream(receiver))  # a delete frees its slot
    assert api.call("GET", f"/tenants/{tenant_id}/streams", key)[1]["total"] == 10


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"destination": {"type": "https", "url": "http://example.com/x", "secret": SECRET}}, "https"),
        ({"destination": {"type": "https", "url": "https://169.254.169.254/latest", "secret": SECRET}}, "public"),
        ({"destination": {"type": "https", "url": "https://10.0.0.8/x", "secret": SECRET}}, "public"),
        ({"destination": {"type": "https", "url": "https://127.1/x", "secret": SECRET}}, "public"),
        ({"destination": {"type": "https", "url": "https://0x7f000001/x", "secret": SECRET}}, "public"),
        ({"destination": {"type": "https", "url": "https://exa mple.com/x", "secret": SECRET}}, "url"),
        ({"destination": {"type": "https", "url": "https://example.com:99999/x", "secret": SECRET}}, "port"),
        ({"destination": {"type": "https", "url": "https://u:p@example.com/x", "secret": SECRET}}, "credentials"),
        ({"destination": {"type": "https", "url": "https://example.com/x", "secret": "short"}}, "secret"),
        ({"kinds": []}, "kinds"),
        ({"kinds": ["audit", "audit"]}, "kinds"),
        ({"kinds": ["billing"]}, "kinds"),
        ({"format": "xml"}, "format"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_streams_are_refused_with_a_400(
    api: Api, demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch, change: dict[str, Any], problem: str
) -> None:
    """On AWS (no local destinations): only public https hosts; every bad field a 400 naming it."""
    body = {"name": "x", "destination": {"type": "https", "url": "https://example.com/x", "secret": SECRET}}
    body |= {"kinds": ["audit"], **change}
    status, answer = api.call(
        "POST", f"/tenants/{demo['tenants'][0]['id']}/streams", user(demo, "owner")["api_key"], body
    )
    assert status == 400, answer
    assert problem in json.dumps(answer)


def test_a_stream_gets_every_record_of_its_kinds_and_types_signed_and_nothing_else(
    api: Api, stack: Stack, demo: dict[str, Any], receiver: Receiver
) -> None:
    tenant_id, owner = demo["tenants"][0]["id"], user(demo, "owner")
    stream = create(api, tenant_id, owner["api_key"], new_stream(receiver, types=["deployment_created"]))
    api.drain()  # the stream's own creation record is not of its type
    wanted = [product_page_event(tenant_id) for _ in range(5)]
    other_type = product_page_event(tenant_id, type="deployment_deleted")

    publish(stack, *wanted, other_type)
    api.drain()

    assert sorted(r["id"] for r in receiver.records) == sorted(e["event_id"] for e in wanted)
    for entry in receiver.records:
        assert entry["kind"] == "audit" and entry["tenant_id"] == tenant_id
        assert entry["record"]["type"] == "deployment_created"
        assert entry["record"]["author"] == {"id": 1, "name": "Jane Smith"}  # as the API shows it, decrypted
    for delivery in receiver.deliveries:
        assert delivery["status"] == 200 and delivery["headers"][STREAM_HEADER.lower()] == stream["id"]
    _, health = api.call("GET", f"/tenants/{tenant_id}/streams/{stream['id']}", owner["api_key"])
    assert health["health"]["delivered"] == 5 and health["health"]["failed"] == 0
    assert health["health"]["last_delivered_at"] and health["health"]["lag_seconds"] is not None


def test_the_signature_covers_the_body_and_its_time() -> None:
    body = b'{"id":"1"}\n'
    header = signature(SECRET, 1_800_000_000, body)
    assert verify_signature(SECRET, header, body, now=1_800_000_010)
    assert not verify_signature(SECRET, header, body + b" ", now=1_800_000_010)  # changed body
    assert not verify_signature("x" * 40, header, body, now=1_800_000_010)  # another secret
    assert not verify_signature(SECRET, header, body, now=1_800_000_000 + 301)  # replayed later
    assert not verify_signature(SECRET, "garbage", body)


def test_access_and_security_records_reach_a_stream_of_those_kinds(
    api: Api, demo: dict[str, Any], receiver: Receiver
) -> None:
    tenant_id, owner, member = demo["tenants"][0]["id"], user(demo, "owner"), user(demo, "member")
    create(api, tenant_id, owner["api_key"], new_stream(receiver, kinds=["access", "security"]))
    api.drain()

    api.call("GET", f"/audit/tenants/{tenant_id}", owner["api_key"])  # an access-log record
    api.call("GET", f"/audit/tenants/{tenant_id}", member["api_key"])  # a denial: a security event
    api.drain()

    kinds = {(r["kind"], r["record"].get("action") or r["record"].get("type")) for r in receiver.records}
    assert ("access", "audit_log.read") in kinds and ("security", "permission_denied") in kinds
    assert all(r["kind"] != "audit" for r in receiver.records)


def test_a_receiver_failing_for_a_while_then_recovering_loses_nothing(
    api: Api, stack: Stack, demo: dict[str, Any], receiver: Receiver
) -> None:
    tenant_id, owner = demo["tenants"][0]["id"], user(demo, "owner")
    stream = create(api, tenant_id, owner["api_key"], new_stream(receiver, types=["deployment_created"]))
    api.drain()
    receiver.fail_next = 2  # the next two deliveries get 503: fewer than the attempts allowed (3)
    events = [product_page_event(tenant_id) for _ in range(3)]

    publish(stack, *events)
    api.drain()

    assert sorted(r["id"] for r in receiver.records) == sorted(e["event_id"] for e in events)
    assert [d["status"] for d in receiver.deliveries][:2] == [503, 503]
    _, got = api.call("GET", f"/tenants/{tenant_id}/streams/{stream['id']}", owner["api_key"])
    assert got["health"]["delivered"] == 3 and got["health"]["failed"] == 0
    assert got["health"]["failed_attempts"] == 2 and got["health"]["state"] == "active"
    assert got["health"]["last_error"]["status"] == 503


def test_a_delivery_that_keeps_failing_is_kept_counted_and_shown(
    api: Api, stack: Stack, demo: dict[str, Any], receiver: Receiver
) -> None:
    tenant_id, owner = demo["tenants"][0]["id"], user(demo, "owner")
    stream = create(api, tenant_id, owner["api_key"], new_stream(receiver, types=["deployment_created"]))
    api.drain()
    receiver.fail_next = 1000
    event = product_page_event(tenant_id)

    publish(stack, event)
    api.drain()

    assert receiver.records == []
    assert [d["status"] for d in receiver.deliveries] == [503, 503, 503]  # LOG_STREAM_DELIVERY_ATTEMPTS
    _, got = api.call("GET", f"/tenants/{tenant_id}/streams/{stream['id']}", owner["api_key"])
    assert got["health"]["failed"] == 1 and got["health"]["delivered"] == 0
    assert got["health"]["last_error"]["status"] == 503 and SECRET not in json.dumps(got)
    from audit_service.admin.cli import run as admin

    (message,) = admin(["dead-letters", "show", "--queue", "streams"])["messages"]  # the operator's view
    assert message["body"]["stream_id"] == stream["id"]
    assert message["body"]["records"][0][1] == event["event_id"]  # keys only, no contents
    kept = clients("sqs").receive_message(QueueUrl=stack.ref("LogStreamDeadLetterQueue"), MaxNumberOfMessages=10)
    assert len(kept["Messages"]) == 1  # looking left it there


def test_a_stream_that_keeps_failing_is_paused_with_a_security_event_and_its_resume_loses_nothing(
    api: Api, stack: Stack, demo: dict[str, Any], receiver: Receiver
) -> None:
    tenant_id, owner = demo["tenants"][0]["id"], user(demo, "owner")
    key = owner["api_key"]
    stream = create(api, tenant_id, key, new_stream(receiver, types=["deployment_created"]))
    api.drain()
    receiver.fail_next = 3  # every attempt of the first chunk (LOG_STREAM_DELIVERY_ATTEMPTS=3) fails
    first = product_page_event(tenant_id)
    publish(stack, first)
    api.drain()

    _, got = api.call("GET", stream_path(tenant_id, stream), key)
    assert got["health"]["state"] == "disabled" and got["health"]["paused_by"] == "service"
    status, security = api.call("GET", f"/audit/tenants/{tenant_id}/security?type=log_stream_paused", key)
    assert status == 200, security
    (event,) = security["data"]
    assert event["stream_id"] == stream["id"] and "3 delivery attempts failed; last: 503" in event["reason"]

    later = product_page_event(tenant_id)  # written while paused: held back
    publish(stack, later)
    api.drain()
    assert receiver.records == []

    status, resumed = api.call("POST", stream_path(tenant_id, stream, "resume"), key)  # the receiver is back
    assert status == 200, resumed
    api.drain()
    assert sorted(r["id"] for r in receiver.records) == sorted([first["event_id"], later["event_id"]])


def test_a_wrong_secret_is_refused_by_the_receiver(
    api: Api, stack: Stack, demo: dict[str, Any], receiver: Receiver
) -> None:
    tenant_id, owner = demo["tenants"][0]["id"], user(demo, "owner")
    body = new_stream(receiver, types=["deployment_created"])
    body["destination"]["secret"] = "w" * 40
    create(api, tenant_id, owner["api_key"], body)
    api.drain()

    publish(stack, product_page_event(tenant_id))
    api.drain()

    assert receiver.records == [] and {d["status"] for d in receiver.deliveries} == {401}
    assert all(SIGNATURE_HEADER.lower() in d["headers"] for d in receiver.deliveries)


def test_another_tenants_records_never_arrive(api: Api, stack: Stack, demo: dict[str, Any], receiver: Receiver) -> None:
    tenant_a, owner_a = demo["tenants"][0]["id"], user(demo, "owner")
    accounts = container.accounts()
    tenant_b = accounts.create_tenant("Tenant B", Plan.PRO)
    owner_b = accounts.create_user("Peter Gibbons", "peter@initech.example")
    accounts.add_member(tenant_b.id, owner_b.id, Role.OWNER)
    key_b = accounts.issue_api_key(owner_b.id, "b").secret
    other = Receiver(secret=SECRET).start()
    try:
        create(api, tenant_a, owner_a["api_key"], new_stream(receiver, kinds=["audit", "access", "security"]))
        create(api, tenant_b.id, key_b, new_stream(other, kinds=["audit", "access", "security"]))
        api.drain()
        a_events = [product_page_event(tenant_a) for _ in range(3)]
        b_events = [product_page_event(tenant_b.id) for _ in range(3)]

        publish(stack, *a_events, *b_events)
        api.call("GET", f"/audit/tenants/{tenant_b.id}", key_b)  # B's access log
        api.call("GET", f"/audit/tenants/{tenant_b.id}", owner_a["api_key"])  # A's owner probing B: platform's
        api.drain()

        assert receiver.records and other.records
        assert {r["tenant_id"] for r in receiver.records} == {tenant_a}
        assert {r["tenant_id"] for r in other.records} == {tenant_b.id}
        a_ids, b_ids = {r["id"] for r in receiver.records}, {r["id"] for r in other.records}
        assert {e["event_id"] for e in a_events} <= a_ids and not a_ids & {e["event_id"] for e in b_events}
        assert {e["event_id"] for e in b_events} <= b_ids and not b_ids & {e["event_id"] for e in a_events}
    finally:
        other.stop()


def test_a_delivery_message_naming_another_tenants_records_delivers_none_of_them(
    api: Api, stack: Stack, demo: dict[str, Any], receiver: Receiver
) -> None:
    """Even a forged or mistaken chunk cannot carry a record of another tenant to a stream."""
    tenant_a, owner_a = demo["tenants"][0]["id"], user(demo, "owner")
    tenant_b = container.accounts().create_tenant("Tenant B", Plan.PRO)
    stream = create(api, tenant_a, owner_a["api_key"], new_stream(receiver))
    publish(stack, product_page_event(tenant_b.id, event_id="b-secret-1"))
    api.drain()
    receiver.records.clear()
    receiver.deliveries.clear()

    clients("sqs").send_message(
        QueueUrl=stack.ref("LogStreamDeliveryQueue"),
        MessageBody=json.dumps(
            {"tenant_id": tenant_a, "stream_id": stream["id"], "records": [[f"{tenant_b.id}#audit", "b-secret-1"]]}
        ),
    )
    api.drain()

    assert receiver.deliveries == [] and receiver.records == []


def stream_path(tenant_id: int, stream: dict[str, Any], action: str = "") -> str:
    return f"/tenants/{tenant_id}/streams/{stream['id']}" + (f"/{action}" if action else "")


def test_a_paused_stream_sends_nothing_and_its_resume_delivers_what_came_meanwhile_marked_replayed(
    api: Api, stack: Stack, demo: dict[str, Any], receiver: Receiver
) -> None:
    tenant_id, owner = demo["tenants"][0]["id"], user(demo, "owner")
    key = owner["api_key"]
    stream = create(api, tenant_id, key, new_stream(receiver, types=["deployment_created"]))
    api.drain()

    status, paused = api.call("POST", stream_path(tenant_id, stream, "pause"), key)
    assert status == 200 and paused["health"]["state"] == "paused" and paused["health"]["paused_at"]
    assert api.call("POST", stream_path(tenant_id, stream, "pause"), key)[0] == 409
    events = [product_page_event(tenant_id) for _ in range(3)]
    publish(stack, *events)
    api.drain()
    assert receiver.deliveries == []

    status, resumed = api.call("POST", stream_path(tenant_id, stream, "resume"), key)
    assert status == 200 and resumed["health"]["state"] == "active" and resumed["health"]["paused_at"] is None
    api.drain()

    assert sorted(r["id"] for r in receiver.records) == sorted(e["event_id"] for e in events)
    assert all(r["replayed"] for r in receiver.records)
    assert api.call("POST", stream_path(tenant_id, stream, "resume"), key)[0] == 409
    (pause_record,) = audit_of(api, tenant_id, key, "log_stream_paused")
    (resume_record,) = audit_of(api, tenant_id, key, "log_stream_resumed")
    assert (pause_record["previous"]["state"], pause_record["current"]["state"]) == ("active", "paused")
    assert (resume_record["previous"]["state"], resume_record["current"]["state"]) == ("paused", "active")


def test_a_replay_delivers_the_periods_records_again_in_order_marked_replayed(
    api: Api, stack: Stack, demo: dict[str, Any], receiver: Receiver
) -> None:
    tenant_id, owner = demo["tenants"][0]["id"], user(demo, "owner")
    key = owner["api_key"]
    stream = create(api, tenant_id, key, new_stream(receiver, types=["deployment_created"]))
    api.drain()
    now = datetime.now(UTC)
    events = [product_page_event(tenant_id, occurred_at=(now - timedelta(minutes=m)).isoformat()) for m in (3, 1, 2)]
    publish(stack, *events)
    api.drain()
    assert not any(line["replayed"] for line in receiver.lines)
    receiver.lines.clear()

    since = (now - timedelta(minutes=10)).isoformat()
    status, queued = api.call("POST", stream_path(tenant_id, stream, "replay"), key, {"from": since})
    assert status == 202 and queued["status"] == "queued", queued
    api.drain()

    in_time_order = [e["event_id"] for e in sorted(events, key=lambda e: e["occurred_at"])]
    assert [line["id"] for line in receiver.lines] == in_time_order
    assert all(line["replayed"] for line in receiver.lines)
    (record,) = audit_of(api, tenant_id, key, "log_stream_replayed")
    assert record["current"]["stream_id"] == stream["id"]


def test_a_replay_across_kinds_and_chunks_arrives_in_time_order_even_through_a_failed_attempt(
    api: Api, stack: Stack, demo: dict[str, Any], receiver: Receiver
) -> None:
    """Audit and access records interleaved in time (two log partitions), more than one delivery's worth: the
    replay merges the partitions oldest first, and its next chunk leaves only once the previous one arrived."""
    tenant_id, owner = demo["tenants"][0]["id"], user(demo, "owner")
    key = owner["api_key"]
    stream = create(api, tenant_id, key, new_stream(receiver, kinds=["audit", "access"]))
    api.drain()
    since = datetime.now(UTC) - timedelta(seconds=1)
    for _round in range(5):
        for _ten in range(3):
            publish(
                stack, *[product_page_event(tenant_id, occurred_at=datetime.now(UTC).isoformat()) for _ in range(10)]
            )
        api.drain()
        assert api.call("GET", f"/audit/tenants/{tenant_id}?results=1", key)[0] == 200  # an access record
    api.drain()
    live = {line["id"] for line in receiver.lines}
    receiver.lines.clear()
    receiver.fail_next = 1  # the replay's first chunk is refused once, and retried

    status, _ = api.call("POST", stream_path(tenant_id, stream, "replay"), key, {"from": since.isoformat()})
    assert status == 202
    api.drain()

    replayed = [line for line in receiver.lines if line["replayed"]]

    def moment(line: dict[str, Any]) -> str:
        return str(line["record"].get("occurred_at") or line["record"]["timestamp"])

    assert len(replayed) > 150 and {line["id"] for line in replayed} >= live
    assert {line["kind"] for line in replayed} == {"audit", "access"}
    assert [d["status"] for d in receiver.deliveries if d["status"] != 200][:1] == [503]
    times = [datetime.fromisoformat(moment(line).replace("Z", "+00:00")) for line in replayed]
    assert times == sorted(times), "replayed out of time order"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"from": (datetime.now(UTC) - timedelta(days=100)).isoformat()}, 400),  # before the plan's 90 days
        ({"from": datetime.now(UTC).isoformat(), "to": (datetime.now(UTC) - timedelta(hours=1)).isoformat()}, 400),
        ({"from": "2026-11-26T10:00:00"}, 400),  # no offset
        ({"from": "yesterday"}, 400),
        ({}, 400),
    ],
)
def test_a_replay_outside_retention_or_malformed_is_refused(
    api: Api, demo: dict[str, Any], receiver: Receiver, body: dict[str, Any], status: int
) -> None:
    tenant_id, key = demo["tenants"][0]["id"], user(demo, "owner")["api_key"]
    stream = create(api, tenant_id, key, new_stream(receiver))
    got, answer = api.call("POST", stream_path(tenant_id, stream, "replay"), key, body)
    assert got == status, answer


def test_a_paused_stream_is_not_replayed_until_resumed(api: Api, demo: dict[str, Any], receiver: Receiver) -> None:
    tenant_id, key = demo["tenants"][0]["id"], user(demo, "owner")["api_key"]
    stream = create(api, tenant_id, key, new_stream(receiver))
    api.call("POST", stream_path(tenant_id, stream, "pause"), key)
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    status, answer = api.call("POST", stream_path(tenant_id, stream, "replay"), key, {"from": since})
    assert status == 409, answer


def test_a_test_event_is_sent_signed_now_and_the_answer_shown(
    api: Api, demo: dict[str, Any], receiver: Receiver
) -> None:
    tenant_id, key = demo["tenants"][0]["id"], user(demo, "owner")["api_key"]
    stream = create(api, tenant_id, key, new_stream(receiver))
    api.call("POST", stream_path(tenant_id, stream, "pause"), key)  # a test is sent whatever the state

    status, sent = api.call("POST", stream_path(tenant_id, stream, "test"), key)

    assert status == 200 and sent["delivered"] is True and sent["status"] == 200, sent
    (line,) = receiver.lines
    assert line["id"] == sent["id"] and line["kind"] == "test" and line["record"]["type"] == "log_stream_test"
    receiver.fail_next = 1
    status, failed = api.call("POST", stream_path(tenant_id, stream, "test"), key)
    assert status == 200 and failed["delivered"] is False and failed["status"] == 503
    _, got = api.call("GET", stream_path(tenant_id, stream), key)
    assert got["health"]["delivered"] == 0 and got["health"]["failed_attempts"] == 0  # not counted


def test_an_ocsf_stream_gets_ocsf_events_keyed_by_the_record_id(
    api: Api, stack: Stack, demo: dict[str, Any], receiver: Receiver
) -> None:
    tenant_id, owner = demo["tenants"][0]["id"], user(demo, "owner")
    create(api, tenant_id, owner["api_key"], new_stream(receiver, kinds=["audit", "access"], format="ocsf"))
    api.drain()
    event = product_page_event(tenant_id)
    publish(stack, event)
    api.call("GET", f"/audit/tenants/{tenant_id}", owner["api_key"])  # an access-log record
    api.drain()

    by_id = {line["metadata"]["uid"]: line for line in receiver.lines}
    created = by_id[event["event_id"]]
    assert (created["class_uid"], created["activity_id"], created["type_uid"]) == (6003, 1, 600301)
    assert created["actor"] == {"user": {"uid": "1", "name": "Jane Smith"}}
    assert created["metadata"]["tenant_uid"] == str(tenant_id) and created["unmapped"]["replayed"] is False
    reads = [line for line in receiver.lines if line["unmapped"]["kind"] == "access"]
    assert reads and all((line["class_uid"], line["activity_id"]) == (6003, 2) for line in reads)


@pytest.mark.parametrize(
    ("destination", "header"),
    [
        ({"type": "splunk_hec", "token": SECRET}, ("authorization", f"Splunk {SECRET}")),
        ({"type": "datadog", "api_key": SECRET}, ("dd-api-key", SECRET)),
    ],
)
def test_splunk_and_datadog_destinations_get_the_records_in_their_own_shape(
    api: Api, stack: Stack, demo: dict[str, Any], receiver: Receiver, destination: dict[str, Any], header: Any
) -> None:
    tenant_id, key = demo["tenants"][0]["id"], user(demo, "owner")["api_key"]
    body = new_stream(receiver, types=["deployment_created"])
    body["destination"] = {**destination, "url": receiver.url}
    stream = create(api, tenant_id, key, body)
    assert stream["destination"] == {"type": destination["type"], "url": receiver.url}
    api.drain()
    event = product_page_event(tenant_id)

    publish(stack, event)
    api.drain()

    assert [r["id"] for r in receiver.records] == [event["event_id"]]
    (delivery,) = receiver.deliveries
    assert delivery["status"] == 200 and delivery["headers"][header[0]] == header[1]
    assert SIGNATURE_HEADER.lower() not in delivery["headers"]
    assert SECRET not in json.dumps(api.call("GET", stream_path(tenant_id, stream), key)[1])
