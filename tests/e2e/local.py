"""Starting ``python -m localcloud`` (what ``make run`` runs) for a test module, on free ports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.process import ROOT, StartFailed, running

__all__ = ["ROOT", "start_local_cloud"]


def start_local_cloud(factory: pytest.TempPathFactory, *parameters: str) -> Iterator[dict[str, Any]]:
    """The local cloud with template ``parameters`` (``NAME=VALUE``); yields its state file's content."""
    try:
        with running(factory.mktemp("cloud"), *parameters) as cloud:
            yield cloud
    except StartFailed as failure:
        pytest.fail(str(failure))
