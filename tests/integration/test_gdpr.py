"""GDPR export and erasure, end to end through the routes and the real state machines on moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from audit_service import container
from audit_service.admin.cli import run as admin
from audit_service.dal.dynamo import member_sk
from audit_service.domain.models import Plan
from audit_service.domain.permissions import Role
from audit_service.services.gdpr import AccountErasure
from audit_service.services.pagination import PageRequest, TimeRange
from localcloud.mailer import LocalMailer
from localcloud.pollers import Pollers
from localcloud.provision import Stack
from localcloud.runtime import Runtime
from tests.conftest import REGION, Api, clients, link_identity, scan_all, user

SUBJECT_EMAIL = "grace@navy.example"


def recycle_authorizer(api: Api) -> None:
    container.authenticator.cache_clear()
    api.gateway.runtime.containers["AuthorizerFunction"].recycle()


@pytest.fixture
def subject(api: Api, stack: Stack, runtime: Runtime, demo: dict[str, Any], mailbox: LocalMailer) -> dict[str, Any]:
    """A user with data in every category, in two tenants, next to the demo users."""
    accounts = container.accounts()
    person = accounts.create_user("Grace Hopper", SUBJECT_EMAIL)
    key = accounts.issue_api_key(person.id, "laptop")
    first = demo["tenants"][0]["id"]
    second = accounts.create_tenant("Navy", Plan.ENTERPRISE)
    accounts.add_member(first, person.id, Role.AUDITOR)
    accounts.add_member(second.id, person.id, Role.MEMBER)
    secret = key.secret
    assert link_identity(api, mailbox, secret, "github", "gh-98765")[0] == 201
    api.call("PATCH", "/users/me/settings", secret, {"timezone": "Europe/Warsaw"})
    now = datetime.now(UTC)
    for session_id in ("s-1", "s-2"):
        clients("events").put_events(
            Entries=[
                {
                    "Source": "laserdata.signin",
                    "DetailType": "Session Started",
                    "EventBusName": stack.ref("AuditEventBus"),
                    "Detail": json.dumps(
                        {
                            "session_id": session_id,
                            "user_id": person.id,
                            "provider": "github",
                            "source_ip": "198.51.100.23",
                            "user_agent": "laserdata-console/2.14",
                            "started_at": now.isoformat(),
                            "expires_at": (now + timedelta(hours=8)).isoformat(),
                        }
                    ),
                }
            ]
        )
    Pollers(stack.mappings, runtime, clients, REGION).drain()
    owner = user(demo, "owner")
    status, invitation = api.call(
        "POST", f"/tenants/{first}/invitations", owner["api_key"], {"email": SUBJECT_EMAIL, "role": "admin"}
    )
    assert status == 201
    return {
        "id": person.id,
        "api_key": secret,
        "key_id": key.key.key_id,
        "tenants": [first, second.id],
        "invitation": invitation,
    }


def test_export_holds_all_the_users_data_and_nothing_else(
    api: Api, subject: dict[str, Any], demo: dict[str, Any]
) -> None:
    status, document = api.call("GET", "/account/export", subject["api_key"])

    assert status == 200, document
    assert document["user_id"] == subject["id"]
    assert document["profile"]["name"] == "Grace Hopper" and document["profile"]["email"] == SUBJECT_EMAIL
    assert [(i["provider"], i["external_id"]) for i in document["identities"]] == [("github", "gh-98765")]
    assert sorted(s["id"] for s in document["sessions"]) == ["s-1", "s-2"]
    assert all(s["source_ip"] == "198.51.100.23" for s in document["sessions"])
    assert sorted((m["tenant"]["id"], m["role"]) for m in document["memberships"]) == sorted(
        [(subject["tenants"][0], "auditor"), (subject["tenants"][1], "member")]
    )
    (invitation,) = document["invitations"]
    assert invitation["id"] == subject["invitation"]["id"] and invitation["email"] == SUBJECT_EMAIL
    assert document["settings"]["timezone"] == "Europe/Warsaw"
    text = json.dumps(document)
    for other in demo["users"]:
        assert other["email"] not in text and other["api_key"] not in text
    api.drain()  # totals follow the log's stream
    _, activity = api.call("GET", "/audit/users/activity?type=account_exported", subject["api_key"])
    assert [record["type"] for record in activity["data"]] == ["account_exported"]
    assert activity["total_exact"] is False and activity["total"] >= 1  # a filtered activity: an upper bound


def test_an_export_belongs_to_its_user(api: Api, subject: dict[str, Any], demo: dict[str, Any]) -> None:
    status, document = api.call("GET", "/account/export", subject["api_key"])
    assert status == 200
    assert api.call("GET", f"/account/exports/{document['export_id']}", subject["api_key"])[0] == 200
    assert api.call("GET", f"/account/exports/{document['export_id']}", user(demo, "member")["api_key"])[0] == 404


def test_erasure_needs_confirmation_and_refuses_the_last_owner(
    api: Api, subject: dict[str, Any], demo: dict[str, Any]
) -> None:
    assert api.call("POST", "/account/erasure", subject["api_key"], {})[0] == 400
    assert api.call("POST", "/account/erasure", subject["api_key"], {"confirm": "yes"})[0] == 400
    status, body = api.call("POST", "/account/erasure", user(demo, "owner")["api_key"], {"confirm": "erase my account"})
    assert status == 409 and "last owner" in body["error"]["message"]


def user_items(stack: Stack, user_id: int) -> list[dict[str, Any]]:
    mine = []
    for item in scan_all(stack):
        values = json.dumps(item, default=str)
        if (
            item["pk"]["S"] == str(user_id)
            or f'{member_sk(user_id)}"' in values
            or item.get("user_id", {}).get("S") == str(user_id)
        ):
            mine.append(item)
    return mine


def assert_fully_erased(api: Api, stack: Stack, subject: dict[str, Any]) -> None:
    assert user_items(stack, subject["id"]) == []
    # at once, from the warm authorizer that served the person a moment ago
    assert api.call("GET", "/users/me", subject["api_key"])[0] == 401
    assert container.accounts().find_user_by_email(SUBJECT_EMAIL) is None
    tenant_items = json.dumps(
        [i for i in scan_all(stack) if not i["pk"]["S"].endswith(("#audit", "#access", "#security"))], default=str
    )
    assert subject["invitation"]["id"] not in tenant_items


def test_erasure_removes_everything_and_keeps_the_audit_log(
    api: Api, stack: Stack, subject: dict[str, Any], demo: dict[str, Any]
) -> None:
    first = subject["tenants"][0]
    owner = user(demo, "owner")
    api.drain()  # totals follow the log's stream
    _, before = api.call("GET", f"/audit/tenants/{first}?results=100", owner["api_key"])

    status, body = api.call("POST", "/account/erasure", subject["api_key"], {"confirm": "erase my account"})

    assert status == 200 and body["status"] == "succeeded", body
    assert_fully_erased(api, stack, subject)
    api.drain()
    _, after = api.call("GET", f"/audit/tenants/{first}?results=100", owner["api_key"])
    assert after["total"] == before["total"] + 1  # every earlier record kept, and still decrypts
    assert after["data"][0]["type"] == "account_erased" and after["data"][0]["author"]["id"] == subject["id"]
    assert [r["id"] for r in after["data"][1:]] == [r["id"] for r in before["data"]]
    second_log = container.audit_log().tenant_page(subject["tenants"][1], PageRequest(results=100))
    second_types = [r["type"] for r in second_log.data]
    assert second_types[0] == "account_erased"
    assert {"identity_linked", "settings_updated", "session_started"} <= set(second_types)  # kept, readable
    _, members = api.call("GET", f"/tenants/{first}/members", owner["api_key"])
    assert subject["id"] not in [m["user"]["id"] for m in members["data"]]
    # The same email can open a new account; the old export is impossible.
    assert container.accounts().create_user("Grace Again", SUBJECT_EMAIL).id != subject["id"]
    with pytest.raises(Exception, match="does not exist"):
        container.account_export().collect(subject["id"], "profile")
    # Erasing the person's data changed no sealed record: both tenants' logs still verify.
    Pollers(stack.mappings, api.gateway.runtime, clients, REGION).drain()
    for tenant_id in subject["tenants"]:
        report = container.integrity().verify(tenant_id, TimeRange())
        assert report.verified, report.findings
        assert report.records_checked > 0 and report.records_unsealed == 0


def test_an_interrupted_erasure_finishes_when_run_again(
    api: Api, stack: Stack, subject: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = AccountErasure._erase_memberships

    def broken(self: AccountErasure, user_id: int, erasure_id: str) -> int:
        raise RuntimeError("injected fault")

    monkeypatch.setattr(AccountErasure, "_erase_memberships", broken)
    status, first = api.call("POST", "/account/erasure", subject["api_key"], {"confirm": "erase my account"})
    assert status == 200 and first["status"] == "failed" and "injected fault" in first["reason"]
    assert user_items(stack, subject["id"])  # halfway: memberships and profile still there

    # blocked from the first step: the person's keys are gone at once, so the operator finishes the job
    assert api.call("GET", "/users/me", subject["api_key"])[0] == 401
    monkeypatch.setattr(AccountErasure, "_erase_memberships", original)
    second = admin(["account", "erase", "--user", str(subject["id"])])

    assert second["status"] == "succeeded", second
    assert_fully_erased(api, stack, subject)
    page = container.audit_log().tenant_page(subject["tenants"][0], PageRequest(results=100))
    erased = [r for r in page.data if r["type"] == "account_erased"]
    assert len(erased) == 2  # one per run: each run is its own erasure


def test_erasure_removes_invitations_in_every_status_and_keys_the_index_does_not_show_yet(
    api: Api,
    stack: Stack,
    subject: dict[str, Any],
    demo: dict[str, Any],
    mailbox: LocalMailer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from audit_service.dal.accounts import AccountsRepository
    from audit_service.services.notifications import NotificationType

    owner, first = user(demo, "owner"), subject["tenants"][0]
    third = container.accounts().create_tenant("Third", Plan.PRO)
    container.accounts().add_member(third.id, owner["id"], Role.OWNER)
    recycle_authorizer(api)  # roles are cached for a minute
    # an invitation the person accepted, one that was revoked, and the pending one from the fixture
    _, accepted = api.call(
        "POST", f"/tenants/{third.id}/invitations", owner["api_key"], {"email": SUBJECT_EMAIL, "role": "member"}
    )
    secret = mailbox.last(NotificationType.INVITATION_CREATED, invitation_id=accepted["id"]).content["secret"]
    path = f"/tenants/{third.id}/invitations/{accepted['id']}/accept"
    assert api.call("POST", path, subject["api_key"], {"secret": secret})[0] == 200
    _, revoked = api.call(
        "POST", f"/tenants/{first}/invitations", owner["api_key"], {"email": SUBJECT_EMAIL, "role": "member"}
    )
    assert api.call("DELETE", f"/tenants/{first}/invitations/{revoked['id']}", owner["api_key"])[0] == 204
    keys = [api.call("POST", "/users/me/api-keys", subject["api_key"], {"name": f"k{i}"})[1] for i in range(3)]
    # the by_user index lags behind: it shows none of the person's keys yet
    monkeypatch.setattr(AccountsRepository, "list_api_keys", lambda self, user_id: [])

    status, body = api.call("POST", "/account/erasure", subject["api_key"], {"confirm": "erase my account"})

    assert status == 200 and body["status"] == "succeeded", body
    assert_fully_erased(api, stack, subject)
    for key in keys:
        assert api.call("GET", "/users/me", key["secret"])[0] == 401
    invitations = json.dumps([i for i in scan_all(stack) if "INVITATION#" in i.get("sk", {}).get("S", "")])
    for invitation in (subject["invitation"], revoked, accepted):
        assert invitation["id"] not in invitations
    assert not [i for i in scan_all(stack) if "invitee_key" in i], "an email hash of the person is left"


def test_nothing_can_be_added_to_an_account_once_its_erasure_began(
    api: Api, stack: Stack, subject: dict[str, Any], demo: dict[str, Any], runtime: Runtime
) -> None:
    from audit_service.domain.errors import NotFound

    erasure = container.account_erasure()
    assert erasure.step(subject["id"], "e1", "block")["removed"] >= 1  # the person's keys are gone at once
    assert api.call("GET", "/users/me", subject["api_key"])[0] == 401

    with pytest.raises(NotFound):
        container.accounts().issue_api_key(subject["id"], "sneaky")
    other = container.accounts().create_tenant("Elsewhere", Plan.BASIC)
    with pytest.raises(NotFound):
        container.accounts().add_member(other.id, subject["id"], Role.MEMBER)
    now = datetime.now(UTC)
    clients("events").put_events(
        Entries=[
            {
                "Source": "laserdata.signin",
                "DetailType": "Session Started",
                "EventBusName": stack.ref("AuditEventBus"),
                "Detail": json.dumps(
                    {
                        "session_id": "s-late",
                        "user_id": subject["id"],
                        "provider": "github",
                        "started_at": now.isoformat(),
                        "expires_at": (now + timedelta(hours=8)).isoformat(),
                    }
                ),
            }
        ]
    )
    Pollers(stack.mappings, runtime, clients, REGION).drain()
    assert not [i for i in scan_all(stack) if i["pk"]["S"] == str(subject["id"]) and i["sk"]["S"] == "SESSION#s-late"]
    assert container.accounts_repository().api_key_hashes(subject["id"]) == set()


def test_no_personal_data_in_any_workflow_history(
    api: Api, stack: Stack, subject: dict[str, Any], demo: dict[str, Any]
) -> None:
    """Step Functions keeps inputs and outputs of every state for 90 days, after an erasure too."""
    from tests.conftest import PERSONAL_VALUES

    status, document = api.call("GET", "/account/export", subject["api_key"])
    assert status == 200 and document["profile"]["email"] == SUBJECT_EMAIL
    status, body = api.call("POST", "/account/erasure", subject["api_key"], {"confirm": "erase my account"})
    assert status == 200 and body["status"] == "succeeded"
    sfn = clients("stepfunctions")
    histories = []
    for machine in ("ExportAccountStateMachine", "EraseAccountStateMachine"):
        for execution in sfn.list_executions(stateMachineArn=stack.ref(machine))["executions"]:
            events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
            assert len(events) > 10
            histories.append(json.dumps(events, default=str).lower())
            histories.append(json.dumps(sfn.describe_execution(executionArn=execution["executionArn"]), default=str))
    text = "\n".join(histories).lower()
    found = [value for value in (*PERSONAL_VALUES, SUBJECT_EMAIL) if value.lower() in text]
    assert not found, f"personal data in workflow history: {found}"
