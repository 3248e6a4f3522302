"""POST /users/me/identities/{identity_id}/confirm: link a provider account with the secret that proves it.

The platform's identity service hands the secret out (from the ``Identity Link
Requested`` message) once the provider confirmed that the account is the
caller's. Works once, for 30 minutes; a wrong or expired secret is a 400
``invalid_secret``; a 409 means the proven account is already linked to
another account.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
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
    "/users/me/identities/<identity_id>/confirm", responses=responses(201, 404, 409, description="The linked identity.")
)
def confirm_identity_link(
    identity_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")], confirmation: Confirmation
) -> Response[dict[str, Any]]:
    only_query_parameters(app, set())
    principal = current_principal(app)
    linked = account.confirm_identity_link(principal.user_id, identity_id, confirmation.secret, request_metadata(app))
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=linked)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
