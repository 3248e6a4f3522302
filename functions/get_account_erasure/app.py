"""GET /account/erasure/{erasure_id}: the erasure workflow's status (running, succeeded, failed with reason).

Once an erasure has succeeded the caller's keys are gone, so this answers 401 then.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Path

from audit_service import container
from audit_service.api.contract import responses
from audit_service.api.http import create_app, current_principal, only_query_parameters
from audit_service.config import get_settings
from audit_service.domain.errors import NotFound
from audit_service.observability import instrumented

settings = get_settings()
workflows = container.workflows()
app = create_app()


@app.get("/account/erasure/<erasure_id>", responses=responses(200, 404, description="The erasure's status."))
def get_account_erasure(erasure_id: Annotated[str, Path(pattern=r"^[0-9a-f]{24}$")]) -> dict[str, Any]:
    only_query_parameters(app, set())
    principal = current_principal(app)
    assert settings.erasure_state_machine_arn, "ERASURE_STATE_MACHINE_ARN is not configured"
    execution = workflows.describe(workflows.execution_arn(settings.erasure_state_machine_arn, erasure_id))
    if execution is None or execution.input.get("user_id") != principal.user_id:
        raise NotFound(f"you have no erasure {erasure_id}")
    return {"erasure_id": erasure_id, **execution.body()}


def _handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


handler = instrumented(_handle)
