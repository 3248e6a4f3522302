"""GET /users/me/api-keys: the caller's API keys (never their secrets)."""

from __future__ import annotations

from typing import Any

from audit_service import container
from audit_service.api.contract import Items, responses
from audit_service.api.http import create_app, current_principal, only_query_parameters
from audit_service.config import get_settings
from audit_service.observability import instrumented
from audit_service.services.account_reads import api_keys_of

get_settings()
# Keys carry no personal data: the route needs no Encryption SDK, only the keys table.
accounts = container.accounts_repository()
app = create_app()


@app.get(
    "/users/me/api-keys", responses=responses(200, body=Items, description="The caller's keys, never their secrets.")
)
def list_own_api_keys() -> dict[str, Any]:
    only_query_parameters(app, set())
    data = api_keys_of(accounts, current_principal(app).user_id)
    return {"data": data, "total": len(data)}


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
