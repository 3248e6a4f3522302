"""Security events: failed authentications and denied permissions, reported as signals and stored aggregated.

Anyone can make a request fail, so a failure must cost an attacker more than
it costs us. The internet-facing authorizer and the routes do not write to the
audit log: they send one small signal to the security-events queue (its
personal part sealed for its owner, like a record). ``record_security_events``
takes the queue in batches and stores one record per repeat group: same owner,
type, actor, reason or permission and source address within a five-minute
bucket, with a ``count`` and the first and last time. A flood from one source
therefore stores a handful of records a minute, not one per request
(``make bench`` measures it).

Where a record is kept: a failed login belongs to no tenant (the platform
partition, read by the operator with ``ld-audit-admin security list``); a
denial by a member of the tenant goes to that tenant's log; a denial by
someone who is not a member of the tenant asked for stays in the platform
partition, so no outsider can fill a tenant's log (or slow its listings,
verify and export).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from audit_service.dal.log_records import (
    BY_TIME,
    PLATFORM,
    LogRecordStore,
    RecordKeys,
    RecordQuery,
    StoredRecord,
    partitions,
)
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
from audit_service.domain.shards import ShardLayout, expiry
from audit_service.services.pagination import Counting, Page, PageRequest, TimeRange, read_page, retained
from audit_service.services.totals import COUNTED, Totals, listing_scope

if TYPE_CHECKING:  # the Encryption SDK is imported only where a record is sealed
    from audit_service.crypto.envelope import Envelope

KIND = "security"
BUCKET = timedelta(minutes=5)  # repeats within one bucket share a record
MAX_PATHS = 10
MAX_USER_AGENTS = 5


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


# ---------------------------------------------------------------------- signals (the producers' side)
@dataclass(frozen=True)
class Signal:
    """One failed request, as a producer reported it."""

    id: str
    type: SecurityEventType
    owner: int | None
    actor_id: int | None
    at: datetime
    request: RequestMetadata
    details: dict[str, Any]

    def group(self) -> tuple[Any, ...]:
        bucket = int(self.at.timestamp() // BUCKET.total_seconds())
        details = json.dumps(self.details, sort_keys=True)
        return (self.owner, self.type.value, self.actor_id, details, self.request.source_ip, bucket)


class SecuritySignals:
    """What the authorizer and the routes call: one sealed message to the security-events queue per failure.

    ``sqs`` is a factory: the client is made on the first failure, which most containers never see.
    """

    def __init__(
        self,
        sqs: Callable[[], Any],
        queue_url: str | None,
        envelope: Callable[[], Envelope],
        *,
        plan_of: Callable[[int], Plan | None],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._envelope = envelope
        self._plan_of = plan_of
        self.clock = clock  # what stamps a signal (the flood bench simulates time)

    def authentication_failed(self, reason: AuthFailureReason, request: RequestMetadata) -> None:
        self._send(SecurityEventType.AUTHENTICATION_FAILED, None, None, request, {"reason": reason.value})

    def permission_denied(
        self,
        *,
        actor_id: int,
        tenant_id: int | None,
        permission: Permission,
        member: bool,
        request: RequestMetadata,
    ) -> None:
        """``member``: whether the actor belongs to ``tenant_id``. Only then does the denial go to its log."""
        owner = tenant_id if member and tenant_id is not None and self._plan_of(tenant_id) is not None else None
        details = {"permission": permission.value, "requested_tenant_id": tenant_id}
        self._send(SecurityEventType.PERMISSION_DENIED, owner, actor_id, request, details)

    def stream_paused(self, *, tenant_id: int, stream_id: str, reason: str, delivery_id: str) -> None:
        """The service paused a tenant's log stream (its deliveries kept failing): the tenant's security log."""
        details = {"stream_id": stream_id, "reason": reason}
        self._send(
            SecurityEventType.LOG_STREAM_PAUSED, tenant_id, None, RequestMetadata(request_id=delivery_id), details
        )

    def _send(
        self,
        kind: SecurityEventType,
        owner: int | None,
        actor_id: int | None,
        request: RequestMetadata,
        details: dict[str, Any],
    ) -> None:
        if not self._queue_url:
            raise RuntimeError("SECURITY_EVENTS_QUEUE_URL is not configured")
        now = self.clock()
        signal_id = new_record_id(now)
        sealed = self._envelope().seal(
            {"request": request.model_dump(), "details": details},
            context=owner_context(owner),
            bind=f"signal:{signal_id}",
        )
        body = {
            "v": 1,
            "id": signal_id,
            "type": kind.value,
            "owner": owner,
            "actor_id": actor_id,
            "at": iso_utc(now),
            "sealed": base64.b64encode(sealed).decode(),
        }
        self._sqs().send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(body, separators=(",", ":")))


# ---------------------------------------------------------------------- records (the recorder's and readers' side)
class SecurityEvents:
    """Turns signals into aggregated records, and reads them back; personal fields sealed per record.

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
        layout_of: Callable[[int | None, str], ShardLayout],
        platform_retention_days: int,
        totals: Callable[[], Totals],
    ) -> None:
        self._store = store
        self._envelope = envelope
        self._plan_of = plan_of
        self._layout_of = layout_of
        self._platform_days = platform_retention_days
        self._totals = totals  # readers only

    # ------------------------------------------------------------------ recording
    def parse(self, body: str) -> Signal:
        """A queue message as a signal; ValueError (or DecryptionFailed) when it is not one of ours."""
        document = json.loads(body)
        owner = document["owner"]
        opened = self._envelope.open(
            base64.b64decode(document["sealed"], validate=True),
            context=owner_context(owner),
            bind=f"signal:{document['id']}",
        )
        return Signal(
            id=str(document["id"]),
            type=SecurityEventType(document["type"]),
            owner=int(owner) if owner is not None else None,
            actor_id=int(document["actor_id"]) if document["actor_id"] is not None else None,
            at=datetime.fromisoformat(document["at"]),
            request=RequestMetadata(**opened["request"]),
            details=dict(opened["details"]),
        )

    @staticmethod
    def groups(signals: Iterable[Signal]) -> list[list[Signal]]:
        """Repeats together (``Signal.group``), each group oldest first."""
        grouped: dict[tuple[Any, ...], list[Signal]] = {}
        for signal in signals:
            grouped.setdefault(signal.group(), []).append(signal)
        return [sorted(group, key=lambda s: (s.at, s.id)) for group in grouped.values()]

    def aggregate(self, group: list[Signal]) -> StoredRecord:
        """One record for a group of repeats. Its id comes from the signals, so a redelivered batch
        meets its own record in the conditional put."""
        first, last = group[0], group[-1]
        owner = first.owner
        plan = self._plan_of(owner) if owner is not None else None
        days = plan.retention_days if plan is not None else self._platform_days
        digest = hashlib.sha256("|".join(sorted(s.id for s in group)).encode()).hexdigest()[:16]
        record_id = f"{int(first.at.timestamp() * 1000):012x}{digest}"
        context_owner = owner if plan is not None else None
        keys = RecordKeys.of(context_owner, KIND, record_id, first.at, self._layout_of(context_owner, KIND))
        pk = keys.pk
        paths = list(dict.fromkeys(f"{s.request.method} {s.request.path}" for s in group))[:MAX_PATHS]
        agents = list(dict.fromkeys(s.request.user_agent for s in group if s.request.user_agent))[:MAX_USER_AGENTS]
        details = dict(first.details)
        sealed = self._envelope.seal(
            {
                "request": first.request.model_dump(exclude={"request_id"}),
                "details": details,
                "last_request_id": last.request.request_id,
                "paths": paths,
                "user_agents": agents,
            },
            context=owner_context(context_owner),
            bind=f"{pk}|{record_id}",
        )
        attributes = {
            "type": first.type.value,
            "tenant_id": str(context_owner) if context_owner is not None else None,
            "actor_id": str(first.actor_id) if first.actor_id is not None else None,
            "request_id": first.request.request_id,
            "timestamp": iso_utc(first.at),
            "last_seen": iso_utc(last.at),
            "count": len(group),
            "expires_at": expiry(first.at, days),
        }
        return StoredRecord(pk, record_id, keys.ts_key, attributes, sealed)

    # ------------------------------------------------------------------ reading
    def tenant_page(self, tenant_id: int, request: PageRequest, filters: SecurityFilters | None = None) -> Page:
        """A tenant's permission_denied events (its members'), newest first."""
        return self._page(tenant_id, request, filters)

    def platform_page(self, request: PageRequest, filters: SecurityFilters | None = None) -> Page:
        """Failed logins and denials by non-members: the operator's view (no route serves it)."""
        return self._page(None, request, filters)

    def _page(self, owner: int | None, request: PageRequest, filters: SecurityFilters | None) -> Page:
        filters = filters or SecurityFilters()
        query = retained(BY_TIME, "pk", self._partitions(owner), filters.period, filters.equals())
        return read_page(
            self._store,
            query,
            request,
            scope=f"security:{owner or PLATFORM}",
            counting=Counting(self._totals(), listing_scope(str(owner or PLATFORM), KIND), COUNTED[KIND]),
            view=self._view,
        )

    def _partitions(self, owner: int | None) -> tuple[str, ...]:
        return partitions(owner, KIND, self._layout_of(owner, KIND))

    def view(self, record: StoredRecord) -> dict[str, Any]:
        """One record as the tenant's listing shows it."""
        return self._view(record)

    def _view(self, record: StoredRecord) -> dict[str, Any]:
        event = self.open(record)
        view = {
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
            "count": event.count,
            "first_seen": iso_utc(event.timestamp),
            "last_seen": iso_utc(event.last_seen or event.timestamp),
            "last_request_id": event.last_request_id,
            "paths": event.paths,
            "user_agents": event.user_agents,
        }
        if event.tenant_id is None and "requested_tenant_id" in event.details:
            view["requested_tenant_id"] = event.details["requested_tenant_id"]  # the operator's view only
        return view

    def newest(self, tenant_id: int | None, *, limit: int = 50) -> list[SecurityEvent]:
        query = RecordQuery(
            index=BY_TIME,
            partition_name="pk",
            partition_values=self._partitions(tenant_id),
            now_epoch=int(utc_now().timestamp()),
        )
        return [self.open(record) for record in self._store.page(query, limit=limit).records]

    def open(self, record: StoredRecord) -> SecurityEvent:
        values: Mapping[str, Any] = record.attributes
        tenant_id = int(values["tenant_id"]) if values.get("tenant_id") else None
        fields = self._envelope.open(record.sealed, context=owner_context(tenant_id), bind=f"{record.pk}|{record.sk}")
        last_seen = values.get("last_seen")
        return SecurityEvent(
            id=record.sk,
            type=SecurityEventType(values["type"]),
            tenant_id=tenant_id,
            actor_id=int(values["actor_id"]) if values.get("actor_id") else None,
            timestamp=datetime.fromisoformat(values["timestamp"]),
            request=RequestMetadata(request_id=values["request_id"], **fields["request"]),
            details=fields["details"],
            count=int(values.get("count", 1)),
            last_seen=datetime.fromisoformat(last_seen) if last_seen else None,
            last_request_id=fields.get("last_request_id"),
            paths=list(fields.get("paths", [])),
            user_agents=list(fields.get("user_agents", [])),
        )
