"""A tenant's log streams: creating, listing, reading (with delivery health) and deleting them, audited."""

from __future__ import annotations

import dataclasses
import secrets
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from audit_service.dal.log_records import TIME_KEY_END, partitions
from audit_service.dal.streams import StreamItem, StreamsRepository, no_such_stream, stream_sk
from audit_service.domain.errors import Conflict, InvalidInput
from audit_service.domain.models import Principal, RequestMetadata, iso_utc, utc_now
from audit_service.domain.streams import (
    MAX_STREAMS_PER_TENANT,
    DestinationRefused,
    NewStream,
    Replay,
    S3Destination,
    StreamState,
    lag_seconds,
    public_destination,
)
from audit_service.services.changes import ChangeRecorder
from audit_service.services.stream_delivery import Destinations, Line, Queue, ReplayJob

if TYPE_CHECKING:
    from audit_service.crypto.envelope import Envelope
    from audit_service.services.members import Members
    from audit_service.services.tenants import TenantDirectory


def destination_context(tenant_id: int) -> dict[str, str]:
    return {"tenant_id": str(tenant_id)}


def destination_binding(tenant_id: int, stream_id: str) -> str:
    return f"{tenant_id}|{stream_sk(stream_id)}"


def sealed_fields(new: NewStream) -> dict[str, str]:
    """What is sealed of a new stream's destination. An S3 stream gets its external ID here: random, not
    secret (it is returned, for the customer's trust policy), so that a role trusting this service works
    only for the stream the customer made for it (the confused-deputy check)."""
    destination = new.destination
    if isinstance(destination, S3Destination):
        return {
            "bucket": destination.bucket,
            "prefix": destination.prefix,
            "role_arn": destination.role_arn,
            **({"region": destination.region} if destination.region else {}),
            "external_id": f"ld-{secrets.token_hex(16)}",
        }
    return {"url": destination.url, "secret": destination.credential}


