"""S3 log streams (issue #15): a tenant's records written into a bucket of the customer's own AWS account,
through a role of theirs that the delivery function assumes with the stream's external ID.

The customer's account is 111111111111 here; the service's is moto's default, 123456789012. moto's STS
``AssumeRole`` answers with credentials of the role's account, and its S3 keeps buckets per account, so the
bucket is made (and read back) as the customer would, with the role's credentials. What moto does not do,
and AWS does (docs/operations.md, "Where the local cloud differs from AWS"): it assumes any role ARN, whether
the role exists or not, checks no trust policy and ignores ``ExternalId`` (so a wrong external ID cannot be
shown failing here), ignores ``ExpectedBucketOwner``, and lets any account write into any bucket. Those
refusals are AWS's; what is tested is that the service asks for them (the calls are recorded: the role, the
external ID, the session name) and handles every failure as an HTTP destination's.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from audit_service import container
from audit_service.domain.models import Plan
from audit_service.domain.permissions import Role
from audit_service.services.stream_delivery import DeliveryRequest
from localcloud.provision import ACCOUNT_ID, Stack
from tests.conftest import REGION, Api, clients, user
from tests.integration.test_audit_log import product_page_event, publish
from tests.integration.test_log_streams import audit_of, create, stream_path

CUSTOMER_ACCOUNT = "111111111111"
ROLE_ARN = f"arn:aws:iam::{CUSTOMER_ACCOUNT}:role/ld-audit-log-stream-acme"
BUCKET = "acme-audit-logs"
KEY = re.compile(r"^ld/(audit|access|security|records|test)/\d{4}/\d{2}/\d{2}/\d{2}/[\w-]+\.jsonl\.gz$")


def as_customer(service: str, role_arn: str = ROLE_ARN) -> Any:
    """A client of the customer's account (on moto: any role's credentials act in its account)."""
    credentials = clients("sts").assume_role(RoleArn=role_arn, RoleSessionName="customer")["Credentials"]
    return boto3.client(
        service,
        region_name=REGION,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


@pytest.fixture
def bucket(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The customer's bucket in their own account; deliveries retried at once, three attempts."""
    monkeypatch.setenv("LOG_STREAM_RETRY_BASE_SECONDS", "0")
    monkeypatch.setenv("LOG_STREAM_DELIVERY_ATTEMPTS", "3")
    container.reset()
    s3 = as_customer("s3")
    s3.create_bucket(Bucket=BUCKET)
    yield s3


def s3_stream(bucket_name: str = BUCKET, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "Archive",
        "destination": {"type": "s3", "bucket": bucket_name, "prefix": "ld", "role_arn": ROLE_ARN},
        "kinds": ["audit"],
        "types": ["deployment_created"],
        **overrides,
    }


