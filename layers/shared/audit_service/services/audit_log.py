"""The audit log: one write path for every mutation, and the two read views."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from audit_service.dal.log_records import (
    BY_AUTHOR,
    BY_TIME,
    LogRecordStore,
    RecordKeys,
    StoredRecord,
    author_partitions,
    partitions,
)
from audit_service.domain.audit import AuditEvent, AuditEventIn, AuditRecordView, RefView, present
from audit_service.domain.errors import Conflict, DomainError, InvalidInput
from audit_service.domain.shards import expiry
from audit_service.services.pagination import Counting, Page, PageRequest, TimeRange, read_page, retained
from audit_service.services.security import owner_context
from audit_service.services.tenants import TenantDirectory
from audit_service.services.totals import ACTIVITY_COUNTED, COUNTED, Totals, activity_scope, listing_scope

if TYPE_CHECKING:
    from audit_service.crypto.envelope import Envelope
    from audit_service.services.event_types import EventTypeRegistry

KIND = "audit"
_CONTEXT_REFS = ("division", "environment", "deployment")
_TYPE_FORM = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)+")


class UnknownTenant(DomainError):
    code = "unknown_tenant"


class EventIdConflict(DomainError):
    """A different event arrived with an ``event_id`` that is already stored."""

    code = "event_id_conflict"


class Outcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class AuditFilters:
    type: str | None = None
    author_id: int | None = None
    division_id: int | None = None
    environment_id: int | None = None
    deployment_id: int | None = None
    period: TimeRange = field(default_factory=TimeRange)

    @classmethod
    def parse(cls, *, time_from: str | None = None, time_to: str | None = None, **equal: Any) -> AuditFilters:
        """The filters of a listing's query: ``from``/``to`` as given, the rest as typed by the route."""
        return cls(period=TimeRange.parse({"from": time_from, "to": time_to}), **equal)

    def __post_init__(self) -> None:
        if self.type is not None and not _TYPE_FORM.fullmatch(self.type):
            raise InvalidInput(f"unknown audit event type {self.type[:64]!r} (see GET /audit/types)")

    def equals(self) -> dict[str, str | int]:
        pairs: dict[str, Any] = {
            "type": self.type,
            "author_id": self.author_id,
            "division_id": self.division_id,
            "environment_id": self.environment_id,
            "deployment_id": self.deployment_id,
        }
        return {name: value if name == "type" else str(value) for name, value in pairs.items() if value is not None}


def tenant_context(tenant_id: int | None) -> dict[str, str]:
    return owner_context(tenant_id)


