"""The local cloud's machinery: event-source mappings and the in-process Lambda invoker."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from audit_service import container
from localcloud.pollers import Pollers
from localcloud.provision import Stack, provision
from localcloud.runtime import Runtime, install_lambda_invoker
from localcloud.template import load
from tests.conftest import REGION, Api, clients, link_identity, log_items, user

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests/fixtures/pollers/template.yaml"


@pytest.fixture
def fixture_stack(aws: None, monkeypatch: pytest.MonkeyPatch) -> tuple[Stack, Runtime, Pollers]:
    stack = provision(clients, stack_name="pollers", region=REGION, template=load(FIXTURE), root=ROOT)
    for name, value in stack.environment().items():
        monkeypatch.setenv(name, value)
    runtime = Runtime(stack)
    return stack, runtime, Pollers(stack.mappings, runtime, clients, REGION)


def _deliveries(stack: Stack) -> dict[str, int]:
    items = clients("dynamodb").scan(TableName=stack.ref("Sink"))["Items"]
    return {item["pk"]["S"]: int(item["deliveries"]["N"]) for item in items}


def test_sqs_mapping_deletes_successes_and_redrives_failures(fixture_stack: tuple[Stack, Runtime, Pollers]) -> None:
    stack, _runtime, pollers = fixture_stack
    sqs = clients("sqs")
    for body in ("a", "b", "fail-1", "c"):
        sqs.send_message(QueueUrl=stack.ref("Inbox"), MessageBody=body)

    pollers.drain()
    assert _deliveries(stack) == {"a": 1, "b": 1, "c": 1}

    # The failed message comes back after the visibility timeout, fails again,
    # and after maxReceiveCount receives moto's redrive moves it to the DLQ.
    import time

    for _ in range(3):
        time.sleep(1.1)
        pollers.drain()
    dead = sqs.receive_message(QueueUrl=stack.ref("DeadLetters"), MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in dead] == ["fail-1"]
    assert _deliveries(stack) == {"a": 1, "b": 1, "c": 1}  # nothing delivered twice


def test_stream_mapping_delivers_in_order_and_retries_from_the_failure(
    fixture_stack: tuple[Stack, Runtime, Pollers],
) -> None:
    stack, runtime, pollers = fixture_stack
    dynamodb = clients("dynamodb")
    for key in ("one", "two", "fail-three"):
        dynamodb.put_item(TableName=stack.ref("Source"), Item={"pk": {"S": key}})

    for poller in pollers.pollers:
        poller.poll_once()
    assert _deliveries(stack) == {"one": 1, "two": 1}
    calls = runtime.containers["Recorder"].invocations

    for poller in pollers.pollers:
        poller.poll_once()
    # The batch is retried from the failed record only: one and two are not delivered again.
    assert runtime.containers["Recorder"].invocations == calls + 1
    assert _deliveries(stack) == {"one": 1, "two": 1}


def test_lambda_invoke_api_runs_the_function_in_process(stack: Stack, demo: dict[str, Any]) -> None:
    runtime = Runtime(stack)
    install_lambda_invoker(runtime)
    event = json.loads((ROOT / "events/list_audit_types/get_as_auditor.json").read_text())

    response = clients("lambda").invoke(
        FunctionName=stack.functions["ListAuditTypesFunction"].name, Payload=json.dumps(event).encode()
    )

    payload = json.loads(response["Payload"].read())
    assert payload["statusCode"] == 200
    assert runtime.containers["ListAuditTypesFunction"].invocations == 1


def test_callers_reach_functions_through_the_live_alias(stack: Stack, demo: dict[str, Any]) -> None:
    """AutoPublishAlias as SAM makes it: a version and the alias "live" on it, which ``!Ref <Function>.Alias``
    names; the authorizer and the GDPR state machines' tasks name it (SnapStart itself is not emulated)."""
    runtime = Runtime(stack)
    install_lambda_invoker(runtime)
    steps = stack.functions["EraseAccountStepsFunction"]
    assert steps.alias_arn == f"arn:aws:lambda:{REGION}:123456789012:function:{steps.name}:live"
    assert stack.ref("EraseAccountStepsFunction.Alias") == steps.alias_arn
    alias = clients("lambda").get_alias(FunctionName=steps.name, Name="live")
    assert alias["AliasArn"] == steps.alias_arn and alias["FunctionVersion"] == steps.version != "$LATEST"
    definition = clients("stepfunctions").describe_state_machine(stateMachineArn=stack.ref("EraseAccountStateMachine"))
    assert f'"FunctionName": "{steps.alias_arn}"' in definition["definition"]
    assert [a.function for a in stack.apis["Api"].authorizers.values()] == ["AuthorizerFunction"]

    event = json.loads((ROOT / "events/list_audit_types/get_as_auditor.json").read_text())
    listing = stack.functions["ListAuditTypesFunction"]
    response = clients("lambda").invoke(FunctionName=listing.alias_arn, Payload=json.dumps(event).encode())
    assert json.loads(response["Payload"].read())["statusCode"] == 200
    assert runtime.containers["ListAuditTypesFunction"].invocations == 1


