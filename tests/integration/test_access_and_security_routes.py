"""GET /audit/tenants/{id}/access and /security: "who looked at user information?" and failed attempts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from audit_service import container
from audit_service.domain.models import RequestMetadata
from tests.conftest import Api, user


def get(api: Api, path: str, key: str) -> tuple[int, Any]:
    result = api.request("GET", path, key=key)
    return result.status, json.loads(result.body)


def test_access_log_answers_who_looked_at_a_user(api: Api, demo: dict[str, Any]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    auditor, owner, member = user(demo, "auditor"), user(demo, "owner"), user(demo, "member")
    request = RequestMetadata(
        request_id="r-1",
        source_ip="203.0.113.7",
        user_agent="pytest-client/1.0",
        method="GET",
        path=f"/users/{member['id']}",
    )
    access_log = container.access_log()
    access_log.record(
        actor_id=owner["id"], action="profile.read", tenant_id=tenant_id, subject_user_id=member["id"], request=request
    )
    access_log.record(
        actor_id=owner["id"], action="profile.read", tenant_id=tenant_id, subject_user_id=auditor["id"], request=request
    )
    api.drain()  # totals follow the log's stream

    status, body = get(api, f"/audit/tenants/{tenant_id}/access?subject_user_id={member['id']}", auditor["api_key"])

    assert status == 200, body
    (record,) = body["data"]
    assert record["action"] == "profile.read"
    assert record["actor"] == {"id": owner["id"]} and record["subject"] == {"id": member["id"]}
    assert record["source_ip"] == "203.0.113.7" and record["user_agent"] == "pytest-client/1.0"
    assert record["timestamp"].endswith("Z") and body["total"] == 1


def test_reading_logs_is_itself_access_logged(api: Api, demo: dict[str, Any]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    auditor = user(demo, "auditor")
    assert get(api, f"/audit/tenants/{tenant_id}", auditor["api_key"])[0] == 200
    assert get(api, f"/audit/tenants/{tenant_id}/security", auditor["api_key"])[0] == 200

    status, body = get(api, f"/audit/tenants/{tenant_id}/access?actor_id={auditor['id']}", auditor["api_key"])

    assert status == 200
    assert [r["action"] for r in body["data"]] == ["security_events.read", "audit_log.read"]
    api.drain()  # totals follow the log's stream
    _, again = get(api, f"/audit/tenants/{tenant_id}/access?actor_id={auditor['id']}", auditor["api_key"])
    assert again["data"][0]["action"] == "access_log.read" and again["total"] == 3


def test_security_route_lists_the_tenants_denied_attempts(api: Api, demo: dict[str, Any]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    member = user(demo, "member")
    assert get(api, f"/audit/tenants/{tenant_id}", member["api_key"])[0] == 403
    api.drain()  # the recorder stores what the route reported

    status, body = get(
        api, f"/audit/tenants/{tenant_id}/security?type=permission_denied", user(demo, "owner")["api_key"]
    )

    assert status == 200, body
    (event,) = body["data"]
    assert event["type"] == "permission_denied" and event["permission"] == "audit:read"
    assert event["actor"] == {"id": member["id"]}
    assert event["source_ip"] == "203.0.113.7" and event["path"] == f"/audit/tenants/{tenant_id}"
    assert event["count"] == 1 and event["first_seen"] == event["last_seen"] == event["timestamp"]
    _, none = get(
        api, f"/audit/tenants/{tenant_id}/security?type=authentication_failed", user(demo, "owner")["api_key"]
    )
    assert none["total"] == 0


@pytest.mark.parametrize("route", ["access", "security"])
def test_both_routes_need_audit_read(api: Api, demo: dict[str, Any], route: str) -> None:
    tenant_id = demo["tenants"][0]["id"]
    assert get(api, f"/audit/tenants/{tenant_id}/{route}", user(demo, "member")["api_key"])[0] == 403
    assert get(api, f"/audit/tenants/999/{route}", user(demo, "owner")["api_key"])[0] == 403


@pytest.mark.parametrize(
    "query",
    [
        "access?results=101",
        "access?actor_id=x",
        "access?from=soon",
        "access?who=me",
        "security?type=nope",
        "security?page=0",
        "security?cursor=abc",
    ],
)
def test_bad_query_values_are_400(api: Api, demo: dict[str, Any], query: str) -> None:
    tenant_id = demo["tenants"][0]["id"]
    status, body = get(api, f"/audit/tenants/{tenant_id}/{query}", user(demo, "auditor")["api_key"])
    assert status == 400, body
