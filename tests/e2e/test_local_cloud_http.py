"""End to end: start ``python -m localcloud`` (what ``make run`` runs) and talk HTTP to it.

The API is called like curl would; the embedded AWS is called through its
real HTTP endpoint with boto3, as the AWS CLI would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcloud.process import client as local_client
from tests.e2e.local import ROOT, start_local_cloud

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    # security events show after the recorder's batching window: a short one for the test
    yield from start_local_cloud(tmp_path_factory, "SecurityEventsWindowSeconds=1")


def _get(cloud: dict[str, Any], path: str, key: str | None) -> tuple[int, Any]:
    request = urllib.request.Request(cloud["api_url"] + path, headers={"User-Agent": "e2e/1.0"})
    if key is not None:
        request.add_header("ld-api-key", key)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _admin(cloud: dict[str, Any], *args: str) -> dict[str, Any]:
    """``ld-audit-admin --local`` against the running cloud, as an operator would use it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, "-m", "audit_service.admin", "--local", "--state-file", str(cloud["state"]), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(done.stdout))


def _user(cloud: dict[str, Any], role: str) -> dict[str, Any]:
    return next(u for u in cloud["users"] if u["role"] == role)


def _security_items(cloud: dict[str, Any]) -> list[dict[str, Any]]:
    dynamodb = local_client(cloud, "dynamodb")
    table = cloud["resources"]["AuditLogTable"]
    return [  # every write shard of the platform's security partition
        item
        for page in dynamodb.get_paginator("scan").paginate(TableName=table)
        for item in page["Items"]
        if item["pk"]["S"].split("#")[:2] == ["platform", "security"]
    ]


def test_state_file_describes_the_demo(cloud: dict[str, Any]) -> None:
    assert cloud["api_url"].startswith("http://127.0.0.1:")
    assert cloud["aws_endpoint_url"].startswith("http://127.0.0.1:")
    assert cloud["region"] == "us-east-1"
    (tenant,) = cloud["tenants"]
    assert tenant["divisions"] and tenant["environments"] and tenant["deployments"]
    roles = {u["role"] for u in cloud["users"]}
    assert {"owner", "auditor", "member"} <= roles
    assert all(u["api_key"].startswith("ld_") and u["id"] and u["name"] for u in cloud["users"])


def test_demo_user_lists_audit_types_over_http(cloud: dict[str, Any]) -> None:
    status, body = _get(cloud, "/audit/types", _user(cloud, "auditor")["api_key"])
    assert status == 200
    assert {(t["type"], t["name"]) for t in body} >= {("deployment_created", "Deployment Created")}


def test_the_gateway_serves_the_openapi_document(cloud: dict[str, Any]) -> None:
    status, document = _get(cloud, "/openapi.json", _user(cloud, "member")["api_key"])
    assert status == 200
    assert document["openapi"].startswith("3.") and "/audit/tenants/{tenant_id}" in document["paths"]
    assert document["components"]["securitySchemes"]["ldApiKey"]["name"] == "ld-api-key"


def test_401_and_403_over_http_store_security_events(cloud: dict[str, Any]) -> None:
    before = len(_security_items(cloud))
    status, body = _get(cloud, "/audit/types", None)
    assert status == 401 and body["error"]["code"] == "unauthenticated"
    status, body = _get(cloud, "/audit/types", _user(cloud, "member")["api_key"])
    assert status == 403 and body["error"]["code"] == "forbidden"

    deadline = time.monotonic() + 15
    while len(items := _security_items(cloud)) < before + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(items) == before + 2
    assert {item["type"]["S"] for item in items} >= {"authentication_failed", "permission_denied"}


def test_embedded_aws_has_the_template_resources(cloud: dict[str, Any]) -> None:
    dynamodb = local_client(cloud, "dynamodb")
    tables = set(dynamodb.list_tables()["TableNames"])
    assert {cloud["resources"][t] for t in ("TenantsTable", "UsersTable", "ApiKeysTable", "AuditLogTable")} <= tables


def test_operator_tool_works_against_the_running_local_cloud(cloud: dict[str, Any]) -> None:
    tenant_id = str(cloud["tenants"][0]["id"])
    created = _admin(cloud, "user", "create", "--name", "Lin Chen", "--email", "lin@example.com")["user"]
    _admin(cloud, "member", "add", "--tenant", tenant_id, "--user", str(created["id"]), "--role", "auditor")
    secret = _admin(cloud, "key", "create", "--user", str(created["id"]))["secret"]

    assert _admin(cloud, "user", "find", "--email", "LIN@example.com")["user"]["id"] == created["id"]
    status, _ = _get(cloud, "/audit/types", secret)
    assert status == 200


