"""Fixtures shared by every test layer.

Integration tests run against moto in-process (``mock_aws``), with every
resource created from ``template.yaml`` by the same provisioner ``make run``
uses, and the functions called through the same API Gateway emulator.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

from audit_service import container
from localcloud.gateway import Gateway, GatewayResult
from localcloud.mailer import LocalMailer
from localcloud.pollers import Pollers
from localcloud.provision import Stack, provision
from localcloud.runtime import Runtime, install_lambda_invoker, uninstall_lambda_invoker

REGION = "us-east-1"


class _SharedDataLoader(botocore.loaders.Loader):
    """botocore's data loader, with one cache for the whole worker of what it read from botocore's JSON files.

    moto gives every test a new default session, and each session read the service models and endpoint rules
    again: a few hundred milliseconds of every test. They are read-only data, the same for every session (same
    search paths); the session, its credentials, its handlers and every client are still new in each test."""

    _read: dict[Any, Any] = {}  # shared by every instance, on purpose

    def __init__(self) -> None:
        super().__init__()
        self._cache = self._read


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        session = botocore.session.get_session()
        session.register_component("data_loader", _SharedDataLoader())
        boto3.DEFAULT_SESSION = boto3.Session(botocore_session=session)  # moto puts the default back at the end
        container.reset()
        yield
    container.reset()


def clients(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


# Personal values the tests put into the service. None of them may ever be
# found in plain text in a table item or a log line (checked after every test).
PERSONAL_VALUES = (
    "Jane Smith",
    "jane.smith@example.com",
    "Ada Auditor",
    "ada.auditor@example.com",
    "Max Member",
    "max.member@example.com",
    "Grace Hopper",
    "grace@navy.example",
    "Peter Gibbons",
    "peter@initech.example",
    "203.0.113.7",
    "198.51.100.77",
    "198.51.100.23",
    "pytest-client/1.0",
    "terraform/1.9",
    "laserdata-console/2.14",
    "Max Mustermann",
    "max.m@example.org",
    "gh-98765",
    "new.auditor@example.com",
    "Europe/Warsaw",
    "Grace Again",
    "leaving@example.com",
    "new.comer@example.com",
)


@pytest.fixture
def stack(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The template's resources on moto. After the test: no personal value stored in plain text, and every AWS
    call a function (or a state machine's task) made allowed by its role in the template (tests/iam.py)."""
    from localcloud import moto_fixes
    from tests.iam import Recorder, denied

    moto_fixes.install()  # the embedded AWS as `make run` and the runtime have it, from the first resource on
    created = provision(clients, stack_name="test", region=REGION)
    for name, value in created.environment().items():
        monkeypatch.setenv(name, value)
    container.reset()
    with Recorder().recording() as recorder:
        yield created
    stored = json.dumps(scan_all(created), default=str).lower()
    leaked = [value for value in PERSONAL_VALUES if value.lower() in stored]
    assert not leaked, f"personal data stored in plain text: {leaked}"
    refused = denied(recorder.calls, created)
    assert not refused, "calls the roles in template.yaml do not allow:\n" + "\n".join(refused)


@pytest.fixture(autouse=True)
def no_personal_data_in_log_lines() -> Iterator[None]:
    from audit_service.observability import logger

    handler = logger.registered_handler
    buffer = io.StringIO()
    previous = handler.setStream(buffer)  # type: ignore[attr-defined]
    yield
    handler.setStream(previous)  # type: ignore[attr-defined]
    logged = buffer.getvalue().lower()
    leaked = [value for value in PERSONAL_VALUES if value.lower() in logged]
    assert not leaked, f"personal data in log lines: {leaked}"


@pytest.fixture
def runtime(stack: Stack) -> Iterator[Runtime]:
    created = Runtime(stack)
    install_lambda_invoker(created)
    yield created
    uninstall_lambda_invoker(created)


