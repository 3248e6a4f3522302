"""POST /tenants/{tenant_id}/invitations/{invitation_id}/accept: the invitee joins the tenant.

No tenant permission: the caller is not a member yet. The invitation must be
addressed to the caller's email (compared by blind-index hash), pending and
unexpired; anyone else gets the answer a missing invitation gets.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path

from audit_service import container
from audit_service.api.http import create_app, current_principal, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.observability import instrumented, logger

get_settings()
invitations = container.invitations()
app = create_app()


@app.post("/tenants/<tenant_id>/invitations/<invitation_id>/accept")
def accept_invitation(
    tenant_id: Annotated[int, Path(ge=1)], invitation_id: Annotated[str, Path(pattern=r"^[0-9a-f]{24}$")]
) -> dict[str, Any]:
    only_query_parameters(app, set())
    principal = current_principal(app)
    logger.append_keys(user_id=principal.user_id, tenant_id=tenant_id)
    return invitations.accept(tenant_id, invitation_id, user_id=principal.user_id, request=request_metadata(app))


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
