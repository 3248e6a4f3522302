"""Cold-start cost of every function: importing its module and running its module-level code, and what it is made of.

Each sample is a fresh interpreter that imports the function's ``app`` module
and reports the CPU time that took (interpreter start-up itself is excluded, as
it is the same for every function). Importing is CPU-bound, and CPU time leaves
out the waits for a core on a busy machine that wall time would count.
Functions and the baseline are sampled interleaved, so what noise is left hits
all of them alike; the median is reported.

The breakdown comes from further fresh interpreters that run the same import
under ``python -X importtime``, which reports every module's own time nested
under the module that first imported it. Each module goes to one bucket:

- baseline: a module the baseline function (a bare resolver and one boto3
  client) imports, whoever imports it here;
- Powertools, pydantic + settings, Encryption SDK, own code: by name (see
  ``NAMED``); own code includes the module-level work of the function's and
  the layer's modules (building the resolver, boto3 clients, collaborators);
- any other module: the bucket of the module that first imported it (the
  ``cryptography`` and ``attrs`` that the Encryption SDK pulls in count as the
  SDK's, the ``email_validator`` that a pydantic model of the project pulls in
  as the project's).

importtime slows every import down alike, so each bucket's share of the traced
import is applied to the untraced median: the buckets add up to the init column.

Targets (issue #14): init minus the Encryption SDK's own import at most 1.25x
the baseline for every function, and the whole init at most 1.25x for a
function that never opens personal data: one whose role may not
``kms:Decrypt`` with the data key (template.yaml).

The layer is imported as Lambda gets it (layers/shared/Makefile): a copy of
``layers/shared`` with unchecked-hash bytecode, so its modules are not compiled
at each cold start; each function's own directory has none (SAM copies it as
it is), so its ``app.py`` is compiled in every sample, as on Lambda.

Two reference rows carry no target: the baseline with Powertools' request
validation (every route's resolver has it, and it imports pydantic), and the
baseline as ``sam build`` ships it: without bytecode (only the runtime's
standard library has some), in directories Lambda mounts read-only, so every
cold start compiles every other module from source.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.template import ROOT, function_properties, load, placeholder_environment

BASELINE = Path(__file__).resolve().parent / "baseline_function"
VALIDATING_BASELINE = BASELINE / "with_validation"
LAYER = ROOT / "layers" / "shared"
SITE = sysconfig.get_paths()["purelib"]
STDLIB = sysconfig.get_paths()["stdlib"]
TARGET_RATIO = 1.25

# Run with -S and an explicit path, as Lambda lays it out: the function's
# directory, then the layer (/opt/python), then the runtime's packages. This
# keeps the virtualenv's editable-install import hook out of the measurement.
PROBE = """
import sys, time
sys.path[:0] = [{directory!r}, {layer!r}, {site!r}]
started = time.process_time()
import app
print(time.process_time() - started)
"""

# Placeholder values for what the template's Globals set: module-level code
# validates settings and creates clients, but makes no AWS call. No sample
# writes bytecode: the project's code is compiled from source in each, as on
# Lambda; third-party packages use the virtualenv's bytecode.
ENVIRONMENT = {
    **placeholder_environment(),
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "PYTHONDONTWRITEBYTECODE": "1",
}

BASELINE_BUCKET = "baseline"
POWERTOOLS = "Powertools"
PYDANTIC = "pydantic+settings"
SDK = "Encryption SDK"
OWN = "own code"
BUCKETS = (BASELINE_BUCKET, POWERTOOLS, PYDANTIC, SDK, OWN)
_COLUMNS = {  # each bucket's heading and width in the table
    BASELINE_BUCKET: ("baseline", 9),
    POWERTOOLS: ("Powertools", 11),
    PYDANTIC: ("pydantic", 9),
    SDK: ("SDK", 6),
    OWN: ("own", 6),
}

# Buckets by module name (the longest matching package wins); a module not
# named here goes where its first importer went.
NAMED = {
    "aws_lambda_powertools": POWERTOOLS,
    "pydantic": PYDANTIC,
    "pydantic_core": PYDANTIC,
    "audit_service.config": PYDANTIC,
    "aws_encryption_sdk": SDK,
    "app": OWN,
    "audit_service": OWN,
}


@dataclass
class Module:
    """One line of ``-X importtime``: a module's own import time and the modules it imported first."""

    name: str
    self_us: int
    depth: int
    children: list[Module] = field(default_factory=list)

    def walk(self) -> Iterator[Module]:
        yield self
        for child in self.children:
            yield from child.walk()


