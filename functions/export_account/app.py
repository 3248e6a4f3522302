"""GET /account/export: all personal data of the caller, as one JSON document (the product page's call).

The export state machine collects each category in parallel and assembles
the document. The route waits for it for a bounded time; a longer export
answers 202 with where to fetch it (``GET /account/exports/{export_id}``).
"""

from __future__ import annotations

import secrets
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from audit_service import container
from audit_service.api.contract import AccountExport, accepted, responses
from audit_service.api.http import create_app, current_principal, only_query_parameters, request_metadata
from audit_service.api.workflows import export_response
from audit_service.config import get_settings
from audit_service.observability import instrumented

settings = get_settings()
workflows = container.workflows()
app = create_app()


@app.get(
    "/account/export",
    responses=responses(
        200,
        404,
        502,
        body=AccountExport,
        description="Every personal datum of the caller.",
        extra={202: accepted("The export takes longer: read location.")},
    ),
)
def export_account() -> Response[dict[str, Any]]:
    only_query_parameters(app, set())
    principal = current_principal(app)
    export_id = secrets.token_hex(12)
    assert settings.export_state_machine_arn, "EXPORT_STATE_MACHINE_ARN is not configured"
    arn = workflows.start(
        settings.export_state_machine_arn, export_id, {"user_id": principal.user_id, "export_id": export_id}
    )
    execution = workflows.wait(arn, seconds=settings.workflow_wait_seconds)
    status, body = export_response(execution, principal.user_id, export_id, request_metadata(app))
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
