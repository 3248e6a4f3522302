"""The audit event contract (what producers publish) and the record view (what the API returns)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, IPvAnyAddress, field_validator, model_validator

from audit_service.domain.models import Strict

MAX_VALUES_BYTES = 32 * 1024  # previous + current, serialized
MAX_CLOCK_SKEW = timedelta(minutes=5)


def present(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` without the ones that are null (a record's sealed fields store only what it has)."""
    return {name: value for name, value in fields.items() if value is not None}


class Ref(Strict):
    """An entity named in an event: the product page's ``{"id": 1, "name": "..."}``."""

    id: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=200)


class AuditEvent(Strict):
    """One state change. ``tenant_id`` is None only for the service's own user-level changes
    (a user's profile, keys or settings), which are kept in the platform partition."""

    event_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
    type: str = Field(min_length=3, max_length=64, pattern=r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")  # see the registry
    tenant_id: int | None = Field(default=None, ge=1)
    author: Ref
    division: Ref | None = None
    environment: Ref | None = None
    deployment: Ref | None = None
    previous: dict[str, Any] | None = None
    current: dict[str, Any] | None = None
    request_id: str | None = Field(default=None, max_length=128)
    source_ip: IPvAnyAddress | None = None
    user_agent: str | None = Field(default=None, max_length=512)
    occurred_at: AwareDatetime

    @field_validator("occurred_at")
    @classmethod
    def _utc_millis(cls, value: datetime) -> datetime:
        moment = value.astimezone(UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    @model_validator(mode="after")
    def _bounded(self) -> AuditEvent:
        size = len(json.dumps([self.previous, self.current], default=str))
        if size > MAX_VALUES_BYTES:
            raise ValueError(f"previous and current together exceed {MAX_VALUES_BYTES} bytes")
        if self.occurred_at > datetime.now(UTC) + MAX_CLOCK_SKEW:
            raise ValueError("occurred_at is in the future")
        return self

    def protected_fields(self) -> dict[str, Any]:
        """Everything but ids, the type and the time: what goes into the encrypted message.

        A field the event does not have is left out rather than stored as null (absent reads as null):
        ~66 bytes of every record without a change or a request context, in the table, both indexes
        and the backup (docs/data-model.md, cost).
        """
        names = {"author": self.author.name}
        for kind in ("division", "environment", "deployment"):
            ref = getattr(self, kind)
            if ref is not None:
                names[kind] = ref.name
        return present(
            {
                "names": names,
                "previous": self.previous,
                "current": self.current,
                "source_ip": str(self.source_ip) if self.source_ip else None,
                "user_agent": self.user_agent,
            }
        )


class AuditEventIn(AuditEvent):
    """An event as another service publishes it (``detail`` of an EventBridge event): always a tenant's."""

    tenant_id: int = Field(ge=1)


class RefView(BaseModel):
    id: int
    name: str


class AuditRecordView(BaseModel):
    """One item of ``GET /audit/tenants/{id}``: the product page's shape plus id, previous, current."""

    model_config = ConfigDict(extra="forbid")

    id: str
    type: str
    name: str
    author: RefView
    division: RefView | None
    environment: RefView | None
    deployment: RefView | None
    timestamp: str
    previous: dict[str, Any] | None
    current: dict[str, Any] | None
    # where the change came from, as the producer reported it (null where it did not, or withheld)
    request_id: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    tenant: int | None = None
    # the user's activity only: a tenant the user has left keeps its data (values, resource names) to itself
    withheld: bool = False
