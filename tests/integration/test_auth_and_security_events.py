"""The 401 and 403 paths through the gateway, and the security events they store."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from audit_service import container
from audit_service.domain.audit import Ref
from audit_service.domain.models import SecurityEventType
from audit_service.domain.permissions import Role
from localcloud.provision import Stack
from tests.conftest import Api, scan_all, user


def _body(result: Any) -> dict[str, Any]:
    return json.loads(result.body)


def test_owner_lists_audit_types(api: Api, demo: dict[str, Any]) -> None:
    result = api.request("GET", "/audit/types", key=user(demo, "owner")["api_key"])

    assert result.status == 200
    types = _body(result)
    assert {(t["type"], t["name"]) for t in types} >= {("deployment_created", "Deployment Created")}
    assert all({"type", "name", "resource", "action", "version"} <= set(entry) for entry in types)


def test_auditor_lists_audit_types(api: Api, demo: dict[str, Any]) -> None:
    assert api.request("GET", "/audit/types", key=user(demo, "auditor")["api_key"]).status == 200


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (None, "missing_api_key"),
        ("", "missing_api_key"),
        ("not-a-key", "malformed_api_key"),
        ("ld_" + "A" * 43, "unknown_api_key"),
    ],
)
def test_bad_key_is_401_json_and_records_authentication_failed(
    api: Api, demo: dict[str, Any], key: str | None, reason: str
) -> None:
    result = api.request("GET", "/audit/types?x=1", key=key)

    assert result.status == 401
    body = _body(result)
    assert body["error"]["code"] == "unauthenticated"
    request_id = body["error"]["request_id"]
    api.drain()  # the recorder stores what the authorizer reported
    events = container.security_events().newest(None)
    (event,) = [e for e in events if e.request.request_id == request_id]
    assert event.type is SecurityEventType.AUTHENTICATION_FAILED
    assert event.tenant_id is None
    assert event.details == {"reason": reason}
    assert event.request.source_ip == "203.0.113.7"
    assert event.request.user_agent == "pytest-client/1.0"
    assert event.request.path == "/audit/types"
    assert event.request.method == "GET"


def test_revoked_key_is_refused_and_recorded(api: Api, demo: dict[str, Any]) -> None:
    owner = user(demo, "owner")
    assert api.request("GET", "/audit/types", key=owner["api_key"]).status == 200

    container.accounts().revoke_api_key(owner["id"], owner["key_id"])
    # at once: the warm authorizer reads the key on every request (only roles are cached)
    result = api.request("GET", "/audit/types", key=owner["api_key"])

    assert result.status == 401
    api.drain()
    reasons = [e.details["reason"] for e in container.security_events().newest(None)]
    assert "revoked_api_key" in reasons


def test_authorizer_caches_roles_for_the_ttl_but_never_the_key(stack: Stack, demo: dict[str, Any]) -> None:
    from audit_service.services.auth import AuthenticationFailed, Authenticator

    now = [1000.0]
    authenticator = Authenticator(container.accounts_repository(), cache_ttl_seconds=60, clock=lambda: now[0])
    owner, member = user(demo, "owner"), user(demo, "member")
    tenant_id = demo["tenants"][0]["id"]
    assert authenticator.authenticate(member["api_key"]).role_in(tenant_id) is Role.MEMBER
    container.members_repository().change_role(
        container.members_repository().get_many(tenant_id, {member["id"]})[member["id"]],
        Role.AUDITOR,
        audit_record=container.change_recorder().put(
            tenant_id=tenant_id,
            event_type="member_role_changed",
            author=Ref(id=owner["id"], name="x"),
            request=None,
            previous=None,
            current=None,
        )[1],
    )
    now[0] += 59
    assert authenticator.authenticate(member["api_key"]).role_in(tenant_id) is Role.MEMBER  # roles still cached
    now[0] += 2
    assert authenticator.authenticate(member["api_key"]).role_in(tenant_id) is Role.AUDITOR

    assert authenticator.authenticate(owner["api_key"]).user_id == owner["id"]
    container.accounts().revoke_api_key(owner["id"], owner["key_id"])
    with pytest.raises(AuthenticationFailed) as refused:  # within the TTL: the key is read every time
        authenticator.authenticate(owner["api_key"])
    assert refused.value.reason.value == "revoked_api_key"


def test_member_without_audit_read_gets_403_and_permission_denied(api: Api, demo: dict[str, Any]) -> None:
    member = user(demo, "member")

    result = api.request("GET", "/audit/types", key=member["api_key"])

    assert result.status == 403
    body = _body(result)
    assert body["error"]["code"] == "forbidden"
    assert body["error"]["permission"] == "audit:read"
    api.drain()
    events = [e for e in container.security_events().newest(None) if e.type is SecurityEventType.PERMISSION_DENIED]
    (event,) = events
    assert event.actor_id == member["id"]
    assert event.details == {"permission": "audit:read", "requested_tenant_id": None}
    assert event.request.request_id == body["error"]["request_id"]
    assert event.request.source_ip == "203.0.113.7"


def test_denials_go_to_the_tenant_only_for_its_members(api: Api, demo: dict[str, Any]) -> None:
    """A member's denial is the tenant's business; an outsider's probing is the operator's (platform partition),
    so no outsider can fill a tenant's security log."""
    from audit_service.domain.models import RequestMetadata
    from audit_service.domain.permissions import Permission

    tenant_id = demo["tenants"][0]["id"]
    request = RequestMetadata(request_id="r-1", source_ip="198.51.100.1", user_agent="ua", method="GET", path="/x")
    signals = container.security_signals()
    for tenant, member in ((tenant_id, True), (tenant_id, False), (424242, True)):
        signals.permission_denied(
            actor_id=99, tenant_id=tenant, permission=Permission.AUDIT_READ, member=member, request=request
        )
    api.drain()

    events = container.security_events()
    (in_tenant,) = events.newest(tenant_id)
    assert in_tenant.tenant_id == tenant_id and in_tenant.count == 1
    # the outsider's denial and the one for a tenant that does not exist are platform events
    platform = events.newest(None)
    assert sorted(e.details["requested_tenant_id"] for e in platform) == [tenant_id, 424242]


