"""POST /tenants/{tenant_id}/streams/{stream_id}/replay: deliver a period's records again (audited)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import authorize, create_app, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission
from audit_service.domain.streams import STREAM_ID_PATTERN, Replay
from audit_service.observability import instrumented

get_settings()
streams = container.log_streams()
container.envelope().load()  # its requests seal the audit record: the Encryption SDK loads at init
app = create_app()


@app.post(
    "/tenants/<tenant_id>/streams/<stream_id>/replay",
    responses=responses(202, 403, 404, 409, description="Queued: the records follow, marked replayed."),
)
def replay_log_stream(
    tenant_id: Annotated[int, Path(ge=1)], stream_id: Annotated[str, Path(pattern=STREAM_ID_PATTERN)], period: Replay
) -> Response[dict[str, Any]]:
    only_query_parameters(app, set())
    principal = authorize(app, Permission.AUDIT_STREAM, tenant_id=tenant_id)
    queued = streams.replay(tenant_id, stream_id, period, principal=principal, request=request_metadata(app))
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=queued)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
