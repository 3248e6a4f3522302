"""Delivering a tenant's new log records to its streams, at least once (docs/architecture.md, Log streams).

Three steps, each retried by its own queue:

1. ``forward`` (run by CountLogRecordsFunction, which reads every new record of the log's stream anyway,
   so the stream keeps two readers): the keys of new tenant records, no contents, to the route queue.
2. ``StreamRouter`` (RouteLogStreamRecordsFunction): picks, per tenant, the streams whose filters select
   each record, and queues one delivery per stream and chunk (keys only).
3. ``StreamDelivery`` (DeliverLogStreamRecordsFunction): reads the chunk's records (only the stream's
   tenant's: the key must start with its id, and each record opens only under the tenant's encryption
   context), formats them as the API shows them, signs the body and POSTs it (or, for an S3 stream, writes
   it into the customer's bucket as the customer's role: services/stream_s3.py). A failure is retried by
   the delivery queue with back-off; after ``give_up_after`` attempts the chunk's keys are kept in the
   stream dead-letter queue and counted as failed (the records themselves stay in the log, encrypted).

A replay is a chain: the router's step queues one chunk carrying the next step, and the delivery queues
that step only once the chunk is delivered, so a replay arrives in time order (``ReplayJob``).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache, partial
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from audit_service.concurrency import side_by_side
from audit_service.dal.log_records import LogRecordStore, StoredRecord
from audit_service.dal.streams import StreamItem, StreamsRepository
from audit_service.domain.models import utc_now
from audit_service.domain.ocsf import to_ocsf
from audit_service.domain.streams import (
    DELIVERY_HEADER,
    HTTP_DESTINATIONS,
    SIGNATURE_HEADER,
    STREAM_HEADER,
    DestinationRefused,
    StreamFormat,
    check_destination,
    object_key,
    selects,
    signature,
)
from audit_service.observability import logger

RECORDS_PER_DELIVERY = 100  # one BatchGetItem; a body of ~100-200 KB
KEYS_PER_ROUTE_MESSAGE = 500  # ~60 KB of keys, well under SQS's 256 KB
TIMEOUT_SECONDS = 5  # as EventBridge API destinations: a slower receiver counts as a failure


class RecordKey(BaseModel):
    """A new record, as forwarded: its key, kind and type, never its contents."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    pk: str
    sk: str
    type: str
    ts_key: str

    @property
    def tenant_id(self) -> int | None:
        owner = self.pk.split("#", 1)[0]
        return int(owner) if owner.isdigit() else None

    @property
    def kind(self) -> str:
        return self.pk.split("#")[1]


class ReplayJob(BaseModel):
    """Deliver a stream's records of a period again, oldest first across its partitions: each step reads the
    next records of every partition not done (``starts``: where each one's next read begins), merges them in
    time order and queues one delivery carrying the next step, which the delivery queues only once its own
    records are delivered. So a replay reaches the receiver in order, whatever the retries."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tenant_id: int = Field(ge=1)
    stream_id: str = Field(min_length=1, max_length=64)
    partitions: list[str] = Field(min_length=1)  # those not done yet
    time_from: str  # ts_key bounds (an ISO time, or "<ISO time>#~" for an end)
    time_to: str
    starts: dict[str, dict[str, Any]] = {}  # partition -> ExclusiveStartKey of its next read
    after: dict[str, Any] | None = None  # a step queued before ``starts`` existed: the first partition's start


class DeliveryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tenant_id: int = Field(ge=1)
    stream_id: str = Field(min_length=1, max_length=64)
    records: list[tuple[str, str]] = Field(min_length=1, max_length=RECORDS_PER_DELIVERY)
    replayed: bool = False  # read again from the log (a replay, or a resume), not from the live feed
    then: ReplayJob | None = None  # a replay's next step, queued once these records are delivered


def forwarded_record(image: Mapping[str, Any]) -> RecordKey | None:
    """The key of a new tenant record (a stream NewImage, DynamoDB-typed); None for the platform's records."""
    values = {name: image.get(name, {}).get("S") for name in ("pk", "sk", "type", "ts_key")}
    if not all(values.values()):
        return None
    record = RecordKey(**values)
    return record if record.tenant_id is not None else None


class Queue(Protocol):
    def send(self, bodies: list[str]) -> None: ...