def test_event_put_through_the_aws_cli_is_served_within_two_seconds(cloud: dict[str, Any], tmp_path: Path) -> None:
    entries = json.loads((ROOT / "events/bus/put_events_local.json").read_text())
    detail = json.loads(entries[0]["Detail"])
    detail.update(
        event_id=f"e2e-{time.time_ns()}",
        tenant_id=cloud["tenants"][0]["id"],
        occurred_at=time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
    )
    entries[0].update(Detail=json.dumps(detail), EventBusName=cloud["resources"]["AuditEventBus"])
    entries_file = tmp_path / "entries.json"
    entries_file.write_text(json.dumps(entries))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")

    put = subprocess.run(
        [
            str(Path(sys.executable).parent / "aws"),
            "--endpoint-url",
            cloud["aws_endpoint_url"],
            "--region",
            cloud["region"],
            "--output",
            "json",
            "events",
            "put-events",
            "--entries",
            f"file://{entries_file}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    published = time.monotonic()
    assert json.loads(put.stdout)["FailedEntryCount"] == 0

    path = f"/audit/tenants/{cloud['tenants'][0]['id']}?results=100"
    key = _user(cloud, "auditor")["api_key"]
    while True:
        status, body = _get(cloud, path, key)
        assert status == 200
        if any(record["id"] == detail["event_id"] for record in body["data"]):
            break
        assert time.monotonic() - published < 2.0, "not served within two seconds of put-events"
        time.sleep(0.05)
    (record,) = [r for r in body["data"] if r["id"] == detail["event_id"]]
    assert record["author"] == detail["author"] and record["deployment"] == detail["deployment"]


def test_the_local_cloud_seals_the_log_and_verifies_it(cloud: dict[str, Any]) -> None:
    tenant_id = cloud["tenants"][0]["id"]
    key = _user(cloud, "auditor")["api_key"]
    _get(cloud, f"/audit/tenants/{tenant_id}", key)  # at least one record (this read's access record)
    deadline = time.monotonic() + 15
    while True:  # the stream poller hands new records to the sealer in the background
        status, report = _get(cloud, f"/audit/tenants/{tenant_id}/verify", key)
        assert status == 200, report
        checkpoints = report["checkpoints"]
        # Each verify leaves an access record, sealed and anchored a moment later: wait for a quiet moment.
        if (
            checkpoints["newest"]
            and report["records"]["unsealed"] == 0
            and checkpoints["anchored"] == checkpoints["newest"]
        ):
            break
        # Until the first checkpoint is anchored, the log is rightly "unanchored"; nothing else may show.
        waiting = {"unanchored"} if not checkpoints["anchored"] else set()
        assert [p for p in report["problems"] if p["problem"] not in waiting] == [], report
        assert time.monotonic() < deadline, f"nothing sealed and anchored: {report}"
        time.sleep(0.2)
    assert report["verified"] is True, report["problems"]
    status, bundle = _get(cloud, f"/audit/tenants/{tenant_id}/export", key)
    assert status == 200 and bundle["records"]


def _send(cloud: dict[str, Any], method: str, path: str, key: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        cloud["api_url"] + path,
        method=method,
        data=json.dumps(body).encode(),
        headers={"ld-api-key": key, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_export_and_erasure_run_through_the_state_machines(cloud: dict[str, Any]) -> None:
    status, document = _get(cloud, "/account/export", _user(cloud, "auditor")["api_key"])
    assert status == 200, document
    assert document["profile"]["name"] == _user(cloud, "auditor")["name"]
    assert {m["role"] for m in document["memberships"]} == {"auditor"}

    leaving = _admin(cloud, "user", "create", "--name", "Leaving User", "--email", "leaving@example.com")["user"]
    secret = _admin(cloud, "key", "create", "--user", str(leaving["id"]))["secret"]
    assert _get(cloud, "/users/me", secret)[0] == 200  # the authorizer has the key warm
    status, erased = _send(cloud, "POST", "/account/erasure", secret, {"confirm": "erase my account"})
    assert status == 200 and erased["status"] == "succeeded", erased
    assert _admin(cloud, "user", "find", "--email", "leaving@example.com")["user"] is None
    assert _get(cloud, "/users/me", secret)[0] == 401  # at once, not after the authorizer's cache period


def test_invitation_flow_over_http_is_audited(cloud: dict[str, Any]) -> None:
    tenant_id = cloud["tenants"][0]["id"]
    owner = _user(cloud, "owner")
    newcomer = _admin(cloud, "user", "create", "--name", "New Comer", "--email", "new.comer@example.com")["user"]
    newcomer_key = _admin(cloud, "key", "create", "--user", str(newcomer["id"]))["secret"]

    status, invitation = _send(
        cloud,
        "POST",
        f"/tenants/{tenant_id}/invitations",
        owner["api_key"],
        {"email": "new.comer@example.com", "role": "auditor"},
    )
    assert status == 201, invitation
    accept = f"/tenants/{tenant_id}/invitations/{invitation['id']}/accept"
    assert _send(cloud, "POST", accept, newcomer_key, {})[0] == 400  # the id alone grants nothing
    message = _mail(cloud, "Invitation Created", invitation_id=invitation["id"])
    assert message["content"]["to"] == "new.comer@example.com"
    status, joined = _send(cloud, "POST", accept, newcomer_key, {"secret": message["content"]["secret"]})
    assert status == 200 and joined["role"] == "auditor", joined

    status, members = _get(cloud, f"/tenants/{tenant_id}/members", owner["api_key"])
    assert status == 200 and newcomer["id"] in [m["user"]["id"] for m in members["data"]]
    status, log = _get(cloud, f"/audit/tenants/{tenant_id}?type=member_added", owner["api_key"])
    assert status == 200 and log["data"][0]["current"]["user_id"] == newcomer["id"]


def _mail(cloud: dict[str, Any], kind: str, **detail: Any) -> dict[str, Any]:
    """The newest message of ``kind`` in the stand-in mailer's outbox (it polls the bus every half second)."""
    deadline = time.monotonic() + 10
    while True:
        lines = Path(cloud["outbox"]).read_text().splitlines()
        for line in reversed(lines):
            message = json.loads(line)
            if message["kind"] == kind and all(message["detail"].get(k) == v for k, v in detail.items()):
                return dict(message)
        if time.monotonic() > deadline:
            pytest.fail(f"no {kind} message with {detail} in the outbox")
        time.sleep(0.2)


def test_the_invitation_takeover_fails_over_http(cloud: dict[str, Any]) -> None:
    """Issue #10's reproduction: change your email to the invited address, read the id, accept."""
    tenant_id = cloud["tenants"][0]["id"]
    owner = _user(cloud, "owner")
    outsider = _admin(cloud, "user", "create", "--name", "Out Sider", "--email", "out.sider@example.com")["user"]
    key = _admin(cloud, "key", "create", "--user", str(outsider["id"]))["secret"]
    status, invitation = _send(
        cloud,
        "POST",
        f"/tenants/{tenant_id}/invitations",
        owner["api_key"],
        {"email": "victim@example.com", "role": "owner"},
    )
    assert status == 201, invitation

    status, profile = _send(cloud, "PATCH", "/users/me", key, {"email": "victim@example.com"})
    assert status == 200 and profile["email"] == "out.sider@example.com", profile
    status, export = _get(cloud, "/account/export", key)
    assert status == 200 and export["invitations"] == []
    accept = f"/tenants/{tenant_id}/invitations/{invitation['id']}/accept"
    for body in (None, {}, {"secret": "A" * 43}):
        status, answer = _send(cloud, "POST", accept, key, body)
        assert status in (400, 404), answer
    stolen = _mail(cloud, "Invitation Created", invitation_id=invitation["id"])["content"]["secret"]
    assert _send(cloud, "POST", accept, key, {"secret": stolen})[0] == 404
    status, members = _get(cloud, f"/tenants/{tenant_id}/members", owner["api_key"])
    assert outsider["id"] not in [m["user"]["id"] for m in members["data"]]


def test_a_service_registers_a_type_on_the_bus_and_its_events_are_served(cloud: dict[str, Any]) -> None:
    """Issue #12: a new resource audited without a change to this service, over the local cloud's real endpoints."""
    tenant_id = cloud["tenants"][0]["id"]
    key = _user(cloud, "auditor")["api_key"]
    events = local_client(cloud, "events")
    bus = cloud["resources"]["AuditEventBus"]
    declaration = {
        "type": "topic_created",
        "name": "Topic Created",
        "resource": "topic",
        "action": "created",
        "operation": "create",
        "context": ["deployment"],
        "current_schema": {"type": "object", "required": ["partitions"]},
    }
    registered = events.put_events(
        Entries=[
            {
                "EventBusName": bus,
                "Source": "laserdata.streaming",
                "DetailType": "Audit Event Type Registered",
                "Detail": json.dumps({"declaration": declaration, "author": {"id": 1, "name": "Streaming CI"}}),
            }
        ]
    )
    assert registered["FailedEntryCount"] == 0
    deadline = time.monotonic() + 15
    while not any(t["type"] == "topic_created" for t in _get(cloud, "/audit/types", key)[1]):
        assert time.monotonic() < deadline, "the type was not registered"
        time.sleep(0.2)

    event_id = f"topic-{time.time_ns()}"
    detail = {
        "event_id": event_id,
        "type": "topic_created",
        "tenant_id": tenant_id,
        "author": {"id": 1, "name": "Jane Smith"},
        "deployment": {"id": 42, "name": "prod-cluster"},
        "current": {"partitions": 12},
    }
    events.put_events(
        Entries=[
            {
                "EventBusName": bus,
                "Source": "laserdata.streaming",
                "DetailType": "Audit Event",
                "Detail": json.dumps(detail),
            }
        ]
    )
    while True:
        status, page = _get(cloud, f"/audit/tenants/{tenant_id}?type=topic_created", key)
        # A container that read the registry just before the type was registered knows it within its
        # miss floor (EventTypeRegistry, 5 s): until then the filter is refused as an unknown type.
        assert status == 200 or (status == 400 and "unknown audit event type" in page["error"]["message"]), page
        if status == 200 and page["data"]:
            break
        assert time.monotonic() < deadline + 15, "the event was not served"
        time.sleep(0.2)
    (record,) = page["data"]
    assert (record["id"], record["name"], record["current"]) == (event_id, "Topic Created", {"partitions": 12})


def _post(cloud: dict[str, Any], path: str, key: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        cloud["api_url"] + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"User-Agent": "e2e/1.0", "Content-Type": "application/json", "ld-api-key": key},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_stream_to_the_local_receiver_gets_the_tenants_new_records_signed(cloud: dict[str, Any]) -> None:
    """Issue #15 on `make run`: a stream to the local receiver, a record published on the bus, received signed
    (the receiver keeps only deliveries whose signature checks) with its id, within a few seconds."""
    tenant_id, owner = cloud["tenants"][0]["id"], _user(cloud, "owner")
    receiver = cloud["receiver"]
    status, stream = _post(
        cloud,
        f"/tenants/{tenant_id}/streams",
        owner["api_key"],
        {
            "name": "local SIEM",
            "destination": {"type": "https", "url": receiver["url"], "secret": receiver["secret"]},
            "kinds": ["audit"],
            "types": ["deployment_created"],
        },
    )
    assert status == 201, stream
    time.sleep(5.5)  # the router reads a tenant's streams again after its cache (5 s)
    event_id = f"stream-{time.time_ns()}"
    local_client(cloud, "events").put_events(
        Entries=[
            {
                "EventBusName": cloud["resources"]["AuditEventBus"],
                "Source": "laserdata.deployments",
                "DetailType": "Audit Event",
                "Detail": json.dumps(
                    {
                        "event_id": event_id,
                        "type": "deployment_created",
                        "tenant_id": tenant_id,
                        "author": {"id": 1, "name": "Jane Smith"},
                        "deployment": {"id": 42, "name": "prod-cluster"},
                    }
                ),
            }
        ]
    )
    received = Path(cloud["state"]).with_name("received.jsonl")
    deadline = time.monotonic() + 15
    while True:
        lines = [json.loads(line) for line in received.read_text().splitlines()] if received.exists() else []
        mine = [line for line in lines if line["id"] == event_id]
        if mine:
            break
        assert time.monotonic() < deadline, "the record did not reach the receiver"
        time.sleep(0.2)
    (line,) = mine
    assert line["stream_id"] == stream["id"] and line["tenant_id"] == tenant_id
    assert line["record"]["deployment"] == {"id": 42, "name": "prod-cluster"}


def test_ctrl_c_stops_cleanly(cloud: dict[str, Any]) -> None:
    process: subprocess.Popen[str] = cloud["process"]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 0
    assert not cloud["state"].exists()
