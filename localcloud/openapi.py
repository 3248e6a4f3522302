"""Generate the API's one OpenAPI document from every function's resolver (Powertools' OpenAPI merge).

``python -m localcloud.openapi`` writes it to ``functions/get_openapi_document/openapi.json``,
which ``GET /openapi.json`` serves; a test fails when the committed file is stale.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from localcloud.template import ROOT, placeholder_environment

TARGET = ROOT / "functions" / "get_openapi_document" / "openapi.json"


def _function_apps() -> list[tuple[str, object]]:
    """Each API function's resolver, imported from its file as Lambda would import it."""
    import importlib.util

    from localcloud.template import function_properties, load

    template = load()
    apps = []
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = function_properties(template, name)
        if not any(event["Type"] == "Api" for event in properties.get("Events", {}).values()):
            continue
        path = (ROOT / properties["CodeUri"] / "app.py").resolve()
        spec = importlib.util.spec_from_file_location(f"openapi_functions.{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        apps.append((name, module.app))
    return apps


def build() -> dict[str, Any]:
    """One document from every function's own schema.

    Powertools' ``configure_openapi_merge`` finds resolvers by looking for a
    literal ``app = APIGatewayRestResolver(...)`` in each file; ours come from
    the shared ``create_app()``, so the functions are taken from the template
    and their schemas merged here (paths must not collide).
    """
    for name, value in placeholder_environment().items():
        os.environ.setdefault(name, value)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Audit & Compliance API",
            "version": "1.0.0",
            "description": "Immutable audit logs, access logs, security events and account data.",
        },
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {"ldApiKey": {"type": "apiKey", "in": "header", "name": "ld-api-key"}},
        },
        "security": [{"ldApiKey": []}],
    }
    for name, app in _function_apps():
        schema = json.loads(app.get_openapi_json_schema(title="x"))  # type: ignore[attr-defined]
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if method in document["paths"].get(path, {}):
                    raise ValueError(f"{name}: {method.upper()} {path} is defined twice")
                operation.setdefault("x-function", name)
                # the function's name, as a generated client's method name: list_tenant_audit_events
                operation["operationId"] = re.sub(r"(?<!^)(?=[A-Z])", "_", name.removesuffix("Function")).lower()
                document["paths"].setdefault(path, {})[method] = _with_gateway_answers(operation)
        document["components"]["schemas"].update(schema.get("components", {}).get("schemas", {}))
    # Powertools' 422 and response-validation bodies, which this API never answers
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        document["components"]["schemas"].pop(unused, None)
    return document


def _with_gateway_answers(operation: dict[str, Any]) -> dict[str, Any]:
    """What any operation can answer besides its own: from WAF, the authorizer, API Gateway and the resolver.

    Powertools documents a 422 for validation errors; this API answers 400 (api/http.py), so it goes.
    """
    from audit_service.api.contract import ERRORS

    responses = operation["responses"]
    responses.pop("422", None)
    codes = ["400", "401", "413", "429", "500"]
    if "requestBody" in operation:
        codes.append("415")
    for code in codes:
        responses.setdefault(
            code,
            {
                "description": ERRORS[int(code)],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        )
    operation["responses"] = dict(sorted(responses.items()))
    operation["security"] = [{"ldApiKey": []}]
    return operation


def main() -> int:
    text = json.dumps(build(), indent=2, sort_keys=True) + "\n"
    if "--check" in sys.argv:
        return 0 if TARGET.exists() and TARGET.read_text() == text else 1
    Path(TARGET).write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
