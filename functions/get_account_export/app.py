"""GET /account/exports/{export_id}: an export that took longer than one request (status, then the document)."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path

from audit_service import container
from audit_service.api.contract import AccountExport, accepted, responses
from audit_service.api.http import create_app, current_principal, only_query_parameters, request_metadata
from audit_service.api.workflows import export_response
from audit_service.config import get_settings
from audit_service.domain.errors import NotFound
from audit_service.observability import instrumented

settings = get_settings()
workflows = container.workflows()
app = create_app()


@app.get(
    "/account/exports/<export_id>",
    responses=responses(
        200, 404, 502, body=AccountExport, description="The export, once done.", extra={202: accepted("Still running.")}
    ),
)
def get_account_export(export_id: Annotated[str, Path(pattern=r"^[0-9a-f]{24}$")]) -> Response[dict[str, Any]]:
    only_query_parameters(app, set())
    principal = current_principal(app)
    assert settings.export_state_machine_arn, "EXPORT_STATE_MACHINE_ARN is not configured"
    execution = workflows.describe(workflows.execution_arn(settings.export_state_machine_arn, export_id))
    if execution is None or execution.input.get("user_id") != principal.user_id:
        raise NotFound(f"you have no export {export_id}")
    status, body = export_response(execution, principal.user_id, export_id, request_metadata(app))
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
