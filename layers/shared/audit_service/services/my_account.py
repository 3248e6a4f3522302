"""The caller's own account: profile, settings, identity-provider links, API keys, sessions.

These are user-level changes. Each is one transaction with its audit records:
the full record in the platform partition (the one the user's activity shows,
and the one the operator reads in an incident), and a copy in every tenant the
user belongs to that keeps only what a tenant needs to know (no email
addresses, provider account ids, IP addresses, User-Agents or setting values:
docs/data-model.md, "What user-level records keep"). A profile change also
refreshes the member copies of the name and email in every tenant the user
belongs to, in the same transaction.

Nothing is taken on the caller's word that could let them claim what is not
theirs: a new email takes effect only when confirmed with the secret sent to
that address, and a provider account is linked only with the secret the
platform's identity service hands out after the provider confirmed it. Neither
request tells the caller whether the address or the account exists elsewhere.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from audit_service.crypto.hashing import api_key_hash, normalise_email, one_time_secret, secret_hash, secret_matches
from audit_service.dal.accounts import AccountsRepository
from audit_service.dal.users import UserItem, UsersRepository
from audit_service.domain.audit import Ref
from audit_service.domain.errors import Conflict, InvalidInput, NotFound
from audit_service.domain.models import ApiKey, ApiKeyStatus, RequestMetadata, iso_utc, utc_now
from audit_service.domain.sessions import SessionEnded, SessionStarted
from audit_service.domain.users import UserProfile
from audit_service.services.account_reads import api_keys_of, key_view
from audit_service.services.accounts import profile_binding, user_context
from audit_service.services.auth import generate_api_key_secret
from audit_service.services.changes import ChangeRecorder
from audit_service.services.members import Members
from audit_service.services.notifications import NotificationType

if TYPE_CHECKING:
    from audit_service.crypto.envelope import Envelope
    from audit_service.crypto.hashing import BlindIndex
    from audit_service.services.notifications import Notifier

DEFAULT_SETTINGS: dict[str, Any] = {"locale": "en", "timezone": "UTC", "email_notifications": True}
EMAIL_CHANGE = "EMAIL_CHANGE"
EMAIL_CHANGE_LIFETIME = timedelta(hours=1)
IDENTITY_LINK_LIFETIME = timedelta(minutes=30)
Values = dict[str, Any] | None


class InvalidSecret(InvalidInput):
    code = "invalid_secret"


def _without(values: Values, *names: str) -> Values:
    return None if values is None else {k: v for k, v in values.items() if k not in names}


def _changed_names(previous: Values, current: Values) -> Values:
    before, after = previous or {}, current or {}
    return {"changed": sorted(name for name in {*before, *after} if before.get(name) != after.get(name))}


# What a tenant's copy of a user-level record keeps (the platform partition's copy keeps everything):
# the tenant learns that its member changed something, not the member's private values.
TENANT_COPY: dict[str, Callable[[Values, Values], tuple[Values, Values]]] = {
    "user_updated": lambda p, c: (
        _without(p, "email"),
        {**(_without(c, "email") or {}), "email_changed": (p or {}).get("email") != (c or {}).get("email")},
    ),
    "user_email_change_requested": lambda p, c: (p, c),
    "identity_link_requested": lambda p, c: (p, c),
    "identity_linked": lambda p, c: (_without(p, "external_id"), _without(c, "external_id")),
    "identity_unlinked": lambda p, c: (_without(p, "external_id"), _without(c, "external_id")),
    "session_started": lambda p, c: (_without(p, "source_ip", "user_agent"), _without(c, "source_ip", "user_agent")),
    "settings_updated": lambda p, c: (None, _changed_names(p, c)),
}


class MyAccount:
    def __init__(
        self,
        users: UsersRepository,
        accounts: AccountsRepository,
        envelope: Envelope,
        blind_index: BlindIndex,
        *,
        changes: ChangeRecorder,
        members: Members,
        notifier: Callable[[], Notifier],
    ) -> None:
        self._notifier = notifier
        self._users = users
        self._accounts = accounts
        self._envelope = envelope
        self._blind_index = blind_index
        self._changes = changes
        self._members = members

    # ------------------------------------------------------------------ helpers
    def _open(self, user_id: int, item: UserItem, binding: str) -> dict[str, Any]:
        assert item.sealed is not None
        return self._envelope.open(item.sealed, context=user_context(user_id), bind=binding)

    def _seal(self, user_id: int, fields: dict[str, Any], binding: str) -> bytes:
        return self._envelope.seal(fields, context=user_context(user_id), bind=binding)

    def _profile_item(self, user_id: int) -> tuple[UserItem, dict[str, Any]]:
        item = self._users.get(user_id, "PROFILE")
        if item is None:
            raise NotFound("your account does not exist")
        return item, self._open(user_id, item, profile_binding(user_id))

    def _audit(
        self,
        user_id: int,
        name: str,
        event_type: str,
        request: RequestMetadata | None,
        *,
        previous: dict[str, Any] | None,
        current: dict[str, Any] | None,
    ) -> list[dict[str, Any]]:
        """The audit records of a user-level change: the full one in the platform partition (shown in
        the user's activity), and a reduced copy in each tenant the user belongs to (``TENANT_COPY``)."""
        author = Ref(id=user_id, name=name)
        _event, full = self._changes.put(
            tenant_id=None, event_type=event_type, author=author, request=request, previous=previous, current=current
        )
        entries = [full]
        reduce = TENANT_COPY.get(event_type)
        tenant_previous, tenant_current = reduce(previous, current) if reduce else (previous, current)
        for tenant_id in self._accounts.roles_of(user_id):
            _event, entry = self._changes.put(
                tenant_id=tenant_id,
                event_type=event_type,
                author=author,
                request=request,
                previous=tenant_previous,
                current=tenant_current,
                in_activity=False,
            )
            entries.append(entry)
        return entries

    # ------------------------------------------------------------------ profile
    def profile(self, user_id: int) -> dict[str, Any]:
        item, fields = self._profile_item(user_id)
        return {
            "id": user_id,
            "name": fields["name"],
            "email": fields["email"],
            "created_at": item.attributes["created_at"],
        }

    def update_profile(
        self, user_id: int, *, name: str | None, email: str | None, request: RequestMetadata
    ) -> dict[str, Any]:
        """Change the name at once; a new email only once confirmed (``confirm_email_change``).

        The answer is the same whether or not another account uses the new email: only the owner of
        that mailbox learns it, when confirming.
        """
        item, before = self._profile_item(user_id)
        new_name = name if name is not None and name != before["name"] else None
        new_email = normalise_email(email) if email is not None else None
        if new_email == before["email"]:
            new_email = None
        if new_name is None and new_email is None:
            raise InvalidInput("nothing to change")
        entries: list[dict[str, Any]] = []
        after = dict(before)
        if new_name is not None:
            after["name"] = new_name
            entries.append(
                self._users.replace_entry(
                    item, {**item.attributes, "pii": self._seal(user_id, after, profile_binding(user_id))}
                )
            )
            for tenant_id in self._accounts.roles_of(user_id):
                sealed = self._members.seal(tenant_id, user_id, name=new_name, email=before["email"])
                entries.append(self._users.member_copy_entry(tenant_id, user_id, sealed))
            entries.extend(
                self._audit(
                    user_id,
                    new_name,
                    "user_updated",
                    request,
                    previous={"name": before["name"]},
                    current={"name": new_name},
                )
            )
        pending: dict[str, Any] | None = None
        secret = ""
        if new_email is not None:
            UserProfile(name=after["name"], email=new_email)  # the address is valid before anything is stored
            secret = one_time_secret()
            expires = utc_now() + EMAIL_CHANGE_LIFETIME
            pending = {"status": "pending_confirmation", "expires_at": iso_utc(expires)}
            if new_name is None:
                entries.append(self._users.active_account_check(user_id))
            entries.append(
                self._users.put_entry(
                    user_id,
                    EMAIL_CHANGE,
                    {
                        "secret_hash": secret_hash(secret),
                        "expires_at": pending["expires_at"],
                        "expires_epoch": int(expires.timestamp()),
                        "version": 1,
                        "pii": self._seal(user_id, {"email": new_email}, f"user:{user_id}:{EMAIL_CHANGE}"),
                    },
                    new=False,
                )
            )
            entries.extend(
                self._audit(
                    user_id,
                    after["name"],
                    "user_email_change_requested",
                    request,
                    previous=None,
                    current={"expires_at": pending["expires_at"]},
                )
            )
        self._users.transact(entries)
        if new_email is not None and pending is not None:
            self._notifier().send(
                NotificationType.EMAIL_CHANGE_REQUESTED,
                reference=f"{user_id}:{request.request_id}",
                detail={"user_id": user_id, "expires_at": pending["expires_at"]},
                sealed={
                    "to": new_email,
                    "previous_email": before["email"],  # told that a change was asked for, without the secret
                    "name": after["name"],
                    "secret": secret,
                    "confirm": {"method": "POST", "path": "/users/me/email/confirm", "body": {"secret": secret}},
                },
            )
        view = {"id": user_id, **after, "created_at": item.attributes["created_at"]}
        return {**view, "email_change": pending} if pending else view

    def confirm_email_change(self, user_id: int, secret: str, request: RequestMetadata) -> dict[str, Any]:
        """Make a requested email the account's email: its blind index, the profile and the tenants' member copies."""
        pending = self._users.get(user_id, EMAIL_CHANGE)
        if (
            pending is None
            or int(pending.attributes["expires_epoch"]) <= int(utc_now().timestamp())
            or not secret_matches(secret, pending.attributes["secret_hash"])
        ):
            raise InvalidSecret("the confirmation secret is wrong or has expired; ask for a new one")
        new_email = self._open(user_id, pending, f"user:{user_id}:{EMAIL_CHANGE}")["email"]
        item, before = self._profile_item(user_id)
        after = {**before, "email": new_email}
        old_hash, new_hash = item.attributes["email_hash"], self._blind_index.email(new_email)
        entries = [
            self._users.delete_entry(user_id, EMAIL_CHANGE, version=pending.version),  # the secret works once
            self._users.delete_entry(f"email#{old_hash}", "EMAIL"),
            self._users.lookup_entry(f"email#{new_hash}", "EMAIL", user_id),
            self._users.replace_entry(
                item,
                {
                    **item.attributes,
                    "email_hash": new_hash,
                    "pii": self._seal(user_id, after, profile_binding(user_id)),
                },
            ),
        ]
        for tenant_id in self._accounts.roles_of(user_id):
            sealed = self._members.seal(tenant_id, user_id, name=after["name"], email=new_email)
            entries.append(self._users.member_copy_entry(tenant_id, user_id, sealed))
        entries.extend(
            self._audit(
                user_id,
                after["name"],
                "user_updated",
                request,
                previous={"email": before["email"]},
                current={"email": new_email},
            )
        )
        # Only the owner of the new mailbox gets this far, so saying the address is taken tells nobody else.
        self._users.transact(entries, on_failure={2: Conflict("another account already uses this email")})
        return {"id": user_id, **after, "created_at": item.attributes["created_at"]}

    # ------------------------------------------------------------------ settings
    def settings(self, user_id: int) -> dict[str, Any]:
        item = self._users.get(user_id, "SETTINGS")
        return {**DEFAULT_SETTINGS, **(self._open(user_id, item, f"user:{user_id}:settings") if item else {})}

    def update_settings(self, user_id: int, changes: dict[str, Any], request: RequestMetadata) -> dict[str, Any]:
        item = self._users.get(user_id, "SETTINGS")
        before = {**DEFAULT_SETTINGS, **(self._open(user_id, item, f"user:{user_id}:settings") if item else {})}
        after = {**before, **changes}
        if after == before:
            raise InvalidInput("nothing to change")
        sealed = self._seal(user_id, after, f"user:{user_id}:settings")
        write = (
            self._users.replace_entry(item, {"pii": sealed})
            if item
            else self._users.put_entry(user_id, "SETTINGS", {"pii": sealed, "version": 1}, new=True)
        )
        _profile, who = self._profile_item(user_id)
        self._users.transact(
            [
                write,
                self._users.active_account_check(user_id),
                *self._audit(user_id, who["name"], "settings_updated", request, previous=before, current=after),
            ]
        )
        return after

    # ------------------------------------------------------------------ identities
    def identities(self, user_id: int) -> list[dict[str, Any]]:
        return [self._identity_view(user_id, item) for item in self._users.items(user_id, "IDENTITY#")]

    def _identity_view(self, user_id: int, item: UserItem) -> dict[str, Any]:
        fields = self._open(user_id, item, f"user:{user_id}:{item.sk}")
        return {
            "id": item.sk.removeprefix("IDENTITY#"),
            "provider": item.attributes["provider"],
            "external_id": fields["external_id"],
            "linked_at": item.attributes["linked_at"],
        }

    def request_identity_link(
        self, user_id: int, *, provider: str, external_id: str, request: RequestMetadata
    ) -> dict[str, Any]:
        """Ask to link a provider account. It is linked once the secret that the platform's identity service
        hands out (after the provider confirmed the account is the caller's) comes back: ``confirm_identity_link``.
        Whether the account is linked to someone else is not looked at here.
        """
        link_id = secrets.token_hex(8)
        sk = f"IDENTITY_LINK#{link_id}"
        secret = one_time_secret()
        expires = utc_now() + IDENTITY_LINK_LIFETIME
        view = {"id": link_id, "provider": provider, "status": "pending_verification", "expires_at": iso_utc(expires)}
        _profile, who = self._profile_item(user_id)
        self._users.transact(
            [
                self._users.active_account_check(user_id),
                self._users.put_entry(
                    user_id,
                    sk,
                    {
                        "provider": provider,
                        "secret_hash": secret_hash(secret),
                        "expires_at": view["expires_at"],
                        "expires_epoch": int(expires.timestamp()),
                        "version": 1,
                        "pii": self._seal(user_id, {"external_id": external_id}, f"user:{user_id}:{sk}"),
                    },
                    new=True,
                ),
                *self._audit(
                    user_id,
                    who["name"],
                    "identity_link_requested",
                    request,
                    previous=None,
                    current={"id": link_id, "provider": provider},
                ),
            ]
        )
        self._notifier().send(
            NotificationType.IDENTITY_LINK_REQUESTED,
            reference=link_id,
            detail={"user_id": user_id, "link_id": link_id, "provider": provider, "expires_at": view["expires_at"]},
            sealed={
                "external_id": external_id,
                "secret": secret,
                "confirm": {
                    "method": "POST",
                    "path": f"/users/me/identities/{link_id}/confirm",
                    "body": {"secret": secret},
                },
            },
        )
        return view

    def confirm_identity_link(
        self, user_id: int, link_id: str, secret: str, request: RequestMetadata
    ) -> dict[str, Any]:
        pending = self._users.get(user_id, f"IDENTITY_LINK#{link_id}")
        if (
            pending is None
            or int(pending.attributes["expires_epoch"]) <= int(utc_now().timestamp())
            or not secret_matches(secret, pending.attributes["secret_hash"])
        ):
            raise InvalidSecret("the confirmation secret is wrong or has expired; ask for a new link")
        provider = pending.attributes["provider"]
        external_id = self._open(user_id, pending, f"user:{user_id}:{pending.sk}")["external_id"]
        lookup = self._blind_index.identity(provider, external_id)
        sk = f"IDENTITY#{link_id}"
        now = iso_utc(utc_now())
        _profile, who = self._profile_item(user_id)
        view = {"id": link_id, "provider": provider, "external_id": external_id, "linked_at": now}
        self._users.transact(
            [
                self._users.delete_entry(user_id, pending.sk, version=pending.version),  # the secret works once
                self._users.lookup_entry(f"identity#{provider}#{lookup}", "IDENTITY", user_id),
                self._users.put_entry(
                    user_id,
                    sk,
                    {
                        "provider": provider,
                        "lookup": lookup,
                        "linked_at": now,
                        "version": 1,
                        "pii": self._seal(user_id, {"external_id": external_id}, f"user:{user_id}:{sk}"),
                    },
                    new=True,
                ),
                self._users.active_account_check(user_id),
                *self._audit(user_id, who["name"], "identity_linked", request, previous=None, current=view),
            ],
            # Only someone the provider confirmed as the account's holder gets here.
            on_failure={1: Conflict(f"this {provider} account is already linked to another account")},
        )
        return view

    def unlink_identity(self, user_id: int, identity_id: str, request: RequestMetadata) -> None:
        item = self._users.get(user_id, f"IDENTITY#{identity_id}")
        if item is None:
            raise NotFound(f"you have no identity {identity_id}")
        view = self._identity_view(user_id, item)
        _profile, who = self._profile_item(user_id)
        provider, lookup = item.attributes["provider"], item.attributes["lookup"]
        self._users.transact(
            [
                self._users.delete_entry(user_id, item.sk, version=item.version),
                self._users.delete_entry(f"identity#{provider}#{lookup}", "IDENTITY"),
                *self._audit(user_id, who["name"], "identity_unlinked", request, previous=view, current=None),
            ]
        )

    # ------------------------------------------------------------------ API keys
    def api_keys(self, user_id: int) -> list[dict[str, Any]]:
        return api_keys_of(self._accounts, user_id)

    def create_api_key(self, user_id: int, name: str, request: RequestMetadata) -> dict[str, Any]:
        secret = generate_api_key_secret()
        api_key = ApiKey(
            key_id=secrets.token_hex(6),
            key_hash=api_key_hash(secret),
            user_id=user_id,
            name=name,
            status=ApiKeyStatus.ACTIVE,
            created_at=utc_now(),
        )
        _profile, who = self._profile_item(user_id)
        view = key_view(api_key)
        self._accounts.put_api_key(
            api_key, extra=self._audit(user_id, who["name"], "api_key_created", request, previous=None, current=view)
        )
        return {**view, "secret": secret}

    def revoke_api_key(self, user_id: int, key_id: str, request: RequestMetadata) -> None:
        found = next((k for k in self._accounts.list_api_keys(user_id) if k.key_id == key_id), None)
        if found is None or found.status is not ApiKeyStatus.ACTIVE:
            raise NotFound(f"you have no active API key {key_id}")
        _profile, who = self._profile_item(user_id)
        now = utc_now()
        audit = self._audit(
            user_id,
            who["name"],
            "api_key_revoked",
            request,
            previous=key_view(found),
            current={**key_view(found), "status": "revoked", "revoked_at": iso_utc(now)},
        )
        self._accounts.revoke_api_key(found.key_hash, user_id=user_id, revoked_at=now, extra=audit)

    # ------------------------------------------------------------------ sessions
    def sessions(self, user_id: int) -> list[dict[str, Any]]:
        now = utc_now()
        views = [self._session_view(user_id, item, now) for item in self._users.items(user_id, "SESSION#")]
        return sorted(views, key=lambda view: view["started_at"], reverse=True)

    def _session_view(self, user_id: int, item: UserItem, now: datetime) -> dict[str, Any]:
        fields = self._open(user_id, item, f"user:{user_id}:{item.sk}")
        status = item.attributes["status"]
        if status == "active" and datetime.fromisoformat(item.attributes["expires_at"]) <= now:
            status = "expired"
        return {
            "id": item.sk.removeprefix("SESSION#"),
            "provider": item.attributes["provider"],
            "status": status,
            "started_at": item.attributes["started_at"],
            "expires_at": item.attributes["expires_at"],
            "ended_at": item.attributes.get("ended_at"),
            "source_ip": fields["source_ip"],
            "user_agent": fields["user_agent"],
        }

    def session_started(self, event: SessionStarted) -> bool:
        """Record a session from the sign-in flow; False when it was already recorded (a redelivery)."""
        user_id, sk = event.user_id, f"SESSION#{event.session_id}"
        _profile, who = self._profile_item(user_id)
        fields = {"source_ip": str(event.source_ip) if event.source_ip else None, "user_agent": event.user_agent}
        values = {
            "provider": event.provider,
            "status": "active",
            "started_at": iso_utc(event.started_at),
            "expires_at": iso_utc(event.expires_at),
            "version": 1,
            "pii": self._seal(user_id, fields, f"user:{user_id}:{sk}"),
        }
        audit = self._audit(
            user_id,
            who["name"],
            "session_started",
            None,
            previous=None,
            current={
                "session_id": event.session_id,
                "provider": event.provider,
                "expires_at": values["expires_at"],
                **fields,
            },
        )
        try:
            self._users.transact(
                [
                    self._users.put_entry(user_id, sk, values, new=True),
                    self._users.active_account_check(user_id),
                    *audit,
                ],
                on_failure={1: NotFound(f"user {user_id} does not exist or is being erased")},
            )
        except Conflict:
            return False
        return True

    def session_ended(self, event: SessionEnded) -> bool:
        """Close a session; False when it was already closed. An unknown session raises (it is retried:
        its start may simply not have arrived yet)."""
        item = self._users.get(event.user_id, f"SESSION#{event.session_id}")
        if item is None:
            raise LookupError(f"session {event.session_id} is not recorded yet")
        if item.attributes["status"] != "active":
            return False
        _profile, who = self._profile_item(event.user_id)
        audit = self._audit(
            event.user_id,
            who["name"],
            "session_ended",
            None,
            previous={"session_id": event.session_id, "status": "active"},
            current={"session_id": event.session_id, "status": "ended", "reason": event.reason},
        )
        self._users.transact(
            [
                self._users.replace_entry(
                    item,
                    {**item.attributes, "status": "ended", "ended_at": iso_utc(event.ended_at), "pii": item.sealed},
                ),
                *audit,
            ]
        )
        return True

    def revoke_session(self, user_id: int, session_id: str, request: RequestMetadata) -> None:
        item = self._users.get(user_id, f"SESSION#{session_id}")
        if item is None or self._session_view(user_id, item, utc_now())["status"] != "active":
            raise NotFound(f"you have no active session {session_id}")
        _profile, who = self._profile_item(user_id)
        now = iso_utc(utc_now())
        self._users.transact(
            [
                self._users.replace_entry(
                    item, {**item.attributes, "status": "revoked", "ended_at": now, "pii": item.sealed}
                ),
                *self._audit(
                    user_id,
                    who["name"],
                    "session_revoked",
                    request,
                    previous={"session_id": session_id, "status": "active"},
                    current={"session_id": session_id, "status": "revoked"},
                ),
            ]
        )