class Api:
    """Calls the API the way a client would, through the gateway emulator (no socket)."""

    def __init__(self, gateway: Gateway, pollers: Pollers) -> None:
        self.gateway = gateway
        self.pollers = pollers

    def drain(self) -> int:
        """Run the queue and stream consumers until idle (security events, ingest, sealing)."""
        return self.pollers.drain()

    def request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> GatewayResult:
        sent = {"User-Agent": "pytest-client/1.0", **(headers or {})}
        if key is not None:
            sent["ld-api-key"] = key
        return self.gateway.handle(method, path, sent, body, "203.0.113.7")

    def call(self, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
        """A JSON request; the status and the decoded JSON answer (None for an empty body)."""
        result = self.request(
            method,
            path,
            key=key,
            body=json.dumps(body).encode() if body is not None else b"",
            headers={"Content-Type": "application/json"},
        )
        return result.status, json.loads(result.body) if result.body else None


@pytest.fixture
def api(runtime: Runtime, stack: Stack) -> Api:
    (spec,) = stack.apis.values()
    return Api(Gateway(spec, runtime, region=REGION), Pollers(stack.mappings, runtime, clients, REGION))


@pytest.fixture
def demo(stack: Stack) -> dict[str, Any]:
    from localcloud.seed import seed_demo

    return seed_demo()


def user(demo: dict[str, Any], role: str) -> dict[str, Any]:
    return next(u for u in demo["users"] if u["role"] == role)


def scan_all(stack: Stack) -> list[dict[str, Any]]:
    """Every item of every table of the stack, raw (as DynamoDB stores it)."""
    dynamodb = clients("dynamodb")
    items: list[dict[str, Any]] = []
    for logical_id in stack.physical:
        if logical_id.endswith("Table"):
            paginator = dynamodb.get_paginator("scan")
            for page in paginator.paginate(TableName=stack.ref(logical_id)):
                items.extend(page["Items"])
    return items


def log_items(stack: Stack, kind: str) -> list[dict[str, Any]]:
    """Every stored record of one kind (audit, access, security) in the log table, raw, in every shard."""
    paginator = clients("dynamodb").get_paginator("scan")
    return [
        item
        for page in paginator.paginate(TableName=stack.ref("AuditLogTable"))
        for item in page["Items"]
        if item["pk"]["S"].split("#")[1] == kind
    ]


@pytest.fixture
def mailbox(stack: Stack) -> LocalMailer:
    """What the platform's mailer would receive: the messages for people, opened."""
    return LocalMailer(
        clients, bus_name=stack.ref("AuditEventBus"), mailer_key_arn=stack.attribute("MailerKey", "Arn")
    ).install()


def link_identity(api: Api, mailbox: LocalMailer, key: str, provider: str, external_id: str) -> tuple[int, Any]:
    """Ask to link a provider account, then confirm it with the secret the identity service would hand out."""
    from audit_service.services.notifications import NotificationType

    status, pending = api.call("POST", "/users/me/identities", key, {"provider": provider, "external_id": external_id})
    assert status == 202, pending
    secret = mailbox.last(NotificationType.IDENTITY_LINK_REQUESTED, link_id=pending["id"]).content["secret"]
    return api.call("POST", f"/users/me/identities/{pending['id']}/confirm", key, {"secret": secret})


def change_email(api: Api, mailbox: LocalMailer, key: str, user_id: int, email: str) -> tuple[int, Any]:
    """Ask for a new email, then confirm it with the secret sent to that address."""
    from audit_service.services.notifications import NotificationType

    status, body = api.call("PATCH", "/users/me", key, {"email": email})
    assert status == 200 and body["email_change"]["status"] == "pending_confirmation", body
    secret = mailbox.last(NotificationType.EMAIL_CHANGE_REQUESTED, user_id=user_id).content["secret"]
    return api.call("POST", "/users/me/email/confirm", key, {"secret": secret})
