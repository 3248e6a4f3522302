"""Independent AWS calls side by side (the shards of a partition, the parts of a total).

boto3 clients are thread-safe; each job runs in a copy of the caller's context,
so what the caller's context carries (the local cloud's current function, used
to check each call against that function's role) follows the call.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

MAX_WORKERS = 16


def side_by_side[T](jobs: Sequence[Callable[[], T]], *, workers: int = MAX_WORKERS) -> list[T]:
    """The results of ``jobs``, in order; run one after another when there is one job (or one worker)."""
    if len(jobs) <= 1 or workers <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = [pool.submit(contextvars.copy_context().run, job) for job in jobs]
        return [future.result() for future in futures]
