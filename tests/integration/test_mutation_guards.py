"""Guards that mutation testing found unguarded (issue #11, 7): each test fails if its mechanism is removed.

- a redelivered ``event_id`` is a duplicate only if its sealed fields match too
  (``AuditLog._same`` opens the stored record and compares);
- removing a member is conditional on the version that was read, so a stale
  remove cannot skew the owners count that guards the last owner;
- audit records written inside a transaction are put-only: a change whose
  record key already exists is cancelled whole.

The route checks (``audit:read`` on the proof and export routes) and the
access-log writes are caught by ``test_permission_matrix.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from audit_service import container
from audit_service.dal.dynamo import key, member_sk
from audit_service.domain.audit import Ref
from audit_service.domain.errors import Conflict
from audit_service.domain.models import Principal, RequestMetadata
from audit_service.domain.permissions import Role
from audit_service.services.audit_log import tenant_context
from audit_service.services.pagination import PageRequest
from localcloud.pollers import Pollers
from localcloud.provision import Stack
from localcloud.runtime import Runtime
from tests.conftest import REGION, clients, scan_all, user
from tests.integration.test_audit_log import audit_items, dead_letters, product_page_event, publish


@pytest.fixture
def pollers(runtime: Runtime, stack: Stack) -> Pollers:
    return Pollers(stack.mappings, runtime, clients, REGION)


# ---------------------------------------------------------------- duplicates compare the sealed fields
@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"author": {"id": 1, "name": "Max Mustermann"}}, id="another-author-name"),
        pytest.param({"current": {"replicas": 30}}, id="another-current"),
        pytest.param({"previous": None}, id="no-previous"),
    ],
)
def test_a_redelivered_event_id_with_other_sealed_fields_is_a_conflict_not_a_duplicate(
    stack: Stack, demo: dict[str, Any], pollers: Pollers, change: dict[str, Any]
) -> None:
    """Same id, same plain attributes (type, author id, refs, time), different sealed values: refused, sent to
    the dead-letter queue with its reason, and the stored record is the original."""
    original = product_page_event(
        demo["tenants"][0]["id"], type="deployment_updated", previous={"replicas": 1}, current={"replicas": 3}
    )
    publish(stack, original)
    pollers.drain()
    before = audit_items(stack)
    assert len(before) == 1 and dead_letters(stack) == []

    publish(stack, {**original, **change})
    pollers.drain()

    assert audit_items(stack) == before
    (dead,) = dead_letters(stack)
    assert "already stored for another event" in dead["MessageAttributes"]["reason"]["StringValue"]
    (record,) = stored_records(demo["tenants"][0]["id"])
    assert record["author"] == original["author"] and record["current"] == original["current"]


def test_null_fields_are_not_sealed_and_a_copy_sealed_with_them_still_matches_its_redelivery(
    stack: Stack, demo: dict[str, Any], pollers: Pollers
) -> None:
    """Sealed fields leave nulls out (bytes in the table, both indexes and the backup); a record sealed
    before that, with its nulls, is still the same event when it is delivered again."""
    tenant_id = demo["tenants"][0]["id"]
    event = product_page_event(tenant_id)  # a creation: no previous, no current
    publish(stack, event)
    pollers.drain()
    (item,) = audit_items(stack)
    envelope, context = container.envelope(), tenant_context(tenant_id)
    bind = f"{item['pk']['S']}|{item['sk']['S']}"
    fields = envelope.open(bytes(item["pii"]["B"]), context=context, bind=bind)
    assert "previous" not in fields and "current" not in fields and fields["names"]["author"] == "Jane Smith"

    as_before = {**fields, "previous": None, "current": None}
    item["pii"] = {"B": envelope.seal(as_before, context=context, bind=bind)}
    clients("dynamodb").put_item(TableName=stack.ref("AuditLogTable"), Item=item)
    publish(stack, event)
    pollers.drain()
    assert dead_letters(stack) == [] and audit_items(stack) == [item]
    (record,) = stored_records(tenant_id)
    assert record["previous"] is None and record["current"] is None


def stored_records(tenant_id: int) -> list[dict[str, Any]]:
    """The tenant's audit records as the API serves them (opened)."""
    body = container.audit_log().tenant_page(tenant_id, PageRequest(page=1, results=10)).body()
    return list(body["data"])