def test_template_resources_exist_with_their_template_settings(stack: Stack) -> None:
    dynamodb = clients("dynamodb")
    audit = dynamodb.describe_table(TableName=stack.ref("AuditLogTable"))["Table"]
    assert [k["AttributeName"] for k in audit["KeySchema"]] == ["pk", "sk"]
    assert audit["SSEDescription"]["Status"] == "ENABLED"
    ttl = dynamodb.describe_time_to_live(TableName=stack.ref("AuditLogTable"))["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    keys = dynamodb.describe_table(TableName=stack.ref("ApiKeysTable"))["Table"]
    assert [index["IndexName"] for index in keys["GlobalSecondaryIndexes"]] == ["by_user"]
    mac_key = clients("kms").describe_key(KeyId=stack.attribute("BlindIndexKey", "Arn"))["KeyMetadata"]
    assert mac_key["KeySpec"] == "HMAC_256"
    assert os.environ["AUDIT_LOG_TABLE"] == stack.ref("AuditLogTable")


def test_state_machine_lambda_task_runs_the_real_handler_in_process(
    fixture_stack: tuple[Stack, Runtime, Pollers],
) -> None:
    import time

    stack, runtime, _pollers = fixture_stack
    install_lambda_invoker(runtime)
    sfn = clients("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=stack.ref("Machine"), input=json.dumps({"body": "from-sfn"}))[
        "executionArn"
    ]
    deadline = time.monotonic() + 20
    while (status := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)

    assert status["status"] == "SUCCEEDED", status
    assert json.loads(status["output"]) == {"batchItemFailures": []}
    assert _deliveries(stack) == {"from-sfn": 1}
    assert runtime.containers["Recorder"].invocations == 1


def test_sealing_goes_on_after_a_cancelled_transaction(
    api: Api, stack: Stack, demo: dict[str, Any], mailbox: Any
) -> None:
    """moto applied the writes before a failing item, streamed them, then swapped table copies in, so the
    sealer kept reading a stream the table no longer wrote to (issue #11, 4). On AWS a cancelled transaction
    writes and streams nothing; so does the local cloud now."""
    from audit_service.services.notifications import NotificationType
    from audit_service.services.pagination import TimeRange

    tenant_id = demo["tenants"][0]["id"]
    owner, member = user(demo, "owner"), user(demo, "member")
    assert link_identity(api, mailbox, owner["api_key"], "github", "gh-98765")[0] == 201
    api.drain()
    audit_before = log_items(stack, "audit")

    _, pending = api.call(
        "POST", "/users/me/identities", member["api_key"], {"provider": "github", "external_id": "gh-98765"}
    )
    secret = mailbox.last(NotificationType.IDENTITY_LINK_REQUESTED, link_id=pending["id"]).content["secret"]
    audit_requested = log_items(stack, "audit")
    status, body = api.call(
        "POST", f"/users/me/identities/{pending['id']}/confirm", member["api_key"], {"secret": secret}
    )
    assert status == 409, body  # cancelled inside the transaction: the provider account is someone else's
    assert log_items(stack, "audit") == audit_requested  # nothing written
    assert len(audit_requested) > len(audit_before)

    assert (
        api.call("PATCH", f"/tenants/{tenant_id}/members/{member['id']}", owner["api_key"], {"role": "auditor"})[0]
        == 200
    )
    api.drain()
    for owner_id in (tenant_id, "platform"):
        report = container.integrity().verify(owner_id, TimeRange())
        assert report.verified, report.findings
        assert report.records_unsealed == 0 and report.records_checked > 0


def test_many_threads_writing_and_reading_a_table_never_see_an_emulator_error(stack: Stack) -> None:
    """The local cloud serves the API's requests and every event source's poller on threads of their own;
    moto's tables are plain dictionaries, and a query iterating one while another thread wrote failed with
    "dictionary changed size during iteration": a 500 from the listing route under load (issue #11, 4)."""
    import sys
    import threading

    from localcloud import moto_fixes

    moto_fixes.install()
    dynamodb, table = clients("dynamodb"), stack.ref("AuditLogTable")
    errors: list[BaseException] = []
    done = threading.Event()

    def write(writer: int) -> None:
        try:
            for n in range(200):
                dynamodb.put_item(TableName=table, Item={"pk": {"S": "race#audit"}, "sk": {"S": f"{writer}-{n:04d}"}})
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    def read() -> None:
        try:
            while not done.is_set():
                dynamodb.query(  # an index query walks every item of the table in moto
                    TableName=table,
                    IndexName="by_time",
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": "race-0-0000#audit"}},
                    Select="COUNT",
                )
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    for first in range(0, 5000, 25):  # a table of some size: iterating it takes a while
        dynamodb.batch_write_item(
            RequestItems={
                table: [
                    {"PutRequest": {"Item": {"pk": {"S": f"bulk-{n}#audit"}, "sk": {"S": "x"}, "ts_key": {"S": "x"}}}}
                    for n in range(first, first + 25)
                ]
            }
        )
    writers = [threading.Thread(target=write, args=(w,)) for w in range(3)]
    readers = [threading.Thread(target=read) for _ in range(2)]
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads interleave often, as under a real burst
    try:
        for thread in writers + readers:
            thread.start()
        for thread in writers:
            thread.join()
        done.set()
        for thread in readers:
            thread.join()
    finally:
        sys.setswitchinterval(switching)
    assert errors == []
