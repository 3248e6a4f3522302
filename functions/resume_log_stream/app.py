"""POST /tenants/{tenant_id}/streams/{stream_id}/resume: send again; what the pause held back follows (audited)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import authorize, create_app, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission
from audit_service.domain.streams import STREAM_ID_PATTERN
from audit_service.observability import instrumented

get_settings()
streams = container.log_streams()
container.envelope().load()  # its requests open and seal personal data: the Encryption SDK loads at init
app = create_app()


@app.post(
    "/tenants/<tenant_id>/streams/<stream_id>/resume",
    responses=responses(200, 403, 404, 409, description="The stream, with its health."),
)
def resume_log_stream(
    tenant_id: Annotated[int, Path(ge=1)], stream_id: Annotated[str, Path(pattern=STREAM_ID_PATTERN)]
) -> dict[str, Any]:
    only_query_parameters(app, set())
    principal = authorize(app, Permission.AUDIT_STREAM, tenant_id=tenant_id)
    return streams.resume(tenant_id, stream_id, principal=principal, request=request_metadata(app))


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
