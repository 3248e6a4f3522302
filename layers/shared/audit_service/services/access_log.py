"""Access logs: who read sensitive data, stored like audit records (per tenant, put-only, sealed)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from audit_service.dal.log_records import LogRecordStore, StoredRecord, partition
from audit_service.domain.models import RequestMetadata, iso_utc, new_record_id, utc_now
from audit_service.services.security import owner_context
from audit_service.services.tenants import TenantDirectory

if TYPE_CHECKING:
    from audit_service.crypto.envelope import Envelope

KIND = "access"


class AccessLog:
    def __init__(
        self, store: LogRecordStore, envelope: Envelope, tenants: TenantDirectory, *, platform_retention_days: int
    ) -> None:
        self._store = store
        self._envelope = envelope
        self._tenants = tenants
        self._platform_days = platform_retention_days

    def record(
        self,
        *,
        actor_id: int,
        action: str,
        request: RequestMetadata,
        tenant_id: int | None = None,
        subject_user_id: int | None = None,
    ) -> str:
        """Append one access-log record; returns its id."""
        now = utc_now()
        plan = self._tenants.plan_of(tenant_id) if tenant_id is not None else None
        owner = tenant_id if plan is not None else None
        days = plan.retention_days if plan is not None else self._platform_days
        record_id = new_record_id(now)
        pk = partition(owner, KIND)
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
            "request_id": request.request_id,
            "expires_at": int((now + timedelta(days=days)).timestamp()),
        }
        self._store.put(StoredRecord(pk, record_id, f"{iso_utc(now)}#{record_id}", attributes, sealed))
        return record_id
