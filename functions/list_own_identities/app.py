"""GET /users/me/identities: the identity-provider accounts linked to the caller."""

from __future__ import annotations

from typing import Any

from audit_service import container
from audit_service.api.contract import Items, responses
from audit_service.api.http import create_app, current_principal, only_query_parameters
from audit_service.config import get_settings
from audit_service.observability import instrumented

get_settings()
account = container.my_account()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


@app.get("/users/me/identities", responses=responses(200, body=Items, description="The caller's linked identities."))
def list_own_identities() -> dict[str, Any]:
    only_query_parameters(app, set())
    data = account.identities(current_principal(app).user_id)
    return {"data": data, "total": len(data)}


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
