"""POST /tenants/{tenant_id}/streams: deliver the tenant's records to its own endpoint (audited)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import authorize, create_app, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission
from audit_service.domain.streams import NewStream
from audit_service.observability import instrumented

get_settings()
streams = container.log_streams()
container.envelope().load()  # its requests seal the destination: the Encryption SDK loads at init
app = create_app()


@app.post(
    "/tenants/<tenant_id>/streams",
    responses=responses(201, 403, 409, description="The stream, with its health; the secret is never returned."),
)
def create_log_stream(tenant_id: Annotated[int, Path(ge=1)], stream: NewStream) -> Response[dict[str, Any]]:
    only_query_parameters(app, set())
    principal = authorize(app, Permission.AUDIT_STREAM, tenant_id=tenant_id)
    created = streams.create(tenant_id, stream, principal=principal, request=request_metadata(app))
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=created)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
