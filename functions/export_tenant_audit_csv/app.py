"""GET /audit/tenants/{tenant_id}/export.csv: the filtered audit log as CSV, every page (an access-logged export)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from audit_service import container
from audit_service.api.contract import responses, see_other
from audit_service.api.http import authorize, create_app, delivered, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission
from audit_service.observability import instrumented
from audit_service.services.audit_log import AuditFilters
from audit_service.services.csv_export import to_csv
from audit_service.services.integrity import MAX_PERIOD_RECORDS

get_settings()
audit_log = container.audit_log()
access_log = container.access_log()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()

Id = Annotated[int | None, Query(ge=1)]
FILTERS = {"type", "author_id", "division_id", "environment_id", "deployment_id", "from", "to"}


@app.get(
    "/audit/tenants/<tenant_id>/export.csv",
    responses=responses(
        200,
        403,
        description="Every record the filters select, newest first, as CSV.",
        extra={
            200: {
                "description": "Every record the filters select, newest first, as CSV (RFC 4180, UTF-8).",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            },
            303: see_other(),
        },
    ),
)
def export_tenant_audit_csv(
    tenant_id: Annotated[int, Path(ge=1)],
    type: Annotated[str | None, Query(max_length=64)] = None,
    author_id: Id = None,
    division_id: Id = None,
    environment_id: Id = None,
    deployment_id: Id = None,
    time_from: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    time_to: Annotated[str | None, Query(alias="to", max_length=64)] = None,
) -> Response[str]:
    """The listing's filters, every page at once (at most 100,000 records: 400 ``period_too_large`` beyond).
    Personal fields are exactly as the JSON listing shows them to this reader. Over 5 MB: 303 to a presigned
    URL valid for a minute, as the bundle export does."""
    only_query_parameters(app, FILTERS)
    principal = authorize(app, Permission.AUDIT_READ, tenant_id=tenant_id)
    filters = AuditFilters.parse(
        type=type,
        author_id=author_id,
        division_id=division_id,
        environment_id=environment_id,
        deployment_id=deployment_id,
        time_from=time_from,
        time_to=time_to,
    )
    body = to_csv(audit_log.tenant_records(tenant_id, filters, most=MAX_PERIOD_RECORDS))
    answer = container.bundle_delivery().deliver_bytes(
        tenant_id, body, reader_id=principal.user_id, content_type="text/csv", suffix="csv"
    )
    access_log.record(
        actor_id=principal.user_id,
        action="audit_log.csv_export",
        tenant_id=tenant_id,
        request=request_metadata(app),
        object_id=answer.export_id,
    )
    attachment = {"Content-Disposition": f'attachment; filename="audit-tenant-{tenant_id}.csv"'}
    return delivered(answer.location, answer.body, "text/csv; charset=utf-8", attachment)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
