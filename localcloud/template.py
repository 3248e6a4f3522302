"""Reading ``template.yaml``: CloudFormation tags, SAM Globals, intrinsic functions.

The local cloud and the tests build everything from the template through this
module, so there is no second description of the resources anywhere.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns ``!Ref x`` into ``{"Ref": "x"}`` and ``!Fn x`` into ``{"Fn::Fn": x}``."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The parsed template, a copy of its own: callers may change it.

    Parsing the YAML takes a third of a second and every test's stack needs it, so the parsed
    document is kept for as long as the file is unchanged (same size and modification time)."""
    status = path.stat()
    return deepcopy(_parse(path.resolve(), status.st_mtime_ns, status.st_size))


@functools.lru_cache(maxsize=16)
def _parse(path: Path, _mtime_ns: int, _size: int) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return document


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for name, value in override.items():
            merged[name] = _merge(base.get(name), value) if name in base else value
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return base + override
    return override


def function_properties(template: Mapping[str, Any], logical_id: str) -> dict[str, Any]:
    """A function's properties with the template's ``Globals.Function`` applied, as SAM does."""
    globals_ = deepcopy(template.get("Globals", {}).get("Function", {}))
    own = deepcopy(template["Resources"][logical_id].get("Properties", {}))
    return dict(_merge(globals_, own))


class Pending(Exception):
    """A referenced resource has not been created yet."""


class _NoValue:
    """``AWS::NoValue``: the property or list item is left out, as CloudFormation does."""


NO_VALUE = _NoValue()


@dataclass
class Resolver:
    """Evaluates intrinsic functions (and the template's Conditions) against the resources created so far."""

    parameters: dict[str, Any]
    pseudo: dict[str, str]
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)
    conditions: dict[str, Any] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(item) for item in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, argument),) = value.items()
            handlers: dict[str, Callable[[Any], Any]] = {
                "Ref": self._ref,
                "Fn::GetAtt": self._get_att,
                "Fn::Sub": self._sub,
                "Fn::Join": self._join,
                "Fn::If": self._if,
                "Fn::Equals": lambda pair: self.resolve(pair[0]) == self.resolve(pair[1]),
                "Fn::Not": lambda items: not self.resolve(items[0]),
                "Fn::And": lambda items: all(self.resolve(item) for item in items),
                "Fn::Or": lambda items: any(self.resolve(item) for item in items),
                "Condition": self.condition,
            }
            handler = handlers.get(name)
            if handler is not None:
                return handler(argument)
            if name.startswith("Fn::"):
                raise NotImplementedError(f"{name} is not supported by the local cloud; keep the template simpler")
        resolved = {name: self.resolve(item) for name, item in value.items()}
        return {name: item for name, item in resolved.items() if item is not NO_VALUE}

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.conditions[name]))

    def _if(self, argument: list[Any]) -> Any:
        name, when_true, when_false = argument
        return self.resolve(when_true if self.condition(name) else when_false)

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.refs:
            return self.refs[name]
        raise Pending(name)

    def _get_att(self, argument: list[str]) -> Any:
        resource, attribute = argument[0], argument[1]
        if (resource, attribute) in self.attributes:
            return self.attributes[(resource, attribute)]
        raise Pending(f"{resource}.{attribute}")

    def _sub(self, argument: str | list[Any]) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])

        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return str(self.resolve(variables[expression]))
            if expression in self.refs:  # SAM's ${Function.Alias}, ${Function.Version}
                return str(self.refs[expression])
            if "." in expression:
                resource, attribute = expression.split(".", 1)
                return str(self._get_att([resource, attribute]))
            return str(self._ref(expression))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _join(self, argument: list[Any]) -> str:
        delimiter, items = argument
        return str(delimiter).join(str(item) for item in self.resolve(items))


def parameter_defaults(template: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    values = {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}
    values.update(overrides or {})
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise ValueError(f"template parameters without a value: {', '.join(missing)}")
    return values


def placeholder_environment(template: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Stand-in values for what the template's Globals set on every function.

    Importing a function runs its module-level set-up (settings validated,
    clients created, no AWS call); the packaging tests, the cold-start benchmark
    and the OpenAPI generator import functions outside any stack.
    """
    document = template if template is not None else load()
    names = document.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    values = {
        name: (
            f"arn:aws:kms:us-east-1:123456789012:key/placeholder-{name.lower()}"
            if name.endswith("_ARN")
            else f"placeholder-{name.lower().replace('_', '-')}"
        )
        for name in names
    }
    parameters = document.get("Parameters", {})
    for name, value in names.items():  # a template parameter's default where one is referenced
        if isinstance(value, dict) and value.get("Ref") in parameters:
            values[name] = str(parameters[value["Ref"]]["Default"])
        elif value == {"Ref": "AWS::AccountId"}:
            values[name] = "123456789012"
    values.update({"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"})
    return values
