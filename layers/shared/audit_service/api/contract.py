"""What each route can answer, for the OpenAPI document (``GET /openapi.json``): bodies and status codes.

Routes declare their success body and the errors their own code can raise
(``responses(...)``); ``localcloud/openapi.py`` adds the answers every
operation can get from the layers in front of it (WAF's 429, the authorizer's
401, a 400 for an unknown query parameter, 413, 415 for a body that is not
JSON, 500). Every error body is one component schema, ``Error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel, ConfigDict

from audit_service.domain.audit import AuditRecordView, RefView

JSON = "application/json"


class Body(BaseModel):
    """A documented body. Routes answer plain dicts, so its schema is built only for the OpenAPI document
    (``defer_build``): building it at every cold start cost ~20 ms of each route's init (make bench)."""

    model_config = ConfigDict(defer_build=True)


class ErrorDetail(Body):
    location: str
    problem: str


class ErrorInfo(Body):
    code: str
    message: str
    request_id: str | None = None
    details: list[ErrorDetail] | None = None
    permission: str | None = None


class Error(Body):
    """Every error answer: ``{"error": {"code", "message", "request_id", ...}}``."""

    error: ErrorInfo


ERRORS: Mapping[int, str] = {
    400: "The request is not valid (query, path or body); `details` says where.",
    401: "A valid ld-api-key header is required.",
    403: "The caller's role does not grant the permission this route needs in that tenant.",
    404: "No such resource (or none the caller may see).",
    409: "The change conflicts with the current state (read it again), or is not possible now.",
    413: "The body is over 10 MB.",
    415: "The body is not application/json.",
    429: "Too many requests from this address or key (WAF); slow down.",
    500: "A fault on our side; logged without request data.",
    502: "The workflow behind the request failed; it has been logged.",
    503: "A dependency did not take the request (the change itself is stored); send it again.",
}


def responses(
    status: int = 200,
    *errors: int,
    body: Any = None,
    description: str = "Done.",
    extra: Mapping[int, OpenAPIResponse] | None = None,
) -> dict[int, OpenAPIResponse]:
    """The route's own answers: ``status`` with ``body`` (a model, or the return annotation when None; no
    content for 204) and the error codes its code can raise."""
    declared: dict[int, OpenAPIResponse] = {}
    if status == 204:
        declared[204] = {"description": description, "content": {}}
    elif body is not None:
        declared[status] = {"description": description, "content": {JSON: {"model": body}}}
    else:  # a JSON object the route's docs describe
        declared[status] = {"description": description, "content": {JSON: {"schema": {"type": "object"}}}}
    for code in errors:
        declared[code] = error_response(code)
    declared.update(extra or {})
    return declared


def error_response(code: int) -> OpenAPIResponse:
    return {"description": ERRORS[code], "content": {JSON: {"model": Error}}}


def accepted(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {JSON: {"model": Accepted}}}


def see_other() -> OpenAPIResponse:
    return {
        "description": "A large answer, stored: follow Location (a presigned URL, valid for a minute).",
        "headers": {"Location": {"description": "Where the answer is", "schema": {"type": "string"}}},
        "content": {JSON: {"model": Location}},
    }


# ---------------------------------------------------------------- bodies of the product page's calls
class AuditType(Body):
    """One event type's current version in the registry (the product page's ``type`` and ``name``, and more)."""

    type: str
    name: str
    resource: str
    action: str
    operation: Literal["create", "update", "delete", "other"]
    context: list[Literal["division", "environment", "deployment"]]
    version: int
    deprecated: bool
    previous_schema: dict[str, Any] | None
    current_schema: dict[str, Any] | None


class Page(Body):
    page: int
    results: int
    total: int
    next: str | None = None


class AuditPage(Page):
    """``GET /audit/tenants/{tenant_id}``: the product page's shape, plus ``id``, ``previous``, ``current``."""

    data: list[AuditRecordView]


class AuditActivityPage(Page):
    """``GET /audit/users/activity``: the same records, with their ``tenant`` and ``withheld``."""

    data: list[AuditRecordView]


class Accepted(Body):
    """A workflow still running: read ``location`` until it is done."""

    model_config = ConfigDict(extra="allow")
    status: str
    location: str


class AccountExport(Body):
    """``GET /account/export``: every personal datum of the caller (docs/api.md)."""

    model_config = ConfigDict(extra="allow")
    user_id: int
    export_id: str
    exported_at: str
    profile: dict[str, Any]
    identities: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    memberships: list[dict[str, Any]]
    invitations: list[dict[str, Any]]
    settings: dict[str, Any]


class Listing(Body):
    """A page of records of the access log or the security events."""

    model_config = ConfigDict(extra="allow")
    data: list[dict[str, Any]]
    page: int
    results: int
    total: int
    next: str | None = None


class Items(Body):
    """A short list (members, invitations, identities, sessions, keys)."""

    model_config = ConfigDict(extra="allow")
    data: list[dict[str, Any]]
    total: int


class OwnTenant(Body):
    id: int
    name: str
    plan: Literal["basic", "pro", "enterprise"]
    role: Literal["owner", "admin", "auditor", "member"]


class OwnTenants(Body):
    """The caller's tenants, by id."""

    data: list[OwnTenant]
    total: int


class TenantResourceView(Body):
    id: int
    name: str
    parent_id: int | None  # an environment's division, a deployment's environment (when it has one)


class ResourceTree(Body):
    """A tenant's divisions, environments and deployments, each by id (at most 1,000 of each)."""

    tenant_id: int
    divisions: list[TenantResourceView]
    environments: list[TenantResourceView]
    deployments: list[TenantResourceView]


class Bundle(Body):
    """An audit-log export bundle (``ld-audit-bundle/1``; docs/api.md)."""

    model_config = ConfigDict(extra="allow")
    format: str
    owner: str
    public_key: str
    key_fingerprint: str
    checkpoints: list[dict[str, Any]]
    blocks: dict[str, Any]
    records: list[dict[str, Any]]


class Location(Body):
    """Where a large answer is: follow it (``Location`` header) at once."""

    location: str


__all__ = [
    "Accepted",
    "AccountExport",
    "AuditActivityPage",
    "AuditPage",
    "AuditType",
    "Bundle",
    "Error",
    "Items",
    "Listing",
    "Location",
    "RefView",
    "accepted",
    "error_response",
    "responses",
    "see_other",
]
