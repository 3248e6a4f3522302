"""GET /audit/users/activity: the caller's own actions across all tenants, newest first."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query

from audit_service import container
from audit_service.api.contract import AuditActivityPage, responses
from audit_service.api.http import create_app, current_principal, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.observability import instrumented, logger
from audit_service.services.audit_log import AuditFilters
from audit_service.services.pagination import MAX_RESULTS, PageRequest

get_settings()
audit_log = container.audit_log()
access_log = container.access_log()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


@app.get(
    "/audit/users/activity",
    responses=responses(200, body=AuditActivityPage, description="The caller's own actions, newest first."),
)
def list_user_activity(
    page: Annotated[int, Query(ge=1)] = 1,
    results: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 10,
    type: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    time_from: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    time_to: Annotated[str | None, Query(alias="to", max_length=64)] = None,
) -> dict[str, Any]:
    only_query_parameters(app, {"page", "results", "type", "from", "to", "cursor"})
    # Everyone may read their own actions: no tenant permission is involved.
    principal = current_principal(app)
    logger.append_keys(user_id=principal.user_id)
    filters = AuditFilters.parse(type=type, time_from=time_from, time_to=time_to)
    result = audit_log.user_activity(
        principal.user_id,
        PageRequest(page=page, results=results, cursor=cursor),
        filters,
        member_of=set(principal.roles),
    )
    access_log.record(
        actor_id=principal.user_id,
        action="user_activity.read",
        subject_user_id=principal.user_id,
        request=request_metadata(app),
    )
    return result.body()


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
