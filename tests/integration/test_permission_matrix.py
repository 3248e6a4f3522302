"""The permission and access-log matrices, generated from the OpenAPI document (issue #11, 7).

The authorizer lets every route through; the handler's ``authorize(...)`` is the
only tenant check. So every operation that takes a ``{tenant_id}`` is called
here by each role of the tenant and by the owner of another tenant:

- the permission an operation needs is read from its handler (the unconditional
  ``authorize(app, Permission.X, tenant_id=...)`` in the route function), and
  must agree with the document (403 documented exactly when a permission is
  needed); an operation that is neither is unclassified and fails;
- a role holding the permission (``ROLE_PERMISSIONS``) gets a documented answer
  that is not 403 (made-up ids of changes answer 404/409, that is fine);
- every other caller gets 403 ``forbidden`` naming that permission, and a
  ``permission_denied`` security event: in the tenant's log for its members, in
  the platform partition for an outsider.

The access-log matrix: every GET of the document is either a read that leaves
an access-log record (its action named below; this table is the specification,
not read from the code, so a route that stops logging fails) or named as not
access-logged with a reason; a new GET route fails until it is classified.

Everything runs on one stack per module (seeding is the slow part).
"""

from __future__ import annotations

import ast
import functools
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from audit_service import container
from audit_service.domain.models import SecurityEventType
from audit_service.domain.permissions import ROLE_PERMISSIONS, Permission, Role
from localcloud.gateway import Gateway
from localcloud.openapi import TARGET
from localcloud.pollers import Pollers
from localcloud.provision import Stack, provision
from localcloud.runtime import Runtime, install_lambda_invoker
from localcloud.template import function_properties, load
from tests.conftest import PERSONAL_VALUES, REGION, Api, clients, log_items, scan_all, user

pytestmark = pytest.mark.xdist_group("permission_matrix")

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT: dict[str, Any] = json.loads(TARGET.read_text())
METHODS = ("get", "post", "put", "patch", "delete")
OUTSIDER = "owner of another tenant"
CALLERS = (*(role.value for role in Role), OUTSIDER)

# A valid body per request schema of the document (the body is validated before the handler runs, so an
# invalid one would answer 400 before the permission check). An operation whose schema is not here fails.
BODIES: dict[str, dict[str, Any]] = {
    "NewInvitation": {"email": "new.comer@example.com", "role": "member"},
    "RoleChange": {"role": "auditor"},
    "Acceptance": {"secret": "S" * 32},
    # a stream that selects nothing the matrix writes (failed logins are the platform's): no delivery is tried
    "NewStream": {
        "name": "SIEM",
        "destination": {"type": "https", "url": "https://siem.example.com/ingest", "secret": "S" * 40},
        "kinds": ["security"],
        "types": ["authentication_failed"],
    },
    "Replay": {"from": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
}
# Ids of changes are made up (a change must not alter the state the other cases run on): 404 for whoever may.
MADE_UP_IDS: dict[str, str] = {
    "invitation_id": "0" * 24,
    "user_id": "999999",
    "record_id": "nope",
    "stream_id": "0" * 24,
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    function: str
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def documented(self) -> set[int]:
        return {int(code) for code in self.spec["responses"]}

    @property
    def body_schema(self) -> str | None:
        body = self.spec.get("requestBody")
        if body is None:
            return None
        return str(body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1])


def operations() -> list[Operation]:
    return [
        Operation(method.upper(), path, spec["operationId"], spec["x-function"], spec)
        for path, item in DOCUMENT["paths"].items()
        for method, spec in item.items()
        if method in METHODS
    ]


TENANT_OPERATIONS = [op for op in operations() if "{tenant_id}" in op.path]
READS = [op for op in operations() if op.method == "GET"]


# ---------------------------------------------------------------- the permission each handler declares
@dataclass(frozen=True)
class Declared:
    permissions: tuple[str, ...]  # unconditional authorize(app, Permission.X, tenant_id=...) in the route function
    other_authorize: int  # authorize calls elsewhere (conditional ones, or without tenant_id)


@functools.cache
def template() -> dict[str, Any]:
    return load()


def handler_source(function: str) -> Path:
    properties = function_properties(template(), function)
    module = str(properties["Handler"]).rsplit(".", 1)[0]
    return ROOT / str(properties["CodeUri"]) / f"{module}.py"


def _authorize_permission(node: ast.AST) -> str | None:
    """``X`` of ``authorize(app, Permission.X, tenant_id=...)``; None for any other expression."""
    call = node.value if isinstance(node, ast.Expr | ast.Assign | ast.AnnAssign) else None
    if not isinstance(call, ast.Call) or not (isinstance(call.func, ast.Name) and call.func.id == "authorize"):
        return None
    if not any(keyword.arg == "tenant_id" for keyword in call.keywords) or len(call.args) < 2:
        return None
    permission = call.args[1]
    if (
        isinstance(permission, ast.Attribute)
        and isinstance(permission.value, ast.Name)
        and permission.value.id == "Permission"
    ):
        return permission.attr
    return None


def declared(op: Operation) -> Declared:
    return _declared(op.function, op.method, op.path)


@functools.cache
def _declared(function_name: str, method: str, path: str) -> Declared:
    tree = ast.parse(handler_source(function_name).read_text())
    route = path.replace("{", "<").replace("}", ">")
    (function,) = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and any(
            isinstance(d, ast.Call)
            and isinstance(d.func, ast.Attribute)
            and d.func.attr == method.lower()
            and d.args
            and isinstance(d.args[0], ast.Constant)
            and d.args[0].value == route
            for d in node.decorator_list
        )
    ]
    unconditional = tuple(p for p in (_authorize_permission(stmt) for stmt in function.body) if p is not None)
    every = [
        node
        for node in ast.walk(function)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "authorize"
    ]
    return Declared(unconditional, len(every) - len(unconditional))


