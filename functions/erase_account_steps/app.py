"""Tasks of the erasure state machine: one idempotent step each (``{"step", "user_id", "erasure_id"}``)."""

from __future__ import annotations

from typing import Any

from audit_service import container
from audit_service.config import get_settings
from audit_service.observability import instrumented, logger

get_settings()
erasure = container.account_erasure()
container.envelope().load()  # its requests open or seal personal data: the Encryption SDK loads at init


def _handle(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    user_id = int(event["user_id"])
    logger.append_keys(user_id=user_id, step=event["step"])
    result = erasure.step(user_id, str(event["erasure_id"]), str(event["step"]))
    logger.info("erasure step done", extra={"removed": result["removed"]})
    return result


handler = instrumented(_handle, correlation_id_path="erasure_id")
