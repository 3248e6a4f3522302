"""The resolver every route function uses, and the one place errors become HTTP.

Every error answer has the same JSON shape::

    {"error": {"code": "forbidden", "message": "...", "request_id": "..."}}

No stack trace or exception text from outside the domain ever reaches a caller.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from audit_service import container
from audit_service.domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from audit_service.domain.models import Principal, RequestMetadata
from audit_service.domain.permissions import Permission, Role
from audit_service.observability import logger, metrics
from audit_service.services.auth import PermissionDenied, require, require_anywhere

_STATUS: dict[type[DomainError], HTTPStatus] = {
    InvalidInput: HTTPStatus.BAD_REQUEST,
    Unauthenticated: HTTPStatus.UNAUTHORIZED,
    Forbidden: HTTPStatus.FORBIDDEN,
    NotFound: HTTPStatus.NOT_FOUND,
    Conflict: HTTPStatus.CONFLICT,
    Unavailable: HTTPStatus.SERVICE_UNAVAILABLE,
}

FORBIDDEN_MESSAGE = "You do not have the permission this request needs."


def error_response(status: HTTPStatus, code: str, message: str, request_id: str | None, **extra: Any) -> Response[str]:
    body: dict[str, Any] = {"code": code, "message": message, "request_id": request_id, **extra}
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps({"error": body}))


def request_metadata(app: APIGatewayRestResolver) -> RequestMetadata:
    context = app.current_event.request_context
    return RequestMetadata(
        request_id=context.request_id,
        source_ip=context.identity.source_ip,
        user_agent=context.identity.user_agent,
        method=app.current_event.http_method,
        path=app.current_event.path,
    )


def current_principal(app: APIGatewayRestResolver) -> Principal:
    """The caller, as the authorizer described it in the request context."""
    authorizer = app.current_event.request_context.authorizer
    try:
        roles = json.loads(authorizer.get("roles") or "{}")
        return Principal(
            user_id=int(authorizer["user_id"]),
            key_id=str(authorizer["key_id"]),
            roles={int(tenant): Role(role) for tenant, role in roles.items()},
        )
    except (KeyError, TypeError, ValueError) as error:
        raise Unauthenticated("The request carries no authenticated caller.") from error


def authorize(app: APIGatewayRestResolver, permission: Permission, *, tenant_id: int | None = None) -> Principal:
    """The caller, if their role grants ``permission`` (in ``tenant_id``, or in any tenant)."""
    principal = current_principal(app)
    logger.append_keys(user_id=principal.user_id, tenant_id=tenant_id)
    if tenant_id is None:
        require_anywhere(principal, permission)
    else:
        require(principal, permission, tenant_id=tenant_id)
    return principal


def delivered(
    location: str | None, body: bytes | None, content_type: str, headers: Mapping[str, str] | None = None
) -> Response[str]:
    """A document answered inline (200), or stored and linked (303 See Other to ``location``, a presigned URL:
    ``services.integrity.BundleDelivery``)."""
    if location is not None:
        return Response(303, content_types.APPLICATION_JSON, json.dumps({"location": location}), {"Location": location})
    return Response(200, content_type, (body or b"").decode(), dict(headers or {}))


def only_query_parameters(app: APIGatewayRestResolver, allowed: set[str]) -> None:
    """Refuse query parameters a route does not know, rather than silently ignoring a typo."""
    unknown = sorted(set(app.current_event.query_string_parameters or {}) - allowed)
    if unknown:
        raise InvalidInput(f"unknown query parameter(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


class JsonApi(APIGatewayRestResolver):
    """The resolver, taking JSON bodies only: any other content type is a 415 before the body is parsed
    (Powertools would parse form data, and fail on a multipart body without a boundary)."""

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if event.get("body") and media_type and media_type != content_types.APPLICATION_JSON:
            request = (event.get("requestContext") or {}).get("requestId")
            body = {
                "code": "unsupported_media_type",
                "message": "Send the body as application/json.",
                "request_id": request,
            }
            return {
                "statusCode": HTTPStatus.UNSUPPORTED_MEDIA_TYPE.value,
                "headers": {"Content-Type": content_types.APPLICATION_JSON},
                "body": json.dumps({"error": body}),
                "isBase64Encoded": False,
            }
        return super().resolve(event, context)


def create_app() -> APIGatewayRestResolver:
    app = JsonApi(enable_validation=True)

    def request_id() -> str | None:
        return app.current_event.request_context.request_id

    @app.exception_handler(PermissionDenied)
    def _permission_denied(error: PermissionDenied) -> Response[str]:
        principal = current_principal(app)
        container.security_signals().permission_denied(
            actor_id=principal.user_id,
            tenant_id=error.tenant_id,
            permission=error.permission,
            member=error.tenant_id is not None and principal.role_in(error.tenant_id) is not None,
            request=request_metadata(app),
        )
        logger.info("permission denied", extra={"permission": error.permission.value})
        metrics.add_metric(name="PermissionDenied", unit="Count", value=1)
        return error_response(
            HTTPStatus.FORBIDDEN, "forbidden", FORBIDDEN_MESSAGE, request_id(), permission=error.permission.value
        )

    @app.exception_handler(DomainError)
    def _domain_error(error: DomainError) -> Response[str]:
        status = next((s for kind, s in _STATUS.items() if isinstance(error, kind)), HTTPStatus.BAD_REQUEST)
        return error_response(status, error.code, error.message, request_id())

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response[str]:
        details = [
            {"location": ".".join(str(part) for part in issue.get("loc", ())), "problem": issue.get("msg", "")}
            for issue in error.errors()
        ]
        return error_response(
            HTTPStatus.BAD_REQUEST, "invalid_request", "The request is not valid.", request_id(), details=details
        )

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported_media_type(_: RequestUnsupportedContentType) -> Response[str]:
        return error_response(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as application/json.",
            request_id(),
        )

    @app.exception_handler([RecursionError, UnicodeDecodeError, json.JSONDecodeError])
    def _unreadable_body(error: Exception) -> Response[str]:
        # Raised while the body is read, before any route code runs: nothing was written.
        problem = "nested too deeply" if isinstance(error, RecursionError) else "not JSON in UTF-8"
        return error_response(
            HTTPStatus.BAD_REQUEST,
            "invalid_request",
            "The request is not valid.",
            request_id(),
            details=[{"location": "body", "problem": f"the body is {problem}"}],
        )

    @app.not_found
    def _not_found(_: Exception) -> Response[str]:
        # API Gateway only calls a function for its own resource: if the resolver finds no route, the path
        # parameters do not have the form the route needs (an id that is not a number, say).
        return error_response(
            HTTPStatus.BAD_REQUEST,
            "invalid_request",
            "The request is not valid.",
            request_id(),
            details=[{"location": "path", "problem": "a path parameter does not have the form this route needs"}],
        )

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[str]:
        # Logged by type and stack frames only: exception text can carry request values.
        frames = [
            f"{frame.filename}:{frame.lineno} {frame.name}" for frame in traceback.extract_tb(error.__traceback__)
        ]
        logger.error("unhandled error", extra={"error_type": type(error).__name__, "frames": frames[-8:]})
        return error_response(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side; it has been logged.",
            request_id(),
        )

    return app
