"""Shared pieces of the benchmark runners: machine facts, peak memory, JSON output.

Runners take parameters and an optional progress callback and return dicts (plus formatted
tables); the `dispatch bench ...` commands parse the options, pass a progress callback and print."""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def machine_info() -> dict[str, Any]:
    from importlib import metadata  # parses e-mail headers: 30 ms `dispatch --help` need not pay

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ortools": metadata.version("ortools"),
    }


def peak_rss_mib() -> float:
    """Peak resident memory of this process and its finished children, MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + kids) / 1024.0  # Linux reports KiB


def cpu_s() -> float:
    return sum(cpu_split_s())


def cpu_split_s() -> tuple[float, float]:
    """CPU seconds of this process, and of its finished children (a process pool's workers
    count once the pool has shut down; a Dask cluster's do not count)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


@contextmanager
def timed(into: dict[str, float], key: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        into[key] = round(time.perf_counter() - t0, 3)


def write_json(path: str | Path | None, doc: dict[str, Any]) -> None:
    if not path:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": machine_info(), **doc}, indent=2, default=str) + "\n")


Log = Callable[[str], None]
"""A runner's progress callback: one line of text about the case it starts or has finished."""
