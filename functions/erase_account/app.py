"""POST /account/erasure: erase the caller's account (body ``{"confirm": "erase my account"}``).

Refused with 409 while the caller is the last owner of a tenant. The erasure
state machine removes identities, sessions, API keys, pending invitations,
settings, memberships and the profile, step by step; audit logs stay.
"""

from __future__ import annotations

import secrets
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from pydantic import BaseModel, ConfigDict

from audit_service import container
from audit_service.api.contract import accepted, responses
from audit_service.api.http import create_app, current_principal, only_query_parameters
from audit_service.config import get_settings
from audit_service.observability import instrumented
from audit_service.services.account_reads import check_confirmation, check_erasable

settings = get_settings()
workflows = container.workflows()
# Only the last-owner check runs here: no personal data is opened, so no Encryption SDK at cold start.
accounts = container.accounts_repository()
app = create_app()


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirm: str


@app.post(
    "/account/erasure",
    responses=responses(
        200,
        409,
        description="The erasure finished (succeeded or failed).",
        extra={202: accepted("The erasure is still running.")},
    ),
)
def erase_account(request: ErasureRequest) -> Response[dict[str, Any]]:
    only_query_parameters(app, set())
    check_confirmation(request.confirm)
    principal = current_principal(app)
    check_erasable(accounts, principal.user_id)
    erasure_id = secrets.token_hex(12)
    assert settings.erasure_state_machine_arn, "ERASURE_STATE_MACHINE_ARN is not configured"
    arn = workflows.start(
        settings.erasure_state_machine_arn, erasure_id, {"user_id": principal.user_id, "erasure_id": erasure_id}
    )
    execution = workflows.wait(arn, seconds=settings.workflow_wait_seconds)
    body = {"erasure_id": erasure_id, **execution.body(), "location": f"/account/erasure/{erasure_id}"}
    return Response(
        status_code=202 if execution.status == "running" else 200,
        content_type=content_types.APPLICATION_JSON,
        body=body,
    )


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
