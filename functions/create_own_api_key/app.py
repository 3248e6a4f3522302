"""POST /users/me/api-keys: a new API key; the secret is in this response and nowhere else (audited)."""

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


class NewApiKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)


@app.post(
    "/users/me/api-keys", responses=responses(201, 404, description="The new key, with its secret (shown this once).")
)
def create_own_api_key(new_key: NewApiKey) -> Response[dict[str, Any]]:
    only_query_parameters(app, set())
    created = account.create_api_key(current_principal(app).user_id, new_key.name, request_metadata(app))
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=created)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
