"""Routing problem and result types (plain data, no solver): technicians, visits, matrices, routes, reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dispatch.errors import DispatchError

ALL_SKILLS = "*"


@dataclass(frozen=True)
class BreakRule:
    earliest_start_s: int
    latest_start_s: int
    duration_s: int


@dataclass(frozen=True)
class RoutingTechnician:
    id: str
    start_node: int
    end_node: int
    shift_start_s: int
    shift_end_s: int
    max_level: int
    skills: frozenset[str]  # frozenset({"*"}) means all product lines
    break_window: BreakRule | None
    speed_class: int  # index into travel_s's first axis
    capacity: int | None = None  # max total demand; None = unlimited
    fixed_cost: int = 0  # cost of using this technician at all (objective units)
    max_overtime_s: int = 0  # hard limit on work past shift_end; each second costs overtime


@dataclass(frozen=True)
class RoutingVisit:
    id: str
    node: int
    service_s: int
    window_start_s: int  # bounds the START of service
    window_end_s: int
    required_level: int
    required_skill: str | None
    priority: int  # 1 normal, 2 high, 3 urgent
    dispatch_deadline_s: int | None  # latest departure toward this visit
    demand: int = 0
    pinned_technician: str | None = None  # re-planning: this visit stays with this technician
    pinned_sequence: int | None = None  # order among the technician's pinned visits (ascending)
    pinned_start_s: int | None = None  # exact start of service
    release_s: int = 0  # earliest departure toward it: nobody sets off before the call exists


@dataclass(frozen=True)
class RoutingProblem:
    travel_s: np.ndarray  # int64 [speed_class, n_nodes, n_nodes]
    distance_m: np.ndarray  # int64 [n_nodes, n_nodes]
    technicians: tuple[RoutingTechnician, ...]
    visits: tuple[RoutingVisit, ...]
    node_names: tuple[str, ...]


@dataclass(frozen=True)
class RoutingParams:
    time_limit_s: float
    seed: int = 0
    workers: int = 1  # >1: a portfolio of searches in separate processes, best kept
    # "ortools" | "pyvrp" | "auto" (pyvrp when it can express the problem) | "lns" (the exact
    # ruin-and-recreate search of dispatch.routing.lns, from ``initial_routes``)
    engine: str = "ortools"
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"  # OR-Tools FirstSolutionStrategy name
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"  # OR-Tools LocalSearchMetaheuristic name
    arc_cost: str = "time"  # "time": travel seconds; "distance": metres
    # Money on the arcs (arc_cost "time"): per speed class (travel_s's first axis), the seconds
    # one kilometre's cost is worth, added to each arc's travel seconds; () travel time alone.
    # ``CostRates.km_as_turnaround_s`` gives them at the yuan value of an hour of turnaround.
    km_cost_s: tuple[float, ...] = ()
    dispatch_deadline: str = "soft"  # "soft" (penalised), "hard", "ignore"
    dispatch_late_penalty: int = 100_000  # per visit set off after its deadline (soft mode)
    overtime_cost_per_s: int = 2
    # The lns engine's travel counts each technician's drive home from his last visit. A live
    # tail's re-solve does not (``dispatch.live.replan``): mid-day the next call starts where
    # he is, and the way home is paid once, from wherever his day ends.
    count_way_home: bool = True
    drop_penalty_unit: int = 10**8
    priority_weights: tuple[int, int, int] = (1, 10, 100)  # normal, high, urgent
    pin_penalty_factor: int = 1000  # dropping a pinned visit costs this many times more
    # Warm start: (technician id, visit ids in order) from a previous plan.
    initial_routes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Vehicle minimisation: after the search, try to empty the shortest route (used by the
    # VRPTW benchmark, where the fleet size comes first). Fraction of the time limit it may use.
    route_elimination: float = 0.0
    # Determinism: OR-Tools stops after this many solutions (moves accepted by the local search)
    # instead of at the time limit, which then only guards the wall clock; PyVRP then stops after
    # this many iterations. The same seed and limit give the same plan on any machine.
    solution_limit: int | None = None
    # OR-Tools bounds each large-neighbourhood sub-search by this much wall time (its default,
    # 0.1 s, when None); a deterministic plan lifts it so that no clock decides a route.
    lns_time_limit_s: float | None = None
    # "wall" or "cpu" (this process's CPU time: equal effort on a shared machine; both engines).
    clock: str = "wall"
    # The OR-Tools engine's start: "pyvrp" runs PyVRP first on the problem (relaxed where it
    # cannot express it: breaks, deadlines) and starts the OR-Tools search from its routes, cut
    # back to what the exact timeline keeps; "none" starts from ``first_solution``. Not used with
    # ``initial_routes`` or pins (they are the start).
    warm_start: str = "pyvrp"
    # Share of the time limit the PyVRP phase takes: ``warm_share_exact`` when PyVRP expresses
    # the whole problem (OR-Tools then only polishes), else ``warm_share``.
    warm_share: float = 0.5
    warm_share_exact: float = 0.9
    log_search: bool = False


@dataclass(frozen=True)
class Stop:
    visit_id: str
    departure_toward_s: int  # when the technician sets off toward this visit
    arrival_s: int
    start_s: int
    end_s: int
    travel_s: int
    distance_m: int
    dispatch_late_s: int  # 0 when on time (or no deadline)


@dataclass(frozen=True)
class Route:
    technician_id: str
    stops: tuple[Stop, ...]
    start_s: int  # departure from the home node
    end_s: int  # return to the end node
    travel_s: int
    distance_m: int
    break_start_s: int | None
    overtime_s: int


@dataclass(frozen=True)
class Unserved:
    visit_id: str
    reason_code: str
    reason: str


@dataclass(frozen=True)
class RoutingResult:
    routes: tuple[Route, ...]  # only technicians with at least one stop
    unassigned: tuple[Unserved, ...]
    status: str
    objective: int
    engine: str = "ortools"
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def vehicles(self) -> int:
        return len(self.routes)


def validate(problem: RoutingProblem) -> None:
    t, d = problem.travel_s, problem.distance_m
    if t.ndim != 3 or t.shape[1] != t.shape[2]:
        raise DispatchError(f"travel_s must have shape [speed_class, n, n]; got {t.shape}")
    n = t.shape[1]
    if d.shape != (n, n):
        raise DispatchError(f"distance_m must have shape ({n}, {n}); got {d.shape}")
    if len(problem.node_names) != n:
        raise DispatchError(f"node_names has {len(problem.node_names)} names for {n} nodes")
    if (t < 0).any() or (d < 0).any():
        raise DispatchError("travel_s and distance_m must be non-negative")
    seen: set[str] = set()
    for k in problem.technicians:
        if k.id in seen:
            raise DispatchError(f"technician id {k.id!r} appears twice")
        seen.add(k.id)
        if not (0 <= k.start_node < n and 0 <= k.end_node < n):
            raise DispatchError(f"technician {k.id}: start/end node outside 0..{n - 1}")
        if not 0 <= k.speed_class < t.shape[0]:
            raise DispatchError(f"technician {k.id}: speed_class {k.speed_class} outside 0..{t.shape[0] - 1}")
        if k.shift_end_s < k.shift_start_s:
            raise DispatchError(f"technician {k.id}: shift ends before it starts")
    seen = set()
    for v in problem.visits:
        if v.id in seen:
            raise DispatchError(f"visit id {v.id!r} appears twice")
        seen.add(v.id)
        if not 0 <= v.node < n:
            raise DispatchError(f"visit {v.id}: node {v.node} outside 0..{n - 1}")
        if v.window_end_s < v.window_start_s or v.service_s < 0:
            raise DispatchError(f"visit {v.id}: empty window or negative service time")
        if v.priority not in (1, 2, 3):
            raise DispatchError(f"visit {v.id}: priority {v.priority} not in 1, 2, 3")


def qualified(tech: RoutingTechnician, visit: RoutingVisit) -> bool:
    skill_ok = visit.required_skill is None or ALL_SKILLS in tech.skills or visit.required_skill in tech.skills
    return tech.max_level >= visit.required_level and skill_ok