class AuditLog:
    def __init__(
        self,
        store: LogRecordStore,
        envelope: Envelope,
        tenants: TenantDirectory,
        *,
        types: Callable[[], EventTypeRegistry],
        totals: Callable[[], Totals],
        activity_shards: int = 1,
    ) -> None:
        self._store = store
        self._envelope = envelope
        self._tenants = tenants
        self._types = types  # made on first use: most writers never name a type they did not write
        self._totals = totals  # readers only
        self._activity_shards = activity_shards  # MaxLogShards: every shard a user's activity can be in

    def _check_filter(self, filters: AuditFilters) -> None:
        if filters.type is not None and not self._types().known(filters.type):
            raise InvalidInput(f"unknown audit event type {filters.type!r} (see GET /audit/types)")

    # ------------------------------------------------------------------ writing
    def build(
        self, event: AuditEvent, retention_days: int, *, in_activity: bool = True, type_version: int | None = None
    ) -> StoredRecord:
        """The stored form of ``event``: for the plain put below, or a caller's transaction.

        ``in_activity`` False leaves the record out of the author's activity (the ``by_author`` index):
        the tenants' copies of a user-level change, whose full record is the platform partition's.
        """
        sk = event.event_id
        keys = RecordKeys.of(
            event.tenant_id, KIND, sk, event.occurred_at, self._tenants.layout_of(event.tenant_id, KIND)
        )
        pk = keys.pk
        attributes: dict[str, Any] = {
            "type": event.type,  # the tenant is the key's (StoredRecord.tenant_id): no attribute of its own
            "author_id": str(event.author.id),
            "author_key": keys.author_key(event.author.id) if in_activity else None,
            "request_id": event.request_id,
            # The registry version the event was checked against, when it is not the first (absent: version 1,
            # or a record this service wrote itself): a record of today's catalog costs no byte more.
            "type_version": type_version if type_version and type_version > 1 else None,
            "expires_at": expiry(event.occurred_at, retention_days),
        }
        for kind in _CONTEXT_REFS:
            ref = getattr(event, kind)
            if ref is not None:
                attributes[f"{kind}_id"] = str(ref.id)
        sealed = self._envelope.seal(
            event.protected_fields(), context=tenant_context(event.tenant_id), bind=f"{pk}|{sk}"
        )
        return StoredRecord(pk, sk, keys.ts_key, attributes, sealed)

    def record(self, event: AuditEventIn, *, type_version: int | None = None) -> Outcome:
        """Store ``event`` once. A redelivery is a no-op; a different event with its id is refused."""
        plan = self._tenants.plan_of(event.tenant_id)
        if plan is None:
            raise UnknownTenant(f"tenant {event.tenant_id} does not exist")
        record = self.build(event, plan.retention_days, type_version=type_version)
        try:
            self._store.put(record)
        except Conflict:
            stored = self._store.get(record.pk, record.sk)
            if stored is None or not self._same(stored, record, event):
                raise EventIdConflict(
                    f"event_id {event.event_id!r} is already stored for another event in tenant {event.tenant_id}"
                ) from None
            return Outcome.DUPLICATE
        return Outcome.STORED

    def _same(self, stored: StoredRecord, new: StoredRecord, event: AuditEventIn) -> bool:
        if stored.ts_key != new.ts_key:
            return False
        # Retention follows the plan at write time, and the version the registry's current one at first
        # delivery: neither is part of the event.
        ignore = {"expires_at", "type_version", "tenant_id"}  # tenant_id: copies stored before it was the key's
        if {k: v for k, v in stored.attributes.items() if k not in ignore} != {
            k: v for k, v in new.attributes.items() if k not in ignore and v is not None
        }:
            return False
        opened = self._envelope.open(stored.sealed, context=tenant_context(event.tenant_id), bind=f"{new.pk}|{new.sk}")
        # present(): a copy stored before null fields were left out still matches its redelivery.
        return bool(present(opened) == json.loads(json.dumps(event.protected_fields(), default=str)))

    # ------------------------------------------------------------------ reading
    def tenant_page(self, tenant_id: int, request: PageRequest, filters: AuditFilters | None = None) -> Page:
        filters = filters or AuditFilters()
        self._check_filter(filters)
        query = retained(BY_TIME, "pk", self._partitions(tenant_id), filters.period, filters.equals())
        return read_page(
            self._store,
            query,
            request,
            scope=f"tenant:{tenant_id}",
            counting=Counting(self._totals(), listing_scope(str(tenant_id), KIND), COUNTED[KIND]),
            view=lambda record: self._view(record, with_tenant=False),
        )

    def _partitions(self, tenant_id: int) -> tuple[str, ...]:
        return partitions(tenant_id, KIND, self._tenants.layout_of(tenant_id, KIND))

    def tenant_records(self, tenant_id: int, filters: AuditFilters, *, most: int) -> Iterator[dict[str, Any]]:
        """Every retained record the filters select, newest first, as the listing shows them; refuses with
        ``PeriodTooLarge`` once more than ``most`` are found (before reading the rest)."""
        from audit_service.services.integrity import PeriodTooLarge

        self._check_filter(filters)
        query = retained(BY_TIME, "pk", self._partitions(tenant_id), filters.period, filters.equals())
        for count, record in enumerate(self._store.records(query), start=1):
            if count > most:
                raise PeriodTooLarge(
                    f"the filters select more than {most:,} records: take shorter periods ('from' and 'to')"
                )
            yield self._view(record, with_tenant=False)

    def user_activity(
        self, user_id: int, request: PageRequest, filters: AuditFilters | None = None, *, member_of: set[int]
    ) -> Page:
        """The user's own actions, newest first. In a tenant the user no longer belongs to (``member_of``),
        the record shows that they did something, when and where, but not the tenant's data: its values
        and resource names are withheld (docs/api.md)."""
        filters = filters or AuditFilters()
        self._check_filter(filters)
        query = retained(
            BY_AUTHOR,
            "author_key",
            author_partitions(user_id, self._activity_shards),
            filters.period,
            {k: v for k, v in filters.equals().items() if k != "author_id"},
        )
        return read_page(
            self._store,
            query,
            request,
            scope=f"user:{user_id}",
            counting=Counting(self._totals(), activity_scope(user_id), ACTIVITY_COUNTED),
            view=lambda record: self._view(record, with_tenant=True, member_of=member_of),
        )

    def view(self, record: StoredRecord) -> dict[str, Any]:
        """One record as the tenant's listing shows it."""
        return self._view(record, with_tenant=False)

    def _view(self, record: StoredRecord, *, with_tenant: bool, member_of: set[int] | None = None) -> dict[str, Any]:
        values = record.attributes
        tenant_id = record.tenant_id
        fields = self._envelope.open(record.sealed, context=tenant_context(tenant_id), bind=f"{record.pk}|{record.sk}")
        names = fields["names"]
        withheld = member_of is not None and tenant_id is not None and tenant_id not in member_of

        def ref(kind: str) -> RefView | None:
            identifier = values.get(f"{kind}_id")
            return RefView(id=int(identifier), name=names[kind]) if identifier is not None and not withheld else None

        event_type = str(values["type"])
        view = AuditRecordView(
            id=record.sk,
            type=event_type,
            name=self._types().name_of(event_type, int(values.get("type_version") or 1)),
            author=RefView(id=int(values["author_id"]), name=names["author"]),
            division=ref("division"),
            environment=ref("environment"),
            deployment=ref("deployment"),
            timestamp=record.ts_key.split("#", 1)[0],
            previous=None if withheld else fields.get("previous"),
            current=None if withheld else fields.get("current"),
            request_id=None if withheld else values.get("request_id"),
            source_ip=None if withheld else fields.get("source_ip"),
            user_agent=None if withheld else fields.get("user_agent"),
            tenant=tenant_id if with_tenant else None,
            withheld=withheld,
        )
        return view.model_dump(exclude=None if with_tenant else {"tenant", "withheld"})
