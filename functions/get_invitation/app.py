"""GET /tenants/{tenant_id}/invitations/{invitation_id}: one invitation (an access-logged read)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import authorize, create_app, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission
from audit_service.observability import instrumented

get_settings()
invitations = container.invitations()
access_log = container.access_log()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()

InvitationId = Annotated[str, Path(pattern=r"^[0-9a-f]{24}$")]


@app.get(
    "/tenants/<tenant_id>/invitations/<invitation_id>",
    responses=responses(200, 403, 404, description="The invitation."),
)
def get_invitation(tenant_id: Annotated[int, Path(ge=1)], invitation_id: InvitationId) -> dict[str, Any]:
    only_query_parameters(app, set())
    principal = authorize(app, Permission.INVITATIONS_READ, tenant_id=tenant_id)
    invitation = invitations.get(tenant_id, invitation_id)
    access_log.record(
        actor_id=principal.user_id, action="invitation.read", tenant_id=tenant_id, request=request_metadata(app)
    )
    return invitation


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
