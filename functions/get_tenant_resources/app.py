"""GET /tenants/{tenant_id}/resources: the tenant's divisions, environments and deployments (the Console's tree)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path

from audit_service import container
from audit_service.api.contract import ResourceTree, responses
from audit_service.api.http import authorize, create_app, only_query_parameters
from audit_service.config import get_settings
from audit_service.domain.permissions import Permission
from audit_service.observability import instrumented
from audit_service.services.account_reads import resource_tree

get_settings()
# Resource names are not personal data: the route reads the tenants table alone.
accounts = container.accounts_repository()
app = create_app()


@app.get(
    "/tenants/<tenant_id>/resources",
    responses=responses(200, 403, body=ResourceTree, description="Divisions, environments and deployments."),
)
def get_tenant_resources(tenant_id: Annotated[int, Path(ge=1)]) -> dict[str, Any]:
    only_query_parameters(app, set())
    authorize(app, Permission.TENANT_READ, tenant_id=tenant_id)
    return resource_tree(accounts, tenant_id)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
