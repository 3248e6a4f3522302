"""Authentication by ``ld-api-key`` and authorization by tenant role."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable

from audit_service.crypto.hashing import api_key_hash
from audit_service.dal.accounts import AccountsRepository
from audit_service.domain.models import ApiKeyStatus, AuthFailureReason, Principal
from audit_service.domain.permissions import Permission, role_grants

KEY_PREFIX = "ld_"
# 32 random bytes, URL-safe base64 without padding: 43 characters, 256 bits.
KEY_PATTERN = re.compile(r"^ld_[A-Za-z0-9_-]{43}$")


def generate_api_key_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class AuthenticationFailed(Exception):
    def __init__(self, reason: AuthFailureReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class PermissionDenied(Exception):
    def __init__(self, permission: Permission, tenant_id: int | None) -> None:
        super().__init__(f"{permission.value} denied")
        self.permission = permission
        self.tenant_id = tenant_id


class Authenticator:
    """Turns an ``ld-api-key`` into a Principal.

    The key itself is read on every request (one consistent ``GetItem``), so a
    revoked key, or any key of an account being erased (erasure deletes them
    first), stops working at once. Only the caller's roles are cached, per key
    hash, for ``cache_ttl_seconds`` (docs/architecture.md): a role change
    reaches a warm authorizer within that time. Failures are not cached.
    """

    def __init__(
        self,
        accounts: AccountsRepository,
        *,
        cache_ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self._accounts = accounts
        self._ttl = cache_ttl_seconds
        self._clock = clock
        self._max_entries = max_entries
        self._cache: dict[str, tuple[float, Principal]] = {}

    def authenticate(self, raw_key: str | None) -> Principal:
        if raw_key is None or raw_key == "":
            raise AuthenticationFailed(AuthFailureReason.MISSING)
        if not KEY_PATTERN.match(raw_key):
            raise AuthenticationFailed(AuthFailureReason.MALFORMED)
        digest = api_key_hash(raw_key)
        api_key = self._accounts.get_api_key(digest)
        if api_key is None:
            self._cache.pop(digest, None)
            raise AuthenticationFailed(AuthFailureReason.UNKNOWN)
        if api_key.status is not ApiKeyStatus.ACTIVE:
            self._cache.pop(digest, None)
            raise AuthenticationFailed(AuthFailureReason.REVOKED)
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        principal = Principal(
            user_id=api_key.user_id, key_id=api_key.key_id, roles=self._accounts.roles_of(api_key.user_id)
        )
        if self._ttl > 0:
            if len(self._cache) >= self._max_entries:
                self._cache.clear()
            self._cache[digest] = (now + self._ttl, principal)
        return principal


def require(principal: Principal, permission: Permission, *, tenant_id: int) -> None:
    """Raise PermissionDenied unless the caller's role in ``tenant_id`` grants ``permission``."""
    role = principal.role_in(tenant_id)
    if role is None or not role_grants(role, permission):
        raise PermissionDenied(permission, tenant_id)


def require_anywhere(principal: Principal, permission: Permission) -> None:
    """Raise PermissionDenied unless some tenant of the caller grants ``permission``."""
    if not any(role_grants(role, permission) for role in principal.roles.values()):
        raise PermissionDenied(permission, None)