def test_an_outsider_cannot_write_into_another_tenants_security_log(api: Api, demo: dict[str, Any]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    outsider = container.accounts().create_user("Peter Gibbons", "peter@initech.example")
    key = container.accounts().issue_api_key(outsider.id, "probe").secret
    for path in ("", "/access", "/security", "/verify"):
        assert api.request("GET", f"/audit/tenants/{tenant_id}{path}", key=key).status == 403
    api.drain()
    assert container.security_events().newest(tenant_id) == []
    probes = [e for e in container.security_events().newest(None) if e.actor_id == outsider.id]
    assert sum(e.count for e in probes) == 4 and len(probes) == 1  # one record for the four repeats
    # the operator reads them decrypted (no route serves the platform partition)
    from audit_service.admin.cli import run as admin

    listed = admin(["security", "list", "--type", "permission_denied"])
    (seen,) = [e for e in listed["data"] if e["actor"] == {"id": outsider.id}]
    assert seen["count"] == 4 and seen["requested_tenant_id"] == tenant_id and seen["source_ip"] == "203.0.113.7"
    assert sorted(probes[0].paths) == sorted(
        f"GET /audit/tenants/{tenant_id}{p}" for p in ("", "/access", "/security", "/verify")
    )


def test_unknown_route_is_json_404(api: Api, demo: dict[str, Any]) -> None:
    result = api.request("GET", "/audit/nope", key=user(demo, "owner")["api_key"])
    assert result.status == 404
    assert _body(result)["error"]["code"] == "not_found"


def test_oversize_body_is_413_json(api: Api, demo: dict[str, Any]) -> None:
    result = api.request("GET", "/audit/types", key=user(demo, "owner")["api_key"], body=b"x" * (10 * 1024 * 1024 + 1))
    assert result.status == 413
    assert _body(result)["error"]["code"] == "request_too_large"


def test_no_secret_or_personal_value_is_stored_in_plain_text(api: Api, stack: Stack, demo: dict[str, Any]) -> None:
    for role in ("owner", "member"):
        api.request("GET", "/audit/types", key=user(demo, role)["api_key"])
    api.request("GET", "/audit/types", key="ld_" + "B" * 43)
    api.drain()

    stored = json.dumps(scan_all(stack), default=str)
    secrets = [u["api_key"] for u in demo["users"]] + ["ld_" + "B" * 43]
    personal = [u["name"] for u in demo["users"]] + [u["email"] for u in demo["users"]]
    personal += ["203.0.113.7", "pytest-client/1.0"]
    for value in secrets + personal:
        assert value not in stored, f"{value!r} is stored in plain text"
    assert "permission_denied" in stored and "authentication_failed" in stored  # the events are there


def test_no_secret_or_personal_value_in_log_lines(api: Api, demo: dict[str, Any]) -> None:
    from audit_service.observability import logger

    handler = logger.registered_handler
    buffer = io.StringIO()
    outer = handler.setStream(buffer)  # type: ignore[attr-defined]
    try:
        for role in ("owner", "member"):
            api.request("GET", "/audit/types", key=user(demo, role)["api_key"])
        api.request("GET", "/audit/types", key="ld_" + "C" * 43)
    finally:
        handler.setStream(outer)  # type: ignore[attr-defined]

    output = buffer.getvalue()
    assert "permission denied" in output and "authentication failed" in output  # the handlers did log
    for value in [u["api_key"] for u in demo["users"]] + ["ld_" + "C" * 43]:
        assert value not in output  # secrets; personal values are checked after every test (conftest)