# ---------------------------------------------------------------- a stale remove cannot skew the owners count
def owners_count(stack: Stack, tenant_id: int) -> int:
    item = clients("dynamodb").get_item(TableName=stack.ref("TenantsTable"), Key=key(str(tenant_id), "TENANT"))
    return int(item["Item"]["owners"]["N"])


def owner_members(tenant_id: int, user_ids: set[int]) -> set[int]:
    found = container.members_repository().get_many(tenant_id, user_ids)
    return {user_id for user_id, member in found.items() if member.role is Role.OWNER}


def test_a_stale_remove_fails_and_the_owners_count_stays_true(stack: Stack, demo: dict[str, Any]) -> None:
    """The member was read as a plain member, then made an owner: removing them with the stale read would
    delete an owner without counting it down (owners 2 while one is left), after which the last owner could
    leave. The delete is conditional on the version read, so it fails instead."""
    tenant_id = demo["tenants"][0]["id"]
    owner, member = user(demo, "owner"), user(demo, "member")
    everyone = {u["id"] for u in demo["users"]}
    repository = container.members_repository()
    request = RequestMetadata(request_id="r")
    as_owner = Principal(user_id=owner["id"], key_id="k", roles={tenant_id: Role.OWNER})

    stale = repository.get_many(tenant_id, {member["id"]})[member["id"]]
    assert stale.role is Role.MEMBER
    container.members().change_role(tenant_id, member["id"], Role.OWNER, principal=as_owner, request=request)
    assert owners_count(stack, tenant_id) == 2

    with pytest.raises(Conflict, match="changed meanwhile"):
        repository.remove(stale, audit_record=None)

    assert owner_members(tenant_id, everyone) == {owner["id"], member["id"]}
    assert owners_count(stack, tenant_id) == len(owner_members(tenant_id, everyone))
    keys = {(i["pk"]["S"], i["sk"]["S"]) for i in scan_all(stack) if "sk" in i}
    assert (str(tenant_id), member_sk(member["id"])) in keys
    assert (str(member["id"]), f"MEMBERSHIP#{tenant_id}") in keys
    # and the guard still holds: one owner may step down, the last one may not
    members = container.members()
    members.remove(tenant_id, member["id"], principal=as_owner, request=request)
    with pytest.raises(Conflict, match="last owner"):
        members.remove(tenant_id, owner["id"], principal=as_owner, request=request)
    assert owners_count(stack, tenant_id) == 1 == len(owner_members(tenant_id, everyone))


# ---------------------------------------------------------------- audit records in transactions are put-only
def change_with_a_used_record(stack: Stack, demo: dict[str, Any]) -> tuple[Any, Any, list[dict[str, Any]]]:
    """A role change made with its audit record; then the member (fresh) and that record, for a second change."""
    tenant_id = demo["tenants"][0]["id"]
    owner, member = user(demo, "owner"), user(demo, "member")
    repository = container.members_repository()
    _, audit = container.change_recorder().put(
        tenant_id=tenant_id,
        event_type="member_role_changed",
        author=Ref(id=owner["id"], name="o"),
        request=None,
        previous={"user_id": member["id"], "role": "member"},
        current={"user_id": member["id"], "role": "auditor"},
    )
    first = repository.get_many(tenant_id, {member["id"]})[member["id"]]
    repository.change_role(first, Role.AUDITOR, audit_record=audit)
    return repository.get_many(tenant_id, {member["id"]})[member["id"]], audit, scan_all(stack)


def test_a_transaction_whose_audit_record_exists_is_cancelled_whole(stack: Stack, demo: dict[str, Any]) -> None:
    """The record's put is conditional (attribute_not_exists) inside the transaction too: the second change
    carrying a record with the same key is not made, and the record is not overwritten."""
    fresh, audit, before = change_with_a_used_record(stack, demo)

    with pytest.raises(Conflict, match="audit record for this change already exists"):
        container.members_repository().change_role(fresh, Role.ADMIN, audit_record=audit)

    assert container.members_repository().get_many(fresh.tenant_id, {fresh.user_id})[fresh.user_id].role is Role.AUDITOR
    assert scan_all(stack) == before


def test_a_used_audit_record_key_is_answered_as_a_conflict(stack: Stack, demo: dict[str, Any]) -> None:
    fresh, audit, _ = change_with_a_used_record(stack, demo)
    with pytest.raises(Conflict, match="audit record for this change already exists"):
        container.members_repository().change_role(fresh, Role.ADMIN, audit_record=audit)
