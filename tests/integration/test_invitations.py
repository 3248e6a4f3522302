"""Invitations: create, list, read, revoke, resend, accept; every change audited, every bad attempt refused cleanly.

Accepting needs the secret that only the invitation's message carries (read here
from the mailbox the platform's mailer would get).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from audit_service import container
from audit_service.services.notifications import NotificationType
from localcloud.mailer import LocalMailer
from localcloud.provision import Stack
from tests.conftest import Api, clients, scan_all, user

INVITEE_EMAIL = "grace@navy.example"


def state(stack: Stack) -> list[dict[str, Any]]:
    """Every item but access-log records (reads are expected to add those)."""
    return [i for i in scan_all(stack) if not i["pk"]["S"].endswith("#access")]


@pytest.fixture
def invitee(stack: Stack) -> dict[str, Any]:
    created = container.accounts().create_user("Grace Hopper", INVITEE_EMAIL)
    secret = container.accounts().issue_api_key(created.id, "laptop").secret
    return {"id": created.id, "api_key": secret}


def invite(api: Api, demo: dict[str, Any], email: str = INVITEE_EMAIL, role: str = "auditor") -> dict[str, Any]:
    status, body = api.call(
        "POST",
        f"/tenants/{demo['tenants'][0]['id']}/invitations",
        user(demo, "owner")["api_key"],
        {"email": email, "role": role},
    )
    assert status == 201, body
    return dict(body)


def secret_of(mailbox: LocalMailer, invitation: dict[str, Any]) -> str:
    return str(mailbox.last(NotificationType.INVITATION_CREATED, invitation_id=invitation["id"]).content["secret"])


def accept(api: Api, invitation: dict[str, Any], key: str, secret: str) -> tuple[int, Any]:
    path = f"/tenants/{invitation['tenant_id']}/invitations/{invitation['id']}/accept"
    return api.call("POST", path, key, {"secret": secret})


def test_the_whole_invitation_flow_is_audited(
    api: Api, demo: dict[str, Any], invitee: dict[str, Any], mailbox: LocalMailer
) -> None:
    tenant_id = demo["tenants"][0]["id"]
    owner = user(demo, "owner")
    created = invite(api, demo, email="Grace@Navy.example")
    assert created["email"] == INVITEE_EMAIL and created["status"] == "pending" and created["role"] == "auditor"

    status, listed = api.call("GET", f"/tenants/{tenant_id}/invitations", user(demo, "auditor")["api_key"])
    assert status == 403  # auditors read audit logs, not invitations
    status, listed = api.call("GET", f"/tenants/{tenant_id}/invitations", owner["api_key"])
    assert status == 200 and [i["id"] for i in listed["data"]] == [created["id"]]
    status, one = api.call("GET", f"/tenants/{tenant_id}/invitations/{created['id']}", owner["api_key"])
    assert status == 200 and one == created

    message = mailbox.last(NotificationType.INVITATION_CREATED, invitation_id=created["id"])
    assert message.content["to"] == INVITEE_EMAIL and message.detail["role"] == "auditor"
    assert "secret" not in message.detail and INVITEE_EMAIL not in str(message.detail)  # sealed for the mailer
    status, joined = accept(api, created, invitee["api_key"], message.content["secret"])
    assert status == 200, joined
    assert joined["role"] == "auditor" and joined["user_id"] == invitee["id"]

    _, members = api.call("GET", f"/tenants/{tenant_id}/members", owner["api_key"])
    assert {"id": invitee["id"], "name": "Grace Hopper", "email": INVITEE_EMAIL} in [m["user"] for m in members["data"]]
    _, log = api.call("GET", f"/audit/tenants/{tenant_id}?results=100", owner["api_key"])
    types = [r["type"] for r in log["data"]]
    assert types[:3] == ["member_added", "invitation_accepted", "invitation_created"] or set(types[:2]) == {
        "member_added",
        "invitation_accepted",
    }
    created_record = next(r for r in log["data"] if r["type"] == "invitation_created")
    assert created_record["current"]["email"] == INVITEE_EMAIL and created_record["author"]["id"] == owner["id"]
    _, access = api.call("GET", f"/audit/tenants/{tenant_id}/access?actor_id={owner['id']}", owner["api_key"])
    assert {"invitations.read", "invitation.read", "members.read"} <= {r["action"] for r in access["data"]}


def test_accepting_twice_is_refused(
    api: Api, stack: Stack, demo: dict[str, Any], invitee: dict[str, Any], mailbox: LocalMailer
) -> None:
    created = invite(api, demo)
    secret = secret_of(mailbox, created)
    assert accept(api, created, invitee["api_key"], secret)[0] == 200
    before = state(stack)

    status, body = accept(api, created, invitee["api_key"], secret)

    assert status == 409 and body["error"]["code"] == "invitation_not_pending"
    assert state(stack) == before


def test_an_expired_invitation_cannot_be_accepted(
    api: Api, stack: Stack, demo: dict[str, Any], invitee: dict[str, Any], mailbox: LocalMailer
) -> None:
    tenant_id = demo["tenants"][0]["id"]
    created = invite(api, demo)
    past = datetime.now(UTC) - timedelta(minutes=1)
    clients("dynamodb").update_item(  # the clock moves on: the invitation's expiry is now behind us
        TableName=stack.ref("TenantsTable"),
        Key={"pk": {"S": str(tenant_id)}, "sk": {"S": f"INVITATION#{created['id']}"}},
        UpdateExpression="SET expires_at = :at, expires_epoch = :epoch",
        ExpressionAttributeValues={":at": {"S": past.isoformat()}, ":epoch": {"N": str(int(past.timestamp()))}},
    )
    before = state(stack)

    status, body = accept(api, created, invitee["api_key"], secret_of(mailbox, created))

    assert status == 409 and body["error"]["code"] == "invitation_expired"
    assert state(stack) == before
    _, one = api.call("GET", f"/tenants/{tenant_id}/invitations/{created['id']}", user(demo, "owner")["api_key"])
    assert one["status"] == "expired"


def test_the_wrong_user_or_a_wrong_secret_gets_the_answer_a_missing_invitation_gets(
    api: Api, stack: Stack, demo: dict[str, Any], invitee: dict[str, Any], mailbox: LocalMailer
) -> None:
    created = invite(api, demo)
    secret = secret_of(mailbox, created)
    before = state(stack)

    wrong_user = accept(api, created, user(demo, "member")["api_key"], secret)
    wrong_secret = accept(api, created, invitee["api_key"], secret[:-4] + "AAAA")
    missing = accept(api, {**created, "id": "0" * 24}, invitee["api_key"], secret)
    no_secret = api.call(
        "POST", f"/tenants/{created['tenant_id']}/invitations/{created['id']}/accept", invitee["api_key"]
    )

    assert wrong_user[0] == wrong_secret[0] == missing[0] == 404
    assert {wrong_user[1]["error"]["code"], wrong_secret[1]["error"]["code"], missing[1]["error"]["code"]} == {
        "not_found"
    }
    assert no_secret[0] == 400
    assert state(stack) == before


def test_resending_replaces_the_secret(
    api: Api, demo: dict[str, Any], invitee: dict[str, Any], mailbox: LocalMailer
) -> None:
    created = invite(api, demo)
    first = secret_of(mailbox, created)
    path = f"/tenants/{created['tenant_id']}/invitations/{created['id']}/resend"
    assert api.call("POST", path, user(demo, "member")["api_key"])[0] == 403
    status, body = api.call("POST", path, user(demo, "owner")["api_key"])
    assert status == 200 and body["id"] == created["id"] and body["status"] == "pending"
    second = secret_of(mailbox, created)
    assert second != first

    assert accept(api, created, invitee["api_key"], first)[0] == 404  # the old secret stopped working
    assert accept(api, created, invitee["api_key"], second)[0] == 200
    api.drain()  # totals follow the log's stream
    _, log = api.call(
        "GET", f"/audit/tenants/{created['tenant_id']}?type=invitation_resent", user(demo, "owner")["api_key"]
    )
    assert log["total"] == 1


def test_a_revoked_invitation_cannot_be_accepted(
    api: Api, stack: Stack, demo: dict[str, Any], invitee: dict[str, Any], mailbox: LocalMailer
) -> None:
    tenant_id = demo["tenants"][0]["id"]
    owner = user(demo, "owner")
    created = invite(api, demo)
    assert api.call("DELETE", f"/tenants/{tenant_id}/invitations/{created['id']}", owner["api_key"])[0] == 204
    assert api.call("DELETE", f"/tenants/{tenant_id}/invitations/{created['id']}", owner["api_key"])[0] == 409

    status, body = accept(api, created, invitee["api_key"], secret_of(mailbox, created))

    assert status == 409 and "revoked" in body["error"]["message"]
    api.drain()  # totals follow the log's stream
    _, log = api.call("GET", f"/audit/tenants/{tenant_id}?type=invitation_revoked", owner["api_key"])
    assert log["total"] == 1 and log["data"][0]["previous"]["status"] == "pending"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "role": "auditor"},
        {"email": INVITEE_EMAIL, "role": "emperor"},
        {"email": INVITEE_EMAIL, "role": "auditor", "cc": "x"},
        {"email": INVITEE_EMAIL, "role": "auditor", "expires_in_days": 0},
        {"role": "auditor"},
    ],
)
def test_bad_invitations_are_400_and_leave_nothing(api: Api, stack: Stack, demo: dict[str, Any], body: Any) -> None:
    before = state(stack)
    status, payload = api.call(
        "POST", f"/tenants/{demo['tenants'][0]['id']}/invitations", user(demo, "owner")["api_key"], body
    )
    assert status == 400 and payload["error"]["details"]
    assert state(stack) == before


def test_bad_json_is_400(api: Api, demo: dict[str, Any]) -> None:
    result = api.request(
        "POST",
        f"/tenants/{demo['tenants'][0]['id']}/invitations",
        key=user(demo, "owner")["api_key"],
        body=b"{oops",
        headers={"Content-Type": "application/json"},
    )
    assert result.status == 400


def test_admins_cannot_invite_owners_and_outsiders_cannot_invite(api: Api, demo: dict[str, Any]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    assert (
        api.call(
            "POST",
            f"/tenants/{tenant_id}/invitations",
            user(demo, "member")["api_key"],
            {"email": INVITEE_EMAIL, "role": "member"},
        )[0]
        == 403
    )
    assert (
        api.call(
            "POST",
            "/tenants/999/invitations",
            user(demo, "owner")["api_key"],
            {"email": INVITEE_EMAIL, "role": "member"},
        )[0]
        == 403
    )


def test_invitee_emails_are_found_by_hash_without_decrypting(api: Api, demo: dict[str, Any]) -> None:
    created = invite(api, demo)
    repository = container.invitations()._repo
    found = repository.addressed_to(container.blind_index().email("GRACE@navy.example"))
    assert [i.invitation_id for i in found] == [created["id"]]
