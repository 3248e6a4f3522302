"""What a cold start imports: the bench's breakdown on known input, and the Encryption SDK kept out of the
init of every function that does not open personal data (checked in fresh interpreters, through sys.modules)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from bench.cold_start import (
    BASELINE_BUCKET,
    LAYER,
    OWN,
    POWERTOOLS,
    PYDANTIC,
    SDK,
    SITE,
    attribute,
    opens_personal_data,
    parse_importtime,
)
from localcloud.template import ROOT, function_properties, load, placeholder_environment

# -X importtime's format: a module's line after its children's, nested two spaces a level.
TRACE = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 |   _io
import time:        50 |        150 | encodings
import time:        10 |         10 |     json.decoder
import time:        20 |         30 |   json
import time:        40 |         40 |     attr
import time:        60 |        100 |   aws_encryption_sdk
import time:         5 |          5 |     annotated_types
import time:         4 |          4 |       sre_extra
import time:         6 |         10 |     re
import time:        30 |         45 |   pydantic
import time:         1 |          1 |     pydantic_core
import time:        15 |         16 |   audit_service.config
import time:         2 |          2 |   aws_lambda_powertools.event_handler.openapi.compat
import time:         7 |          7 |     cryptography
import time:         3 |         10 |   audit_service.crypto.envelope
import time:       200 |        403 | app
"""


def test_the_forest_nests_each_module_under_its_first_importer() -> None:
    forest = parse_importtime(TRACE)

    assert [module.name for module in forest] == ["encodings", "app"]
    app = forest[-1]
    assert [child.name for child in app.children] == [
        "json",
        "aws_encryption_sdk",
        "pydantic",
        "audit_service.config",
        "aws_lambda_powertools.event_handler.openapi.compat",
        "audit_service.crypto.envelope",
    ]
    assert [module.name for module in app.children[2].walk()] == ["pydantic", "annotated_types", "re", "sre_extra"]
    assert sum(module.self_us for module in app.walk()) == 403


def test_each_module_counts_for_the_bucket_of_its_name_or_else_of_its_first_importer() -> None:
    app = parse_importtime(TRACE)[-1]

    totals = attribute(app, baseline=frozenset({"json", "json.decoder", "re"}))

    assert totals == {
        BASELINE_BUCKET: 10 + 20 + 6,  # what the baseline imports too, whoever imports it here
        SDK: 60 + 40,  # attr: pulled in by the SDK first
        PYDANTIC: 30 + 5 + 4 + 15 + 1,  # sre_extra: under a baseline module, but pydantic's doing; and the settings
        POWERTOOLS: 2,
        OWN: 200 + 3 + 7,  # cryptography: imported by the project's own module first
    }
    assert sum(totals.values()) == 403


def _statement(action: Any, resource: Any, effect: str = "Allow") -> dict[str, Any]:
    return {"Policies": [{"Statement": [{"Effect": effect, "Action": action, "Resource": resource}]}]}


DATA_KEY = {"Fn::GetAtt": ["DataKey", "Arn"]}


@pytest.mark.parametrize(
    ("properties", "opens"),
    [
        (_statement(["kms:GenerateDataKey", "kms:Decrypt"], DATA_KEY), True),
        (_statement("kms:Decrypt", [DATA_KEY]), True),
        (_statement("kms:*", {"Ref": "DataKey"}), True),
        (_statement("kms:GenerateDataKey", DATA_KEY), False),  # seals only
        (_statement("kms:Decrypt", {"Fn::GetAtt": ["MailerKey", "Arn"]}), False),
        (_statement("kms:Decrypt", DATA_KEY, effect="Deny"), False),
        ({"Policies": ["AWSLambdaBasicExecutionRole"]}, False),
        ({}, False),
    ],
)
def test_a_function_opens_personal_data_when_its_role_may_decrypt_with_the_data_key(
    properties: dict[str, Any], opens: bool
) -> None:
    assert opens_personal_data(properties) is opens


def _functions(*, personal_data: bool) -> list[tuple[str, str]]:
    template = load()
    found = []
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            properties = function_properties(template, name)
            if opens_personal_data(properties) is personal_data:
                found.append((name, str((ROOT / properties["CodeUri"]).resolve())))
    return found


