"""GET /tenants/{tenant_id}/streams/{stream_id}: one log stream and its delivery health."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import authorize, create_app, only_query_parameters
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission
from audit_service.domain.streams import STREAM_ID_PATTERN
from audit_service.observability import instrumented

get_settings()
streams = container.log_streams()
container.envelope().load()  # its requests open the stream's destination: the Encryption SDK loads at init
app = create_app()


@app.get(
    "/tenants/<tenant_id>/streams/<stream_id>",
    responses=responses(200, 403, 404, description="The stream, with its health."),
)
def get_log_stream(
    tenant_id: Annotated[int, Path(ge=1)], stream_id: Annotated[str, Path(pattern=STREAM_ID_PATTERN)]
) -> dict[str, Any]:
    only_query_parameters(app, set())
    authorize(app, Permission.AUDIT_STREAM, tenant_id=tenant_id)
    return streams.get(tenant_id, stream_id)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
