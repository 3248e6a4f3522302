"""Starting ``python -m localcloud`` (what ``make run`` runs) for a test module, on free ports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_local_cloud(factory: pytest.TempPathFactory, *parameters: str) -> Iterator[dict[str, Any]]:
    """The local cloud with template ``parameters`` (``NAME=VALUE``); yields its state file's content."""
    state = factory.mktemp("cloud") / "demo.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    command = [sys.executable, "-m", "localcloud", "--port", str(free_port()), "--aws-port", str(free_port())]
    command += ["--state-file", str(state), "--quiet"]
    for parameter in parameters:
        command += ["--parameter", parameter]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # Read its output as a terminal would: a full pipe would block the process's writes (and its exit).
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True)
    reader.start()
    deadline = time.monotonic() + 90
    while not state.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            reader.join(timeout=5)
            pytest.fail("local cloud did not start:\n" + "".join(output))
        time.sleep(0.2)
    demo = json.loads(state.read_text())
    yield {"process": process, "state": state, "output": output, **demo}
    if process.poll() is None:
        process.kill()
