"""The event-type registry: what the platform's services declared, cached per container.

Ingest checks every event against its type's current version; the listings
name types and accept type filters from it; ``GET /audit/types`` serves it.
Registering (operator's tool or the bus's ``Audit Event Type Registered``) is
idempotent, never changes a stored version, and is audited in the platform
partition in the same transaction as the new version.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from audit_service.domain.audit import AuditEvent, Ref
from audit_service.domain.errors import Conflict
from audit_service.domain.event_types import BUILTIN_TYPES, EventType, EventTypeDeclaration, next_version
from audit_service.domain.models import iso_utc, utc_now

if TYPE_CHECKING:
    from audit_service.dal.event_types import EventTypeStore
    from audit_service.services.changes import ChangeRecorder

REGISTERED = "audit_event_type_registered"
_ATTEMPTS = 3


class EventTypeRegistry:
    """Built-in version 1 of today's catalog, merged with every stored version.

    Read once per container and again after ``ttl`` seconds; an unknown type
    reads it again at once, at most every ``miss_floor`` seconds (a type
    registered a moment ago is found; a stream of unknown types costs one scan
    per ``miss_floor``).
    """

    def __init__(
        self,
        store: EventTypeStore | None,
        changes: Callable[[], ChangeRecorder],
        *,
        ttl: float = 60.0,
        miss_floor: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._changes = changes
        self._ttl = ttl
        self._miss_floor = miss_floor
        self._clock = clock
        self._versions: dict[str, dict[int, EventType]] = {}
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ reading
    def _load(self) -> None:
        versions: dict[str, dict[int, EventType]] = {name: {1: builtin} for name, builtin in BUILTIN_TYPES.items()}
        if self._store is not None:
            for stored in self._store.all_versions():
                versions.setdefault(stored.type, {})[stored.version] = stored
        with self._lock:
            self._versions, self._loaded_at = versions, self._clock()

    def _fresh(self, *, missing: str | None = None) -> dict[str, dict[int, EventType]]:
        age = None if self._loaded_at is None else self._clock() - self._loaded_at
        if (
            age is None
            or age >= self._ttl
            or (missing is not None and missing not in self._versions and age >= self._miss_floor)
        ):
            self._load()
        return self._versions

    def current(self, event_type: str) -> EventType | None:
        versions = self._fresh(missing=event_type).get(event_type)
        return versions[max(versions)] if versions else None

    def version(self, event_type: str, number: int | None) -> EventType | None:
        versions = self._fresh(missing=event_type).get(event_type, {})
        if number is None:
            return versions[max(versions)] if versions else None
        return versions.get(number)

    def known(self, event_type: str) -> bool:
        """Whether any version exists (a deprecated type stays known: its records stay readable)."""
        return event_type in self._fresh(missing=event_type)

    def name_of(self, event_type: str, number: int | None = None) -> str:
        found = self.version(event_type, number) or self.current(event_type)
        return found.name if found else event_type

    def current_types(self, *, fresh: bool = False) -> list[EventType]:
        """Every type's current version: today's catalog in its order, then registered types by type.
        ``fresh``: read the table now (``GET /audit/types`` shows a registration at once; one scan)."""
        if fresh:
            self._load()
        versions = self._fresh()
        builtin = [versions[name][max(versions[name])] for name in BUILTIN_TYPES]
        others = [versions[name][max(versions[name])] for name in sorted(set(versions) - set(BUILTIN_TYPES))]
        return builtin + others

    def problem_with(self, event: AuditEvent) -> tuple[EventType | None, str | None]:
        """The version ``event`` is checked against, and why it does not match (None: it does)."""
        current = self.current(event.type)
        if current is None:
            return None, f"unknown audit event type {event.type!r} (see GET /audit/types)"
        return current, current.problem_with(event)

    # ------------------------------------------------------------------ registering
    def register(self, declaration: EventTypeDeclaration, *, author: Ref, source: str) -> tuple[EventType, bool]:
        """Store ``declaration`` as the type's next version; (the current version, False) if it is already it."""
        if self._store is None:
            raise RuntimeError("EVENT_TYPES_TABLE is not configured")
        for _attempt in range(_ATTEMPTS):
            self._load()  # consistent: the number is taken from what is stored now
            current = self.current(declaration.type)
            number = next_version(current, declaration)
            if number is None:
                assert current is not None
                return current, False
            created = EventType(
                declaration=declaration, version=number, registered_at=iso_utc(utc_now()), registered_by=source
            )
            _event, audit_put = self._changes().put(
                tenant_id=None,
                event_type=REGISTERED,
                author=author,
                request=None,
                previous=_audited(current, source=None) if current else None,
                current=_audited(created, source=source),
            )
            try:
                self._store.put_version(created, audit_put)
            except Conflict:
                continue  # another registration took the number: compare with it
            self._load()
            return created, True
        raise Conflict(f"{declaration.type!r} keeps being registered concurrently; try again")


def _audited(event_type: EventType, *, source: str | None) -> dict[str, Any]:
    """A version as its audit record shows it: schemas by digest (they may be large; the registry has them)."""
    view = event_type.view()
    for part in ("previous_schema", "current_schema"):
        schema = view.pop(part)
        view[f"{part}_sha256"] = (
            hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest() if schema is not None else None
        )
    if source is not None:
        view["registered_by"] = source
    return view
