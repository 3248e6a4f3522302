"""``python -m localcloud`` (what ``make run`` runs) as a child process on free ports, for the
end-to-end tests and the benches: they talk to it over HTTP, as a user's tools do."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class StartFailed(RuntimeError):
    """The local cloud exited or did not write its state file in time; the message holds its output."""


def client(cloud: dict[str, Any], service: str) -> Any:
    """A boto3 client of the running local cloud's embedded AWS (what ``running`` yielded)."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=cloud["aws_endpoint_url"],
        region_name=cloud["region"],
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - moto takes any credentials
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running(state_dir: Path, *parameters: str, timeout: float = 90) -> Iterator[dict[str, Any]]:
    """The local cloud with template ``parameters`` (``NAME=VALUE``); yields its state file's content
    plus ``process``, ``state`` (the file) and ``output`` (its lines so far). Killed on exit."""
    state = state_dir / "demo.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    command = [sys.executable, "-m", "localcloud", "--port", str(free_port()), "--aws-port", str(free_port())]
    command += ["--receiver-port", str(free_port())]  # the log-stream receiver: several clouds may run at once
    command += ["--state-file", str(state), "--quiet"]
    for parameter in parameters:
        command += ["--parameter", parameter]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, arguments built here
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    # Read its output as a terminal would: a full pipe would block the process's writes (and its exit).
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + timeout
        while not state.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                reader.join(timeout=5)
                raise StartFailed("local cloud did not start:\n" + "".join(output))
            time.sleep(0.2)
        yield {"process": process, "state": state, "output": output, **json.loads(state.read_text())}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