class SqsQueue:
    def __init__(self, sqs: Callable[[], Any], url: str | None) -> None:
        self._sqs = sqs
        self._url = url

    def send(self, bodies: list[str]) -> None:
        if not bodies:
            return
        if not self._url:
            raise RuntimeError("the log stream queues are not configured")
        for start in range(0, len(bodies), 10):
            entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + 10])]
            response = self._sqs().send_message_batch(QueueUrl=self._url, Entries=entries)
            if response.get("Failed"):
                raise RuntimeError(f"{len(response['Failed'])} messages were not queued")


def forward(records: Iterable[RecordKey], queue: Queue) -> int:
    keys = [record.model_dump() for record in records]
    step = KEYS_PER_ROUTE_MESSAGE
    queue.send([json.dumps(keys[start : start + step]) for start in range(0, len(keys), step)])
    return len(keys)


REPLAY_PAGE = 1000  # records read per partition by a replay step of a stream with types (one Query of keys)


class StreamRouter:
    def __init__(
        self,
        streams: StreamsRepository,
        deliveries: Queue,
        *,
        records: LogRecordStore | None = None,
        routes: Queue | None = None,
        ttl: float = 5.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._streams = streams
        self._deliveries = deliveries
        self._records = records
        self._routes = routes
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[int, tuple[float, list[StreamItem]]] = {}

    def _streams_of(self, tenant_id: int) -> list[StreamItem]:
        # A new stream starts carrying records within the cache's life (5 s: one small Query per tenant and
        # container), a deleted one at once (the delivery step reads the stream and drops its chunks).
        cached = self._cache.get(tenant_id)
        if cached is None or time.monotonic() - cached[0] > self._ttl:
            cached = (time.monotonic(), self._streams.of_tenant(tenant_id))
            self._cache[tenant_id] = cached
        return cached[1]

    def route(self, records: Iterable[RecordKey]) -> int:
        """Queue each record for every stream of its tenant that selects it; the number of deliveries queued."""
        chosen: dict[tuple[int, str], list[tuple[str, str]]] = {}
        for record in records:
            tenant_id = record.tenant_id
            if tenant_id is None:
                continue
            for stream in self._streams_of(tenant_id):
                if selects(stream.kinds, stream.types, kind=record.kind, record_type=record.type):
                    chosen.setdefault((tenant_id, stream.stream_id), []).append((record.pk, record.sk))
        bodies = [
            body for (tenant_id, stream_id), keys in chosen.items() for body in _chunks(tenant_id, stream_id, keys)
        ]
        self._deliveries.send(bodies)
        return len(bodies)

    def replay(self, job: ReplayJob) -> int:
        """One step of a replay: the next records of the period across the stream's partitions, merged oldest
        first, up to one delivery of those the stream selects, which carries the next step (or, when none is
        selected, the next step straight back on this queue). The number of deliveries queued."""
        if self._records is None or self._routes is None:
            raise RuntimeError("this router cannot replay: no record store or route queue")
        stream = self._streams.get(job.tenant_id, job.stream_id)
        if stream is None:
            return 0  # deleted meanwhile: the replay ends
        starts = dict(job.starts)
        if job.after and job.partitions[0] not in starts:
            starts[job.partitions[0]] = job.after
        # Unfiltered, a step delivers what it reads; with types, more is read per step to find a chunk's worth.
        limit = REPLAY_PAGE if stream.types else RECORDS_PER_DELIVERY
        pages = side_by_side(
            [
                partial(
                    self._records.keys_in_period,
                    pk,
                    time_from=job.time_from,
                    time_to=job.time_to,
                    after=starts.get(pk),
                    limit=limit,
                )
                for pk in job.partitions
            ]
        )
        reads = dict(zip(job.partitions, pages, strict=True))
        # A partition that has more stopped reading at its LastEvaluatedKey: records after the lowest such
        # point may still come from it, so this step takes only what lies at or before that point.
        open_ends = [str(more["ts_key"]["S"]) for _items, more in reads.values() if more is not None]
        frontier = min(open_ends, default=None)
        merged = sorted(
            ((str(item["ts_key"]), pk, item) for pk, (items, _more) in reads.items() for item in items),
            key=lambda entry: entry[0],
        )
        now = int(self._clock().timestamp())
        keys: list[tuple[str, str]] = []
        walked: dict[str, dict[str, Any]] = {}  # each partition's last record this step took a decision on
        for ts_key, pk, item in merged:
            if len(keys) == RECORDS_PER_DELIVERY or (frontier is not None and ts_key > frontier):
                break
            walked[pk] = item
            if (
                int(item.get("expires_at", now + 1)) > now
                and str(item["pk"]).startswith(f"{job.tenant_id}#")
                and selects(
                    stream.kinds, stream.types, kind=str(item["pk"]).split("#")[1], record_type=str(item["type"])
                )
            ):
                keys.append((str(item["pk"]), str(item["sk"])))
        then = _next_step(job, reads, walked, starts)
        if keys:
            self._deliveries.send(
                [
                    DeliveryRequest(
                        tenant_id=job.tenant_id, stream_id=job.stream_id, records=keys, replayed=True, then=then
                    ).model_dump_json()
                ]
            )
            return 1
        if then is not None:
            self._routes.send([then.model_dump_json()])
        return 0


def _next_step(
    job: ReplayJob,
    reads: Mapping[str, tuple[list[dict[str, Any]], dict[str, Any] | None]],
    walked: Mapping[str, dict[str, Any]],
    starts: Mapping[str, dict[str, Any]],
) -> ReplayJob | None:
    """The replay's next step: the partitions with records left, each starting after its last record taken."""
    remaining: list[str] = []
    next_starts: dict[str, dict[str, Any]] = {}
    for pk in job.partitions:
        items, more = reads[pk]
        last = walked.get(pk)
        if more is None and (not items or last is items[-1]):
            continue  # read to its end, and every record read was taken
        remaining.append(pk)
        if last is not None:
            next_starts[pk] = {name: {"S": str(last[name])} for name in ("pk", "sk", "ts_key")}
        elif not items and more is not None:
            next_starts[pk] = more
        elif pk in starts:
            next_starts[pk] = starts[pk]
    if not remaining:
        return None
    return job.model_copy(update={"partitions": remaining, "starts": next_starts, "after": None})


def _chunks(tenant_id: int, stream_id: str, keys: list[tuple[str, str]]) -> list[str]:
    """The live feed's deliveries for one stream (a replay queues its own, one per step)."""
    return [
        DeliveryRequest(
            tenant_id=tenant_id, stream_id=stream_id, records=keys[start : start + RECORDS_PER_DELIVERY]
        ).model_dump_json()
        for start in range(0, len(keys), RECORDS_PER_DELIVERY)
    ]


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"
    KEPT = "kept"  # given up after the retry window: in the dead-letter queue, counted as failed
    HELD = "held"  # the stream is paused: its resume replays from this chunk's first record
    STREAM_GONE = "stream_gone"
    NOTHING = "nothing"  # the records are no longer there (expired)


class DeliveryFailed(Exception):
    """The receiver did not take the delivery; the queue retries it."""


@dataclass(frozen=True)
class Sent:
    status: int | None  # None: no HTTP answer (refused address, connection error, timeout)
    message: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect could point the delivery at an address the destination check refuses: not followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@cache
def _opener() -> urllib.request.OpenerDirector:
    """Made on the first delivery: its HTTPS handler loads the system's CA certificates (~35 ms), which every
    function importing this module (the stream routes, the counter) paid at init, though only the deliverer
    sends."""
    return urllib.request.build_opener(_NoRedirects())


def post(url: str, body: bytes, headers: Mapping[str, str]) -> Sent:
    # check_destination allowed only http(s) URLs before this is called.
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
    try:
        with _opener().open(request, timeout=TIMEOUT_SECONDS) as response:
            return Sent(int(response.status), str(response.reason or ""))
    except urllib.error.HTTPError as error:
        # The status line only: a receiver's body could echo what we sent, or secrets of its own.
        return Sent(int(error.code), str(error.reason or "")[:200])
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
        # ValueError: a URL http.client will not send (InvalidURL), or a host name that does not encode.
        reason = getattr(error, "reason", error)
        return Sent(None, f"no answer: {type(reason).__name__}")


Sender = Callable[[str, bytes, Mapping[str, str]], Sent]


@dataclass(frozen=True)
class Line:
    """One record as delivered (a JSON line's object, or an OCSF event), and its time in epoch seconds."""

    value: dict[str, Any]
    time: float


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def encode_body(destination_type: str, lines: list[Line], *, tenant_id: int) -> bytes:
    """The request body for a destination: JSON lines (https); HEC events, one per line (Splunk); a JSON array
    of log entries whose message is the line (Datadog's logs intake, at most 1,000 a request)."""
    if destination_type == "splunk_hec":
        events = [
            {"time": round(line.time, 3), "source": "ld-audit-log", "sourcetype": "_json", "event": line.value}
            for line in lines
        ]
        return "".join(_compact(event) + "\n" for event in events).encode()
    if destination_type == "datadog":
        entries = [
            {
                "ddsource": "ld-audit-log",
                "service": "audit-compliance",
                "ddtags": f"tenant_id:{tenant_id}",
                "message": _compact(line.value),
            }
            for line in lines
        ]
        return _compact(entries).encode()
    return "".join(_compact(line.value) + "\n" for line in lines).encode()


def send_signed(
    destination_type: str,
    stream_id: str,
    url: str,
    credential: str,
    body: bytes,
    *,
    delivery_id: str,
    allow_local: bool,
    send: Sender = post,
) -> Sent:
    """POST ``body`` to ``url`` after checking the address it resolves to now: signed with the secret (https),
    or with the destination's own credential header (Splunk's HEC token, Datadog's API key)."""
    try:
        check_destination(url, allow_local=allow_local, resolve=True)
    except DestinationRefused as error:
        return Sent(None, f"destination refused: {error}")
    headers = {STREAM_HEADER: stream_id, DELIVERY_HEADER: delivery_id, "User-Agent": "ld-audit-log-streams/1"}
    if destination_type == "splunk_hec":
        headers |= {"Content-Type": "application/json", "Authorization": f"Splunk {credential}"}
    elif destination_type == "datadog":
        headers |= {"Content-Type": "application/json", "DD-API-KEY": credential}
    else:
        headers |= {
            "Content-Type": "application/x-ndjson",
            SIGNATURE_HEADER: signature(credential, int(time.time()), body),
        }
    return send(url, body, headers)


class ObjectWriter(Protocol):
    def check(self, role_arn: str) -> None: ...

    def put(self, stream_id: str, fields: dict[str, str], body: bytes, *, key: str) -> Sent: ...


class Destinations:
    """Checks a new stream's destination, and sends a body of lines to one: POSTed (https, Splunk, Datadog)
    or written as an object (S3). Either way the result is a ``Sent``, so failures are handled alike."""

    def __init__(self, *, allow_local: bool, objects: ObjectWriter, send: Sender = post) -> None:
        self._allow_local = allow_local
        self._objects = objects
        self._send = send

    def check(self, destination_type: str, fields: dict[str, str]) -> None:
        """At creation: refuse what a delivery would refuse (DestinationRefused)."""
        if destination_type in HTTP_DESTINATIONS:
            check_destination(fields["url"], allow_local=self._allow_local)
        else:
            self._objects.check(fields["role_arn"])

    def send(
        self,
        destination_type: str,
        stream_id: str,
        fields: dict[str, str],
        lines: list[Line],
        *,
        tenant_id: int,
        kind: str,
        delivery_id: str,
    ) -> Sent:
        """``lines`` in time order; ``kind`` names an S3 object's folder (a kind, ``records`` or ``test``)."""
        body = encode_body(destination_type, lines, tenant_id=tenant_id)
        if destination_type not in HTTP_DESTINATIONS:
            key = object_key("", kind, lines[0].time, delivery_id)
            return self._objects.put(stream_id, fields, body, key=key)
        return send_signed(
            destination_type,
            stream_id,
            fields["url"],
            fields["secret"],
            body,
            delivery_id=delivery_id,
            allow_local=self._allow_local,
            send=self._send,
        )


Viewer = Callable[[str, StoredRecord], dict[str, Any]]


class PauseSignal(Protocol):
    def __call__(self, *, tenant_id: int, stream_id: str, reason: str, delivery_id: str) -> None: ...


class StreamDelivery:
    def __init__(
        self,
        streams: StreamsRepository,
        records: LogRecordStore,
        destination: Callable[[StreamItem], dict[str, str]],
        view: Viewer,
        dead_letters: Queue,
        *,
        replays: Queue,
        destinations: Destinations,
        paused: PauseSignal,
        give_up_after: int,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._streams = streams
        self._records = records
        self._destination = destination
        self._view = view
        self._dead_letters = dead_letters
        self._replays = replays
        self._destinations = destinations
        self._paused = paused
        self._give_up_after = give_up_after
        self._clock = clock

    def deliver(self, request: DeliveryRequest, *, delivery_id: str, attempt: int) -> DeliveryOutcome:
        outcome = self._deliver(request, delivery_id=delivery_id, attempt=attempt)
        # A replay goes on once this chunk is delivered (or has nothing left to send). Held or kept, the stream
        # is paused from this chunk's first record, and its resume replays all that follows: the replay ends.
        if request.then is not None and outcome in (DeliveryOutcome.DELIVERED, DeliveryOutcome.NOTHING):
            self._replays.send([request.then.model_dump_json()])
        return outcome

    def _deliver(self, request: DeliveryRequest, *, delivery_id: str, attempt: int) -> DeliveryOutcome:
        stream = self._streams.get(request.tenant_id, request.stream_id)
        if stream is None:
            return DeliveryOutcome.STREAM_GONE
        owned = f"{request.tenant_id}#"
        # Only the stream's tenant's records, whatever the message says.
        keys = [(pk, sk) for pk, sk in request.records if pk.startswith(owned)]
        found = sorted(self._records.records_by_key(keys), key=lambda record: record.ts_key)
        if not found:
            return DeliveryOutcome.NOTHING
        if stream.state == "paused" and self._streams.hold(
            stream.tenant_id, stream.stream_id, earliest=found[0].ts_key.split("#", 1)[0]
        ):
            return DeliveryOutcome.HELD
        lines = [self._line(request, record, stream.format) for record in found]
        kinds = {record.pk.split("#")[1] for record in found}
        sent = self._destinations.send(
            stream.destination_type,
            stream.stream_id,
            self._destination(stream),
            lines,
            tenant_id=request.tenant_id,
            kind=kinds.pop() if len(kinds) == 1 else "records",
            delivery_id=delivery_id,
        )
        if sent.ok:
            newest = found[-1].ts_key.split("#", 1)[0]
            self._streams.delivered(
                stream.tenant_id, stream.stream_id, count=len(found), last_record_at=newest, now=self._clock()
            )
            return DeliveryOutcome.DELIVERED
        self._streams.failed_attempt(
            stream.tenant_id,
            stream.stream_id,
            error={"status": sent.status, "message": sent.message},
            now=self._clock(),
        )
        logger.info(
            "stream delivery failed",
            extra={"stream_id": stream.stream_id, "status": sent.status, "attempt": attempt},
        )
        if attempt < self._give_up_after:
            raise DeliveryFailed(f"stream {stream.stream_id}: {sent.status} {sent.message}")
        self._dead_letters.send([request.model_dump_json()])
        self._streams.kept(stream.tenant_id, stream.stream_id, count=len(found))
        # The threshold: a chunk given up on (every attempt of the retry window failed). The stream pauses
        # from that chunk's first record, so its resume sends the chunk and all that followed.
        earliest = found[0].ts_key.split("#", 1)[0]
        if self._streams.auto_pause(stream.tenant_id, stream.stream_id, earliest=earliest, now=self._clock()):
            reason = f"{self._give_up_after} delivery attempts failed; last: {sent.status} {sent.message}"
            self._paused(tenant_id=stream.tenant_id, stream_id=stream.stream_id, reason=reason, delivery_id=delivery_id)
        return DeliveryOutcome.KEPT

    def _line(self, request: DeliveryRequest, record: StoredRecord, fmt: str) -> Line:
        kind = record.pk.split("#")[1]
        view = self._view(kind, record)
        moment = datetime.fromisoformat(record.ts_key.split("#", 1)[0].replace("Z", "+00:00")).timestamp()
        if fmt == StreamFormat.OCSF.value:
            return Line(to_ocsf(kind, view, tenant_id=request.tenant_id, replayed=request.replayed), moment)
        line = {"id": record.sk, "kind": kind, "tenant_id": request.tenant_id, "replayed": request.replayed}
        return Line({**line, "record": view}, moment)