class LogStreams:
    def __init__(
        self,
        repository: StreamsRepository,
        envelope: Envelope,
        changes: ChangeRecorder,
        members: Members,
        *,
        tenants: TenantDirectory,
        replays: Queue,
        destinations: Destinations,
    ) -> None:
        self._repo = repository
        self._envelope = envelope
        self._changes = changes
        self._members = members
        self._tenants = tenants
        self._replays = replays
        self._destinations = destinations

    def create(
        self, tenant_id: int, new: NewStream, *, principal: Principal, request: RequestMetadata
    ) -> dict[str, Any]:
        fields = sealed_fields(new)
        try:
            self._destinations.check(new.destination.type, fields)
        except DestinationRefused as error:
            field = "role_arn" if isinstance(new.destination, S3Destination) else "url"
            raise InvalidInput(f"destination.{field}: {error}") from error
        existing = len(self._repo.of_tenant(tenant_id))
        if existing >= MAX_STREAMS_PER_TENANT:
            raise Conflict(f"a tenant has at most {MAX_STREAMS_PER_TENANT} streams; delete one first")
        stream_id = secrets.token_hex(12)
        stream = StreamItem(
            tenant_id=tenant_id,
            stream_id=stream_id,
            name=new.name,
            destination_type=new.destination.type,
            kinds=frozenset(kind.value for kind in new.kinds),
            types=frozenset(new.types),
            format=new.format.value,
            created_at=utc_now(),
            created_by=principal.user_id,
            version=1,
            sealed_destination=self._envelope.seal(
                fields,
                context=destination_context(tenant_id),
                bind=destination_binding(tenant_id, stream_id),
            ),
        )
        _event, audit = self._changes.put(
            tenant_id=tenant_id,
            event_type="log_stream_created",
            author=self._members.author(tenant_id, principal.user_id),
            request=request,
            previous=None,
            current=self._configuration(stream, fields),
        )
        self._repo.create(stream, audit_record=audit, streams_before=existing, limit=MAX_STREAMS_PER_TENANT)
        return self._view(stream, fields)

    def list_streams(self, tenant_id: int) -> dict[str, Any]:
        streams = self._repo.of_tenant(tenant_id)
        return {"data": [self.view(stream) for stream in streams], "total": len(streams)}

    def get(self, tenant_id: int, stream_id: str) -> dict[str, Any]:
        return self.view(self._found(tenant_id, stream_id))

    def delete(self, tenant_id: int, stream_id: str, *, principal: Principal, request: RequestMetadata) -> None:
        stream = self._found(tenant_id, stream_id)
        _event, audit = self._changes.put(
            tenant_id=tenant_id,
            event_type="log_stream_deleted",
            author=self._members.author(tenant_id, principal.user_id),
            request=request,
            previous=self._configuration(stream, self.destination(stream)),
            current=None,
        )
        self._repo.delete(stream, audit_record=audit, streams_before=len(self._repo.of_tenant(tenant_id)))

    def pause(
        self, tenant_id: int, stream_id: str, *, principal: Principal, request: RequestMetadata
    ) -> dict[str, Any]:
        """Nothing is sent until the stream is resumed; the records of the pause are delivered then."""
        return self._change_state(tenant_id, stream_id, StreamState.PAUSED, principal=principal, request=request)

    def resume(
        self, tenant_id: int, stream_id: str, *, principal: Principal, request: RequestMetadata
    ) -> dict[str, Any]:
        """Send again; what the pause held back is replayed: every record from the pause (or from the first
        record a delivery held back, if earlier) to now, marked replayed (some may have arrived before)."""
        stream = self._found(tenant_id, stream_id)
        if stream.state != StreamState.PAUSED.value or stream.paused_at is None:
            raise Conflict(f"stream {stream_id} is not paused")
        start = iso_utc(stream.paused_at)
        if stream.resume_from is not None and stream.resume_from < start:
            start = stream.resume_from
        resumed = self._change_state(tenant_id, stream_id, StreamState.ACTIVE, principal=principal, request=request)
        self._queue_replay(stream, start, iso_utc(utc_now()))
        return resumed

    def replay(
        self, tenant_id: int, stream_id: str, period: Replay, *, principal: Principal, request: RequestMetadata
    ) -> dict[str, Any]:
        """Deliver the stream's records of ``period`` again (what its filters select, oldest first, marked
        replayed), from a time within the tenant's retention."""
        stream = self._found(tenant_id, stream_id)
        if stream.state == StreamState.PAUSED.value:
            raise Conflict(f"stream {stream_id} is paused; resume it (which replays the pause) first")
        now = utc_now()
        until = min(period.to or now, now)
        plan = self._tenants.plan_of(tenant_id)
        oldest = now - timedelta(days=plan.retention_days if plan is not None else 0)
        if period.from_ < oldest:
            raise InvalidInput(f"from: records older than the plan's retention ({iso_utc(oldest)}) are gone")
        if period.from_ > until:
            raise InvalidInput("from is after to")
        _event, audit = self._changes.put(
            tenant_id=tenant_id,
            event_type="log_stream_replayed",
            author=self._members.author(tenant_id, principal.user_id),
            request=request,
            previous=None,
            current={"stream_id": stream_id, "from": iso_utc(period.from_), "to": iso_utc(until)},
        )
        self._repo.record_unchanged(stream, audit_record=audit)
        self._queue_replay(stream, iso_utc(period.from_), iso_utc(until))
        return {"stream_id": stream_id, "from": iso_utc(period.from_), "to": iso_utc(until), "status": "queued"}

    def _queue_replay(self, stream: StreamItem, time_from: str, time_to: str) -> None:
        keys = [
            pk
            for kind in sorted(stream.kinds)
            for pk in partitions(stream.tenant_id, kind, self._tenants.layout_of(stream.tenant_id, kind))
        ]
        job = ReplayJob(
            tenant_id=stream.tenant_id,
            stream_id=stream.stream_id,
            partitions=keys,
            time_from=time_from,
            time_to=f"{time_to}#{TIME_KEY_END}",
        )
        self._replays.send([job.model_dump_json()])

    def _change_state(
        self,
        tenant_id: int,
        stream_id: str,
        state: StreamState,
        *,
        principal: Principal,
        request: RequestMetadata,
    ) -> dict[str, Any]:
        stream = self._found(tenant_id, stream_id)
        if stream.state == state.value:
            raise Conflict(f"stream {stream_id} is already {state.value}")
        _event, audit = self._changes.put(
            tenant_id=tenant_id,
            event_type="log_stream_paused" if state is StreamState.PAUSED else "log_stream_resumed",
            author=self._members.author(tenant_id, principal.user_id),
            request=request,
            previous={"stream_id": stream_id, "state": stream.state},
            current={"stream_id": stream_id, "state": state.value},
        )
        now = utc_now()
        self._repo.set_state(stream, state.value, now=now, audit_record=audit)
        changed = dataclasses.replace(
            stream,
            state=state.value,
            version=stream.version + 1,
            paused_at=now if state is StreamState.PAUSED else None,
            paused_by="owner" if state is StreamState.PAUSED else None,
            resume_from=None if state is StreamState.ACTIVE else stream.resume_from,
        )
        return self.view(changed)

    def send_test(self, tenant_id: int, stream_id: str, *, request: RequestMetadata) -> dict[str, Any]:
        """One signed delivery of a single test line (an object of its own for S3), now, whatever the stream's
        state; what the endpoint said. It is shaped like a record's line (``kind`` ``test``), changes nothing
        and is not counted."""
        stream = self._found(tenant_id, stream_id)
        test_id = f"test-{secrets.token_hex(8)}"
        line = {
            "id": test_id,
            "kind": "test",
            "tenant_id": tenant_id,
            "replayed": False,
            "record": {
                "type": "log_stream_test",
                "timestamp": iso_utc(utc_now()),
                "message": "A test delivery of this log stream; receivers may drop it.",
                "request_id": request.request_id,
            },
        }
        sent = self._destinations.send(
            stream.destination_type,
            stream_id,
            self.destination(stream),
            [Line(line, time.time())],
            tenant_id=tenant_id,
            kind="test",
            delivery_id=test_id,
        )
        return {"id": test_id, "delivered": sent.ok, "status": sent.status, "message": sent.message}

    def destination(self, stream: StreamItem) -> dict[str, str]:
        """The stream's destination as sealed: URL and credential (``secret``, which never leaves the service
        but as a signature or header), or bucket, prefix, role, region and external ID."""
        fields = self._envelope.open(
            stream.sealed_destination,
            context=destination_context(stream.tenant_id),
            bind=destination_binding(stream.tenant_id, stream.stream_id),
        )
        return {str(name): str(value) for name, value in fields.items()}

    def view(self, stream: StreamItem) -> dict[str, Any]:
        return self._view(stream, self.destination(stream))

    def _found(self, tenant_id: int, stream_id: str) -> StreamItem:
        stream = self._repo.get(tenant_id, stream_id)
        if stream is None:
            raise no_such_stream(tenant_id, stream_id)
        return stream

    @staticmethod
    def _configuration(stream: StreamItem, fields: dict[str, str]) -> dict[str, Any]:
        """What the audit records show of a stream: everything but the secret."""
        return {
            "stream_id": stream.stream_id,
            "name": stream.name,
            "destination": public_destination(stream.destination_type, fields),
            "kinds": sorted(stream.kinds),
            "types": sorted(stream.types),
            "format": stream.format,
        }

    def _view(self, stream: StreamItem, fields: dict[str, str]) -> dict[str, Any]:
        state = StreamState(stream.state)
        if state is StreamState.ACTIVE and stream.consecutive_failures:
            state = StreamState.FAILING
        elif state is StreamState.PAUSED and stream.paused_by == "service":
            state = StreamState.DISABLED
        return {
            "id": stream.stream_id,
            "tenant_id": stream.tenant_id,
            **{name: value for name, value in self._configuration(stream, fields).items() if name != "stream_id"},
            "created_at": iso_utc(stream.created_at),
            "created_by": {"id": stream.created_by},
            "health": {
                "state": state.value,
                "paused_at": iso_utc(stream.paused_at) if stream.paused_at else None,
                "paused_by": stream.paused_by,
                "delivered": stream.delivered,
                "failed": stream.failed,
                "failed_attempts": stream.failed_attempts,
                "last_delivered_at": iso_utc(stream.last_delivered_at) if stream.last_delivered_at else None,
                "last_record_at": iso_utc(stream.last_record_at) if stream.last_record_at else None,
                "lag_seconds": lag_seconds(stream.last_record_at, stream.last_delivered_at),
                "last_error": stream.last_error,
            },
        }
