"""GDPR: export every personal datum of a user, and erase the account.

Both run as Step Functions workflows (``statemachines/``) whose Lambda tasks
call the steps below. Every step is idempotent: a retried or re-run step ends
in the same state, so an erasure interrupted halfway and run again finishes the
job. Audit logs, access logs and security events are kept (legitimate interest).

No state's input or output carries personal data (Step Functions keeps an
execution's history readable for 90 days, after an erasure too): an export's
categories are written to the exports bucket (SSE-KMS, gone within a day) and
the states pass only their object keys; erasure steps pass counts.

Erasure blocks the account first: from then on no key, identity, session,
setting or membership can be added (every such write is conditional on the
profile having no ``erasing`` mark), and every API key is deleted, so the
authorizer refuses them on the next request.
"""

from __future__ import annotations

import json
from typing import Any

from audit_service.dal.accounts import AccountsRepository
from audit_service.dal.invitations import PENDING, InvitationsRepository
from audit_service.dal.members import MembersRepository
from audit_service.dal.users import UsersRepository
from audit_service.domain.audit import Ref
from audit_service.domain.errors import InvalidInput, NotFound
from audit_service.domain.models import iso_utc, utc_now
from audit_service.services.account_reads import check_erasable
from audit_service.services.changes import ChangeRecorder
from audit_service.services.invitations import Invitations
from audit_service.services.my_account import MyAccount

EXPORT_CATEGORIES = ("profile", "identities", "sessions", "memberships", "invitations", "settings")
ERASURE_STEPS = (
    "block",
    "record",
    "identities",
    "sessions",
    "api_keys",
    "invitations",
    "settings",
    "memberships",
    "profile",
)


def export_key(user_id: int, export_id: str) -> str:
    return f"exports/{user_id}/{export_id}.json"


def part_key(user_id: int, export_id: str, category: str) -> str:
    return f"exports/{user_id}/{export_id}/parts/{category}.json"


