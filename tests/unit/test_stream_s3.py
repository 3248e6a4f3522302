"""S3 log streams without AWS: the role and key rules, and the writer's credential cache and failures."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from audit_service.domain.streams import DestinationRefused, check_role, object_key, role_account
from audit_service.services.stream_s3 import REFRESH_BEFORE_SECONDS, S3Writer

SERVICE = "123456789012"
ROLE = "arn:aws:iam::111111111111:role/ld-audit-log-stream-acme"
FIELDS = {"bucket": "acme-logs", "prefix": "ld/", "role_arn": ROLE, "external_id": "ld-" + "0" * 32}
EXPIRES = datetime(2026, 11, 26, 12, 15, tzinfo=UTC)


def client_error(code: str, status: int, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{ROLE} is not authorized"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation)  # fmt: skip


class FakeSts:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error: Exception | None = None

    def assume_role(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(arguments)
        if self.error:
            raise self.error
        n = len(self.calls)
        return {"Credentials": {"AccessKeyId": f"ASIA{n}", "SecretAccessKey": f"very-secret-{n}",
                                "SessionToken": f"token-{n}", "Expiration": EXPIRES}}  # fmt: skip


class FakeS3:
    def __init__(self, credentials: dict[str, Any]) -> None:
        self.credentials = credentials
        self.puts: list[dict[str, Any]] = []
        self.error: Exception | None = None

    def put_object(self, **arguments: Any) -> dict[str, Any]:
        self.puts.append(arguments)
        if self.error:
            raise self.error
        return {"ResponseMetadata": {"HTTPStatusCode": 200}}


class World:
    def __init__(self) -> None:
        self.sts = FakeSts()
        self.clients: list[FakeS3] = []
        self.now = EXPIRES.timestamp() - 900

    def s3_as(self, service: str, credentials: dict[str, Any], *, region: str | None = None) -> FakeS3:
        assert service == "s3"
        self.clients.append(FakeS3(credentials))
        return self.clients[-1]

    def writer(self, account: str | None = SERVICE) -> S3Writer:
        return S3Writer(lambda: self.sts, service_account=account, s3_as=self.s3_as, clock=lambda: self.now)


def test_a_put_assumes_the_role_with_the_external_id_and_writes_gzip_json_lines_to_the_owners_bucket() -> None:
    world = World()
    sent = world.writer().put("abc", FIELDS, b'{"id":"1"}\n', key="audit/2026/11/26/12/m-1.jsonl.gz")

    assert sent.ok and sent.status == 200
    assert world.sts.calls == [{"RoleArn": ROLE, "RoleSessionName": "ld-stream-abc",
                                "ExternalId": FIELDS["external_id"], "DurationSeconds": 900}]  # fmt: skip
    (put,) = world.clients[0].puts
    assert put["Key"] == "ld/audit/2026/11/26/12/m-1.jsonl.gz" and put["Bucket"] == "acme-logs"
    assert gzip.decompress(put["Body"]) == b'{"id":"1"}\n'
    assert (put["ContentEncoding"], put["ContentType"], put["ExpectedBucketOwner"]) == (
        "gzip", "application/x-ndjson", "111111111111")  # fmt: skip


def test_credentials_are_kept_per_stream_until_shortly_before_they_expire() -> None:
    world = World()
    writer = world.writer()
    writer.put("abc", FIELDS, b"x\n", key="k1")
    writer.put("abc", FIELDS, b"x\n", key="k2")
    writer.put("def", FIELDS, b"x\n", key="k3")  # another stream: its own session
    assert len(world.sts.calls) == 2 and len(world.clients[0].puts) == 2

    world.now = EXPIRES.timestamp() - REFRESH_BEFORE_SECONDS + 1
    writer.put("abc", FIELDS, b"x\n", key="k4")
    assert len(world.sts.calls) == 3


def test_failures_are_failed_attempts_with_the_step_and_code_only_and_the_next_attempt_assumes_again() -> None:
    world = World()
    writer = world.writer()
    writer.put("abc", FIELDS, b"x\n", key="k1")
    world.clients[0].error = client_error("NoSuchBucket", 404, "PutObject")

    sent = writer.put("abc", FIELDS, b"x\n", key="k2")
    assert (sent.ok, sent.status, sent.message) == (False, 404, "put object: NoSuchBucket")
    world.sts.error = client_error("AccessDenied", 403, "AssumeRole")
    denied = writer.put("abc", FIELDS, b"x\n", key="k3")
    assert (denied.ok, denied.status, denied.message) == (False, 403, "assume role: AccessDenied")
    world.sts.error = EndpointConnectionError(endpoint_url="https://sts.amazonaws.com")
    gone = writer.put("abc", FIELDS, b"x\n", key="k4")
    assert (gone.status, gone.message) == (None, "assume role: no answer: EndpointConnectionError")
    for answer in (sent, denied, gone):
        assert "secret" not in answer.message and ROLE not in answer.message and "ASIA" not in answer.message


@pytest.mark.parametrize("account", [SERVICE, None])
def test_a_role_of_the_services_own_account_or_an_unknown_account_is_refused_at_delivery(account: str | None) -> None:
    world = World()
    own = {**FIELDS, "role_arn": f"arn:aws:iam::{SERVICE}:role/ld-audit-log-stream-x"}
    sent = world.writer(account).put("abc", own, b"x\n", key="k")
    assert not sent.ok and sent.message.startswith("destination refused") and world.sts.calls == []


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::111111111111:role/Admin",
        "arn:aws:iam::111111111111:role/path/ld-audit-log-stream-x",
        "arn:aws:iam::111111111111:role/ld-audit-log-stream-x\n",
        "arn:aws:iam::11111111111:role/ld-audit-log-stream-x",
        "arn:aws:iam::111111111111:role/ld-audit-log-stream-" + "x" * 46,  # a role name is at most 64
        "arn:aws:iam::१११११११११११११:role/ld-audit-log-stream-x",  # non-ASCII digits
    ],
)
def test_only_prefixed_roles_without_a_path_are_assumed(arn: str) -> None:
    with pytest.raises(DestinationRefused):
        check_role(arn, service_account=SERVICE)


def test_the_role_account_and_the_object_key() -> None:
    assert role_account("arn:aws-us-gov:iam::222222222222:role/ld-audit-log-stream") == "222222222222"
    moment = datetime(2026, 11, 26, 7, 59, 59, tzinfo=UTC).timestamp()
    assert object_key("ld/", "audit", moment, "m-1") == "ld/audit/2026/11/26/07/m-1.jsonl.gz"
