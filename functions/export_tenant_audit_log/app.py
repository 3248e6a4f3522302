"""GET /audit/tenants/{tenant_id}/export: the tenant's sealed records of a period, verifiable offline."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from audit_service import container
from audit_service.api.contract import Bundle, responses, see_other
from audit_service.api.http import authorize, create_app, delivered, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission
from audit_service.observability import instrumented
from audit_service.services.pagination import TimeRange

get_settings()
integrity = container.integrity()
delivery = container.bundle_delivery()
access_log = container.access_log()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


@app.get(
    "/audit/tenants/<tenant_id>/export",
    responses=responses(200, 403, body=Bundle, description="The bundle, to verify offline.", extra={303: see_other()}),
)
def export_tenant_audit_log(
    tenant_id: Annotated[int, Path(ge=1)],
    time_from: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    time_to: Annotated[str | None, Query(alias="to", max_length=64)] = None,
) -> Response[str]:
    """A bundle of records, checkpoints, blocks and the public key (``ld-audit-admin bundle verify``).

    Records are in their stored form: personal data stays encrypted. A bundle
    over 5 MB is answered with 303 See Other to a presigned S3 URL of the same
    JSON, valid for a minute, issued only to this reader; the access-log record
    names the export (``object_id``).
    """
    only_query_parameters(app, {"from", "to"})
    principal = authorize(app, Permission.AUDIT_READ, tenant_id=tenant_id)
    period = TimeRange.parse({"from": time_from, "to": time_to})
    answer = delivery.deliver(tenant_id, integrity.export(tenant_id, period), reader_id=principal.user_id)
    access_log.record(
        actor_id=principal.user_id,
        action="audit_log.export",
        tenant_id=tenant_id,
        request=request_metadata(app),
        object_id=answer.export_id,
    )
    return delivered(answer.location, answer.body, content_types.APPLICATION_JSON)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