def parse_importtime(stderr: str) -> list[Module]:
    """The import forest ``-X importtime`` printed, top-level modules in import order.

    A module's line comes after its children's; its depth is its indentation (two spaces a level).
    """
    stack: list[Module] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        own, _cumulative, label = line.removeprefix("import time:").split("|")
        if not own.strip().isdigit():
            continue  # the header
        depth = (len(label) - len(label.lstrip(" ")) - 1) // 2
        children: list[Module] = []
        while stack and stack[-1].depth > depth:
            children.append(stack.pop())
        stack.append(Module(label.strip(), int(own), depth, children[::-1]))
    return stack


def named_bucket(module: str) -> str | None:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        bucket = NAMED.get(".".join(parts[:end]))
        if bucket is not None:
            return bucket
    return None


def attribute(app: Module, baseline: frozenset[str]) -> dict[str, int]:
    """Microseconds per bucket, for the import of ``app`` (see the module's docstring)."""
    totals = dict.fromkeys(BUCKETS, 0)

    def visit(module: Module, inherited: str) -> None:
        if module.name in baseline:
            # The baseline pays for it too. What it imports that the baseline
            # does not belongs to whoever made this function import it.
            totals[BASELINE_BUCKET] += module.self_us
            bucket = inherited
        else:
            bucket = named_bucket(module.name) or inherited
            totals[bucket] += module.self_us
        for child in module.children:
            visit(child, bucket)

    visit(app, OWN)
    return totals


def opens_personal_data(properties: Mapping[str, Any]) -> bool:
    """Whether the function's role may ``kms:Decrypt`` with the data key (which seals all personal data)."""
    data_key = ({"Fn::GetAtt": ["DataKey", "Arn"]}, {"Ref": "DataKey"})
    for policy in properties.get("Policies", []):
        statements = policy.get("Statement", []) if isinstance(policy, dict) else []
        for statement in statements:
            actions = statement.get("Action", [])
            actions = [actions] if isinstance(actions, str) else actions
            resources = statement.get("Resource", [])
            resources = resources if isinstance(resources, list) else [resources]
            if (
                statement.get("Effect") == "Allow"
                and any(action in ("kms:Decrypt", "kms:*") for action in actions)
                and any(resource in data_key for resource in resources)
            ):
                return True
    return False


@dataclass(frozen=True)
class ColdStart:
    name: str
    median_ms: float
    baseline_ms: float
    opens_personal_data: bool = True
    shares: Mapping[str, float] = field(default_factory=dict)  # bucket -> fraction of the traced import
    reference: bool = False  # a row to compare with, not a function: no target

    @property
    def ratio(self) -> float:
        return self.median_ms / self.baseline_ms

    def bucket_ms(self, bucket: str) -> float:
        return self.shares.get(bucket, 0.0) * self.median_ms

    @property
    def ratio_without_sdk(self) -> float:
        """Init minus the Encryption SDK's own import, over the baseline."""
        return (self.median_ms - self.bucket_ms(SDK)) / self.baseline_ms

    @property
    def passed(self) -> bool:
        if self.reference:
            return True
        if self.ratio_without_sdk > TARGET_RATIO:
            return False
        return self.opens_personal_data or self.ratio <= TARGET_RATIO


