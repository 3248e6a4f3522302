"""One Logger, Tracer and Metrics per container, and the one order to apply them.

Log lines carry the request id (correlation id) and, once known, the caller's
user id and tenant. Personal data (names, emails, IPs, User-Agents, API keys)
is never logged: the event itself is not logged, and the helpers below only
append ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths

SERVICE = "audit-compliance"
NAMESPACE = "AuditCompliance"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

Handler = Callable[[dict[str, Any], Any], Any]


def instrumented(handler: Handler, *, correlation_id_path: str = correlation_paths.API_GATEWAY_REST) -> Handler:
    """Apply logger, tracer and metrics in the fixed order every function uses."""
    traced = tracer.capture_lambda_handler(handler, capture_response=False)
    with_metrics = metrics.log_metrics(traced)
    return logger.inject_lambda_context(
        with_metrics, correlation_id_path=correlation_id_path, log_event=False, clear_state=True
    )
