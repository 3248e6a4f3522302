"""API Gateway REQUEST authorizer: the ``ld-api-key`` header -> the caller.

Allowed requests carry ``user_id``, ``key_id`` and ``roles`` (a JSON object of
tenant id -> role) in ``requestContext.authorizer``. Any failure reports an
``authentication_failed`` signal to the security-events queue and answers
``Unauthorized``, which API Gateway turns into the 401 JSON gateway response
from the template. The authorizer cannot write to the audit log: the recorder
stores failures aggregated (services/security.py).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)

from audit_service import container
from audit_service.domain.models import RequestMetadata
from audit_service.observability import instrumented, logger, metrics
from audit_service.services.auth import AuthenticationFailed

API_KEY_HEADER = "ld-api-key"

# Cold start: settings validated and the DynamoDB client created once, in the init phase.
authenticator = container.authenticator()


class Unauthorized(Exception):
    def __init__(self) -> None:
        super().__init__("Unauthorized")


def _metadata(event: APIGatewayAuthorizerRequestEvent) -> RequestMetadata:
    context = event.request_context
    return RequestMetadata(
        request_id=context.request_id,
        source_ip=context.identity.source_ip,
        user_agent=context.identity.user_agent,
        method=event.http_method,
        path=event.path,
    )


def _handle(raw_event: dict[str, Any], _context: Any) -> dict[str, Any] | None:
    """The policy for an authenticated caller, or None after recording a failure."""
    event = APIGatewayAuthorizerRequestEvent(raw_event)
    headers = {name.lower(): value for name, value in (event.headers or {}).items()}
    try:
        principal = authenticator.authenticate(headers.get(API_KEY_HEADER))
    except AuthenticationFailed as failure:
        container.security_signals().authentication_failed(failure.reason, _metadata(event))
        logger.info("authentication failed", extra={"reason": failure.reason.value})
        metrics.add_metric(name="AuthenticationFailed", unit="Count", value=1)
        return None
    except Exception:
        # Lambda's Errors metric counts every refused key too; this one only the authorizer's own faults.
        metrics.add_metric(name="AuthorizerFaults", unit="Count", value=1)
        raise

    logger.append_keys(user_id=principal.user_id)
    arn = event.parsed_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=str(principal.user_id),
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context={
            "user_id": str(principal.user_id),
            "key_id": principal.key_id,
            "roles": json.dumps({str(tenant): role.value for tenant, role in principal.roles.items()}),
        },
    )
    policy.allow_all_routes()
    return policy.asdict()


_instrumented = instrumented(_handle, correlation_id_path=correlation_paths.API_GATEWAY_REST)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    policy: dict[str, Any] | None = _instrumented(event, context)
    if policy is None:
        # Raised outside the instrumentation: a refusal is the normal outcome,
        # not an error to trace with a stack.
        raise Unauthorized()
    return policy
