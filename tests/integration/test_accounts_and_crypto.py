"""Accounts through the operator's tool, personal data encryption and the blind index."""

from __future__ import annotations

import json
from typing import Any

import pytest

from audit_service import container
from audit_service.admin.cli import main, run
from audit_service.crypto.envelope import DecryptionFailed
from audit_service.domain.errors import Conflict, NotFound
from audit_service.domain.models import Plan
from localcloud.provision import Stack
from tests.conftest import clients, scan_all


def test_cli_creates_tenant_user_membership_and_key(stack: Stack) -> None:
    tenant = run(["tenant", "create", "--name", "Initech", "--plan", "enterprise"])["tenant"]
    person = run(["user", "create", "--name", "Peter Gibbons", "--email", "Peter@Initech.example"])["user"]
    membership = run(
        ["member", "add", "--tenant", str(tenant["id"]), "--user", str(person["id"]), "--role", "auditor"]
    )["membership"]
    key = run(["key", "create", "--user", str(person["id"]), "--name", "laptop"])

    assert tenant["plan"] == "enterprise" and membership["role"] == "auditor"
    assert key["secret"].startswith("ld_") and "key_hash" not in key["api_key"]
    principal = container.authenticator().authenticate(key["secret"])
    assert principal.user_id == person["id"] and principal.roles == {tenant["id"]: "auditor"}
    listed = run(["key", "list", "--user", str(person["id"])])["api_keys"]
    assert [k["key_id"] for k in listed] == [key["api_key"]["key_id"]]
    assert key["secret"] not in json.dumps(scan_all(stack), default=str)


def test_user_found_by_email_through_the_blind_index_without_scanning(stack: Stack) -> None:
    created = container.accounts().create_user("Grace Hopper", "grace@navy.example")
    found = container.accounts().find_user_by_email("  GRACE@navy.example ")
    assert found is not None and found.id == created.id and found.profile.name == "Grace Hopper"
    assert container.accounts().find_user_by_email("nobody@navy.example") is None
    stored = json.dumps(scan_all(stack), default=str)
    assert "grace@navy.example" not in stored and "Grace Hopper" not in stored


def test_emails_are_unique(stack: Stack) -> None:
    container.accounts().create_user("One", "same@example.com")
    with pytest.raises(Conflict):
        container.accounts().create_user("Two", "SAME@example.com")


def test_membership_needs_an_existing_tenant_and_user(stack: Stack) -> None:
    from audit_service.domain.permissions import Role

    person = container.accounts().create_user("Solo", "solo@example.com")
    with pytest.raises(NotFound):
        container.accounts().add_member(999, person.id, Role.MEMBER)
    tenant = container.accounts().create_tenant("T", Plan.PRO)
    with pytest.raises(NotFound):
        container.accounts().add_member(tenant.id, 999, Role.MEMBER)
    # The failed attempts left nothing behind, on either side of the membership.
    assert not [i for i in scan_all(stack) if i["sk"]["S"].startswith(("MEMBER#", "MEMBERSHIP#"))]
    container.accounts().add_member(tenant.id, person.id, Role.MEMBER)
    with pytest.raises(Conflict):
        container.accounts().add_member(tenant.id, person.id, Role.OWNER)


def test_profile_ciphertext_moved_to_another_user_fails_to_decrypt(stack: Stack) -> None:
    alice = container.accounts().create_user("Alice", "alice@example.com")
    bob = container.accounts().create_user("Bob", "bob@example.com")
    dynamodb = clients("dynamodb")
    table = stack.ref("UsersTable")
    alice_item = dynamodb.get_item(TableName=table, Key={"pk": {"S": str(alice.id)}, "sk": {"S": "PROFILE"}})["Item"]
    dynamodb.update_item(
        TableName=table,
        Key={"pk": {"S": str(bob.id)}, "sk": {"S": "PROFILE"}},
        UpdateExpression="SET pii = :p",
        ExpressionAttributeValues={":p": alice_item["pii"]},
    )

    with pytest.raises(DecryptionFailed):
        container.accounts().get_user(bob.id)
    assert container.accounts().get_user(alice.id).profile.name == "Alice"


def test_data_keys_are_cached_per_owner(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    envelope = container.envelope()
    calls: list[str] = []
    import botocore.client

    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation: str, params: Any) -> Any:
        if self.meta.service_model.service_name == "kms":
            calls.append(operation)
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    sealed = [envelope.seal({"n": i}, context={"tenant_id": "1"}, bind=f"r{i}") for i in range(50)]
    opened = [envelope.open(blob, context={"tenant_id": "1"}, bind=f"r{i}") for i, blob in enumerate(sealed)]

    assert opened == [{"n": i} for i in range(50)]
    assert calls.count("GenerateDataKey") == 1
    assert calls.count("Decrypt") <= 1
    with pytest.raises(DecryptionFailed):
        envelope.open(sealed[0], context={"tenant_id": "2"}, bind="r0")
    with pytest.raises(DecryptionFailed):
        envelope.open(sealed[0], context={"tenant_id": "1"}, bind="r1")


def test_cli_reports_bad_input_as_json_error(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "create", "--name", "X", "--email", "not-an-email"]) == 1
    assert "error" in json.loads(capsys.readouterr().err)
