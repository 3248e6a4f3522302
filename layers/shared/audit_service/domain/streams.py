"""Log streams: a tenant's records delivered to its own HTTPS endpoint (docs/api.md, Log streams).

Pure rules, no AWS: what a stream is, which records it selects, how a delivery is signed and how a
receiver checks it, and which destination addresses a delivery may go to.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

SIGNATURE_HEADER = "X-LD-Signature"
STREAM_HEADER = "X-LD-Stream-Id"
DELIVERY_HEADER = "X-LD-Delivery-Id"
# A receiver refuses a delivery whose signed time is further than this from its own clock (a replayed request).
SIGNATURE_TOLERANCE_SECONDS = 300
MAX_STREAMS_PER_TENANT = 10
MAX_TYPES = 100
STREAM_ID_PATTERN = r"^[0-9a-f]{24}$"


class StreamKind(StrEnum):
    AUDIT = "audit"
    ACCESS = "access"
    SECURITY = "security"


class StreamFormat(StrEnum):
    JSON_LINES = "jsonl"  # each line: {"id", "kind", "tenant_id", "replayed", "record": as the API shows it}
    OCSF = "ocsf"  # each line: one OCSF 1.1.0 event (domain/ocsf.py); metadata.uid is the record's id


class StreamState(StrEnum):
    ACTIVE = "active"
    FAILING = "failing"  # active, and its last delivery attempt failed (it is being retried); shown, not stored
    PAUSED = "paused"  # nothing is sent; what comes meanwhile is delivered on resume (a replay from the pause)


Url = Annotated[str, Field(min_length=8, max_length=2048, pattern=r"^[\x21-\x7e]+$")]
Credential = Annotated[str, Field(min_length=16, max_length=256, pattern=r"^[\x21-\x7e]+$")]


class HttpsDestination(BaseModel):
    """A generic HTTPS endpoint; ``secret`` signs each delivery (HMAC-SHA256) and is never returned."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["https"]
    url: Url
    secret: Annotated[str, Field(min_length=32, max_length=256, pattern=r"^[\x21-\x7e]+$")]

    @property
    def credential(self) -> str:
        return self.secret


class SplunkHecDestination(BaseModel):
    """Splunk's HTTP Event Collector (``https://<host>:8088/services/collector/event``); ``token`` is the HEC
    token (``Authorization: Splunk <token>``), never returned."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["splunk_hec"]
    url: Url
    token: Credential

    @property
    def credential(self) -> str:
        return self.token


class DatadogDestination(BaseModel):
    """Datadog's logs intake (``https://http-intake.logs.<site>/api/v2/logs``); ``api_key`` (``DD-API-KEY``)
    never returned."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["datadog"]
    url: Url = "https://http-intake.logs.datadoghq.com/api/v2/logs"
    api_key: Credential

    @property
    def credential(self) -> str:
        return self.api_key


Destination = Annotated[HttpsDestination | SplunkHecDestination | DatadogDestination, Field(discriminator="type")]


class NewStream(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
    destination: Destination
    kinds: Annotated[list[StreamKind], Field(min_length=1, max_length=3)]
    # Event types (audit: GET /audit/types; access: actions; security: permission_denied, authentication_failed).
    # Absent or empty: every type of the chosen kinds.
    types: Annotated[list[Annotated[str, Field(min_length=1, max_length=64)]], Field(max_length=MAX_TYPES)] = []
    format: StreamFormat = StreamFormat.JSON_LINES

    @field_validator("kinds", "types")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a value is named twice")
        return sorted(value)


class Replay(BaseModel):
    """``from`` (and ``to``, default now): the period whose records are delivered again."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: datetime = Field(alias="from")
    to: datetime | None = None

    @field_validator("from_", "to")
    @classmethod
    def _with_offset(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time with its offset (Z for UTC)")
        return value


def selects(kinds: frozenset[str], types: frozenset[str], *, kind: str, record_type: str) -> bool:
    """Whether a stream with these filters carries a record of ``kind`` and ``record_type``."""
    return kind in kinds and (not types or record_type in types)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-LD-Signature`` value: ``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str, header: str, body: bytes, *, now: float | None = None, tolerance: int = SIGNATURE_TOLERANCE_SECONDS
) -> bool:
    """What a receiver does: the signature matches the body and its time is recent (so a replay is refused)."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), f"t={timestamp},v1={parts.get('v1', '')}")


class DestinationRefused(ValueError):
    """A destination address this service will not send records to."""


def check_destination(url: str, *, allow_local: bool, resolve: bool = False) -> None:
    """Refuse addresses that would make the service reach inside a network: only ``https`` to a public host,
    no credentials in the URL. ``allow_local`` (the local cloud only) also allows ``http`` to loopback.
    ``resolve``: check every address the name resolves to now (at delivery; at creation the name may not
    resolve yet)."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise DestinationRefused("the URL may not carry credentials; the secret signs each delivery")
    host = parts.hostname or ""
    if not host or parts.scheme not in ("https", "http"):
        raise DestinationRefused("the URL must be https://<host>/...")
    try:
        port = parts.port
    except ValueError as error:
        raise DestinationRefused("the URL's port is not valid") from error
    addresses = _addresses(host, port, resolve=resolve)
    local = bool(addresses) and all(address.is_loopback for address in addresses)
    if allow_local and local:
        return
    if parts.scheme != "https":
        raise DestinationRefused("the URL must use https")
    if host.lower() == "localhost" or any(not address.is_global for address in addresses):
        raise DestinationRefused("the URL must name a public host")


def _addresses(host: str, port: int | None, *, resolve: bool) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:  # the shorthand forms resolvers accept as IPv4 (127.1, 0x7f.0.0.1, 2130706433)
        return [ipaddress.ip_address(socket.inet_aton(host))]
    except OSError:
        pass
    if host.lower() == "localhost":
        return [ipaddress.ip_address("127.0.0.1")]
    if not resolve:
        return []
    try:
        found = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as error:
        raise DestinationRefused("the URL's host does not resolve") from error
    return [ipaddress.ip_address(str(entry[4][0]).split("%", 1)[0]) for entry in found]


def lag_seconds(last_record_at: datetime | None, last_delivered_at: datetime | None) -> float | None:
    """How far behind the newest delivered record was when it was delivered."""
    if last_record_at is None or last_delivered_at is None:
        return None
    return round(max((last_delivered_at - last_record_at).total_seconds(), 0.0), 3)
