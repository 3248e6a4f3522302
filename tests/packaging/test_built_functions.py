"""Every function imports from the ``sam build`` artifact, with the layer as Lambda lays it out.

Each import runs in a fresh interpreter whose path holds only the built
function's directory, the built layer's ``python/`` directory and the
virtualenv's third-party packages (the layer's own wheels are arm64 and cannot
load on this machine). The project's source tree is not on the path, so a
handler that cannot find its layer code fails here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from localcloud.template import load, placeholder_environment

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".aws-sam" / "build"
FUNCTIONS = [name for name, r in load()["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]

# What the template's Globals set, with placeholder values: imports create
# clients and validate settings, but make no AWS call.
SAMPLE_ENVIRONMENT = placeholder_environment()

PROBE = """
import json, sys
# Third-party packages resolve from the virtualenv first (the layer's are arm64
# builds); the project's own package exists only in the layer.
sys.path[:0] = [{function!r}, {site!r}, {layer!r}]
import app
import audit_service
assert callable(app.handler)
print(json.dumps({{"layer_package": audit_service.__file__}}))
"""


def test_build_output_exists() -> None:
    assert (BUILD / "template.yaml").exists(), "run `make build` (sam build) first"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_built_function_imports_with_its_layer(function: str) -> None:
    layer = BUILD / "SharedLayer" / "python"
    if not layer.exists():  # SAM lays a python3.x layer out flat when it builds it in place
        layer = BUILD / "SharedLayer"
    code = PROBE.format(function=str(BUILD / function), layer=str(layer), site=sysconfig.get_paths()["purelib"])
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        cwd=BUILD,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", **SAMPLE_ENVIRONMENT},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    location = json.loads(result.stdout.strip().splitlines()[-1])["layer_package"]
    assert location.startswith(str(BUILD)), f"audit_service was imported from {location}, not the build"


def test_the_built_layer_ships_bytecode_that_lambda_uses_as_is() -> None:
    """Lambda mounts code read-only: without .pyc every cold start compiles the layer from source (~0.5 s).

    Every module of the layer has a CPython 3.13 .pyc that is hash-based and unchecked (flags 0b01 in the
    header), so it is used whatever timestamps the deployment package gives the sources.
    """
    layer = BUILD / "SharedLayer" / "python"
    sources = [path for path in layer.rglob("*.py") if "-info" not in str(path.parent)]
    assert len(sources) > 500, "the layer holds the project's package and its pinned dependencies"
    missing, checked = [], []
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        if not compiled.exists():
            missing.append(source)
            continue
        header = compiled.read_bytes()[:8]
        if int.from_bytes(header[4:8], "little") != 0b01:
            checked.append(compiled)
    assert not missing, f"{len(missing)} modules without bytecode, e.g. {missing[:3]}"
    assert not checked, f"{len(checked)} .pyc files check their source, e.g. {checked[:3]}"
