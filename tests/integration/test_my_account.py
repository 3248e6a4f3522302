"""The caller's own account: profile, settings, identities, sessions, API keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from audit_service import container
from audit_service.dal.log_records import RecordQuery
from localcloud.pollers import Pollers
from localcloud.provision import Stack
from localcloud.runtime import Runtime
from tests.conftest import REGION, Api, clients, scan_all, user


def activity(api: Api, key: str) -> list[dict[str, Any]]:
    status, body = api.call("GET", "/audit/users/activity?results=100", key)
    assert status == 200
    return list(body["data"])


def state(stack: Stack) -> list[dict[str, Any]]:
    return [i for i in scan_all(stack) if not i["pk"]["S"].endswith("#access")]


def test_profile_read_is_access_logged_with_its_subject(api: Api, demo: dict[str, Any]) -> None:
    me = user(demo, "member")
    status, profile = api.call("GET", "/users/me", me["api_key"])
    assert status == 200
    assert profile["id"] == me["id"] and profile["name"] == me["name"] and profile["email"] == me["email"]
    query = RecordQuery(
        index="by_time",
        partition_name="pk",
        partition_value="platform#access",
        now_epoch=int(datetime.now(UTC).timestamp()),
    )
    (record,), _ = container.log_record_store().page(query, limit=5)
    assert record.attributes["type"] == "profile.read"
    assert record.attributes["subject_user_id"] == str(me["id"])


def test_profile_change_is_audited_and_reaches_member_listings(api: Api, stack: Stack, demo: dict[str, Any]) -> None:
    me, owner = user(demo, "member"), user(demo, "owner")
    tenant_id = demo["tenants"][0]["id"]

    status, body = api.call(
        "PATCH", "/users/me", me["api_key"], {"name": "Max Mustermann", "email": "max.m@example.org"}
    )

    assert status == 200, body
    assert body["name"] == "Max Mustermann" and body["email"] == "max.m@example.org"
    (record,) = [r for r in activity(api, me["api_key"]) if r["type"] == "user_updated"]
    assert record["previous"] == {"name": me["name"], "email": me["email"]}
    assert record["current"] == {"name": "Max Mustermann", "email": "max.m@example.org"}
    assert record["tenant"] == tenant_id  # each tenant of the user sees the change in its own log
    _, tenant_log = api.call("GET", f"/audit/tenants/{tenant_id}?type=user_updated", owner["api_key"])
    assert tenant_log["data"][0]["previous"] == {"name": me["name"], "email": me["email"]}
    _, members = api.call("GET", f"/tenants/{tenant_id}/members", owner["api_key"])
    assert {"id": me["id"], "name": "Max Mustermann", "email": "max.m@example.org"} in [
        m["user"] for m in members["data"]
    ]
    assert container.accounts().find_user_by_email("max.m@example.org").id == me["id"]
    assert container.accounts().find_user_by_email(me["email"]) is None


def test_an_email_in_use_is_refused_and_nothing_changes(api: Api, stack: Stack, demo: dict[str, Any]) -> None:
    me, owner = user(demo, "member"), user(demo, "owner")
    before = state(stack)
    status, body = api.call("PATCH", "/users/me", me["api_key"], {"email": owner["email"]})
    assert status == 409 and "already uses this email" in body["error"]["message"]
    assert state(stack) == before


@pytest.mark.parametrize("body", [{}, {"email": "nope"}, {"name": ""}, {"name": "x", "nickname": "y"}])
def test_bad_profile_changes_are_400(api: Api, stack: Stack, demo: dict[str, Any], body: Any) -> None:
    before = state(stack)
    status, payload = api.call("PATCH", "/users/me", user(demo, "member")["api_key"], body)
    assert status == 400, payload
    assert state(stack) == before


def test_settings_have_defaults_and_changes_are_audited(api: Api, demo: dict[str, Any]) -> None:
    me = user(demo, "member")
    assert api.call("GET", "/users/me/settings", me["api_key"]) == (
        200,
        {"locale": "en", "timezone": "UTC", "email_notifications": True},
    )
    status, body = api.call("PATCH", "/users/me/settings", me["api_key"], {"timezone": "Europe/Warsaw"})
    assert status == 200 and body["timezone"] == "Europe/Warsaw"
    assert api.call("GET", "/users/me/settings", me["api_key"])[1]["timezone"] == "Europe/Warsaw"
    (record,) = [r for r in activity(api, me["api_key"]) if r["type"] == "settings_updated"]
    assert record["previous"]["timezone"] == "UTC" and record["current"]["timezone"] == "Europe/Warsaw"
    assert api.call("PATCH", "/users/me/settings", me["api_key"], {"theme": "dark"})[0] == 400


def test_identities_link_once_and_unlink(api: Api, stack: Stack, demo: dict[str, Any]) -> None:
    me, other = user(demo, "member"), user(demo, "auditor")
    status, linked = api.call(
        "POST", "/users/me/identities", me["api_key"], {"provider": "github", "external_id": "gh-98765"}
    )
    assert status == 201, linked
    assert api.call("GET", "/users/me/identities", me["api_key"])[1]["data"] == [linked]
    status, body = api.call(
        "POST", "/users/me/identities", other["api_key"], {"provider": "github", "external_id": "gh-98765"}
    )
    assert status == 409 and "already linked" in body["error"]["message"]
    assert "gh-98765" not in json.dumps(scan_all(stack), default=str)

    assert api.call("DELETE", f"/users/me/identities/{linked['id']}", me["api_key"])[0] == 204
    assert api.call("GET", "/users/me/identities", me["api_key"])[1]["total"] == 0
    assert api.call("DELETE", f"/users/me/identities/{linked['id']}", me["api_key"])[0] == 404
    assert (
        api.call("POST", "/users/me/identities", other["api_key"], {"provider": "github", "external_id": "gh-98765"})[0]
        == 201
    )  # free again
    types = [r["type"] for r in activity(api, me["api_key"])]
    assert types.count("identity_linked") == 1 and types.count("identity_unlinked") == 1


def test_api_keys_are_shown_once_listed_without_secrets_and_revoked(api: Api, demo: dict[str, Any]) -> None:
    me = user(demo, "member")
    status, created = api.call("POST", "/users/me/api-keys", me["api_key"], {"name": "ci"})
    assert status == 201 and created["secret"].startswith("ld_")
    _, listed = api.call("GET", "/users/me/api-keys", me["api_key"])
    assert "secret" not in json.dumps(listed)
    assert {k["id"] for k in listed["data"]} == {created["id"], me["key_id"]}
    assert api.call("GET", "/users/me", created["secret"])[0] == 200

    assert api.call("DELETE", f"/users/me/api-keys/{created['id']}", me["api_key"])[0] == 204
    assert api.call("DELETE", f"/users/me/api-keys/{created['id']}", me["api_key"])[0] == 404
    container.authenticator.cache_clear()
    api.gateway.runtime.containers["AuthorizerFunction"].recycle()
    assert api.call("GET", "/users/me", created["secret"])[0] == 401
    types = [r["type"] for r in activity(api, me["api_key"])]
    assert "api_key_created" in types and "api_key_revoked" in types
    assert created["secret"] not in json.dumps(activity(api, me["api_key"]))


def test_someone_elses_key_cannot_be_revoked(api: Api, demo: dict[str, Any]) -> None:
    owner, member = user(demo, "owner"), user(demo, "member")
    assert api.call("DELETE", f"/users/me/api-keys/{owner['key_id']}", member["api_key"])[0] == 404
    assert api.call("GET", "/users/me", owner["api_key"])[0] == 200


def publish_session(stack: Stack, detail_type: str, detail: dict[str, Any]) -> None:
    clients("events").put_events(
        Entries=[
            {
                "Source": "laserdata.signin",
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "EventBusName": stack.ref("AuditEventBus"),
            }
        ]
    )


def test_sessions_come_from_the_bus_and_can_be_revoked(
    api: Api, stack: Stack, runtime: Runtime, demo: dict[str, Any]
) -> None:
    me = user(demo, "member")
    now = datetime.now(UTC)
    pollers = Pollers(stack.mappings, runtime, clients, REGION)
    started = {
        "session_id": "sess-1",
        "user_id": me["id"],
        "provider": "google",
        "source_ip": "198.51.100.23",
        "user_agent": "laserdata-console/2.14",
        "started_at": now.isoformat(),
        "expires_at": (now + timedelta(hours=8)).isoformat(),
    }
    publish_session(stack, "Session Started", started)
    publish_session(stack, "Session Started", started)  # a redelivery
    publish_session(stack, "Session Started", {**started, "session_id": "sess-2"})
    publish_session(
        stack,
        "Session Ended",
        {"session_id": "sess-2", "user_id": me["id"], "ended_at": now.isoformat(), "reason": "signed_out"},
    )
    pollers.drain()

    status, sessions = api.call("GET", "/users/me/sessions", me["api_key"])
    assert status == 200
    assert {(s["id"], s["status"]) for s in sessions["data"]} == {("sess-1", "active"), ("sess-2", "ended")}
    (one,) = [s for s in sessions["data"] if s["id"] == "sess-1"]
    assert one["source_ip"] == "198.51.100.23" and one["provider"] == "google"

    assert api.call("DELETE", "/users/me/sessions/sess-1", me["api_key"])[0] == 204
    assert api.call("DELETE", "/users/me/sessions/sess-1", me["api_key"])[0] == 404
    assert api.call("DELETE", "/users/me/sessions/sess-1", user(demo, "owner")["api_key"])[0] == 404
    types = [r["type"] for r in activity(api, me["api_key"])]
    assert types.count("session_started") == 2 and types.count("session_ended") == 1
    assert types.count("session_revoked") == 1
