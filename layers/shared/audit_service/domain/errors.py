"""Domain errors. ``api.http`` maps each to an HTTP status, in one place."""

from __future__ import annotations


class DomainError(Exception):
    """Base class; ``code`` is the stable machine-readable error code."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    code = "invalid_input"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class Forbidden(DomainError):
    code = "forbidden"


class Unavailable(DomainError):
    """A dependency did not answer in time; the request can be repeated."""

    code = "unavailable"