def _run(code: str) -> str:
    environment = placeholder_environment() | {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PATH": "/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-S", "-c", f"import sys\nsys.path[:0] = [{str(LAYER)!r}, {SITE!r}]\n{code}"],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


# One interpreter imports every such function in turn, as the local cloud does: the first one whose init
# imports the SDK is named (after it, the SDK is loaded and the others can no longer be told apart).
IMPORT_EACH = """
import importlib, json
for name, directory in {functions!r}:
    sys.modules.pop("app", None)
    sys.path.insert(0, directory)
    importlib.import_module("app")
    sys.path.remove(directory)
    if {module!r} in sys.modules:
        print(json.dumps(name))
        break
else:
    print(json.dumps(None))
"""


def _first_importing(module: str, functions: list[tuple[str, str]]) -> str | None:
    """The first of ``functions`` whose init imports ``module`` (None: none does)."""
    found: str | None = json.loads(_run(IMPORT_EACH.format(functions=functions, module=module)))
    return found


def test_no_function_that_never_opens_personal_data_imports_the_encryption_sdk_at_init() -> None:
    functions = _functions(personal_data=False)
    assert len(functions) >= 5  # the authorizer, the catalog, the OpenAPI document, the Console...

    assert _first_importing("aws_encryption_sdk", functions) is None


def test_an_envelope_imports_the_encryption_sdk_when_loaded_not_when_made() -> None:
    code = """
import json
from audit_service.crypto.envelope import Envelope
envelope = Envelope("arn:aws:kms:us-east-1:123456789012:key/test", cache_seconds=60)
made = "aws_encryption_sdk" in sys.modules
envelope.load()
print(json.dumps([made, "aws_encryption_sdk" in sys.modules]))
"""
    assert json.loads(_run(code)) == [False, True]


# Routes that read the accounts tables and open no personal data (services/account_reads.py).
ACCOUNT_READS = (
    "ListOwnTenantsFunction",
    "GetTenantResourcesFunction",
    "ListOwnApiKeysFunction",
    "EraseAccountFunction",
)
# Routes whose request body carries an email address (their body model validates it when the route is made).
EMAIL_BODIES = ("CreateInvitationFunction", "UpdateOwnProfileFunction")


def _named(names: tuple[str, ...]) -> list[tuple[str, str]]:
    every = _functions(personal_data=False) + _functions(personal_data=True)
    found = [(name, directory) for name, directory in every if name in names]
    assert len(found) == len(names)
    return found


def test_routes_that_only_read_accounts_start_without_the_services_that_change_them() -> None:
    # services.changes is the change recorder's graph (audit log, totals, security events) that
    # services/accounts.py, my_account.py and gdpr.py import: ~50-70 ms of a cold start.
    assert _first_importing("audit_service.services.changes", _named(ACCOUNT_READS)) is None


def test_only_routes_whose_body_carries_an_email_import_email_validation_at_init() -> None:
    every = _functions(personal_data=False) + _functions(personal_data=True)
    others = [(name, directory) for name, directory in every if name not in EMAIL_BODIES]

    assert _first_importing("email_validator", others) is None
    assert _first_importing("email_validator", _named(EMAIL_BODIES[:1])) == EMAIL_BODIES[0]


# Every function's init, with each AWS call and each draw of a unique value (secrets, uuid) noted: under SnapStart
# init runs once and its memory is restored into every execution environment (docs/operations.md, Cold starts).
INIT_DRAWS = """
import botocore.client, importlib, json, secrets, uuid
made = []
current = None

def refused(client, operation, params):
    made.append(f"{current}: {client.meta.service_model.service_name}.{operation}")
    raise RuntimeError("an AWS call at init")

botocore.client.BaseClient._make_api_call = refused
drawers = {secrets: ("token_bytes", "token_hex", "token_urlsafe", "randbits", "choice"), uuid: ("uuid1", "uuid4")}
for module, names in drawers.items():
    for name in names:
        def drawn(*args, _name=f"{module.__name__}.{name}", _original=getattr(module, name), **kwargs):
            made.append(f"{sys._getframe(1).f_globals['__name__']}: {_name}")
            return _original(*args, **kwargs)
        setattr(module, name, drawn)
for current, directory in FUNCTIONS:
    sys.modules.pop("app", None)
    sys.path.insert(0, directory)
    importlib.import_module("app")
    sys.path.remove(directory)
print(json.dumps(made))
"""


# The one draw: the Encryption SDK's caching materials manager names its cache partition with a uuid4 when made
# (an envelope's load, at init where a function opens personal data). The name only keys entries of that
# envelope's own in-memory cache and never leaves the process: the same name in every restored environment
# shares nothing, since each has its own memory. Data keys are cached on requests, never at init.
HARMLESS_DRAWS = {"aws_encryption_sdk.materials_managers.caching: uuid.uuid4"}


def test_no_function_calls_aws_or_draws_a_unique_value_at_init() -> None:
    functions = _functions(personal_data=False) + _functions(personal_data=True)
    assert len(functions) == len([r for r in load()["Resources"].values() if r["Type"] == "AWS::Serverless::Function"])

    made = json.loads(_run(INIT_DRAWS.replace("FUNCTIONS", repr(functions))))
    assert set(made) <= HARMLESS_DRAWS, made


# The system's CA certificates load (~35 ms) when an HTTPS handler or an SSL context is made: on the first
# request that needs one (botocore's connection pool, a log stream's delivery), never at init.
INIT_CERTIFICATES = """
import importlib, json, ssl
loaded = []
current = None
original = ssl.SSLContext.load_default_certs

def recorded(self, *args, **kwargs):
    loaded.append(current)
    return original(self, *args, **kwargs)

ssl.SSLContext.load_default_certs = recorded
for current, directory in FUNCTIONS:
    sys.modules.pop("app", None)
    sys.path.insert(0, directory)
    importlib.import_module("app")
    sys.path.remove(directory)
print(json.dumps(sorted(set(loaded))))
"""


def test_no_function_loads_the_systems_ca_certificates_at_init() -> None:
    functions = _functions(personal_data=False) + _functions(personal_data=True)

    assert json.loads(_run(INIT_CERTIFICATES.replace("FUNCTIONS", repr(functions)))) == []
