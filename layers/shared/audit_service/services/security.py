"""Security events: failed authentications and denied permissions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from audit_service.dal.log_records import BY_TIME, PLATFORM, LogRecordStore, RecordQuery, StoredRecord, partition
from audit_service.domain.models import (
    AuthFailureReason,
    Plan,
    RequestMetadata,
    SecurityEvent,
    SecurityEventType,
    iso_utc,
    new_record_id,
    utc_now,
)
from audit_service.domain.permissions import Permission
from audit_service.services.pagination import Page, PageRequest, TimeRange, read_page, retained

if TYPE_CHECKING:  # the Encryption SDK is imported only where a record is sealed
    from audit_service.crypto.envelope import Envelope

KIND = "security"


@dataclass(frozen=True)
class SecurityFilters:
    type: SecurityEventType | None = None
    actor_id: int | None = None
    period: TimeRange = field(default_factory=TimeRange)

    def equals(self) -> dict[str, str | int]:
        pairs = {
            "type": self.type.value if self.type else None,
            "actor_id": str(self.actor_id) if self.actor_id is not None else None,
        }
        return {name: value for name, value in pairs.items() if value is not None}


def owner_context(tenant_id: int | None) -> dict[str, str]:
    """Encryption context of a log record: the tenant it belongs to."""
    return {"tenant_id": str(tenant_id)} if tenant_id is not None else {"partition": PLATFORM}


class SecurityEvents:
    """Writes and reads security events, personal fields sealed per record.

    ``plan_of`` returns a tenant's plan (or None if there is no such tenant);
    retention follows the plan, and the platform partition keeps events for
    ``platform_retention_days``.
    """

    def __init__(
        self,
        store: LogRecordStore,
        envelope: Envelope,
        *,
        plan_of: Callable[[int], Plan | None],
        platform_retention_days: int,
    ) -> None:
        self._store = store
        self._envelope = envelope
        self._plan_of = plan_of
        self._platform_days = platform_retention_days

    def authentication_failed(self, reason: AuthFailureReason, request: RequestMetadata) -> SecurityEvent:
        return self._record(
            SecurityEventType.AUTHENTICATION_FAILED,
            tenant_id=None,
            actor_id=None,
            request=request,
            details={"reason": reason.value},
        )

    def permission_denied(
        self, *, actor_id: int, tenant_id: int | None, permission: Permission, request: RequestMetadata
    ) -> SecurityEvent:
        # A tenant that does not exist has no partition: the attempt goes to the
        # platform partition, and the answer to the caller is the same either way.
        plan = self._plan_of(tenant_id) if tenant_id is not None else None
        known_tenant = tenant_id if plan is not None else None
        details = {"permission": permission.value, "requested_tenant_id": tenant_id}
        return self._record(
            SecurityEventType.PERMISSION_DENIED,
            tenant_id=known_tenant,
            actor_id=actor_id,
            request=request,
            details=details,
            plan=plan,
        )

    def tenant_page(self, tenant_id: int, request: PageRequest, filters: SecurityFilters | None = None) -> Page:
        """A tenant's permission_denied and authentication_failed events, newest first."""
        filters = filters or SecurityFilters()
        query = retained(BY_TIME, "pk", partition(tenant_id, KIND), filters.period, filters.equals())
        return read_page(self._store, query, request, scope=f"security:{tenant_id}", view=self._view)

    def _view(self, record: StoredRecord) -> dict[str, Any]:
        event = self._open(record)
        return {
            "id": event.id,
            "type": event.type.value,
            "actor": {"id": event.actor_id} if event.actor_id is not None else None,
            **{name: value for name, value in event.details.items() if name != "requested_tenant_id"},
            "request_id": event.request.request_id,
            "source_ip": event.request.source_ip,
            "user_agent": event.request.user_agent,
            "method": event.request.method,
            "path": event.request.path,
            "timestamp": iso_utc(event.timestamp),
        }

    def newest(self, tenant_id: int | None, *, limit: int = 50) -> list[SecurityEvent]:
        query = RecordQuery(
            index=BY_TIME,
            partition_name="pk",
            partition_value=partition(tenant_id, KIND),
            now_epoch=int(utc_now().timestamp()),
        )
        records, _more = self._store.page(query, limit=limit)
        return [self._open(record) for record in records]

    def _record(
        self,
        event_type: SecurityEventType,
        *,
        tenant_id: int | None,
        actor_id: int | None,
        request: RequestMetadata,
        details: dict[str, Any],
        plan: Plan | None = None,
    ) -> SecurityEvent:
        now = utc_now()
        record_id = new_record_id(now)
        days = plan.retention_days if plan is not None else self._platform_days
        pk, sk = partition(tenant_id, KIND), record_id
        sealed = self._envelope.seal(
            {"request": request.model_dump(exclude={"request_id"}), "details": details},
            context=owner_context(tenant_id),
            bind=f"{pk}|{sk}",
        )
        attributes = {
            "type": event_type.value,
            "tenant_id": str(tenant_id) if tenant_id is not None else None,
            "actor_id": str(actor_id) if actor_id is not None else None,
            "request_id": request.request_id,
            "timestamp": iso_utc(now),
            "expires_at": int((now + timedelta(days=days)).timestamp()),
        }
        self._store.put(StoredRecord(pk, sk, f"{iso_utc(now)}#{record_id}", attributes, sealed))
        return SecurityEvent(
            id=record_id,
            type=event_type,
            tenant_id=tenant_id,
            actor_id=actor_id,
            timestamp=now,
            request=request,
            details=details,
        )

    def _open(self, record: StoredRecord) -> SecurityEvent:
        values = record.attributes
        tenant_id = int(values["tenant_id"]) if values.get("tenant_id") else None
        fields = self._envelope.open(record.sealed, context=owner_context(tenant_id), bind=f"{record.pk}|{record.sk}")
        return SecurityEvent(
            id=record.sk,
            type=SecurityEventType(values["type"]),
            tenant_id=tenant_id,
            actor_id=int(values["actor_id"]) if values.get("actor_id") else None,
            timestamp=datetime.fromisoformat(values["timestamp"]),
            request=RequestMetadata(request_id=values["request_id"], **fields["request"]),
            details=fields["details"],
        )
