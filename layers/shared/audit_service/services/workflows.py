"""Starting the GDPR state machines and reading their status.

Moto implements no ``StartSyncExecution``, and an export may take longer than
one API request: routes start a Standard execution, wait for it for a bounded
time, and otherwise answer where to read its status. The same calls run on AWS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Execution:
    name: str
    status: str  # running | succeeded | failed
    input: dict[str, Any]
    output: dict[str, Any] | None = None
    reason: str | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status}
        if self.reason:
            body["reason"] = self.reason
        return body


_STATUS = {
    "RUNNING": "running",
    "PENDING_REDRIVE": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "TIMED_OUT": "failed",
    "ABORTED": "failed",
}


class Workflows:
    def __init__(self, stepfunctions: Any, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._sfn = stepfunctions
        self._sleep = sleep

    @staticmethod
    def execution_arn(state_machine_arn: str, name: str) -> str:
        return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> str:
        response = self._sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))
        return str(response["executionArn"])

    def describe(self, execution_arn: str) -> Execution | None:
        try:
            response = self._sfn.describe_execution(executionArn=execution_arn)
        except self._sfn.exceptions.ExecutionDoesNotExist:
            return None
        status = _STATUS.get(response["status"], "running")
        reason = None
        if status == "failed":
            reason = _reason(response.get("error", "Failed"), response.get("cause", ""))
        output = json.loads(response["output"]) if response.get("output") else None
        return Execution(
            name=response["name"], status=status, input=json.loads(response["input"]), output=output, reason=reason
        )

    def wait(self, execution_arn: str, *, seconds: float) -> Execution:
        deadline = time.monotonic() + seconds
        delay = 0.05
        while True:
            execution = self.describe(execution_arn)
            assert execution is not None
            if execution.status != "running" or time.monotonic() >= deadline:
                return execution
            self._sleep(delay)
            delay = min(delay * 2, 1.0)


def _reason(error: str, cause: str) -> str:
    """What failed, without a task's stack trace (a Lambda task's cause is its error payload)."""
    try:
        payload = json.loads(cause)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and "errorMessage" in payload:
        return f"{payload.get('errorType', error)}: {payload['errorMessage']}"[:300]
    return f"{error}: {cause}"[:300]
