"""The board's first moments, in the background: the day plan solved, the live plan's service
up, the plan handed to it. Streamlit-free.

A fresh board needs all three before it can draw the live plan (about 25 s on a busy 2-core
machine, most of it the service's start). The page does not wait for them: it draws at once
what it has (the area's network and calls, with the stage reached as a progress bar) while a
:class:`Preparation` does the work in a thread of this process, and draws the live board when
it is done. One preparation per area, day and service, shared by every session that opens it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

# What the preparation is doing, in order (the page names each in the user's language).
STAGES = ("planning", "service", "posting")

# Threads, not processes: the work is a solve (OR-Tools releases the interpreter while it
# searches) and waiting on a service. Two: two areas opened at once do not queue.
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="board-prepare")


class Preparation:
    """``work(self)`` running in the background; it reports its stage through :meth:`report`."""

    def __init__(self, work: Callable[[Preparation], Any]) -> None:
        self._lock = threading.Lock()
        self._stage, self._fraction, self._note = STAGES[0], 0.0, ""
        self.started = time.perf_counter()
        self.plan_wall_s: float | None = None  # set by ``work`` when it solved the day plan
        self.future: Future[Any] = _POOL.submit(work, self)

    def report(self, stage: str, fraction: float, note: str = "") -> None:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
        with self._lock:
            self._stage, self._fraction, self._note = stage, min(1.0, max(0.0, fraction)), note

    def progress(self) -> tuple[str, float, str]:
        """(stage, fraction of the whole preparation 0..1, the stage's own note)."""
        with self._lock:
            return self._stage, self._fraction, self._note

    def done(self) -> bool:
        return self.future.done()

    def failed(self) -> BaseException | None:
        """The exception the work raised, once it is done (None while it runs or when it succeeded)."""
        return self.future.exception() if self.future.done() else None

    def wait(self, timeout_s: float | None = None) -> Any:
        return self.future.result(timeout=timeout_s)
