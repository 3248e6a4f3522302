"""PATCH /users/me: change the caller's name (at once) or email (once confirmed), audited.

A new email is not taken on the caller's word: it is stored as a pending
change, and a secret goes to the new address through the platform's mailer.
``POST /users/me/email/confirm`` with that secret makes it the account's
email. Until then the old email stays in force everywhere (invitations,
export, the blind index), and the answer is the same whether or not the new
address belongs to another account.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import create_app, current_principal, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.observability import instrumented

get_settings()
account = container.my_account()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


class ProfileChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None

    @model_validator(mode="after")
    def _something(self) -> ProfileChange:
        if self.name is None and self.email is None:
            raise ValueError("give a name, an email or both")
        return self


@app.patch(
    "/users/me",
    responses=responses(200, 404, 409, 503, description="The profile; a new email waits for its confirmation."),
)
def update_own_profile(change: ProfileChange) -> dict[str, Any]:
    only_query_parameters(app, set())
    principal = current_principal(app)
    return account.update_profile(
        principal.user_id,
        name=change.name,
        email=str(change.email).lower() if change.email else None,
        request=request_metadata(app),
    )


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
