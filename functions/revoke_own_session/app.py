"""DELETE /users/me/sessions/{session_id}: revoke one of the caller's active sessions (audited)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import create_app, current_principal, only_query_parameters, request_metadata
from audit_service.config import get_settings
from audit_service.observability import instrumented

get_settings()
account = container.my_account()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init
app = create_app()


@app.delete("/users/me/sessions/<session_id>", responses=responses(204, 404, 409, description="Revoked."))
def revoke_own_session(session_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]) -> Response[str]:
    only_query_parameters(app, set())
    account.revoke_session(current_principal(app).user_id, session_id, request_metadata(app))
    return Response(status_code=HTTPStatus.NO_CONTENT, body="")


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
