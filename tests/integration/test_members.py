"""Members: listing (access-logged), role changes and removals written atomically with their audit records."""

from __future__ import annotations

from typing import Any

import pytest

from audit_service import container
from audit_service.dal.dynamo import key, member_sk
from audit_service.domain.errors import Conflict
from audit_service.domain.models import Principal, RequestMetadata
from audit_service.domain.permissions import Role
from localcloud.provision import Stack
from tests.conftest import Api, clients, log_items, scan_all, user


def audit_records(stack: Stack) -> list[dict[str, Any]]:
    return log_items(stack, "audit")


def fresh_roles(api: Api) -> None:
    """Role changes reach the authorizer's cache within its TTL; tests start a new container instead."""
    container.authenticator.cache_clear()
    api.gateway.runtime.containers["AuthorizerFunction"].recycle()


def test_listing_members_shows_names_and_roles_and_is_access_logged(api: Api, demo: dict[str, Any]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    auditor = user(demo, "auditor")

    status, body = api.call("GET", f"/tenants/{tenant_id}/members", auditor["api_key"])

    assert status == 200, body
    assert body["total"] == 3
    assert {(m["user"]["name"], m["user"]["email"], m["role"]) for m in body["data"]} == {
        (u["name"], u["email"], u["role"]) for u in demo["users"]
    }
    _, access = api.call("GET", f"/audit/tenants/{tenant_id}/access?actor_id={auditor['id']}", auditor["api_key"])
    assert [r["action"] for r in access["data"]] == ["members.read"]


def test_a_member_without_members_read_is_refused(api: Api, demo: dict[str, Any]) -> None:
    status, _ = api.call("GET", f"/tenants/{demo['tenants'][0]['id']}/members", user(demo, "member")["api_key"])
    assert status == 403


def test_role_change_is_audited_with_the_previous_role(api: Api, stack: Stack, demo: dict[str, Any]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    owner, member = user(demo, "owner"), user(demo, "member")

    status, body = api.call(
        "PATCH", f"/tenants/{tenant_id}/members/{member['id']}", owner["api_key"], {"role": "auditor"}
    )

    assert status == 200, body
    assert body["role"] == "auditor" and body["user"]["id"] == member["id"]
    _, log = api.call("GET", f"/audit/tenants/{tenant_id}?type=member_role_changed", owner["api_key"])
    (record,) = log["data"]
    assert record["author"] == {"id": owner["id"], "name": owner["name"]}
    assert record["previous"] == {"user_id": member["id"], "role": "member"}
    assert record["current"] == {"user_id": member["id"], "role": "auditor"}
    fresh_roles(api)
    assert api.call("GET", f"/audit/tenants/{tenant_id}", member["api_key"])[0] == 200  # now has audit:read


def test_only_owners_make_owners(api: Api, demo: dict[str, Any]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    owner, auditor, member = user(demo, "owner"), user(demo, "auditor"), user(demo, "member")
    assert (
        api.call("PATCH", f"/tenants/{tenant_id}/members/{auditor['id']}", owner["api_key"], {"role": "admin"})[0]
        == 200
    )
    fresh_roles(api)

    status, body = api.call(
        "PATCH", f"/tenants/{tenant_id}/members/{member['id']}", auditor["api_key"], {"role": "owner"}
    )

    assert status == 403 and body["error"]["permission"] == "tenant:manage"


def test_the_last_owner_can_be_neither_demoted_nor_removed(api: Api, stack: Stack, demo: dict[str, Any]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    owner = user(demo, "owner")
    before = audit_records(stack)

    demoted = api.call("PATCH", f"/tenants/{tenant_id}/members/{owner['id']}", owner["api_key"], {"role": "admin"})
    removed = api.call("DELETE", f"/tenants/{tenant_id}/members/{owner['id']}", owner["api_key"])

    for status, body in (demoted, removed):
        assert status == 409 and body["error"]["code"] == "last_owner"
    assert audit_records(stack) == before
    assert role_of(tenant_id, owner["id"]) is Role.OWNER


def role_of(tenant_id: int, user_id: int) -> Role:
    return container.members_repository().get_many(tenant_id, {user_id})[user_id].role


def test_an_admin_cannot_remove_an_owner_promoted_while_the_request_runs(
    api: Api, stack: Stack, demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The role that decides whether tenant:manage is needed comes from the read whose version guards the write."""
    from audit_service.dal.members import MembersRepository

    tenant_id = demo["tenants"][0]["id"]
    owner, admin, target = user(demo, "owner"), user(demo, "member"), user(demo, "auditor")
    assert (
        api.call("PATCH", f"/tenants/{tenant_id}/members/{admin['id']}", owner["api_key"], {"role": "admin"})[0] == 200
    )
    api.gateway.runtime.containers["AuthorizerFunction"].recycle()  # the admin's new role, now
    container.authenticator.cache_clear()
    original = MembersRepository.get_many
    reads = []

    def read_then_promoted(self: MembersRepository, tenant: int, user_ids: set[int]) -> dict[int, Any]:
        found = original(self, tenant, user_ids)
        if target["id"] in user_ids and not reads:  # an owner promotes the target right after this read
            reads.append(1)
            monkeypatch.setattr(MembersRepository, "get_many", original)
            status, _ = api.call(
                "PATCH", f"/tenants/{tenant_id}/members/{target['id']}", owner["api_key"], {"role": "owner"}
            )
            assert status == 200
        return found

    monkeypatch.setattr(MembersRepository, "get_many", read_then_promoted)
    status, body = api.call("DELETE", f"/tenants/{tenant_id}/members/{target['id']}", admin["api_key"])

    assert status == 409, body
    assert role_of(tenant_id, target["id"]) is Role.OWNER
    # and without the race, the admin is refused outright
    assert api.call("DELETE", f"/tenants/{tenant_id}/members/{target['id']}", admin["api_key"])[0] == 403


def test_two_owners_cannot_both_step_down(stack: Stack, demo: dict[str, Any]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    owner, auditor = user(demo, "owner"), user(demo, "auditor")
    request = RequestMetadata(request_id="r")
    members = container.members()
    as_owner = Principal(user_id=owner["id"], key_id="k", roles={tenant_id: Role.OWNER})
    as_auditor = Principal(user_id=auditor["id"], key_id="k", roles={tenant_id: Role.OWNER})
    members.change_role(tenant_id, auditor["id"], Role.OWNER, principal=as_owner, request=request)

    members.change_role(tenant_id, owner["id"], Role.ADMIN, principal=as_owner, request=request)
    with pytest.raises(Conflict, match="last owner"):
        members.change_role(tenant_id, auditor["id"], Role.ADMIN, principal=as_auditor, request=request)


def test_concurrent_updates_from_the_same_state_cannot_both_succeed(stack: Stack, demo: dict[str, Any]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    owner, member = user(demo, "owner"), user(demo, "member")
    repository = container.members_repository()
    changes = container.change_recorder()
    from audit_service.domain.audit import Ref

    seen_by_both = repository.get_many(tenant_id, {member["id"]})[member["id"]]
    records_before = len(audit_records(stack))
    _, first = changes.put(
        tenant_id=tenant_id,
        event_type="member_role_changed",
        author=Ref(id=owner["id"], name="o"),
        request=None,
        previous={"role": "member"},
        current={"role": "auditor"},
    )
    _, second = changes.put(
        tenant_id=tenant_id,
        event_type="member_role_changed",
        author=Ref(id=owner["id"], name="o"),
        request=None,
        previous={"role": "member"},
        current={"role": "admin"},
    )

    repository.change_role(seen_by_both, Role.AUDITOR, audit_record=first)
    with pytest.raises(Conflict, match="changed meanwhile"):
        repository.change_role(seen_by_both, Role.ADMIN, audit_record=second)

    assert role_of(tenant_id, member["id"]) is Role.AUDITOR
    assert len(audit_records(stack)) == records_before + 1  # no record for the change that did not happen


def test_removing_a_member_is_audited_and_removes_both_sides(api: Api, stack: Stack, demo: dict[str, Any]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    owner, member = user(demo, "owner"), user(demo, "member")

    status, body = api.call("DELETE", f"/tenants/{tenant_id}/members/{member['id']}", owner["api_key"])

    assert status == 204 and body is None
    keys = {(i["pk"]["S"], i.get("sk", {}).get("S")) for i in scan_all(stack)}
    assert (str(tenant_id), member_sk(member["id"])) not in keys
    assert (str(member["id"]), f"MEMBERSHIP#{tenant_id}") not in keys
    _, log = api.call("GET", f"/audit/tenants/{tenant_id}?type=member_removed", owner["api_key"])
    (record,) = log["data"]
    assert record["previous"] == {"user_id": member["id"], "role": "member"} and record["current"] is None
    fresh_roles(api)
    assert api.call("GET", f"/tenants/{tenant_id}/members", member["api_key"])[0] == 403


@pytest.mark.parametrize(
    ("method", "target", "body", "status"),
    [
        ("PATCH", "member", {"role": "emperor"}, 400),
        ("PATCH", "member", {"role": "admin", "extra": 1}, 400),
        ("PATCH", "member", {}, 400),
        ("PATCH", "member", "not an object", 400),
        ("PATCH", 999, {"role": "admin"}, 404),
        ("DELETE", 999, None, 404),
        ("PATCH", "member", {"role": "member"}, 400),
    ],
)
def test_bad_changes_leave_nothing_behind(
    api: Api, stack: Stack, demo: dict[str, Any], method: str, target: Any, body: Any, status: int
) -> None:
    tenant_id = demo["tenants"][0]["id"]
    user_id = user(demo, "member")["id"] if target == "member" else target
    before = scan_all(stack)

    got, payload = api.call(method, f"/tenants/{tenant_id}/members/{user_id}", user(demo, "owner")["api_key"], body)

    assert got == status, payload
    assert payload["error"]["message"]
    assert [i for i in scan_all(stack) if not i["pk"]["S"].endswith("#access")] == [
        i for i in before if not i["pk"]["S"].endswith("#access")
    ]


def test_another_tenants_members_are_out_of_reach(api: Api, demo: dict[str, Any]) -> None:
    from audit_service.domain.models import Plan

    other = container.accounts().create_tenant("Other", Plan.PRO)
    owner = user(demo, "owner")
    for method, path in (
        ("GET", f"/tenants/{other.id}/members"),
        ("PATCH", f"/tenants/{other.id}/members/1"),
        ("DELETE", f"/tenants/{other.id}/members/1"),
        ("GET", "/tenants/31337/members"),
    ):
        status, body = api.call(method, path, owner["api_key"], {"role": "admin"} if method == "PATCH" else None)
        assert status == 403 and body["error"]["code"] == "forbidden", path


def test_a_former_member_sees_their_actions_in_a_tenant_they_left_but_not_its_data(
    api: Api, demo: dict[str, Any]
) -> None:
    tenant_id = demo["tenants"][0]["id"]
    owner, member = user(demo, "owner"), user(demo, "member")
    assert (
        api.call("PATCH", f"/tenants/{tenant_id}/members/{member['id']}", owner["api_key"], {"role": "admin"})[0] == 200
    )
    container.authenticator.cache_clear()
    api.gateway.runtime.containers["AuthorizerFunction"].recycle()
    status, _ = api.call(
        "POST",
        f"/tenants/{tenant_id}/invitations",
        member["api_key"],
        {"email": "new.comer@example.com", "role": "member"},
    )
    assert status == 201

    def invitation_record() -> dict[str, Any]:
        _, activity = api.call("GET", "/audit/users/activity?type=invitation_created", member["api_key"])
        (record,) = activity["data"]
        return dict(record)

    while_member = invitation_record()
    assert while_member["withheld"] is False and while_member["current"]["email"] == "new.comer@example.com"
    assert api.call("DELETE", f"/tenants/{tenant_id}/members/{member['id']}", owner["api_key"])[0] == 204
    api.gateway.runtime.containers["AuthorizerFunction"].recycle()

    after = invitation_record()
    assert after["withheld"] is True and after["tenant"] == tenant_id and after["type"] == "invitation_created"
    assert after["current"] is None and after["previous"] is None and after["timestamp"] == while_member["timestamp"]


def test_members_and_invitations_page_like_the_logs(api: Api, demo: dict[str, Any]) -> None:
    """A tenant with many members gets them a page at a time, by cursor, with an exact total (issue #11, 3)."""
    tenant_id = demo["tenants"][0]["id"]
    owner = user(demo, "owner")
    accounts = container.accounts()
    for n in range(12):
        person = accounts.create_user(f"Member {n}", f"member{n}@example.org")
        accounts.add_member(tenant_id, person.id, Role.MEMBER)
    seen: list[int] = []
    status, page = api.call("GET", f"/tenants/{tenant_id}/members?results=5", owner["api_key"])
    while True:
        assert status == 200 and page["total"] == 15 and len(page["data"]) <= 5, page
        seen += [m["user"]["id"] for m in page["data"]]
        if not page["next"]:
            break
        status, page = api.call(
            "GET", f"/tenants/{tenant_id}/members?results=5&cursor={page['next']}", owner["api_key"]
        )
    assert seen == sorted(seen) and len(set(seen)) == 15  # every member once, in user-id order
    _, second = api.call("GET", f"/tenants/{tenant_id}/members?results=5&page=2", owner["api_key"])
    assert [m["user"]["id"] for m in second["data"]] == seen[5:10]
    # a cursor of one listing is refused by another
    _, first = api.call("GET", f"/tenants/{tenant_id}/members?results=5", owner["api_key"])
    status, body = api.call("GET", f"/tenants/{tenant_id}/invitations?cursor={first['next']}", owner["api_key"])
    assert status == 400 and "another listing" in body["error"]["message"]

    created = [
        api.call(
            "POST",
            f"/tenants/{tenant_id}/invitations",
            owner["api_key"],
            {"email": f"i{n}@example.org", "role": "member"},
        )[1]
        for n in range(3)
    ]
    _, invitations = api.call("GET", f"/tenants/{tenant_id}/invitations?results=2", owner["api_key"])
    assert invitations["total"] == 3 and [i["id"] for i in invitations["data"]] == [c["id"] for c in created[::-1][:2]]


@pytest.mark.parametrize("route", ["/audit/tenants/{t}", "/tenants/{t}/members", "/audit/tenants/{t}/access"])
def test_an_offset_beyond_the_cap_points_to_the_cursor(api: Api, demo: dict[str, Any], route: str) -> None:
    tenant_id = demo["tenants"][0]["id"]
    path = route.format(t=tenant_id)
    assert api.call("GET", f"{path}?page=101&results=10", user(demo, "owner")["api_key"])[0] == 200  # skips 1,000
    status, body = api.call("GET", f"{path}?page=102&results=10", user(demo, "owner")["api_key"])
    assert status == 400 and "'next' cursor" in body["error"]["message"], body


def test_member_and_invitation_totals_are_kept_on_the_tenant_and_an_older_tenant_is_counted_once(
    api: Api, stack: Stack, demo: dict[str, Any]
) -> None:
    """A listing's total is the tenant item's count, moved by every change in the change's transaction; a
    tenant made before the counts had none, and its first change counts its items once."""
    tenant_id = demo["tenants"][0]["id"]
    owner, member = user(demo, "owner"), user(demo, "member")
    dynamodb, table = clients("dynamodb"), stack.ref("TenantsTable")

    def stored() -> dict[str, Any]:
        item = dynamodb.get_item(TableName=table, Key=key(str(tenant_id), "TENANT"))["Item"]
        return {name: int(item[name]["N"]) for name in ("members", "invitations") if name in item}

    def items(prefix: str) -> int:
        return sum(1 for i in scan_all(stack) if i["pk"]["S"] == str(tenant_id) and i["sk"]["S"].startswith(prefix))

    def totals() -> tuple[int, int]:
        _, members = api.call("GET", f"/tenants/{tenant_id}/members", owner["api_key"])
        _, invitations = api.call("GET", f"/tenants/{tenant_id}/invitations", owner["api_key"])
        return members["total"], invitations["total"]

    assert stored() == {"members": items("MEMBER#"), "invitations": items("INVITATION#")}
    dynamodb.update_item(
        TableName=table, Key=key(str(tenant_id), "TENANT"), UpdateExpression="REMOVE members, invitations"
    )
    assert totals() == (items("MEMBER#"), items("INVITATION#"))  # counted the old way until its first change

    invited = {"email": "new.comer@example.com", "role": "member"}
    assert api.call("POST", f"/tenants/{tenant_id}/invitations", owner["api_key"], invited)[0] == 201
    assert stored() == {"invitations": items("INVITATION#")}
    assert api.call("DELETE", f"/tenants/{tenant_id}/members/{member['id']}", owner["api_key"])[0] == 204
    assert stored() == {"members": items("MEMBER#"), "invitations": items("INVITATION#")}
    assert totals() == (items("MEMBER#"), items("INVITATION#"))
