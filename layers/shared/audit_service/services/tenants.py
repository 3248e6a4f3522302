"""A container-local view of tenants' plans, so the write path needs no extra read per event."""

from __future__ import annotations

import time
from collections.abc import Callable

from audit_service.dal.accounts import AccountsRepository
from audit_service.domain.models import Plan


class TenantDirectory:
    """``plan_of`` with a short cache: known tenants for ``ttl`` seconds, unknown ones for ``miss_ttl``.

    A plan change therefore reaches a warm container within ``ttl`` seconds; a
    record written in that window keeps the retention of the previous plan.
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
        self._cache: dict[int, tuple[float, Plan | None]] = {}

    def plan_of(self, tenant_id: int) -> Plan | None:
        now = self._clock()
        cached = self._cache.get(tenant_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        tenant = self._accounts.get_tenant(tenant_id)
        plan = tenant.plan if tenant is not None else None
        self._cache[tenant_id] = (now + (self._ttl if plan is not None else self._miss_ttl), plan)
        return plan

    def forget(self, tenant_id: int) -> None:
        self._cache.pop(tenant_id, None)
