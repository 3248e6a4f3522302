"""The caller's own account: profile, settings, identities, sessions, API keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from audit_service import container
from audit_service.dal.log_records import RecordQuery, partitions
from audit_service.services.notifications import NotificationType
from audit_service.services.tenants import PLATFORM_LAYOUTS
from localcloud.mailer import LocalMailer
from localcloud.pollers import Pollers
from localcloud.provision import Stack
from localcloud.runtime import Runtime
from tests.conftest import REGION, Api, clients, link_identity, scan_all, user


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
        partition_values=partitions(None, "access", PLATFORM_LAYOUTS["access"]),
        now_epoch=int(datetime.now(UTC).timestamp()),
    )
    (record,) = container.log_record_store().page(query, limit=5).records
    assert record.attributes["type"] == "profile.read"
    assert record.attributes["subject_user_id"] == str(me["id"])


def test_profile_change_is_audited_and_reaches_member_listings(
    api: Api, stack: Stack, demo: dict[str, Any], mailbox: LocalMailer
) -> None:
    me, owner = user(demo, "member"), user(demo, "owner")
    tenant_id = demo["tenants"][0]["id"]

    status, body = api.call(
        "PATCH", "/users/me", me["api_key"], {"name": "Max Mustermann", "email": "max.m@example.org"}
    )

    assert status == 200, body
    # the name at once; the email only once confirmed
    assert body["name"] == "Max Mustermann" and body["email"] == me["email"]
    assert body["email_change"]["status"] == "pending_confirmation"
    assert api.call("GET", "/users/me", me["api_key"])[1]["email"] == me["email"]
    message = mailbox.last(NotificationType.EMAIL_CHANGE_REQUESTED, user_id=me["id"])
    assert message.content["to"] == "max.m@example.org" and message.content["previous_email"] == me["email"]
    status, confirmed = api.call(
        "POST", "/users/me/email/confirm", me["api_key"], {"secret": message.content["secret"]}
    )
    assert status == 200 and confirmed["email"] == "max.m@example.org", confirmed
    assert api.call("POST", "/users/me/email/confirm", me["api_key"], {"secret": message.content["secret"]})[0] == 400

    updates = [r for r in activity(api, me["api_key"]) if r["type"] == "user_updated"]
    assert [(r["previous"], r["current"]) for r in updates] == [
        ({"email": me["email"]}, {"email": "max.m@example.org"}),
        ({"name": me["name"]}, {"name": "Max Mustermann"}),
    ]
    assert {r["tenant"] for r in updates} == {None}  # the full record is the platform partition's
    _, tenant_log = api.call("GET", f"/audit/tenants/{tenant_id}?type=user_updated", owner["api_key"])
    # the tenant learns that its member's email changed, not the addresses
    assert [(r["previous"], r["current"]) for r in tenant_log["data"]] == [
        ({}, {"email_changed": True}),
        ({"name": me["name"]}, {"name": "Max Mustermann", "email_changed": False}),
    ]
    _, members = api.call("GET", f"/tenants/{tenant_id}/members", owner["api_key"])
    assert {"id": me["id"], "name": "Max Mustermann", "email": "max.m@example.org"} in [
        m["user"] for m in members["data"]
    ]
    assert container.accounts().find_user_by_email("max.m@example.org").id == me["id"]
    assert container.accounts().find_user_by_email(me["email"]) is None


def test_an_email_in_use_is_refused_only_to_the_owner_of_that_mailbox(
    api: Api, stack: Stack, demo: dict[str, Any], mailbox: LocalMailer
) -> None:
    me, owner = user(demo, "member"), user(demo, "owner")
    taken = api.call("PATCH", "/users/me", me["api_key"], {"email": owner["email"]})
    free = api.call("PATCH", "/users/me", user(demo, "auditor")["api_key"], {"email": "new.comer@example.com"})
    # the request answers the same whether or not another account uses the address: no oracle
    assert taken[0] == free[0] == 200
    assert taken[1].keys() == free[1].keys() and taken[1]["email_change"].keys() == free[1]["email_change"].keys()
    before = state(stack)
    secret = mailbox.last(NotificationType.EMAIL_CHANGE_REQUESTED, user_id=me["id"]).content["secret"]
    status, body = api.call("POST", "/users/me/email/confirm", me["api_key"], {"secret": secret})
    assert status == 409 and "already uses this email" in body["error"]["message"]
    assert state(stack) == before


def test_a_wrong_or_expired_email_secret_changes_nothing(
    api: Api, stack: Stack, demo: dict[str, Any], mailbox: LocalMailer
) -> None:
    me = user(demo, "member")
    assert api.call("POST", "/users/me/email/confirm", me["api_key"], {"secret": "A" * 43})[0] == 400  # none pending
    api.call("PATCH", "/users/me", me["api_key"], {"email": "new.comer@example.com"})
    secret = mailbox.last(NotificationType.EMAIL_CHANGE_REQUESTED, user_id=me["id"]).content["secret"]
    # another user cannot use my secret, and a wrong secret does nothing
    other = api.call("POST", "/users/me/email/confirm", user(demo, "owner")["api_key"], {"secret": secret})
    wrong = api.call("POST", "/users/me/email/confirm", me["api_key"], {"secret": secret[:-3] + "AAA"})
    assert other[0] == wrong[0] == 400 and wrong[1]["error"]["code"] == "invalid_secret"
    clients("dynamodb").update_item(  # an hour later
        TableName=stack.ref("UsersTable"),
        Key={"pk": {"S": str(me["id"])}, "sk": {"S": "EMAIL_CHANGE"}},
        UpdateExpression="SET expires_epoch = :past",
        ExpressionAttributeValues={":past": {"N": str(int(datetime.now(UTC).timestamp()) - 1)}},
    )
    before = state(stack)
    assert api.call("POST", "/users/me/email/confirm", me["api_key"], {"secret": secret})[0] == 400
    assert state(stack) == before
    assert api.call("GET", "/users/me", me["api_key"])[1]["email"] == me["email"]


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


def test_identities_link_once_with_proof_and_unlink(
    api: Api, stack: Stack, demo: dict[str, Any], mailbox: LocalMailer
) -> None:
    me, other = user(demo, "member"), user(demo, "auditor")
    status, linked = link_identity(api, mailbox, me["api_key"], "github", "gh-98765")
    assert status == 201, linked
    assert api.call("GET", "/users/me/identities", me["api_key"])[1]["data"] == [linked]
    # asking to link an account someone else holds answers like any other request: no oracle
    status, pending = api.call(
        "POST", "/users/me/identities", other["api_key"], {"provider": "github", "external_id": "gh-98765"}
    )
    assert status == 202 and pending["status"] == "pending_verification"
    # only with the provider's proof does the caller learn it is taken
    secret = mailbox.last(NotificationType.IDENTITY_LINK_REQUESTED, link_id=pending["id"]).content["secret"]
    assert (
        api.call("POST", f"/users/me/identities/{pending['id']}/confirm", other["api_key"], {"secret": "B" * 43})[0]
        == 400
    )
    status, body = api.call(
        "POST", f"/users/me/identities/{pending['id']}/confirm", other["api_key"], {"secret": secret}
    )
    assert status == 409 and "already linked" in body["error"]["message"]
    assert "gh-98765" not in json.dumps(scan_all(stack), default=str)

    assert api.call("DELETE", f"/users/me/identities/{linked['id']}", me["api_key"])[0] == 204
    assert api.call("GET", "/users/me/identities", me["api_key"])[1]["total"] == 0
    assert api.call("DELETE", f"/users/me/identities/{linked['id']}", me["api_key"])[0] == 404
    assert (
        api.call("POST", f"/users/me/identities/{pending['id']}/confirm", other["api_key"], {"secret": secret})[0]
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
