"""How an export execution becomes an HTTP answer (shared by the two export routes)."""

from __future__ import annotations

from typing import Any

from audit_service import container
from audit_service.domain.errors import NotFound
from audit_service.domain.models import RequestMetadata
from audit_service.services.workflows import Execution


def export_response(
    execution: Execution, user_id: int, export_id: str, request: RequestMetadata
) -> tuple[int, dict[str, Any]]:
    """200 with the document (an access-logged read), 202 while running, an error when it failed."""
    if execution.status == "running":
        return 202, {"export_id": export_id, "status": "running", "location": f"/account/exports/{export_id}"}
    if execution.status == "failed":
        if execution.reason and execution.reason.startswith("NotFound"):
            raise NotFound("there is no account to export")
        return 502, {
            "error": {
                "code": "export_failed",
                "message": "the export failed; it has been logged",
                "request_id": request.request_id,
            }
        }
    document = container.account_export().document(user_id, export_id)
    if document is None:
        raise NotFound(f"export {export_id} is no longer available")
    container.access_log().record(actor_id=user_id, action="account.export", subject_user_id=user_id, request=request)
    return 200, document