class AccountExport:
    def __init__(
        self,
        my_account: MyAccount,
        accounts: AccountsRepository,
        users: UsersRepository,
        invitations: Invitations,
        *,
        s3: Any,
        bucket: str,
        changes: ChangeRecorder,
    ) -> None:
        self._my_account = my_account
        self._accounts = accounts
        self._users = users
        self._invitations = invitations
        self._s3 = s3
        self._bucket = bucket
        self._changes = changes

    def collect_part(self, user_id: int, export_id: str, category: str) -> dict[str, str]:
        """Write one category to the exports bucket; the workflow passes on only where it is."""
        data = self.collect(user_id, category)
        key = part_key(user_id, export_id, category)
        self._put(key, {category: data})
        return {"category": category, "key": key}

    def collect(self, user_id: int, category: str) -> Any:
        """One category of the user's personal data, decrypted."""
        profile = self._my_account.profile(user_id)  # NotFound for an erased or unknown user
        if category == "profile":
            return profile
        if category == "identities":
            return self._my_account.identities(user_id)
        if category == "sessions":
            return [s for s in self._my_account.sessions(user_id) if s["status"] == "active"]
        if category == "settings":
            return self._my_account.settings(user_id)
        if category == "memberships":
            memberships = []
            for item in self._users.items(user_id, "MEMBERSHIP#"):
                tenant = self._accounts.get_tenant(int(item.attributes["tenant_id"]))
                memberships.append(
                    {
                        "tenant": {"id": int(item.attributes["tenant_id"]), "name": tenant.name if tenant else None},
                        "role": item.attributes["role"],
                        "joined_at": item.attributes["created_at"],
                    }
                )
            return memberships
        if category == "invitations":
            return [i for i in self._invitations.addressed_to_user(user_id) if i["status"] == PENDING]
        raise InvalidInput(f"unknown export category {category!r}")

    def assemble(self, user_id: int, export_id: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
        """One document from the parts (``{"category", "key"}``, keys of this export only), then the parts go."""
        document: dict[str, Any] = {"user_id": user_id, "export_id": export_id, "exported_at": iso_utc(utc_now())}
        keys = [str(part["key"]) for part in parts]
        if keys != [part_key(user_id, export_id, str(part["category"])) for part in parts]:
            raise InvalidInput("an export part does not belong to this export")
        for key in keys:
            document.update(json.loads(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()))
        missing = [c for c in EXPORT_CATEGORIES if c not in document]
        if missing:
            raise InvalidInput(f"export parts missing: {', '.join(missing)}")
        key = export_key(user_id, export_id)
        self._put(key, document)
        self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
        self._changes.append(
            tenant_id=None,
            event_type="account_exported",
            author=Ref(id=user_id, name=document["profile"]["name"]),
            event_id=f"export-{export_id}",
            current={"export_id": export_id},
        )
        return {"bucket": self._bucket, "key": key}

    def _put(self, key: str, document: dict[str, Any]) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=json.dumps(document).encode(),
            ContentType="application/json",
            ServerSideEncryption="aws:kms",
        )

    def document(self, user_id: int, export_id: str) -> dict[str, Any] | None:
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=export_key(user_id, export_id))["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            return None
        document: dict[str, Any] = json.loads(body)
        return document


class AccountErasure:
    def __init__(
        self,
        users: UsersRepository,
        accounts: AccountsRepository,
        members: MembersRepository,
        invitations: InvitationsRepository,
        my_account: MyAccount,
        *,
        changes: ChangeRecorder,
    ) -> None:
        self._users = users
        self._accounts = accounts
        self._members = members
        self._invitations = invitations
        self._my_account = my_account
        self._changes = changes

    def check(self, user_id: int) -> None:
        check_erasable(self._accounts, user_id)

    def step(self, user_id: int, erasure_id: str, step: str) -> dict[str, Any]:
        """Run one step; returns how many items it removed (0 when an earlier attempt already did)."""
        if step not in ERASURE_STEPS:
            raise InvalidInput(f"unknown erasure step {step!r}")
        handler = getattr(self, f"_erase_{step}")
        removed: int = handler(user_id, erasure_id)
        return {"step": step, "removed": removed}

    def _erase_block(self, user_id: int, _erasure_id: str) -> int:
        """Nothing can be added to the account any more, and none of its keys works (at once)."""
        if not self._users.block(user_id, at=iso_utc(utc_now())):
            return 0  # no profile: an earlier run finished
        return self._erase_api_keys(user_id, _erasure_id)

    def _erase_record(self, user_id: int, erasure_id: str) -> int:
        try:
            name = self._my_account.profile(user_id)["name"]
        except NotFound:
            return 0  # the profile is already gone: an earlier run got past this step
        tenants = self._accounts.roles_of(user_id)
        for tenant_id in tenants:
            self._changes.append(
                tenant_id=tenant_id,
                event_type="account_erased",
                author=Ref(id=user_id, name=name),
                event_id=f"erasure-{erasure_id}",
                current={"user_id": user_id, "erasure_id": erasure_id},
            )
        self._changes.append(
            tenant_id=None,
            event_type="account_erased",
            author=Ref(id=user_id, name=name),
            event_id=f"erasure-{erasure_id}",
            current={"user_id": user_id, "erasure_id": erasure_id},
        )
        return len(tenants)

    def _erase_identities(self, user_id: int, _erasure_id: str) -> int:
        items = self._users.items(user_id, "IDENTITY#")
        for item in items:
            self._users.delete(f"identity#{item.attributes['provider']}#{item.attributes['lookup']}", "IDENTITY")
            self._users.delete(str(user_id), item.sk)
        return len(items) + self._erase_prefix(user_id, "IDENTITY_LINK#")  # links asked for, never confirmed

    def _erase_prefix(self, user_id: int, prefix: str) -> int:
        items = self._users.items(user_id, prefix)
        for item in items:
            self._users.delete(str(user_id), item.sk)
        return len(items)

    def _erase_sessions(self, user_id: int, _erasure_id: str) -> int:
        return self._erase_prefix(user_id, "SESSION#")

    def _erase_settings(self, user_id: int, _erasure_id: str) -> int:
        # with the new email of a change asked for and never confirmed
        return self._erase_prefix(user_id, "SETTINGS") + self._erase_prefix(user_id, "EMAIL_CHANGE")

    def _erase_api_keys(self, user_id: int, _erasure_id: str) -> int:
        """Every key: those the index shows and those its mirrors in the user's partition name (a consistent
        read, so a key created a moment before the block is not missed)."""
        hashes = self._accounts.api_key_hashes(user_id)
        for key_hash in hashes:
            self._accounts.delete_api_key(key_hash)
        return len(hashes) + self._erase_prefix(user_id, "APIKEY#")

    def _erase_invitations(self, user_id: int, _erasure_id: str) -> int:
        """Invitations addressed to the person's email in every status (accepted and revoked ones carry it too)."""
        profile = self._accounts.get_user_item(user_id)
        if profile is None:
            return 0
        found = self._invitations.addressed_to(profile["email_hash"])
        for invitation in found:
            self._invitations.delete(invitation)
        return len(found)

    def _erase_memberships(self, user_id: int, _erasure_id: str) -> int:
        removed = 0
        for tenant_id in self._accounts.roles_of(user_id):
            member = self._members.get_many(tenant_id, {user_id}).get(user_id)
            if member is not None:
                self._members.remove(member, audit_record=None)
            else:
                self._users.delete(str(user_id), f"MEMBERSHIP#{tenant_id}")
            removed += 1
        return removed

    def _erase_profile(self, user_id: int, _erasure_id: str) -> int:
        profile = self._accounts.get_user_item(user_id)
        if profile is None:
            return 0
        self._users.delete(f"email#{profile['email_hash']}", "EMAIL")
        self._users.delete(str(user_id), "PROFILE")
        return 1
