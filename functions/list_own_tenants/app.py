"""GET /users/me/tenants: the tenants the caller belongs to, with their role in each (the Console's navigation)."""

from __future__ import annotations

from typing import Any

from audit_service import container
from audit_service.api.contract import OwnTenants, responses
from audit_service.api.http import create_app, current_principal, only_query_parameters
from audit_service.config import get_settings
from audit_service.observability import instrumented
from audit_service.services.account_reads import tenants_of

get_settings()
# The roles come from the authorizer and tenant names are not personal data: no Encryption SDK, no account service.
accounts = container.accounts_repository()
app = create_app()


@app.get("/users/me/tenants", responses=responses(200, body=OwnTenants, description="The caller's tenants and roles."))
def list_own_tenants() -> dict[str, Any]:
    only_query_parameters(app, set())
    data = tenants_of(accounts, current_principal(app).roles)
    return {"data": data, "total": len(data)}


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