def objects(s3: Any, bucket_name: str = BUCKET) -> dict[str, list[dict[str, Any]]]:
    """Every object of the bucket: its key -> its JSON lines (each checked to be stored gzip-compressed)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for item in s3.list_objects_v2(Bucket=bucket_name).get("Contents", []):
        got = s3.get_object(Bucket=bucket_name, Key=item["Key"])
        assert (got["ContentEncoding"], got["ContentType"]) == ("gzip", "application/x-ndjson")
        text = gzip.decompress(got["Body"].read()).decode()
        assert text.endswith("\n")
        found[item["Key"]] = [json.loads(line) for line in text.splitlines()]
    return found


def lines(s3: Any, bucket_name: str = BUCKET) -> list[dict[str, Any]]:
    return [line for written in objects(s3, bucket_name).values() for line in written]


def test_an_s3_stream_writes_every_selected_record_of_its_tenant_and_no_other_into_the_customers_bucket(
    api: Api, stack: Stack, demo: dict[str, Any], bucket: Any
) -> None:
    tenant_a, key_a = demo["tenants"][0]["id"], user(demo, "owner")["api_key"]
    accounts = container.accounts()
    tenant_b = accounts.create_tenant("Tenant B", Plan.PRO)
    owner_b = accounts.create_user("Peter Gibbons", "peter@initech.example")
    accounts.add_member(tenant_b.id, owner_b.id, Role.OWNER)
    key_b = accounts.issue_api_key(owner_b.id, "b").secret
    other_role = "arn:aws:iam::222222222222:role/ld-audit-log-stream-initech"
    as_customer("s3", other_role).create_bucket(Bucket="initech-audit-logs")

    stream = create(api, tenant_a, key_a, s3_stream())
    b_destination = {"type": "s3", "bucket": "initech-audit-logs", "role_arn": other_role}
    stream_b = create(api, tenant_b.id, key_b, s3_stream() | {"destination": b_destination})
    api.drain()
    wanted = [product_page_event(tenant_a) for _ in range(5)]
    other_type = product_page_event(tenant_a, type="deployment_deleted")
    b_events = [product_page_event(tenant_b.id) for _ in range(2)]
    publish(stack, *wanted, other_type, *b_events)
    api.drain()

    external_id = stream["destination"]["external_id"]
    assert stream["destination"] == {
        "type": "s3",
        "bucket": BUCKET,
        "prefix": "ld/",
        "role_arn": ROLE_ARN,
        "external_id": external_id,
    }
    assert re.fullmatch(r"ld-[0-9a-f]{32}", external_id) and external_id != stream_b["destination"]["external_id"]
    _, listed = api.call("GET", f"/tenants/{tenant_a}/streams", key_a)
    _, one = api.call("GET", stream_path(tenant_a, stream), key_a)
    assert listed["data"][0]["destination"] == one["destination"] == stream["destination"]
    (record,) = audit_of(api, tenant_a, key_a, "log_stream_created")
    assert record["current"]["destination"] == stream["destination"]

    written = objects(bucket)
    assert written and all(KEY.match(name) for name in written), list(written)
    assert sorted(line["id"] for line in lines(bucket)) == sorted(e["event_id"] for e in wanted)
    for line in lines(bucket):
        assert line["kind"] == "audit" and line["tenant_id"] == tenant_a and line["replayed"] is False
        assert line["record"]["author"] == {"id": 1, "name": "Jane Smith"}  # as the API shows it
    assert sorted(line["id"] for line in lines(as_customer("s3", other_role), "initech-audit-logs")) == sorted(
        e["event_id"] for e in b_events
    )
    _, health = api.call("GET", stream_path(tenant_a, stream), key_a)
    assert health["health"]["delivered"] == 5 and health["health"]["failed"] == 0


def test_the_delivery_assumes_the_streams_role_with_its_external_id_and_a_redelivery_overwrites_its_object(
    api: Api, stack: Stack, demo: dict[str, Any], bucket: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant_id, key = demo["tenants"][0]["id"], user(demo, "owner")["api_key"]
    stream = create(api, tenant_id, key, s3_stream())
    event = product_page_event(tenant_id)
    publish(stack, event)
    api.drain()
    assert [(line["tenant_id"], line["id"]) for line in lines(bucket)] == [(tenant_id, event["event_id"])]
    assumed: list[dict[str, Any]] = []

    class RecordingSts:
        def assume_role(self, **arguments: Any) -> Any:
            assumed.append(arguments)
            return clients("sts").assume_role(**arguments)

    delivery = container.stream_delivery()  # a fresh container: it has assumed nothing yet
    monkeypatch.setattr(delivery._destinations._objects, "_sts", RecordingSts)
    found = [
        (item["pk"]["S"], item["sk"]["S"])
        for item in clients("dynamodb").scan(TableName=stack.ref("AuditLogTable"))["Items"]
        if item["sk"]["S"] == event["event_id"]
    ]
    request = DeliveryRequest(tenant_id=tenant_id, stream_id=stream["id"], records=found)
    before = set(objects(bucket))

    for attempt in (1, 2):
        delivery.deliver(request, delivery_id="8d2f3c4e-redelivered", attempt=attempt)

    after = objects(bucket)
    (new,) = set(after) - before
    assert new.endswith("/8d2f3c4e-redelivered.jsonl.gz") and [line["id"] for line in after[new]] == [event["event_id"]]
    assert assumed == [  # once: the credentials are kept for the second delivery
        {
            "RoleArn": ROLE_ARN,
            "RoleSessionName": f"ld-stream-{stream['id']}",
            "ExternalId": stream["destination"]["external_id"],
            "DurationSeconds": 900,
        }
    ]


def test_an_s3_stream_to_a_missing_bucket_fails_is_kept_paused_and_its_resume_loses_nothing(
    api: Api, stack: Stack, demo: dict[str, Any], bucket: Any
) -> None:
    tenant_id, key = demo["tenants"][0]["id"], user(demo, "owner")["api_key"]
    stream = create(api, tenant_id, key, s3_stream("acme-not-made-yet"))
    api.drain()
    first = product_page_event(tenant_id)
    publish(stack, first)
    api.drain()

    _, got = api.call("GET", stream_path(tenant_id, stream), key)
    health = got["health"]
    assert (health["failed"], health["failed_attempts"], health["delivered"]) == (1, 3, 0)
    assert (health["state"], health["paused_by"]) == ("disabled", "service")
    assert {name: health["last_error"][name] for name in ("status", "message")} == {
        "status": 404,
        "message": "put object: NoSuchBucket",
    }
    kept = clients("sqs").receive_message(QueueUrl=stack.ref("LogStreamDeadLetterQueue"), MaxNumberOfMessages=10)
    (message,) = kept["Messages"]
    assert json.loads(message["Body"])["records"][0][1] == first["event_id"]
    _, security = api.call("GET", f"/audit/tenants/{tenant_id}/security?type=log_stream_paused", key)
    (paused,) = security["data"]
    assert "3 delivery attempts failed; last: 404 put object: NoSuchBucket" in paused["reason"]
    assert "Secret" not in json.dumps(got) and "ASIA" not in json.dumps(got)

    as_customer("s3").create_bucket(Bucket="acme-not-made-yet")  # the customer fixes it, and resumes
    status, _ = api.call("POST", stream_path(tenant_id, stream, "resume"), key)
    assert status == 200
    api.drain()
    delivered = lines(bucket, "acme-not-made-yet")
    assert [line["id"] for line in delivered] == [first["event_id"]] and delivered[0]["replayed"] is True


def test_an_s3_streams_test_event_pause_resume_and_replay_write_objects(
    api: Api, stack: Stack, demo: dict[str, Any], bucket: Any
) -> None:
    tenant_id, key = demo["tenants"][0]["id"], user(demo, "owner")["api_key"]
    stream = create(api, tenant_id, key, s3_stream())
    api.drain()

    status, sent = api.call("POST", stream_path(tenant_id, stream, "test"), key)
    assert status == 200 and sent["delivered"] is True and sent["status"] == 200, sent
    ((name, (line,)),) = objects(bucket).items()
    assert name.startswith("ld/test/") and name.endswith(f"/{sent['id']}.jsonl.gz") and line["kind"] == "test"

    api.call("POST", stream_path(tenant_id, stream, "pause"), key)
    event = product_page_event(tenant_id, occurred_at=(datetime.now(UTC) - timedelta(minutes=2)).isoformat())
    publish(stack, event)
    api.drain()
    assert len(objects(bucket)) == 1  # held back while paused
    api.call("POST", stream_path(tenant_id, stream, "resume"), key)
    api.drain()
    assert [(line["id"], line["replayed"]) for line in lines(bucket) if line["kind"] == "audit"] == [
        (event["event_id"], True)
    ]

    since = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    status, _ = api.call("POST", stream_path(tenant_id, stream, "replay"), key, {"from": since})
    assert status == 202
    api.drain()
    assert [line["id"] for line in lines(bucket) if line["kind"] == "audit"] == [event["event_id"]] * 2
    _, got = api.call("GET", stream_path(tenant_id, stream), key)
    assert got["health"]["delivered"] == 2 and got["health"]["failed_attempts"] == 0


@pytest.mark.parametrize(
    ("destination", "problem"),
    [
        ({"role_arn": f"arn:aws:iam::{ACCOUNT_ID}:role/ld-audit-log-stream-x"}, "own AWS account"),
        ({"role_arn": f"arn:aws:iam::{CUSTOMER_ACCOUNT}:role/Admin"}, "role_arn"),
        ({"role_arn": f"arn:aws:iam::{CUSTOMER_ACCOUNT}:role/team/ld-audit-log-stream-x"}, "role_arn"),
        ({"role_arn": "arn:aws:iam::1111:role/ld-audit-log-stream-x"}, "role_arn"),
        ({"role_arn": f"arn:aws:iam::{CUSTOMER_ACCOUNT}:user/ld-audit-log-stream-x"}, "role_arn"),
        ({"role_arn": f"arn:aws:iam::{CUSTOMER_ACCOUNT}:role/ld-audit-log-stream-x\n"}, "role_arn"),
        ({"bucket": "Acme_Logs"}, "bucket"),
        ({"bucket": "192.168.0.1"}, "bucket"),
        ({"bucket": "acme..logs"}, "bucket"),
        ({"bucket": "xn--acme"}, "bucket"),
        ({"prefix": "../other-tenant/"}, "prefix"),
        ({"prefix": "/abs"}, "prefix"),
        ({"region": "moon"}, "region"),
        ({"external_id": "chosen-by-the-caller"}, "external_id"),
        ({"url": "https://example.com/x"}, "url"),
    ],
)
def test_bad_s3_destinations_are_refused_with_a_400(
    api: Api, demo: dict[str, Any], bucket: Any, destination: dict[str, Any], problem: str
) -> None:
    body = s3_stream()
    body["destination"] |= destination
    status, answer = api.call(
        "POST", f"/tenants/{demo['tenants'][0]['id']}/streams", user(demo, "owner")["api_key"], body
    )
    assert status == 400, answer
    assert problem in json.dumps(answer)
