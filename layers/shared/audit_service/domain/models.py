"""Domain models shared by the services and the data access layer."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from audit_service.domain.permissions import Role
from audit_service.domain.shards import ShardLayout


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with millisecond precision and a ``Z`` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def new_record_id(moment: datetime | None = None) -> str:
    """A unique id that sorts by creation time (48-bit ms clock + 64 random bits)."""
    millis = int(moment.timestamp() * 1000) if moment else time.time_ns() // 1_000_000
    return f"{millis:012x}{secrets.token_hex(8)}"


class Plan(StrEnum):
    BASIC = "basic"
    PRO = "pro"
    ENTERPRISE = "enterprise"

    @property
    def retention_days(self) -> int:
        return PLAN_RETENTION_DAYS[self]


PLAN_RETENTION_DAYS: dict[Plan, int] = {Plan.BASIC: 7, Plan.PRO: 90, Plan.ENTERPRISE: 365}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tenant(Strict):
    id: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=200)
    plan: Plan
    created_at: datetime
    # The log's write-shard layout (domain/shards.py): (epoch from which it applies, shard count), oldest first.
    log_shards: tuple[tuple[int, int], ...] = ((0, 1),)

    @property
    def layout(self) -> ShardLayout:
        return ShardLayout(self.log_shards)


class TenantResource(Strict):
    """A division, environment or deployment of a tenant (the audit context)."""

    kind: str
    id: int = Field(ge=1)
    name: str = Field(min_length=1, max_length=200)
    tenant_id: int
    parent_id: int | None = None


class Membership(Strict):
    tenant_id: int
    user_id: int
    role: Role
    created_at: datetime


class ApiKeyStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class ApiKey(Strict):
    """An API key as stored: never the secret, only its hash."""

    key_id: str
    key_hash: str
    user_id: int
    name: str = Field(min_length=1, max_length=100)
    status: ApiKeyStatus
    created_at: datetime
    revoked_at: datetime | None = None


class IssuedApiKey(Strict):
    """Returned once, when a key is created: the only time the secret exists."""

    key: ApiKey
    secret: str


class RequestMetadata(Strict):
    """Where a request came from. IP and User-Agent are personal data."""

    request_id: str
    source_ip: str | None = None
    user_agent: str | None = None
    method: str | None = None
    path: str | None = None


class Principal(Strict):
    """The authenticated caller, as the authorizer hands it to the routes."""

    user_id: int
    key_id: str
    roles: dict[int, Role]

    def role_in(self, tenant_id: int) -> Role | None:
        return self.roles.get(tenant_id)


class SecurityEventType(StrEnum):
    AUTHENTICATION_FAILED = "authentication_failed"
    PERMISSION_DENIED = "permission_denied"
    LOG_STREAM_PAUSED = "log_stream_paused"  # the service paused a stream whose deliveries kept failing


class AuthFailureReason(StrEnum):
    MISSING = "missing_api_key"
    MALFORMED = "malformed_api_key"
    UNKNOWN = "unknown_api_key"
    REVOKED = "revoked_api_key"


class SecurityEvent(Strict):
    """A stored security event: one failure, or ``count`` repeats of it from ``timestamp`` to ``last_seen``."""

    id: str
    type: SecurityEventType
    tenant_id: int | None
    actor_id: int | None
    timestamp: datetime
    request: RequestMetadata
    details: dict[str, Any]
    count: int = 1
    last_seen: datetime | None = None
    last_request_id: str | None = None
    paths: list[str] = Field(default_factory=list)
    user_agents: list[str] = Field(default_factory=list)
