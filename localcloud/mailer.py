"""A stand-in for the platform's mailer, so that a person can finish the flows that need a message.

On AWS the platform's own mailer subscribes to the audit bus and sends the
messages this service publishes for people (``Invitation Created``, ``Email
Change Requested``, ``Identity Link Requested``; docs/api.md). Locally nobody
sends mail: this mailer subscribes the same way (a rule on the bus to a queue
of its own), opens each message with the mailer key as the mailer's role
would, prints it, and appends it to an outbox file (``.local/outbox.jsonl``)
that a person or a test reads the secret from.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audit_service.services.notifications import SOURCE, NotificationType, binding, mailer_context

ClientFactory = Callable[[str], Any]
RULE_NAME = "local-mailer"


@dataclass(frozen=True)
class Message:
    kind: str
    detail: dict[str, Any]
    content: dict[str, Any]  # the sealed part, opened

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "detail": self.detail, "content": self.content}


class LocalMailer:
    def __init__(
        self,
        clients: ClientFactory,
        *,
        bus_name: str,
        mailer_key_arn: str,
        outbox: Path | None = None,
        api_url: str | None = None,
        echo: bool = False,
    ) -> None:
        self._sqs = clients("sqs")
        self._events = clients("events")
        self._bus = bus_name
        self._key_arn = mailer_key_arn
        self._outbox = outbox
        self._api_url = api_url
        self._echo = echo
        self.messages: list[Message] = []
        self._queue_url = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def install(self) -> LocalMailer:
        queue = self._sqs.create_queue(QueueName=f"{self._bus}-local-mailer")
        self._queue_url = queue["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self._events.put_rule(
            Name=RULE_NAME,
            EventBusName=self._bus,
            EventPattern=json.dumps({"source": [SOURCE], "detail-type": [kind.value for kind in NotificationType]}),
            State="ENABLED",
        )
        self._events.put_targets(Rule=RULE_NAME, EventBusName=self._bus, Targets=[{"Id": "outbox", "Arn": arn}])
        if self._outbox is not None:
            self._outbox.parent.mkdir(parents=True, exist_ok=True)
            self._outbox.write_text("")
        return self

    def poll(self) -> list[Message]:
        """Take every waiting message; returns the new ones."""
        from audit_service.crypto.envelope import Envelope

        envelope = Envelope(self._key_arn, cache_seconds=60)
        received: list[Message] = []
        while True:
            response = self._sqs.receive_message(QueueUrl=self._queue_url, MaxNumberOfMessages=10)
            batch = response.get("Messages", [])
            if not batch:
                break
            for raw in batch:
                event = json.loads(raw["Body"])
                kind = NotificationType(event["detail-type"])
                detail = dict(event["detail"])
                sealed = base64.b64decode(detail.pop("sealed"))
                content = envelope.open(sealed, context=mailer_context(kind), bind=binding(kind, detail["reference"]))
                received.append(Message(kind.value, detail, content))
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
        for message in received:
            self._deliver(message)
        self.messages.extend(received)
        return received

    def last(self, kind: NotificationType, **detail: Any) -> Message:
        """The newest message of ``kind`` whose detail has these values (after a poll)."""
        self.poll()
        for message in reversed(self.messages):
            if message.kind == kind.value and all(message.detail.get(k) == v for k, v in detail.items()):
                return message
        raise LookupError(f"no {kind.value} message with {detail}")

    def _deliver(self, message: Message) -> None:
        if self._outbox is not None:
            with self._outbox.open("a") as outbox:
                outbox.write(json.dumps(message.as_dict()) + "\n")
        if self._echo:
            print(self._describe(message), flush=True)

    def _describe(self, message: Message) -> str:
        content = message.content
        to = content.get("to") or f"the identity service, for user {message.detail.get('user_id')}"
        confirm = content.get("accept") or content.get("confirm") or {}
        lines = [f"[mailer] {message.kind} -> {to}", f"         secret: {content.get('secret')}"]
        if confirm and self._api_url:
            lines.append(
                f"         curl -s -X {confirm['method']} {self._api_url}{confirm['path']} -H 'ld-api-key: ...'"
                f" -H 'Content-Type: application/json' -d '{json.dumps(confirm['body'])}'"
            )
        return "\n".join(lines)

    # ------------------------------------------------------------------ make run
    def start(self, interval: float = 0.5) -> None:
        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.poll()
                except Exception as error:  # noqa: BLE001 - keep the stand-in mailer running
                    print(f"[mailer] error: {type(error).__name__}: {error}", flush=True)
                self._stop.wait(interval)

        self._thread = threading.Thread(target=loop, name="local-mailer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
