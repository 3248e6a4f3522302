"""Turning queue messages into audit records, and refusing the ones that can never be stored.

A refused message goes to the dead-letter queue sealed (its body may hold
names, addresses and values; the queue keeps it for 14 days): one Encryption
SDK message for the platform partition, opened only by the operator's tool
(``ld-audit-admin dead-letters show``) or by the ingest function itself when
the queue is redriven to it after a fix. The reason stays readable beside it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import PrivateAttr, ValidationError

from audit_service.domain.audit import AuditEventIn, Ref
from audit_service.domain.errors import NotFound
from audit_service.domain.event_types import EventTypeDeclaration
from audit_service.domain.models import Strict
from audit_service.domain.sessions import SessionEnded, SessionStarted
from audit_service.observability import logger
from audit_service.services.audit_log import AuditLog, EventIdConflict, Outcome, UnknownTenant
from audit_service.services.my_account import MyAccount
from audit_service.services.security import owner_context

if TYPE_CHECKING:
    from audit_service.crypto.envelope import Envelope
    from audit_service.services.event_types import EventTypeRegistry

DEAD_LETTER_FORMAT = "ld-dead-letter/1"


class IngestOutcome(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EventTypeRegistration(Strict):
    """``Audit Event Type Registered``: a service declares (or deprecates) a type it publishes."""

    declaration: EventTypeDeclaration
    author: Ref  # who registers it, as audit events name their author (a deploy pipeline's user, a person)
    _source: str = PrivateAttr(default="sqs")  # the bus event's source: the service that published it

    @property
    def source(self) -> str:
        return self._source


Event = AuditEventIn | SessionStarted | SessionEnded | EventTypeRegistration
MODELS: dict[str, type[Event]] = {
    "Audit Event": AuditEventIn,
    "Session Started": SessionStarted,
    "Session Ended": SessionEnded,
    "Audit Event Type Registered": EventTypeRegistration,
}


def parse(body: str) -> Event:
    """The event in a message body: an EventBridge event's ``detail`` (its detail-type says which
    contract), or a bare audit event."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError as error:
        raise Rejected(f"invalid JSON: {error.msg} at position {error.pos}") from error
    model: type[Event] = AuditEventIn
    source = "sqs"
    if isinstance(document, dict) and "detail" in document and "detail-type" in document:
        if document["detail-type"] not in MODELS:
            raise Rejected(f"unknown detail-type {str(document['detail-type'])[:64]!r}")
        model = MODELS[document["detail-type"]]
        source = str(document.get("source", "eventbridge"))[:256]
        envelope_time = document.get("time")
        document = document["detail"]
        if model is AuditEventIn and isinstance(document, dict) and "occurred_at" not in document and envelope_time:
            # Without its own time, an event happened when the bus received it (EventBridge's ``time``,
            # the same on every redelivery): a producer need not send a clock reading of its own.
            document = {**document, "occurred_at": envelope_time}
    try:
        event = model.model_validate(document)
        if isinstance(event, EventTypeRegistration):
            event._source = source  # who registered it, kept with the version
        return event
    except ValidationError as error:
        # Locations and messages only: pydantic's input values may be personal data.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in issue['loc']) or 'event'}: {issue['msg']}" for issue in error.errors()
        )
        raise Rejected(f"not a valid audit event: {problems}") from error


class DeadLetters:
    """Where permanently bad messages go, sealed, with the reason as a message attribute.

    ``sqs`` is a factory: the client is made on the first rejection, since most
    containers never reject anything.
    """

    def __init__(self, sqs: Callable[[], Any], queue_url: str | None, envelope: Callable[[], Envelope]) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._envelope = envelope

    def seal(self, body: str, *, message_id: str) -> str:
        sealed = self._envelope().seal({"body": body}, context=owner_context(None), bind=f"dead-letter:{message_id}")
        return json.dumps(
            {"format": DEAD_LETTER_FORMAT, "message_id": message_id, "sealed": base64.b64encode(sealed).decode()}
        )

    def open(self, body: str) -> str:
        """A dead letter's original body; any other body as it is."""
        try:
            document = json.loads(body)
        except json.JSONDecodeError:
            return body
        if not isinstance(document, dict) or document.get("format") != DEAD_LETTER_FORMAT:
            return body
        opened = self._envelope().open(
            base64.b64decode(document["sealed"]),
            context=owner_context(None),
            bind=f"dead-letter:{document['message_id']}",
        )
        return str(opened["body"])

    def send(self, body: str, *, reason: str, message_id: str) -> None:
        if not self._queue_url:
            raise RuntimeError("DEAD_LETTER_QUEUE_URL is not configured")
        self._sqs().send_message(
            QueueUrl=self._queue_url,
            MessageBody=self.seal(body, message_id=message_id),
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": reason[:1000]},
                "source_message_id": {"DataType": "String", "StringValue": message_id},
            },
        )


class Ingestor:
    def __init__(
        self,
        audit_log: AuditLog,
        dead_letters: DeadLetters,
        *,
        sessions: Callable[[], MyAccount],
        types: Callable[[], EventTypeRegistry],
    ) -> None:
        self._audit_log = audit_log
        self._dead_letters = dead_letters
        self._sessions = sessions
        self._types = types

    def _store(self, event: Event) -> Outcome:
        if isinstance(event, SessionStarted):
            return Outcome.STORED if self._sessions().session_started(event) else Outcome.DUPLICATE
        if isinstance(event, SessionEnded):
            return Outcome.STORED if self._sessions().session_ended(event) else Outcome.DUPLICATE
        if isinstance(event, EventTypeRegistration):
            _version, created = self._types().register(event.declaration, author=event.author, source=event.source)
            return Outcome.STORED if created else Outcome.DUPLICATE
        checked, problem = self._types().problem_with(event)
        if problem is not None or checked is None:
            raise Rejected(problem or f"unknown audit event type {event.type!r}")
        return self._audit_log.record(event, type_version=checked.version)

    def ingest(self, body: str, *, message_id: str) -> IngestOutcome:
        body = self._dead_letters.open(body)  # a dead letter redriven after a fix
        try:
            event = parse(body)
            outcome = self._store(event)
        except (Rejected, UnknownTenant, EventIdConflict, NotFound) as refusal:
            reason = refusal.reason if isinstance(refusal, Rejected) else refusal.message
            self._dead_letters.send(body, reason=reason, message_id=message_id)
            logger.warning("event rejected", extra={"reason": reason, "message_id": message_id})
            return IngestOutcome.REJECTED
        if outcome is Outcome.DUPLICATE:
            logger.info("duplicate event ignored", extra={"kind": type(event).__name__, "message_id": message_id})
            return IngestOutcome.DUPLICATE
        return IngestOutcome.STORED

    def give_up(self, body: str, *, message_id: str, attempts: int, error: Exception) -> None:
        """A message that kept failing on faults: into the dead-letter queue sealed, rather than by the
        queue's redrive policy with its body as it came."""
        reason = f"failed {attempts} times; last: {type(error).__name__}"
        self._dead_letters.send(self._dead_letters.open(body), reason=reason, message_id=message_id)
        logger.error("event given up", extra={"reason": reason, "message_id": message_id})
