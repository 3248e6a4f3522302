"""Messages for people (an invitation, an email confirmation), sent by the platform's mailer, not by us.

Each message is an event on the audit bus (``source`` ``audit-compliance``,
detail-types in ``NotificationType``). Its ``detail`` carries only ids and
times in plain text; the recipient's address and the one-time secret travel in
``sealed``, an Encryption SDK message under the mailer key. This service may
encrypt with that key but not decrypt (its roles hold ``kms:GenerateDataKey``
only; the key policy gives ``kms:Decrypt`` to the mailer's role), so neither
the bus, an archive of it, nor this service's own tables and logs ever hold the
secret in a readable form. The mailer also knows a message is ours: nobody else
can produce a message that opens under that key with this encryption context.
"""

from __future__ import annotations

import base64
import json
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from audit_service.domain.errors import Unavailable

if TYPE_CHECKING:
    from audit_service.crypto.envelope import Envelope

SOURCE = "audit-compliance"


class NotificationType(StrEnum):
    INVITATION_CREATED = "Invitation Created"
    EMAIL_CHANGE_REQUESTED = "Email Change Requested"
    IDENTITY_LINK_REQUESTED = "Identity Link Requested"


class NotificationFailed(Unavailable):
    """The bus did not take the message; the change it belongs to is already stored (and can be re-sent)."""

    code = "notification_failed"


def mailer_context(kind: NotificationType) -> dict[str, str]:
    return {"purpose": "notification", "detail_type": kind.value}


def binding(kind: NotificationType, reference: str) -> str:
    """Binds the sealed part to its event (``reference``: the invitation or request id)."""
    return f"{kind.value}|{reference}"


class Notifier:
    def __init__(self, events: Any, *, bus_name: str, envelope: Envelope) -> None:
        self._events = events
        self._bus = bus_name
        self._envelope = envelope

    def send(self, kind: NotificationType, *, reference: str, detail: dict[str, Any], sealed: dict[str, Any]) -> None:
        """Publish one message: ``detail`` in plain text (ids, times), ``sealed`` for the mailer only."""
        message = self._envelope.seal(sealed, context=mailer_context(kind), bind=binding(kind, reference))
        body = {**detail, "reference": reference, "sealed": base64.b64encode(message).decode()}
        response = self._events.put_events(
            Entries=[
                {"Source": SOURCE, "DetailType": kind.value, "Detail": json.dumps(body), "EventBusName": self._bus}
            ]
        )
        if response.get("FailedEntryCount", 0):
            code = response["Entries"][0].get("ErrorCode", "unknown")
            raise NotificationFailed(f"the message could not be handed to the mailer ({code}); send it again")
