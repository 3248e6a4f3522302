"""POST /tenants/{tenant_id}/invitations: invite an email to a role (audited)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictInt

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


class NewInvitation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    role: Role
    expires_in_days: StrictInt = Field(default=7, ge=1, le=30)


@app.post(
    "/tenants/<tenant_id>/invitations",
    responses=responses(201, 403, 409, 503, description="The invitation; its message went to the mailer."),
)
def create_invitation(tenant_id: Annotated[int, Path(ge=1)], invitation: NewInvitation) -> Response[dict[str, Any]]:
    only_query_parameters(app, set())
    principal = authorize(app, Permission.INVITATIONS_MANAGE, tenant_id=tenant_id)
    if invitation.role is Role.OWNER:
        authorize(app, Permission.TENANT_MANAGE, tenant_id=tenant_id)
    created = invitations.create(
        tenant_id,
        email=str(invitation.email).lower(),
        role=invitation.role,
        days=invitation.expires_in_days,
        actor_id=principal.user_id,
        request=request_metadata(app),
    )
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=created)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
