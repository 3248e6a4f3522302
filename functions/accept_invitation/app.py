"""POST /tenants/{tenant_id}/invitations/{invitation_id}/accept: the invitee joins the tenant.

No tenant permission: the caller is not a member yet. The body carries the
secret from the invitation's message (``{"secret": "..."}``); the invitation
must also be addressed to the caller's confirmed email (compared by blind-index
hash), pending and unexpired. Anyone else, and anyone without the secret, gets
the answer a missing invitation gets.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, ConfigDict, Field

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import create_app, current_principal, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.observability import instrumented, logger

get_settings()
invitations = container.invitations()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


class Acceptance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: str = Field(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")


@app.post(
    "/tenants/<tenant_id>/invitations/<invitation_id>/accept",
    responses=responses(200, 404, 409, description="Joined the tenant with the invited role."),
)
def accept_invitation(
    tenant_id: Annotated[int, Path(ge=1)],
    invitation_id: Annotated[str, Path(pattern=r"^[0-9a-f]{24}$")],
    acceptance: Acceptance,
) -> dict[str, Any]:
    only_query_parameters(app, set())
    principal = current_principal(app)
    logger.append_keys(user_id=principal.user_id, tenant_id=tenant_id)
    return invitations.accept(
        tenant_id,
        invitation_id,
        secret=acceptance.secret,
        user_id=principal.user_id,
        request=request_metadata(app),
    )


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
