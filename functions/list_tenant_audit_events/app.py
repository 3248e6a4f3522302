"""GET /audit/tenants/{tenant_id}: a tenant's audit log, newest first, filtered and paginated."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from audit_service import container
from audit_service.api.contract import AuditPage, responses
from audit_service.api.http import authorize, create_app, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission
from audit_service.observability import instrumented
from audit_service.services.audit_log import AuditFilters
from audit_service.services.pagination import MAX_RESULTS, PageRequest

get_settings()
audit_log = container.audit_log()
access_log = container.access_log()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()

Id = Annotated[int | None, Query(ge=1)]


@app.get(
    "/audit/tenants/<tenant_id>",
    responses=responses(200, 403, body=AuditPage, description="The tenant's audit log, newest first."),
)
def list_tenant_audit_events(
    tenant_id: Annotated[int, Path(ge=1)],
    page: Annotated[int, Query(ge=1)] = 1,
    results: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 10,
    type: Annotated[str | None, Query(max_length=64)] = None,
    author_id: Id = None,
    division_id: Id = None,
    environment_id: Id = None,
    deployment_id: Id = None,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    time_from: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    time_to: Annotated[str | None, Query(alias="to", max_length=64)] = None,
) -> dict[str, Any]:
    only_query_parameters(
        app,
        {
            "page",
            "results",
            "type",
            "author_id",
            "division_id",
            "environment_id",
            "deployment_id",
            "from",
            "to",
            "cursor",
        },
    )
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
    result = audit_log.tenant_page(tenant_id, PageRequest(page=page, results=results, cursor=cursor), filters)
    access_log.record(
        actor_id=principal.user_id, action="audit_log.read", tenant_id=tenant_id, request=request_metadata(app)
    )
    return result.body()


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
