"""Access logs: who read sensitive data, stored like audit records (per tenant, put-only, sealed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from audit_service.dal.log_records import BY_TIME, LogRecordStore, RecordKeys, StoredRecord, partitions
from audit_service.domain.models import RequestMetadata, new_record_id, utc_now
from audit_service.domain.shards import expiry
from audit_service.services.pagination import Counting, Page, PageRequest, TimeRange, read_page, retained
from audit_service.services.security import owner_context
from audit_service.services.tenants import TenantDirectory
from audit_service.services.totals import COUNTED, Totals, listing_scope

if TYPE_CHECKING:
    from audit_service.crypto.envelope import Envelope

KIND = "access"


@dataclass(frozen=True)
class AccessFilters:
    actor_id: int | None = None
    subject_user_id: int | None = None
    period: TimeRange = field(default_factory=TimeRange)

    def equals(self) -> dict[str, str | int]:
        pairs = {"actor_id": self.actor_id, "subject_user_id": self.subject_user_id}
        return {name: str(value) for name, value in pairs.items() if value is not None}


class AccessLog:
    def __init__(
        self,
        store: LogRecordStore,
        envelope: Envelope,
        tenants: TenantDirectory,
        *,
        platform_retention_days: int,
        totals: Callable[[], Totals],
    ) -> None:
        self._store = store
        self._envelope = envelope
        self._tenants = tenants
        self._platform_days = platform_retention_days
        self._totals = totals  # readers only

    def record(
        self,
        *,
        actor_id: int,
        action: str,
        request: RequestMetadata,
        tenant_id: int | None = None,
        subject_user_id: int | None = None,
        object_id: str | None = None,
    ) -> str:
        """Append one access-log record; returns its id. ``object_id`` names what was handed out (an export)."""
        now = utc_now()
        plan = self._tenants.plan_of(tenant_id) if tenant_id is not None else None
        owner = tenant_id if plan is not None else None
        days = plan.retention_days if plan is not None else self._platform_days
        record_id = new_record_id(now)
        keys = RecordKeys.of(owner, KIND, record_id, now, self._tenants.layout_of(owner, KIND))
        pk = keys.pk
        sealed = self._envelope.seal(
            {
                "source_ip": request.source_ip,
                "user_agent": request.user_agent,
                "method": request.method,
                "path": request.path,
            },
            context=owner_context(owner),
            bind=f"{pk}|{record_id}",
        )
        attributes = {
            "type": action,
            "tenant_id": str(owner) if owner is not None else None,
            "actor_id": str(actor_id),
            "subject_user_id": str(subject_user_id) if subject_user_id is not None else None,
            "object_id": object_id,
            "request_id": request.request_id,
            "expires_at": expiry(now, days),
        }
        self._store.put(StoredRecord(pk, record_id, keys.ts_key, attributes, sealed))
        return record_id

    def tenant_page(self, tenant_id: int, request: PageRequest, filters: AccessFilters | None = None) -> Page:
        """Who read what in ``tenant_id``, newest first: answers "who looked at user X?"."""
        filters = filters or AccessFilters()
        layout = self._tenants.layout_of(tenant_id, KIND)
        query = retained(BY_TIME, "pk", partitions(tenant_id, KIND, layout), filters.period, filters.equals())
        return read_page(
            self._store,
            query,
            request,
            scope=f"access:{tenant_id}",
            counting=Counting(self._totals(), listing_scope(str(tenant_id), KIND), COUNTED[KIND]),
            view=self._view,
        )

    def view(self, record: StoredRecord) -> dict[str, Any]:
        """One record as the tenant's listing shows it."""
        return self._view(record)

    def _view(self, record: StoredRecord) -> dict[str, Any]:
        values = record.attributes
        tenant_id = int(values["tenant_id"]) if values.get("tenant_id") else None
        fields = self._envelope.open(record.sealed, context=owner_context(tenant_id), bind=f"{record.pk}|{record.sk}")
        subject = values.get("subject_user_id")
        return {
            "id": record.sk,
            "action": values["type"],
            "actor": {"id": int(values["actor_id"])},
            "subject": {"id": int(subject)} if subject else None,
            **({"object_id": values["object_id"]} if values.get("object_id") else {}),
            "request_id": values.get("request_id"),
            "source_ip": fields["source_ip"],
            "user_agent": fields["user_agent"],
            "method": fields["method"],
            "path": fields["path"],
            "timestamp": record.ts_key.split("#", 1)[0],
        }
