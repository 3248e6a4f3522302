"""GET /users/me/settings: the caller's account settings."""

from __future__ import annotations

from typing import Any

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import create_app, current_principal, only_query_parameters
from audit_service.config import get_settings
from audit_service.observability import instrumented

get_settings()
account = container.my_account()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


@app.get("/users/me/settings", responses=responses(200, description="The caller's settings."))
def get_own_settings() -> dict[str, Any]:
    only_query_parameters(app, set())
    return account.settings(current_principal(app).user_id)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
