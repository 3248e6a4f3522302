"""DELETE /tenants/{tenant_id}/members/{user_id}: remove a member (audited; never the last owner)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import authorize, create_app, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission
from audit_service.observability import instrumented

get_settings()
members = container.members()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


@app.delete("/tenants/<tenant_id>/members/<user_id>", responses=responses(204, 403, 404, 409, description="Removed."))
def remove_member(tenant_id: Annotated[int, Path(ge=1)], user_id: Annotated[int, Path(ge=1)]) -> Response[str]:
    only_query_parameters(app, set())
    principal = authorize(app, Permission.MEMBERS_MANAGE, tenant_id=tenant_id)
    # An owner may be removed only by someone with tenant:manage; the service decides that on the same read
    # whose version guards the delete.
    members.remove(tenant_id, user_id, principal=principal, request=request_metadata(app))
    return Response(status_code=HTTPStatus.NO_CONTENT, body="")


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
