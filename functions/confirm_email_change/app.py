"""POST /users/me/email/confirm: the secret sent to a requested new email makes it the account's email.

Works once, for an hour; a wrong or expired secret is a 400 ``invalid_secret``.
Only the owner of the new mailbox can get here, so a 409 for an address that
another account already uses tells nobody anything they could not know.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import create_app, current_principal, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.observability import instrumented

get_settings()
account = container.my_account()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


class Confirmation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: str = Field(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")


@app.post(
    "/users/me/email/confirm", responses=responses(200, 404, 409, description="The profile, with the confirmed email.")
)
def confirm_email_change(confirmation: Confirmation) -> dict[str, Any]:
    only_query_parameters(app, set())
    principal = current_principal(app)
    return account.confirm_email_change(principal.user_id, confirmation.secret, request_metadata(app))


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
