"""Tasks of the export state machine: collect one category of a user's data, or assemble the export.

Input ``{"step": "collect", "category", "user_id", "export_id"}`` writes the category to the exports
bucket and returns ``{"category", "key"}``; ``{"step": "assemble", "user_id", "export_id", "parts": [...]}``
makes the document from the parts. No personal data is in any state's input or output.
"""

from __future__ import annotations

from typing import Any

from audit_service import container
from audit_service.config import get_settings
from audit_service.observability import instrumented, logger

get_settings()
export = container.account_export()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init


def _handle(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    user_id = int(event["user_id"])
    logger.append_keys(user_id=user_id, step=event["step"], category=event.get("category"))
    if event["step"] == "collect":
        return export.collect_part(user_id, str(event["export_id"]), str(event["category"]))
    return export.assemble(user_id, str(event["export_id"]), list(event["parts"]))


handler = instrumented(_handle, correlation_id_path="export_id")
