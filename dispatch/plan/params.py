"""The day plan's parameters, a dispatcher's pin, and the plan it returns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from dispatch.assignment import AssignmentParams
from dispatch.errors import DispatchError
from dispatch.routing import (
    RoutingProblem,
    RoutingResult,
)
from dispatch.rules import DEFAULT_RULES, Rules


@dataclass(frozen=True)
class PlanParams:
    day: int = 0  # day index since the dataset epoch
    # The business rules (the target, overtime, candidate areas, benches, collection): one rule
    # book, which the assignment follows (``assignment_params``).
    rules: Rules = DEFAULT_RULES
    assignment: AssignmentParams = field(default_factory=AssignmentParams)
    # Routing time per area grows with its size, within bounds, so no area stalls the plan. Half
    # of the earlier 0.05 s / 0.5 s: the national day plans the same (km per job 28.82 -> 28.81,
    # same one-hour rate and overtime, seed 1) and Zhejiang's within noise (seeds 1-3), while the
    # morning routing of the 355 national areas takes ~20 % less wall time (stop 27's sweep).
    routing_s_per_visit: float = 0.025
    routing_min_s: float = 0.25
    routing_max_s: float = 10.0
    seed: int = 0
    # Reproducible across machines and executors: routing descends to a local optimum and stops
    # there (no metaheuristic, so no time budget decides the answer; a generous cap stays).
    deterministic: bool = False
    # During the day, re-solve each area's movable work this often (None: insertion only).
    reoptimise_every_s: int | None = None
    reoptimise_time_limit_s: float = 0.3
    # The engine of that re-solve: "ortools", or "lns" (exact ruin-and-recreate, every move timed
    # by the exact timeline; see dispatch.routing.lns and `dispatch bench hindsight`).
    reoptimise_engine: str = "ortools"
    # The lns re-solve stops after this many steps per movable visit (within its time limit).
    reoptimise_steps_per_visit: int | None = None
    # The morning batch's start: "pyvrp" (PyVRP's routes on the relaxed batch, then OR-Tools) or "none".
    routing_warm_start: str = "pyvrp"
    # Kilometres' cost on the routing arcs (RoutingParams.km_cost_s): make_plan sets it from
    # assignment.cost, so that both objectives weigh money at one turnaround_cny_per_h.
    routing_km_cost_s: tuple[float, ...] = ()
    # The routing budgets' clock (RoutingParams.clock): "wall" bounds the plan's latency; "cpu"
    # gives every solve the same effort whatever the machine's load (benchmarks).
    routing_clock: str = "wall"
    # Online policy: a later call's added driving includes the change of the technician's way home
    # (``LiveArea.count_return``; measured with `dispatch bench hindsight --count-return`).
    insertion_counts_return: bool = False

    def __post_init__(self) -> None:
        if self.routing_clock not in ("wall", "cpu"):
            raise DispatchError(f"routing_clock must be 'wall' or 'cpu', got {self.routing_clock!r}")
        if self.reoptimise_every_s is not None and self.reoptimise_every_s <= 0:
            raise DispatchError(f"reoptimise_every_s must be > 0 seconds or None, got {self.reoptimise_every_s}")
        # One rule book, the plan's: an assignment given another one is an error, not a choice.
        if self.assignment.rules not in (DEFAULT_RULES, self.rules):
            raise DispatchError("PlanParams.assignment.rules differs from PlanParams.rules; give the rule book "
                                "once, as PlanParams(rules=...)")

    def assignment_params(self) -> AssignmentParams:
        """The assignment's parameters under the plan's rule book (and, for a deterministic plan,
        a deterministic solve)."""
        return replace(self.assignment, rules=self.rules,
                       deterministic=self.deterministic or self.assignment.deterministic)


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

