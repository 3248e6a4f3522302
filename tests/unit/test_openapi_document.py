"""The OpenAPI document GET /openapi.json serves is generated from the routes and kept current."""

from __future__ import annotations

import json

from localcloud.openapi import TARGET, build
from localcloud.template import function_properties, load


def test_committed_document_matches_the_routes() -> None:
    assert json.loads(TARGET.read_text()) == build(), "run `make openapi` and commit the result"


def test_every_api_route_of_the_template_is_documented() -> None:
    template = load()
    documented = {(path, method) for path, ops in build()["paths"].items() for method in ops}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in function_properties(template, name).get("Events", {}).values():
            if event["Type"] == "Api" and not event["Properties"]["Path"].startswith("/console"):  # files, not API
                assert (event["Properties"]["Path"], event["Properties"]["Method"]) in documented, name
