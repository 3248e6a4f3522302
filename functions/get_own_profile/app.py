"""GET /users/me: the caller's profile (an access-logged read of personal data)."""

from __future__ import annotations

from typing import Any

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import create_app, current_principal, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.observability import instrumented

get_settings()
account = container.my_account()
access_log = container.access_log()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


@app.get("/users/me", responses=responses(200, 404, description="The caller's profile."))
def get_own_profile() -> dict[str, Any]:
    only_query_parameters(app, set())
    principal = current_principal(app)
    profile = account.profile(principal.user_id)
    access_log.record(
        actor_id=principal.user_id,
        action="profile.read",
        subject_user_id=principal.user_id,
        request=request_metadata(app),
    )
    return profile


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
