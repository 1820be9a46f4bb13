"""Where parallel work runs: a local spawn process pool by default, a Dask cluster on request.

Both are plain ``concurrent.futures.Executor`` objects, so callers have one code path. The spawn
start method keeps workers free of the parent's state (and works the same under Streamlit and
Dask, which re-import modules); no module of the package starts work at import.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


@contextmanager
def executor(workers: int | None = None, scheduler: str | None = None, read_env: bool = True) -> Iterator[Executor]:
    """An executor for the duration of the block.

    ``scheduler`` (or the ``DASK_SCHEDULER_ADDRESS`` environment variable, unless ``read_env``
    is false: a benchmark's process pool) selects a Dask distributed cluster, e.g.
    ``tcp://10.0.0.5:8786``; otherwise a spawn process pool with ``workers`` processes (default:
    the CPUs this process may use).
    """
    address = scheduler or (os.environ.get(SCHEDULER_ENV) if read_env else None)
    if address:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - depends on the install
            from dispatch.errors import DispatchError

            raise DispatchError(
                "a Dask scheduler was requested but 'distributed' is not installed; "
                "install the project with the 'dask' extra: pip install -e '.[dask]'"
            ) from exc
        client = Client(address, set_as_default=False)
        try:
            yield client.get_executor()
        finally:
            client.close()
        return
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers or default_workers(), mp_context=ctx)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
