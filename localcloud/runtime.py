"""Runs the template's functions in-process, one "container" per function.

Each function's ``app.py`` is imported once (its cold start) and then invoked
under a per-function lock, because a Lambda container serves one request at a
time and handlers (Powertools resolvers) keep per-request state.

``install_lambda_invoker`` routes moto's Lambda ``Invoke`` to this runtime, so
``aws lambda invoke`` and Step Functions ``lambda:invoke`` tasks run the real
handler code without Docker.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from audit_service.container import CURRENT_CONTAINER, forget
from localcloud.provision import FunctionSpec, Stack

# The function whose code is running in this thread (None outside any invocation): each gets its own
# collaborators (audit_service.container), and the tests check every AWS call a function makes
# against that function's IAM role in the template.
CURRENT_FUNCTION = CURRENT_CONTAINER


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionError(Exception):
    """The handler raised; ``payload`` is what Lambda would return for it."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error
        self.payload = {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "stackTrace": traceback.format_exception(error)[-5:],
        }


class Container:
    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        self._module: ModuleType | None = None
        self.invocations = 0

    def _load(self) -> ModuleType:
        module_name, _, _attribute = self.spec.handler.rpartition(".")
        path = self.spec.code_dir / f"{module_name.replace('.', '/')}.py"
        import_name = f"localcloud_functions.{self.spec.logical_id}"
        loader_spec = importlib.util.spec_from_file_location(import_name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(loader_spec)
        # Registered before running, as a normal import is: pydantic resolves a
        # model's postponed annotations through sys.modules.
        sys.modules[import_name] = module
        loader_spec.loader.exec_module(module)
        return module

    def recycle(self) -> None:
        """Throw the container away: the next invocation is a cold start."""
        with self._lock:
            self._module = None
            forget(self.spec.logical_id)

    def invoke(self, event: Any) -> Any:
        with self._lock:
            token = CURRENT_FUNCTION.set(self.spec.logical_id)
            try:
                return self._invoke(event)
            finally:
                CURRENT_FUNCTION.reset(token)

    def _invoke(self, event: Any) -> Any:
        if self._module is None:
            self._module = self._load()
        handler = getattr(self._module, self.spec.handler.rpartition(".")[2])
        context = LambdaContext(
            self.spec.name, self.spec.invoked_arn, self.spec.memory, self.spec.timeout, self.spec.version
        )
        self.invocations += 1
        try:
            return handler(event, context)
        except Exception as error:
            failure = FunctionError(error)
            if str(error) != "Unauthorized":  # the authorizer's normal refusal is not a fault
                # What Lambda would write to the function's log group.
                print(
                    f"{self.spec.logical_id} failed:\n" + "".join(traceback.format_exception(error)),
                    file=sys.stderr,
                    flush=True,
                )
            raise failure from error


class Runtime:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.containers = {logical_id: Container(spec) for logical_id, spec in stack.functions.items()}
        self._by_name = {spec.name: self.containers[logical_id] for logical_id, spec in stack.functions.items()}

    def invoke(self, logical_id: str, event: Any) -> Any:
        return self.containers[logical_id].invoke(event)

    def by_function_name(self, name_or_arn: str) -> Container | None:
        name = name_or_arn.rsplit(":function:", maxsplit=1)[-1].split(":", maxsplit=1)[0]
        return self._by_name.get(name)


_RUNTIMES: list[Runtime] = []


def install_lambda_invoker(runtime: Runtime) -> None:
    """Make moto's Lambda Invoke call the function in-process instead of in Docker."""
    from moto.awslambda import models

    from localcloud import moto_fixes

    moto_fixes.install()  # so that state machines can run more than once
    _RUNTIMES.append(runtime)
    if getattr(models.LambdaFunction, "_localcloud_patched", False):
        return

    def _invoke_in_process(self: Any, event: Any = None) -> tuple[str, bool, str]:
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        for candidate in reversed(_RUNTIMES):
            container = candidate.by_function_name(self.function_name)
            if container is not None:
                try:
                    result = container.invoke(payload)
                except FunctionError as failure:
                    return json.dumps(failure.payload), True, ""
                return json.dumps(result), False, ""
        return json.dumps({"errorMessage": f"{self.function_name} is not in the local stack"}), True, ""

    models.LambdaFunction._invoke_lambda = _invoke_in_process  # type: ignore[method-assign]
    models.LambdaFunction._localcloud_patched = True  # type: ignore[attr-defined]


def uninstall_lambda_invoker(runtime: Runtime) -> None:
    """Invoke no longer finds ``runtime``'s functions; the runtime, its stack and its loaded code can be freed."""
    if runtime in _RUNTIMES:
        _RUNTIMES.remove(runtime)
