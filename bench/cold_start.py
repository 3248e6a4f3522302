"""Cold-start cost of every function: importing its module and running its module-level code.

Each sample is a fresh interpreter that imports the function's ``app`` module
and reports the time that took (interpreter start-up itself is excluded, as
it is the same for every function). Functions and the baseline are sampled
interleaved, so machine noise hits all of them alike; the median is reported.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from localcloud.template import ROOT, function_properties, load, placeholder_environment

BASELINE = Path(__file__).resolve().parent / "baseline_function"
LAYER = ROOT / "layers" / "shared"
SITE = sysconfig.get_paths()["purelib"]
TARGET_RATIO = 1.25

# Run with -S and an explicit path, as Lambda lays it out: the function's
# directory, then the layer (/opt/python), then the runtime's packages. This
# keeps the virtualenv's editable-install import hook out of the measurement.
PROBE = """
import sys, time
sys.path[:0] = [{directory!r}, {layer!r}, {site!r}]
started = time.perf_counter()
import app
print(time.perf_counter() - started)
"""

# Placeholder values for what the template's Globals set: module-level code
# validates settings and creates clients, but makes no AWS call.
ENVIRONMENT = {
    **placeholder_environment(),
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}


@dataclass(frozen=True)
class ColdStart:
    name: str
    median_ms: float
    baseline_ms: float

    @property
    def ratio(self) -> float:
        return self.median_ms / self.baseline_ms


def _sample(directory: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | ENVIRONMENT
    output = subprocess.run(
        [sys.executable, "-S", "-c", PROBE.format(directory=str(directory), layer=str(LAYER), site=SITE)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return float(output.strip().splitlines()[-1]) * 1000


def measure(samples: int = 9) -> list[ColdStart]:
    template = load()
    functions = {
        name: (ROOT / function_properties(template, name)["CodeUri"]).resolve()
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    timings: dict[str, list[float]] = {name: [] for name in ["baseline", *functions]}
    for _ in range(samples):
        timings["baseline"].append(_sample(BASELINE))
        for name, directory in functions.items():
            timings[name].append(_sample(directory))
    baseline = statistics.median(timings["baseline"])
    return [ColdStart(name, statistics.median(timings[name]), baseline) for name in functions]


def report(results: list[ColdStart]) -> tuple[str, bool]:
    lines = [
        "Cold start: import + module-level init, median of fresh interpreters",
        f"{'function':<28}{'ms':>9}{'baseline ms':>13}{'ratio':>8}{'target':>9}  ok",
    ]
    ok = True
    for result in results:
        passed = result.ratio <= TARGET_RATIO
        ok = ok and passed
        lines.append(
            f"{result.name:<28}{result.median_ms:>9.1f}{result.baseline_ms:>13.1f}{result.ratio:>7.2f}x"
            f"{'<=' + str(TARGET_RATIO) + 'x':>9}  {'yes' if passed else 'NO'}"
        )
    return "\n".join(lines), ok
