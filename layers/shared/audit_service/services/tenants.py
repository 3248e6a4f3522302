"""A container-local view of tenants' plans, so the write path needs no extra read per event."""

from __future__ import annotations

import time
from collections.abc import Callable

from audit_service.dal.accounts import AccountsRepository
from audit_service.domain.models import Plan, Tenant
from audit_service.domain.shards import MAX_SHARDS, ShardLayout

# The platform's access and security partitions take failed logins, denials and reads from anyone: their
# shards are fixed at the most. Its audit partition holds users' own changes (a few a day each): one.
PLATFORM_LAYOUTS = {
    "audit": ShardLayout(),
    "access": ShardLayout.of(MAX_SHARDS),
    "security": ShardLayout.of(MAX_SHARDS),
}


class TenantDirectory:
    """``plan_of`` and ``layout_of`` with a short cache: known tenants for ``ttl`` seconds, unknown ones
    for ``miss_ttl``.

    A plan change therefore reaches a warm container within ``ttl`` seconds; a
    record written in that window keeps the retention of the previous plan. A
    new shard layout applies only after ``shards.GROWTH_DELAY``, longer than ``ttl``.
    """

    def __init__(
        self,
        accounts: AccountsRepository,
        *,
        ttl: float = 60.0,
        miss_ttl: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._accounts = accounts
        self._ttl = ttl
        self._miss_ttl = miss_ttl
        self._clock = clock
        self._cache: dict[int, tuple[float, Tenant | None]] = {}

    def tenant(self, tenant_id: int) -> Tenant | None:
        now = self._clock()
        cached = self._cache.get(tenant_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        tenant = self._accounts.get_tenant(tenant_id)
        self._cache[tenant_id] = (now + (self._ttl if tenant is not None else self._miss_ttl), tenant)
        return tenant

    def plan_of(self, tenant_id: int) -> Plan | None:
        tenant = self.tenant(tenant_id)
        return tenant.plan if tenant is not None else None

    def layout_of(self, owner: int | None, kind: str) -> ShardLayout:
        """The write shards of an owner's log partition of ``kind`` (the platform's for None or an unknown
        tenant)."""
        tenant = self.tenant(owner) if owner is not None else None
        return tenant.layout if tenant is not None else PLATFORM_LAYOUTS[kind]

    def forget(self, tenant_id: int) -> None:
        self._cache.pop(tenant_id, None)
