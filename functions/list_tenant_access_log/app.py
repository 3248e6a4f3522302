"""GET /audit/tenants/{tenant_id}/access: who read sensitive data in the tenant ("who looked at user X?")."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from audit_service import container
from audit_service.api.contract import Listing, responses
from audit_service.api.http import authorize, create_app, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission
from audit_service.observability import instrumented
from audit_service.services.access_log import AccessFilters
from audit_service.services.pagination import MAX_RESULTS, PageRequest, TimeRange

get_settings()
access_log = container.access_log()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()

Id = Annotated[int | None, Query(ge=1)]


@app.get(
    "/audit/tenants/<tenant_id>/access",
    responses=responses(200, 403, body=Listing, description="Who read what, newest first."),
)
def list_tenant_access_log(
    tenant_id: Annotated[int, Path(ge=1)],
    page: Annotated[int, Query(ge=1)] = 1,
    results: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 10,
    actor_id: Id = None,
    subject_user_id: Id = None,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    time_from: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    time_to: Annotated[str | None, Query(alias="to", max_length=64)] = None,
) -> dict[str, Any]:
    only_query_parameters(app, {"page", "results", "actor_id", "subject_user_id", "from", "to", "cursor"})
    principal = authorize(app, Permission.AUDIT_READ, tenant_id=tenant_id)
    filters = AccessFilters(
        actor_id=actor_id,
        subject_user_id=subject_user_id,
        period=TimeRange.parse({"from": time_from, "to": time_to}),
    )
    result = access_log.tenant_page(tenant_id, PageRequest(page=page, results=results, cursor=cursor), filters)
    # Reading the access log is itself a sensitive read.
    access_log.record(
        actor_id=principal.user_id, action="access_log.read", tenant_id=tenant_id, request=request_metadata(app)
    )
    return result.body()


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
