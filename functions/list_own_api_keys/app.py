"""GET /users/me/api-keys: the caller's API keys (never their secrets)."""

from __future__ import annotations

from typing import Any

from audit_service import container
from audit_service.api.http import create_app, current_principal, only_query_parameters
from audit_service.config import get_settings
from audit_service.observability import instrumented

get_settings()
account = container.my_account()
app = create_app()


@app.get("/users/me/api-keys")
def list_own_api_keys() -> dict[str, Any]:
    only_query_parameters(app, set())
    data = account.api_keys(current_principal(app).user_id)
    return {"data": data, "total": len(data)}


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
