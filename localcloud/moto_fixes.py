"""Work-arounds for gaps in the pinned moto (5.2.1), applied by the local runtime.

- Step Functions: ``StartExecution`` deep-copies the state machine, past
  executions included; a finished execution holds a lock, so every execution
  after the first one fails with "cannot pickle '_thread.RLock' object". The
  clone only needs the definition and settings, so it is made without the
  executions (and shares the backend, which it never changes).
"""

from __future__ import annotations

import copy
from typing import Any


def install() -> None:
    from moto.stepfunctions.models import StateMachine

    if getattr(StateMachine, "_localcloud_deepcopy", False):
        return

    def _deepcopy(self: Any, memo: dict[int, Any]) -> Any:
        clone = copy.copy(self)
        for name, value in self.__dict__.items():
            if name == "executions":
                setattr(clone, name, [])
            elif name != "backend":
                setattr(clone, name, copy.deepcopy(value, memo))
        return clone

    StateMachine.__deepcopy__ = _deepcopy  # type: ignore[attr-defined]
    StateMachine._localcloud_deepcopy = True  # type: ignore[attr-defined]
