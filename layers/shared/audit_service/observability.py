"""One Logger and Metrics per container, and the one order to apply them.

Powertools' Tracer is deliberately not used: importing ``aws_xray_sdk`` costs
about 100 ms of every cold start on its own (``make bench``, -X importtime),
which alone breaks the 1.25x cold-start budget. X-Ray still records every
request through API Gateway and Lambda active tracing (``Tracing: Active``),
just without SDK subsegments per AWS call.

Log lines carry the request id (correlation id) and, once known, the caller's
user id and tenant. Personal data (names, emails, IPs, User-Agents, API keys)
is never logged: the event itself is not logged, and the helpers below only
append ids.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths

SERVICE = "audit-compliance"
NAMESPACE = "AuditCompliance"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

Handler = Callable[[dict[str, Any], Any], Any]


def instrumented(handler: Handler, *, correlation_id_path: str = correlation_paths.API_GATEWAY_REST) -> Handler:
    """Apply logger and metrics in the fixed order every function uses."""
    with_metrics = metrics.log_metrics(handler)
    return logger.inject_lambda_context(
        with_metrics, correlation_id_path=correlation_id_path, log_event=False, clear_state=True
    )
