"""DELETE /tenants/{tenant_id}/invitations/{invitation_id}: revoke a pending invitation (audited)."""

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
invitations = container.invitations()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


@app.delete(
    "/tenants/<tenant_id>/invitations/<invitation_id>", responses=responses(204, 403, 404, 409, description="Revoked.")
)
def revoke_invitation(
    tenant_id: Annotated[int, Path(ge=1)], invitation_id: Annotated[str, Path(pattern=r"^[0-9a-f]{24}$")]
) -> Response[str]:
    only_query_parameters(app, set())
    principal = authorize(app, Permission.INVITATIONS_MANAGE, tenant_id=tenant_id)
    invitations.revoke(tenant_id, invitation_id, actor_id=principal.user_id, request=request_metadata(app))
    return Response(status_code=HTTPStatus.NO_CONTENT, body="")


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
