"""PATCH /tenants/{tenant_id}/members/{user_id}: change a member's role (audited, with the previous role)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, ConfigDict

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import authorize, create_app, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission, Role
from audit_service.observability import instrumented

get_settings()
members = container.members()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role


@app.patch(
    "/tenants/<tenant_id>/members/<user_id>",
    responses=responses(200, 403, 404, 409, description="The member, with the new role."),
)
def change_member_role(
    tenant_id: Annotated[int, Path(ge=1)], user_id: Annotated[int, Path(ge=1)], change: RoleChange
) -> dict[str, Any]:
    only_query_parameters(app, set())
    principal = authorize(app, Permission.MEMBERS_MANAGE, tenant_id=tenant_id)
    # Making or unmaking an owner is the owners' call: the service checks tenant:manage on the same read
    # whose version guards the write.
    return members.change_role(tenant_id, user_id, change.role, principal=principal, request=request_metadata(app))


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
