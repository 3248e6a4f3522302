"""The invitation takeover that was possible before (issue #10, 1), tried the way an attacker would.

An outsider with a key of their own changes their email to an invited
address, reads the invitation's id from their export, and accepts it. Each
step must now fail on its own: the email does not change without the secret
sent to that address, nothing keyed by email follows an unconfirmed address,
and an invitation id without the invitation's secret grants nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from audit_service import container
from audit_service.services.notifications import NotificationType
from localcloud.mailer import LocalMailer
from localcloud.provision import Stack
from tests.conftest import Api, user

INVITED = "new.auditor@example.com"


@pytest.fixture
def outsider(stack: Stack) -> dict[str, Any]:
    person = container.accounts().create_user("Peter Gibbons", "peter@initech.example")
    return {"id": person.id, "api_key": container.accounts().issue_api_key(person.id, "attack").secret}


def test_an_outsider_cannot_take_over_an_invitation(
    api: Api, demo: dict[str, Any], outsider: dict[str, Any], mailbox: LocalMailer
) -> None:
    tenant_id = demo["tenants"][0]["id"]
    status, invitation = api.call(
        "POST", f"/tenants/{tenant_id}/invitations", user(demo, "owner")["api_key"], {"email": INVITED, "role": "admin"}
    )
    assert status == 201
    key = outsider["api_key"]

    # 1. claim the invited address
    status, profile = api.call("PATCH", "/users/me", key, {"email": INVITED})
    assert status == 200 and profile["email"] == "peter@initech.example"  # still the old one
    assert api.call("GET", "/users/me", key)[1]["email"] == "peter@initech.example"

    # 2. the export follows the confirmed email only: no invitation id to read
    status, export = api.call("GET", "/account/export", key)
    assert status == 200 and export["invitations"] == [], export

    # 3. accept with the id alone, with no secret, with a made-up one, and with the invitee's email flow unfinished
    path = f"/tenants/{tenant_id}/invitations/{invitation['id']}/accept"
    assert api.call("POST", path, key)[0] == 400
    assert api.call("POST", path, key, {})[0] == 400
    assert api.call("POST", path, key, {"secret": "A" * 43})[0] == 404
    # even holding the message's secret (say, a forwarded email), the address must be the caller's own
    secret = mailbox.last(NotificationType.INVITATION_CREATED, invitation_id=invitation["id"]).content["secret"]
    assert api.call("POST", path, key, {"secret": secret})[0] == 404

    assert api.call("GET", f"/tenants/{tenant_id}/members", key)[0] == 403
    _, members = api.call("GET", f"/tenants/{tenant_id}/members", user(demo, "owner")["api_key"])
    assert outsider["id"] not in [m["user"]["id"] for m in members["data"]]
    status, still = api.call(
        "GET", f"/tenants/{tenant_id}/invitations/{invitation['id']}", user(demo, "owner")["api_key"]
    )
    assert status == 200 and still["status"] == "pending"


def test_the_invitee_with_the_secret_joins(api: Api, demo: dict[str, Any], stack: Stack, mailbox: LocalMailer) -> None:
    tenant_id = demo["tenants"][0]["id"]
    _, invitation = api.call(
        "POST", f"/tenants/{tenant_id}/invitations", user(demo, "owner")["api_key"], {"email": INVITED, "role": "admin"}
    )
    person = container.accounts().create_user("Grace Hopper", INVITED)
    key = container.accounts().issue_api_key(person.id, "laptop").secret
    secret = mailbox.last(NotificationType.INVITATION_CREATED, invitation_id=invitation["id"]).content["secret"]
    status, export = api.call("GET", "/account/export", key)
    assert [i["id"] for i in export["invitations"]] == [invitation["id"]]
    assert "secret" not in str(export)
    status, joined = api.call(
        "POST", f"/tenants/{tenant_id}/invitations/{invitation['id']}/accept", key, {"secret": secret}
    )
    assert status == 200 and joined["role"] == "admin"
