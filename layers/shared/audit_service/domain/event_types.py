"""Event types as the platform's services declare them: the registry's rules, apart from its storage.

A service declares each type it publishes (``EventTypeDeclaration``); the
registry keeps every declaration as an immutable, numbered version
(``EventType``). Registering the same declaration again changes nothing; a
changed one becomes the next version; deprecating is a version too. An event
is checked against its type's current version, and its record keeps that
version's number.

Today's catalog (``domain/catalog.py``) is version 1 of each of its types,
without schemas and open to every context, so its producers need no change.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from audit_service.domain.catalog import AUDIT_EVENT_TYPES, AuditEventType
from audit_service.domain.models import Strict

if TYPE_CHECKING:
    from audit_service.domain.audit import AuditEvent

Context = Literal["division", "environment", "deployment"]
CONTEXTS: tuple[Context, ...] = ("division", "environment", "deployment")
MAX_SCHEMA_BYTES = 16 * 1024


class Operation(StrEnum):
    """What the change does to its resource. An update must say what was there before (``previous``)."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    OTHER = "other"  # an action that is none of the three (a login, an export, a revocation)


class EventTypeDeclaration(Strict):
    """What a producer registers for one type."""

    type: str = Field(min_length=3, max_length=64, pattern=r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
    name: str = Field(min_length=1, max_length=100)
    resource: str = Field(min_length=1, max_length=48, pattern=r"^[a-z][a-z0-9_]*$")
    action: str = Field(min_length=1, max_length=48, pattern=r"^[a-z][a-z0-9_]*$")
    operation: Operation
    context: tuple[Context, ...] = ()
    previous_schema: dict[str, Any] | None = None
    current_schema: dict[str, Any] | None = None
    deprecated: bool = False

    @field_validator("context")
    @classmethod
    def _unique_context(cls, value: tuple[Context, ...]) -> tuple[Context, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a context is named twice")
        return tuple(c for c in CONTEXTS if c in value)  # one order, so equal declarations compare equal

    @field_validator("previous_schema", "current_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        import json

        if len(json.dumps(value)) > MAX_SCHEMA_BYTES:
            raise ValueError(f"a schema is limited to {MAX_SCHEMA_BYTES} bytes")
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(value)
        except SchemaError as error:
            raise ValueError(f"not a valid JSON Schema (2020-12): {error.message}") from None
        if _references_outside(value):
            raise ValueError("a schema may not reference other documents ($ref outside '#')")
        return value

    @model_validator(mode="after")
    def _previous_only_where_it_exists(self) -> EventTypeDeclaration:
        if self.operation is Operation.CREATE and self.previous_schema is not None:
            raise ValueError("a create has no previous state: drop previous_schema")
        return self


def _references_outside(schema: Any) -> bool:
    """Whether a schema names another document (fetched by nobody here: refused instead)."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            return True
        return any(_references_outside(value) for value in schema.values())
    if isinstance(schema, list):
        return any(_references_outside(value) for value in schema)
    return False


class EventType(Strict):
    """One registered version of a type."""

    declaration: EventTypeDeclaration
    version: int = Field(ge=1)
    registered_at: str | None = None  # None: the built-in version 1, never stored
    registered_by: str | None = None  # the bus source or the operator who registered it

    @property
    def type(self) -> str:
        return self.declaration.type

    @property
    def name(self) -> str:
        return self.declaration.name

    @cached_property
    def _validators(self) -> dict[str, Any]:
        from jsonschema import Draft202012Validator

        schemas = {"previous": self.declaration.previous_schema, "current": self.declaration.current_schema}
        return {part: Draft202012Validator(schema) for part, schema in schemas.items() if schema is not None}

    def problem_with(self, event: AuditEvent) -> str | None:
        """Why ``event`` does not match this version (None: it does). Names fields and rules, never values:
        the reason is stored next to the event in the dead-letter queue's attributes."""
        declared = self.declaration
        if declared.deprecated:
            return f"type {declared.type!r} is deprecated (version {self.version}): publish its successor"
        if declared.operation is Operation.UPDATE and event.previous is None:
            return f"type {declared.type!r} is an update: 'previous' is required"
        extra = [c for c in CONTEXTS if getattr(event, c) is not None and c not in declared.context]
        if extra:
            return f"type {declared.type!r} does not carry {', '.join(extra)} (declared: {list(declared.context)})"
        for part, validator in self._validators.items():
            value = getattr(event, part)
            if value is None:
                if declared.operation is not Operation.DELETE or part != "current":
                    return f"{part}: required by the schema of {declared.type!r} version {self.version}"
                continue
            error = next(iter(validator.iter_errors(value)), None)
            if error is not None:
                where = "/".join(str(p) for p in error.absolute_path) or "(root)"
                return (
                    f"{part} at {where}: fails '{error.validator}' of the schema of "
                    f"{declared.type!r} version {self.version}"
                )
        return None

    def view(self) -> dict[str, Any]:
        """As ``GET /audit/types`` shows it."""
        declared = self.declaration
        return {
            "type": declared.type,
            "name": declared.name,
            "resource": declared.resource,
            "action": declared.action,
            "operation": declared.operation.value,
            "context": list(declared.context),
            "version": self.version,
            "deprecated": declared.deprecated,
            "previous_schema": declared.previous_schema,
            "current_schema": declared.current_schema,
        }


_CREATES = {"created", "added"}
_DELETES = {"deleted", "removed", "erased"}


def _builtin(entry: AuditEventType) -> EventType:
    operation = (
        Operation.CREATE
        if entry.action in _CREATES
        else Operation.DELETE
        if entry.action in _DELETES
        else Operation.OTHER
    )
    return EventType(
        declaration=EventTypeDeclaration(
            type=entry.type,
            name=entry.name,
            resource=entry.resource,
            action=entry.action,
            operation=operation,
            context=CONTEXTS,
        ),
        version=1,
    )


BUILTIN_TYPES: dict[str, EventType] = {name: _builtin(entry) for name, entry in AUDIT_EVENT_TYPES.items()}


def next_version(current: EventType | None, declaration: EventTypeDeclaration) -> int | None:
    """The version number a registration of ``declaration`` creates, or None when it changes nothing."""
    if current is None:
        return 1
    if current.declaration == declaration:
        return None
    return current.version + 1
