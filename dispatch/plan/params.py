"""The day plan's parameters, a dispatcher's pin, and the plan it returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from dispatch.assignment import AssignmentParams
from dispatch.errors import DispatchError
from dispatch.routing import (
    RoutingProblem,
    RoutingResult,
)

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class PlanParams:
    day: int = 0  # day index since the dataset epoch
    dispatch_target_s: int = 3600
    # Work past a shift's end that a plan may ask for (paid, and shown as the overtime KPI).
    # China's Labour Law (art. 41) sets one hour a day as the ordinary limit.
    max_overtime_s: int = 3600
    assignment: AssignmentParams = field(default_factory=AssignmentParams)
    # Routing time per area grows with its size, within bounds, so no area stalls the plan.
    routing_s_per_visit: float = 0.05
    routing_min_s: float = 0.5
    routing_max_s: float = 10.0
    seed: int = 0
    # Reproducible across machines and executors: routing descends to a local optimum and stops
    # there (no metaheuristic, so no time budget decides the answer; a generous cap stays).
    deterministic: bool = False
    # During the day, re-solve each area's movable work this often (None: insertion only).
    reoptimise_every_s: int | None = None
    reoptimise_time_limit_s: float = 0.3
    # A call its own area cannot serve within the hour without overtime is offered to the
    # technicians of this many nearest areas (its own included), within the maximum drive.
    candidate_areas: int = 3

    def __post_init__(self) -> None:
        if self.reoptimise_every_s is not None and self.reoptimise_every_s <= 0:
            raise DispatchError(f"reoptimise_every_s must be > 0 seconds or None, got {self.reoptimise_every_s}")
        if self.max_overtime_s < 0 or self.candidate_areas < 1:
            raise DispatchError(f"max_overtime_s must be >= 0 s and candidate_areas >= 1, got "
                                f"{self.max_overtime_s} and {self.candidate_areas}")


@dataclass(frozen=True)
class Pin:
    """A dispatcher's pin: this request goes to this technician (optionally at this start)."""

    request_id: str
    technician_id: str
    start_s: int | None = None


@dataclass(frozen=True)
class Plan:
    dataset_fingerprint: str
    params: PlanParams
    stops: pd.DataFrame  # one row per routed visit
    routes: pd.DataFrame  # one row per technician with work
    outcomes: pd.DataFrame  # one row per request (see kpis.py)
    workload: pd.DataFrame  # one row per technician (see kpis.py)
    bench: pd.DataFrame  # bench hours used per centre and day
    unassigned: pd.DataFrame  # request_id, reason_code, reason
    timings_s: dict[str, float]
    routing_stats: pd.DataFrame  # per area: visits, technicians, time limit, wall, status
    # Per area, the routing problem and its solution: what real-time operations start from.
    # Not persisted (the frames are); rebuilt from the dataset when a stored plan goes live.
    area_problems: dict[str, RoutingProblem] = field(default_factory=dict, repr=False)
    area_results: dict[str, RoutingResult] = field(default_factory=dict, repr=False)