def needed_permission(op: Operation) -> Permission | None:
    """The permission the operation needs in the tenant, None if it needs none; fails if unclassifiable."""
    found = declared(op)
    if len(found.permissions) > 1:
        pytest.fail(f"{op.id}: several unconditional tenant permission checks {found.permissions}; classify it")
    if found.permissions:
        assert 403 in op.documented, f"{op.id} checks {found.permissions[0]} but does not document 403"
        return Permission[found.permissions[0]]
    assert found.other_authorize == 0, f"{op.id}: only conditional permission checks; classify it"
    assert 403 not in op.documented, (
        f"{op.id} takes a tenant and documents 403 but its handler checks no permission in the tenant: "
        "unclassified (or the check was removed)"
    )
    return None


def test_the_document_has_tenant_operations() -> None:
    assert len(TENANT_OPERATIONS) >= 15
    assert {op.body_schema for op in TENANT_OPERATIONS} - {None} <= set(BODIES)


# ---------------------------------------------------------------- one stack for the module
@dataclass
class World:
    api: Api
    stack: Stack
    tenant_id: int
    keys: dict[str, str]  # caller -> API key
    ids: dict[str, int]  # caller -> user id
    values: dict[str, str]  # path parameter -> a real value


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    from audit_service.admin.cli import run as admin
    from localcloud.seed import seed_demo
    from tests.iam import Recorder, denied
    from tests.integration.test_audit_log import product_page_event, publish

    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            patch.delenv(name, raising=False)
        for name, value in {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            patch.setenv(name, value)
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            container.reset()
            stack = provision(clients, stack_name="matrix", region=REGION)
            for name, value in stack.environment().items():
                patch.setenv(name, value)
            container.reset()
            with Recorder().recording() as recorder:
                runtime = Runtime(stack)
                install_lambda_invoker(runtime)
                (spec,) = stack.apis.values()
                api = Api(Gateway(spec, runtime, region=REGION), Pollers(stack.mappings, runtime, clients, REGION))
                demo = seed_demo()
                tenant_id = int(demo["tenants"][0]["id"])
                keys = {role: user(demo, role)["api_key"] for role in ("owner", "auditor", "member")}
                ids = {role: int(user(demo, role)["id"]) for role in ("owner", "auditor", "member")}
                # an admin of the tenant, and the owner of another tenant
                made = admin(["user", "create", "--name", "Peter Gibbons", "--email", "peter@initech.example"])
                ids["admin"] = int(made["user"]["id"])
                admin(["member", "add", "--tenant", str(tenant_id), "--user", str(ids["admin"]), "--role", "admin"])
                keys["admin"] = admin(["key", "create", "--user", str(ids["admin"]), "--name", "m"])["secret"]
                other = admin(["tenant", "create", "--name", "Initech", "--plan", "pro"])["tenant"]
                made = admin(["user", "create", "--name", "Grace Hopper", "--email", "grace@navy.example"])
                ids[OUTSIDER] = int(made["user"]["id"])
                admin(["member", "add", "--tenant", str(other["id"]), "--user", str(ids[OUTSIDER]), "--role", "owner"])
                keys[OUTSIDER] = admin(["key", "create", "--user", str(ids[OUTSIDER]), "--name", "m"])["secret"]

                # real ids for the reads: a sealed audit record, an invitation, an account export
                event = product_page_event(
                    tenant_id, occurred_at=(datetime.now(UTC) - timedelta(minutes=1)).isoformat()
                )
                publish(stack, event)
                api.drain()
                status, proof = api.call("GET", f"/audit/tenants/{tenant_id}/proofs/{event['event_id']}", keys["owner"])
                assert status == 200, proof
                status, invitation = api.call(
                    "POST",
                    f"/tenants/{tenant_id}/invitations",
                    keys["owner"],
                    {"email": "new.auditor@example.com", "role": "auditor"},
                )
                assert status == 201, invitation
                status, export = api.call("GET", "/account/export", keys["member"])
                assert status == 200, export
                status, stream = api.call("POST", f"/tenants/{tenant_id}/streams", keys["owner"], BODIES["NewStream"])
                assert status == 201, stream
                values = {
                    "tenant_id": str(tenant_id),
                    "record_id": event["event_id"],
                    "invitation_id": invitation["id"],
                    "user_id": str(ids["member"]),
                    "export_id": export["export_id"],
                    "stream_id": stream["id"],
                }
                yield World(api, stack, tenant_id, keys, ids, values)
            stored = json.dumps(scan_all(stack), default=str).lower()
            leaked = [value for value in PERSONAL_VALUES if value.lower() in stored]
            assert not leaked, f"personal data stored in plain text: {leaked}"
            refused = denied(recorder.calls, stack)
            assert not refused, "calls the functions' roles do not allow:\n" + "\n".join(refused)
        container.reset()


def fill(op: Operation, values: dict[str, str], *, real: bool) -> str:
    path = op.path
    for parameter in op.spec.get("parameters", []):
        if parameter["in"] != "path":
            continue
        name = parameter["name"]
        chosen = values if real or name not in MADE_UP_IDS else MADE_UP_IDS
        assert name in chosen, f"{op.id}: no value for the path parameter {name!r}; add one to the matrix"
        path = path.replace("{" + name + "}", chosen[name])
    return path


def call(api: Api, method: str, path: str, key: str, body: Any = None) -> tuple[int, Any]:
    """Like ``Api.call``, for answers that are not JSON too (a CSV export): those come back as text."""
    result = api.request(
        method,
        path,
        key=key,
        body=json.dumps(body).encode() if body is not None else b"",
        headers={"Content-Type": "application/json"},
    )
    media_type = {name.lower(): value for name, value in result.headers.items()}.get("content-type", "")
    if not result.body:
        return result.status, None
    return result.status, json.loads(result.body) if "json" in media_type else result.body.decode()


def permission_denied_events(world: World, owner: int | None, actor_id: int) -> list[Any]:
    return [
        event
        for event in container.security_events().newest(owner, limit=1000)
        if event.type is SecurityEventType.PERMISSION_DENIED and event.actor_id == actor_id
    ]


# ---------------------------------------------------------------- the permission matrix
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("op", TENANT_OPERATIONS, ids=lambda op: op.id)
def test_permission_matrix(world: World, op: Operation, caller: str) -> None:
    permission = needed_permission(op)
    allowed = permission is None or (caller != OUTSIDER and permission in ROLE_PERMISSIONS[Role(caller)])
    path = fill(op, world.values, real=op.method == "GET")
    body = BODIES[op.body_schema] if op.body_schema is not None else None
    actor = world.ids[caller]
    before_tenant = {e.id for e in permission_denied_events(world, world.tenant_id, actor)}
    before_platform = {e.id for e in permission_denied_events(world, None, actor)}

    status, answer = call(world.api, op.method, path, world.keys[caller], body)

    if allowed:
        assert status != 403, f"{caller} holds {permission} but got 403: {answer}"
        assert status in op.documented and status < 500, (status, answer)
        if op.method == "GET":  # reads are made with real ids: they succeed
            assert 200 <= status < 300, (status, answer)
        return
    assert permission is not None and status == 403, f"{caller} lacks {permission} and got {status}: {answer}"
    assert answer["error"]["code"] == "forbidden" and answer["error"]["permission"] == permission
    world.api.drain()
    member = caller != OUTSIDER
    new_tenant = [e for e in permission_denied_events(world, world.tenant_id, actor) if e.id not in before_tenant]
    new_platform = [e for e in permission_denied_events(world, None, actor) if e.id not in before_platform]
    # a member's denial is the tenant's business; an outsider's probing is the operator's
    (event,) = new_tenant if member else new_platform
    assert (new_platform if member else new_tenant) == []
    assert event.details == {"permission": permission.value, "requested_tenant_id": world.tenant_id}
    assert event.request.request_id == answer["error"]["request_id"]
    assert event.paths == [f"{op.method} {path}"]


def test_an_outsider_is_refused_every_permission_checked_operation(world: World) -> None:
    """The matrix above, summed up: the owner of another tenant gets 403 on all of them, and they are many."""
    checked = [op for op in TENANT_OPERATIONS if needed_permission(op) is not None]
    assert len(checked) >= 14
    assert {needed_permission(op) for op in checked} >= {
        Permission.AUDIT_READ,
        Permission.MEMBERS_READ,
        Permission.MEMBERS_MANAGE,
        Permission.INVITATIONS_READ,
        Permission.INVITATIONS_MANAGE,
    }


def test_audit_reads_of_a_tenant_need_audit_read() -> None:
    """A tenant's logs, proofs, verification and export (docs/api.md, threat model): audit:read, not less."""
    for op in TENANT_OPERATIONS:
        if op.path.startswith("/audit/tenants/{tenant_id}"):
            assert needed_permission(op) is Permission.AUDIT_READ, op.id


# ---------------------------------------------------------------- the access-log matrix
# The action each sensitive read leaves in the access log; tenant reads in the tenant's log, the caller's own
# data in the platform partition with the caller as subject.
ACCESS_LOGGED: dict[str, str] = {
    "list_tenant_audit_events": "audit_log.read",
    "list_tenant_access_log": "access_log.read",
    "list_tenant_security_events": "security_events.read",
    "verify_tenant_audit_log": "audit_log.verify",
    "get_audit_record_proof": "audit_log.proof",
    "export_tenant_audit_log": "audit_log.export",
    "export_tenant_audit_csv": "audit_log.csv_export",
    "list_tenant_members": "members.read",
    "list_invitations": "invitations.read",
    "get_invitation": "invitation.read",
    "list_user_activity": "user_activity.read",
    "get_own_profile": "profile.read",
    "export_account": "account.export",
    "get_account_export": "account.export",
}
NOT_ACCESS_LOGGED: dict[str, str] = {
    "get_open_api_document": "public description of the API",
    "list_audit_types": "the catalogue of event types, no tenant data",
    "get_account_erasure": "the status of the caller's own erasure",
    "list_own_api_keys": "the caller's own key metadata",
    "list_own_identities": "the caller's own linked identities",
    "list_own_sessions": "the caller's own sessions",
    "get_own_settings": "the caller's own settings",
    "list_own_tenants": "the caller's own memberships",
    "get_tenant_resources": "the tenant's resource names (tenant:read), no personal data",
    "list_log_streams": "the tenant's stream configuration and health (audit:stream); secrets are never returned",
    "get_log_stream": "the tenant's stream configuration and health (audit:stream); secrets are never returned",
}


def test_every_read_is_classified_for_the_access_log() -> None:
    ids = [op.operation_id for op in READS]
    unclassified = sorted(set(ids) - set(ACCESS_LOGGED) - set(NOT_ACCESS_LOGGED))
    assert not unclassified, f"GET operations neither access-logged nor exempt here: {unclassified}"
    assert not set(ACCESS_LOGGED) & set(NOT_ACCESS_LOGGED)
    assert set(ACCESS_LOGGED) | set(NOT_ACCESS_LOGGED) == set(ids), "operations gone from the document"


def access_records(world: World, tenant_id: int | None) -> list[dict[str, Any]]:
    owner = str(tenant_id) if tenant_id is not None else "platform"
    items = [i for i in log_items(world.stack, "access") if i["pk"]["S"].split("#")[0] == owner]
    return [{name: next(iter(value.values())) for name, value in item.items()} for item in items]


@pytest.mark.parametrize("op", [op for op in READS if op.operation_id in ACCESS_LOGGED], ids=lambda op: op.id)
def test_every_sensitive_read_leaves_its_access_record(world: World, op: Operation) -> None:
    action = ACCESS_LOGGED[op.operation_id]
    tenant_read = "{tenant_id}" in op.path
    caller = "owner" if tenant_read else "member"  # the member owns the account export of the fixture
    actor = world.ids[caller]
    owner = world.tenant_id if tenant_read else None
    before = {r["sk"] for r in access_records(world, owner)}

    status, answer = call(world.api, "GET", fill(op, world.values, real=True), world.keys[caller])

    assert status == 200, answer
    new = [r for r in access_records(world, owner) if r["sk"] not in before]
    (record,) = new
    assert record["type"] == action and record["actor_id"] == str(actor)
    if tenant_read:
        assert record["tenant_id"] == str(world.tenant_id)
    else:
        assert record["subject_user_id"] == str(actor)


@pytest.mark.parametrize("op", [op for op in READS if op.operation_id in NOT_ACCESS_LOGGED], ids=lambda op: op.id)
def test_reads_exempt_from_the_access_log_leave_none(world: World, op: Operation) -> None:
    """Keeps the exemptions honest: if one starts logging, move it to ACCESS_LOGGED."""
    values = {**world.values, "erasure_id": str(uuid.uuid4())}
    before = len(access_records(world, None)) + len(access_records(world, world.tenant_id))

    status, _ = call(world.api, "GET", fill(op, values, real=True), world.keys["member"])

    assert status in op.documented and status < 500
    assert len(access_records(world, None)) + len(access_records(world, world.tenant_id)) == before
