"""GET /tenants/{tenant_id}/invitations: the tenant's invitations, newest first (an access-logged read)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from audit_service import container
from audit_service.api.contract import Listing, responses
from audit_service.api.http import authorize, create_app, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission
from audit_service.observability import instrumented
from audit_service.services.pagination import MAX_RESULTS, PageRequest

get_settings()
invitations = container.invitations()
access_log = container.access_log()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


@app.get(
    "/tenants/<tenant_id>/invitations",
    responses=responses(200, 403, body=Listing, description="The tenant's invitations, newest first."),
)
def list_invitations(
    tenant_id: Annotated[int, Path(ge=1)],
    page: Annotated[int, Query(ge=1)] = 1,
    results: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 10,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    only_query_parameters(app, {"page", "results", "cursor"})
    principal = authorize(app, Permission.INVITATIONS_READ, tenant_id=tenant_id)
    result = invitations.list_invitations(tenant_id, PageRequest(page=page, results=results, cursor=cursor))
    access_log.record(
        actor_id=principal.user_id, action="invitations.read", tenant_id=tenant_id, request=request_metadata(app)
    )
    return result.body()


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
