"""POST /tenants/{tenant_id}/invitations/{invitation_id}/resend: send the invitation's message again.

A new secret replaces the old one (which stops working), so a lost or
intercepted message can be superseded. Audited as ``invitation_resent``.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import authorize, create_app, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission, Role
from audit_service.observability import instrumented

get_settings()
invitations = container.invitations()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


@app.post(
    "/tenants/<tenant_id>/invitations/<invitation_id>/resend",
    responses=responses(200, 403, 404, 409, 503, description="The invitation; its message went again."),
)
def resend_invitation(
    tenant_id: Annotated[int, Path(ge=1)], invitation_id: Annotated[str, Path(pattern=r"^[0-9a-f]{24}$")]
) -> dict[str, Any]:
    only_query_parameters(app, set())
    principal = authorize(app, Permission.INVITATIONS_MANAGE, tenant_id=tenant_id)
    if invitations.get(tenant_id, invitation_id)["role"] == Role.OWNER.value:
        authorize(app, Permission.TENANT_MANAGE, tenant_id=tenant_id)
    return invitations.resend(tenant_id, invitation_id, actor_id=principal.user_id, request=request_metadata(app))


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