def _run(directory: Path, layer: Path, *, flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | ENVIRONMENT
    return subprocess.run(
        [sys.executable, "-S", *flags, "-c", PROBE.format(directory=str(directory), layer=str(layer), site=SITE)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def _sample(directory: Path, layer: Path, *, flags: tuple[str, ...] = ()) -> float:
    return float(_run(directory, layer, flags=flags).stdout.strip().splitlines()[-1]) * 1000


def _trace(directory: Path, layer: Path) -> Module:
    """The traced import of ``app`` (the modules imported at interpreter start-up come before it)."""
    forest = parse_importtime(_run(directory, layer, flags=("-X", "importtime")).stderr)
    return next(module for module in reversed(forest) if module.name == "app")


def _built_layer(into: Path) -> Path:
    """The shared layer as Lambda gets it (layers/shared/Makefile): its sources with unchecked-hash bytecode."""
    layer = into / "python"
    shutil.copytree(LAYER, layer, ignore=shutil.ignore_patterns("__pycache__", "Makefile", "requirements*.txt"))
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(layer)],
        capture_output=True,
        check=True,
        timeout=300,
    )
    return layer


def _compile_stdlib(cache: str) -> None:
    """Bytecode of the standard library alone into ``cache``, as Lambda's runtime has it (nothing else does)."""
    skipped = "/(site-packages|test|tests|idlelib|tkinter|turtledemo)/"
    subprocess.run(
        [sys.executable, "-X", f"pycache_prefix={cache}", "-m", "compileall", "-q", "-x", skipped, STDLIB],
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        capture_output=True,
        check=False,  # a file that does not compile (a test fixture) is not imported either
        timeout=300,
    )


def _shares(traces: list[Module], baseline: frozenset[str]) -> dict[str, float]:
    per_bucket = [attribute(trace, baseline) for trace in traces]
    medians = {bucket: statistics.median(totals[bucket] for totals in per_bucket) for bucket in BUCKETS}
    whole = sum(medians.values()) or 1
    return {bucket: value / whole for bucket, value in medians.items()}


def measure(samples: int = 9, traces: int = 3) -> list[ColdStart]:
    """The reference rows (the baseline first), then every function of the template."""
    template = load()
    functions: dict[str, Path] = {}
    personal: dict[str, bool] = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            properties = function_properties(template, name)
            functions[name] = (ROOT / properties["CodeUri"]).resolve()
            personal[name] = opens_personal_data(properties)
    directories = {"baseline": BASELINE, "validating": VALIDATING_BASELINE, **functions}
    timings: dict[str, list[float]] = {name: [] for name in [*directories, "no bytecode"]}
    traced: dict[str, list[Module]] = {name: [] for name in directories}
    with (
        tempfile.TemporaryDirectory(prefix="cold-start-pycache-") as stdlib_only,
        tempfile.TemporaryDirectory(prefix="cold-start-layer-") as built,
    ):
        _compile_stdlib(stdlib_only)
        layer = _built_layer(Path(built))
        for round_ in range(max(samples, traces)):
            for name, directory in directories.items():
                if round_ < samples:
                    timings[name].append(_sample(directory, layer))
                if round_ < traces:
                    traced[name].append(_trace(directory, layer))
            if round_ < traces:
                flags = ("-X", f"pycache_prefix={stdlib_only}")
                timings["no bytecode"].append(_sample(BASELINE, LAYER, flags=flags))
    baseline_ms = statistics.median(timings["baseline"])
    baseline_modules = frozenset(
        module.name for trace in traced["baseline"] for child in trace.children for module in child.walk()
    )

    def row(name: str, key: str, *, personal_data: bool = False, reference: bool = False) -> ColdStart:
        shares = _shares(traced[key], baseline_modules) if key in traced else {}
        return ColdStart(name, statistics.median(timings[key]), baseline_ms, personal_data, shares, reference)

    return [
        row("baseline: resolver + boto3", "baseline", reference=True),
        row("  with request validation", "validating", reference=True),
        row("  as sam build ships it (no .pyc)", "no bytecode", reference=True),
        *(row(name, name, personal_data=personal[name]) for name in functions),
    ]


def report(results: list[ColdStart]) -> tuple[str, bool]:
    target = f"<={TARGET_RATIO}x"
    name_width = max(len(result.name) for result in results) + 1
    lines = [
        "Cold start: import + module-level init, CPU ms, median of fresh interpreters.",
        "baseline..own: the init by who first imports each module (-X importtime): the baseline's modules,",
        "Powertools, pydantic and settings, the Encryption SDK and what only it pulls in, the project's code",
        "and its module-level work. PD: may open personal data (kms:Decrypt on the data key), so no target",
        "on init/base; -SDK/base: init minus the SDK's own import.",
        f"{'function':<{name_width}}{'init':>7}"
        + "".join(f"{heading:>{width}}" for heading, width in _COLUMNS.values())
        + f"{'PD':>4}{'init/base':>11}{'target':>8}{'-SDK/base':>11}{'target':>8}  ok",
    ]
    ok = True
    for result in results:
        ok = ok and result.passed
        buckets = "".join(
            f"{(f'{result.bucket_ms(bucket):.0f}' if result.shares else '-'):>{_COLUMNS[bucket][1]}}"
            for bucket in BUCKETS
        )
        if result.reference:
            lines.append(f"{result.name:<{name_width}}{result.median_ms:>7.1f}{buckets}{'':>4}{result.ratio:>10.2f}x")
            continue
        lines.append(
            f"{result.name:<{name_width}}{result.median_ms:>7.1f}{buckets}"
            f"{'yes' if result.opens_personal_data else 'no':>4}"
            f"{result.ratio:>10.2f}x{'-' if result.opens_personal_data else target:>8}"
            f"{result.ratio_without_sdk:>10.2f}x{target:>8}  {'yes' if result.passed else 'NO'}"
        )
    return "\n".join(lines), ok
