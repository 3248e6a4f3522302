"""POST /users/me/identities: ask to link an identity-provider account (audited; one user per account).

Answers 202 with the pending link. The platform's identity service gets an
``Identity Link Requested`` message; once the provider has confirmed that the
account is the caller's, it hands out the secret that
``POST /users/me/identities/{id}/confirm`` takes. The answer here is the same
whether or not the provider account is linked to someone else.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
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


class NewIdentity(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,31}$")
    external_id: str = Field(min_length=1, max_length=256)


@app.post(
    "/users/me/identities",
    responses=responses(202, 404, 409, 503, description="The link waits for the identity service's secret."),
)
def link_identity(identity: NewIdentity) -> Response[dict[str, Any]]:
    only_query_parameters(app, set())
    pending = account.request_identity_link(
        current_principal(app).user_id,
        provider=identity.provider,
        external_id=identity.external_id,
        request=request_metadata(app),
    )
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=pending)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
