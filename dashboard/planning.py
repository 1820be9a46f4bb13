"""Day plans for the board: ``make_plan`` on an area with the dispatcher's pins, how many
processes a plan is worth, and its progress as one fraction for ``st.progress``."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from dashboard.data import technician_area
from dashboard.i18n import ProgressLabel
from dispatch.dataset import Dataset
from dispatch.executor import default_workers, executor
from dispatch.kpis import kpis
from dispatch.plan import Pin, Plan, PlanParams, make_plan
from dispatch.travel import DEFAULT_TRAVEL, Travel

Progress = Callable[[str, int, int], None]

# A spawn pool costs about two seconds to start (each worker imports the solver), so it pays
# only on a large province: Guangdong's 2,674 calls plan in 7.4 s with two processes against
# 9.1 s alone, while the Zhejiang sample's 1,369 plan in 3.5 s alone against 4.8-6 s in a pool.
POOL_MIN_CALLS = 2000


def plan_area(ds: Dataset, day: int, seed: int = 0, pins: tuple[Pin, ...] = (),
              progress: Progress | None = None, workers: int = 1, deterministic: bool = False,
              travel: Travel = DEFAULT_TRAVEL) -> Plan:
    """``make_plan`` for one day, with the dispatcher's pins (``RoutingVisit.pinned_*``). With
    ``workers`` > 1 the routing areas are solved in a spawn process pool of that size
    (``dispatch.executor``); with ``deterministic`` the plan is the same as the sequential one
    (otherwise each area's search stops on a clock, which a busy machine moves)."""
    params = PlanParams(seed=seed, day=day, deterministic=deterministic)
    if workers <= 1:
        return make_plan(ds, params, travel=travel, progress=progress, pins=pins)
    with executor(workers) as pool:
        return make_plan(ds, params, pool=pool, travel=travel, progress=progress, pins=pins)


def plan_workers(ds: Dataset, prefecture: str, min_calls: int = POOL_MIN_CALLS) -> int:
    """Processes for a plan: a whole province of at least ``min_calls`` calls is routed area by
    area in a pool (one process per CPU, at most one per area); anything smaller is solved in
    this process."""
    if prefecture or len(ds.requests) < min_calls:
        return 1
    areas = len(set(technician_area(ds).values()))
    return max(1, min(default_workers(), areas))


def plan_kpis(plan: Plan) -> dict[str, float]:
    return kpis(plan.outcomes, plan.workload)


class ProgressTracker:
    """Turns ``make_plan``'s (stage, done, total) reports into one fraction 0..1 and a label:
    assignment is the first tenth, routing the areas' morning batches the next six, dispatching
    the day's calls the rest."""

    WEIGHTS: ClassVar[dict[str, tuple[float, float]]] = {"assignment": (0.0, 0.1), "routing areas": (0.1, 0.6), "dispatching calls": (0.7, 0.3)}

    def __init__(self, sink: Callable[[float, ProgressLabel], None]) -> None:
        self.sink = sink
        self.last = 0.0

    def __call__(self, stage: str, done: int, total: int, note: str = "") -> None:
        lo, span = self.WEIGHTS.get(stage, (self.last, 0.0))
        frac = lo + span * (done / total if total else 1.0)
        self.last = max(self.last, min(1.0, frac))
        self.sink(self.last, ProgressLabel(stage, done, total, note))
