"""Audit records for the service's own changes, written in the same transaction as the change."""

from __future__ import annotations

import contextlib
from typing import Any

from audit_service.dal.log_records import LogRecordStore, StoredRecord
from audit_service.domain.audit import AuditEvent, Ref
from audit_service.domain.errors import Conflict, NotFound
from audit_service.domain.models import RequestMetadata, new_record_id, utc_now
from audit_service.services.audit_log import AuditLog
from audit_service.services.tenants import TenantDirectory


class ChangeRecorder:
    """Builds the conditional put of an audit record, for a caller's TransactWriteItems.

    The record goes through the same write path as ingested events
    (``AuditLog.build``): same key, encryption, retention.
    """

    def __init__(
        self, audit_log: AuditLog, records: LogRecordStore, tenants: TenantDirectory, *, platform_retention_days: int
    ) -> None:
        self._audit_log = audit_log
        self._records = records
        self._tenants = tenants
        self._platform_days = platform_retention_days

    def plan_changed(self, tenant_id: int) -> None:
        """Records written from now on in this container follow the tenant's new plan."""
        self._tenants.forget(tenant_id)

    def put(
        self,
        *,
        tenant_id: int | None,
        event_type: str,
        author: Ref,
        request: RequestMetadata | None,
        previous: dict[str, Any] | None,
        current: dict[str, Any] | None,
        in_activity: bool = True,
    ) -> tuple[AuditEvent, dict[str, Any]]:
        """The audit record of a change, as an entry of the caller's TransactWriteItems.

        ``tenant_id`` None: a user-level change, kept in the platform partition. ``in_activity`` False:
        not shown in the author's activity (a tenant's copy of a user-level change).
        """
        event, record = self._build(
            tenant_id=tenant_id,
            event_type=event_type,
            author=author,
            request=request,
            previous=previous,
            current=current,
            event_id=new_record_id(),
            in_activity=in_activity,
        )
        return event, self._records.put_request(record)

    def append(
        self, *, tenant_id: int | None, event_type: str, author: Ref, event_id: str, current: dict[str, Any]
    ) -> None:
        """Write a record on its own, once: ``event_id`` comes from the caller (a workflow), so a
        retried step finds its earlier record and writes nothing."""
        _event, record = self._build(
            tenant_id=tenant_id,
            event_type=event_type,
            author=author,
            request=None,
            previous=None,
            current=current,
            event_id=event_id,
        )
        with contextlib.suppress(Conflict):
            self._records.put(record)

    def _build(
        self,
        *,
        tenant_id: int | None,
        event_type: str,
        author: Ref,
        request: RequestMetadata | None,
        previous: dict[str, Any] | None,
        current: dict[str, Any] | None,
        event_id: str,
        in_activity: bool = True,
    ) -> tuple[AuditEvent, StoredRecord]:
        if tenant_id is None:
            days = self._platform_days
        else:
            plan = self._tenants.plan_of(tenant_id)
            if plan is None:
                raise NotFound(f"tenant {tenant_id} does not exist")
            days = plan.retention_days
        event = AuditEvent(
            event_id=event_id,
            type=event_type,
            tenant_id=tenant_id,
            author=author,
            previous=previous,
            current=current,
            request_id=request.request_id if request else None,
            source_ip=request.source_ip if request else None,
            user_agent=request.user_agent if request else None,
            occurred_at=utc_now(),
        )
        return event, self._audit_log.build(event, days, in_activity=in_activity)
