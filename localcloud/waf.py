"""The template's AWS WAF web ACL in front of the local API: its rate-based rules, evaluated as WAF does.

A rate-based rule counts the requests of each aggregation key (the source
address, or the value of a header) over its evaluation window and, while a
key is over the limit, answers the rule's action (a block with the template's
custom response). Requests without the header a custom key names are not
counted by that rule, as in WAF. AWS's managed rule groups (known bad inputs)
are AWS's own and are not evaluated locally.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Blocked:
    rule: str
    status: int
    content_type: str
    body: str


@dataclass
class RateRule:
    name: str
    priority: int
    limit: int
    window_seconds: float
    header: str | None  # None: the source address
    blocked: Blocked
    _seen: dict[str, deque[float]] = field(default_factory=dict, repr=False)

    def over_limit(self, source_ip: str, headers: Mapping[str, str], now: float) -> bool:
        key = source_ip if self.header is None else headers.get(self.header)
        if not key:
            return False
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0] <= now - self.window_seconds:
            seen.popleft()
        seen.append(now)
        return len(seen) > self.limit


_CONTENT_TYPES = {"APPLICATION_JSON": "application/json", "TEXT_PLAIN": "text/plain", "TEXT_HTML": "text/html"}


class WebAcl:
    def __init__(self, rules: list[RateRule], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rules = sorted(rules, key=lambda rule: rule.priority)
        self.clock = clock
        self._lock = threading.Lock()

    @classmethod
    def from_template(cls, props: Mapping[str, Any]) -> WebAcl:
        bodies = props.get("CustomResponseBodies", {})
        rules = []
        for rule in props.get("Rules", []):
            statement = rule["Statement"].get("RateBasedStatement")
            if statement is None:
                continue  # managed rule groups: AWS's, not evaluated locally
            block = rule.get("Action", {}).get("Block", {}).get("CustomResponse", {})
            body = bodies.get(block.get("CustomResponseBodyKey", ""), {})
            header = None
            if statement.get("AggregateKeyType") == "CUSTOM_KEYS":
                (custom,) = statement["CustomKeys"]
                header = str(custom["Header"]["Name"]).lower()
            rules.append(
                RateRule(
                    name=rule["Name"],
                    priority=int(rule["Priority"]),
                    limit=int(statement["Limit"]),
                    window_seconds=float(statement.get("EvaluationWindowSec", 300)),
                    header=header,
                    blocked=Blocked(
                        rule=rule["Name"],
                        status=int(block.get("ResponseCode", 403)),
                        content_type=_CONTENT_TYPES.get(body.get("ContentType", ""), "text/plain"),
                        body=str(body.get("Content", "Forbidden")),
                    ),
                )
            )
        return cls(rules)

    def check(self, source_ip: str, headers: Mapping[str, str]) -> Blocked | None:
        lowered = {name.lower(): value for name, value in headers.items()}
        now = self.clock()
        with self._lock:
            for rule in self.rules:
                if rule.over_limit(source_ip, lowered, now):
                    return rule.blocked
        return None
