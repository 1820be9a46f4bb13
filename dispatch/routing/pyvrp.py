"""Second routing engine: PyVRP's iterated local search behind the same ``solve`` interface.

Used (``RoutingParams.engine`` = "pyvrp", or "auto" when :func:`dispatch.routing.pyvrp_can_express`
says so) for problems without breaks, skill restrictions, dispatch deadlines, pins or overtime,
i.e. plain multi-depot VRPTW with capacities and fixed costs, such as the Solomon benchmark. There
it is clearly stronger than OR-Tools' guided local search in the same time (see the VRPTW
benchmark). The times in the result are recomputed here from the matrices (earliest schedule
from the departure PyVRP chose), so the result obeys exactly the semantics the checker verifies.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from dispatch.reasons import DROPPED_FOR_PRIORITY, Reason
from dispatch.routing.precheck import precheck
from dispatch.routing.problem import (
    Route,
    RoutingParams,
    RoutingProblem,
    RoutingResult,
    RoutingTechnician,
    Stop,
    Unserved,
)


def _type_key(k: RoutingTechnician) -> tuple:
    # Technicians that differ only by id share one PyVRP vehicle type (faster search).
    return (k.start_node, k.end_node, k.shift_start_s, k.shift_end_s, k.capacity, k.fixed_cost, k.speed_class)


def solve_pyvrp(problem: RoutingProblem, params: RoutingParams) -> RoutingResult:
    import pyvrp
    from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria

    t0 = time.perf_counter()
    eligible, unserved = precheck(problem, params)
    visits = [v for v in problem.visits if v.id in eligible]
    techs = problem.technicians
    stats: dict[str, Any] = {}
    if not visits or not techs:
        return RoutingResult((), tuple(unserved), "optimal", 0, "pyvrp", stats)

    depot_nodes = sorted({k.start_node for k in techs} | {k.end_node for k in techs})
    loc_nodes = np.array(depot_nodes + [v.node for v in visits], dtype=np.int64)
    depot_pos = {n: i for i, n in enumerate(depot_nodes)}
    locations = [pyvrp.Location(0, 0) for _ in loc_nodes]  # coordinates only serve plotting
    depots = [pyvrp.Depot(location=i) for i in range(len(depot_nodes))]
    weights = params.priority_weights

    groups: dict[tuple, list[RoutingTechnician]] = {}
    for k in techs:
        groups.setdefault(_type_key(k), []).append(k)
    classes = sorted({k.speed_class for k in techs})
    profile_of = {sc: i for i, sc in enumerate(classes)}
    sub = np.ix_(loc_nodes, loc_nodes)
    durations = [np.ascontiguousarray(problem.travel_s[sc][sub], dtype=np.int64) for sc in classes]
    if params.arc_cost == "distance":
        distances = [np.ascontiguousarray(problem.distance_m[sub], dtype=np.int64) for _ in classes]
    else:  # cost = travel seconds; PyVRP's duration cost would also count waiting and service
        distances = durations
    vtypes = []
    type_techs: list[list[RoutingTechnician]] = []
    use_capacity = any(v.demand for v in visits) or any(k.capacity is not None for k in techs)
    big = sum(v.demand for v in visits) + 1
    for key, ks in groups.items():
        k = ks[0]
        cap = [k.capacity if k.capacity is not None else big] if use_capacity else []
        vtypes.append(pyvrp.VehicleType(
            len(ks), capacity=cap, start_depot=depot_pos[k.start_node], end_depot=depot_pos[k.end_node],
            fixed_cost=int(k.fixed_cost), tw_early=k.shift_start_s, tw_late=k.shift_end_s,
            start_late=k.shift_end_s, profile=profile_of[k.speed_class], unit_distance_cost=1,
            unit_duration_cost=0, name=k.id))
        type_techs.append(ks)

    def build(optional: bool) -> Any:
        clients = [
            pyvrp.Client(location=len(depot_nodes) + j, delivery=[v.demand] if use_capacity else [],
                         service_duration=v.service_s, tw_early=v.window_start_s, tw_late=v.window_end_s,
                         required=not optional,
                         prize=int(params.drop_penalty_unit * weights[v.priority - 1]) if optional else 0,
                         name=v.id)
            for j, v in enumerate(visits)]
        return pyvrp.ProblemData(locations, clients, depots, vtypes, distances, durations)

    # Everyone must be served first: PyVRP's search is at its best on that form. Only if that is
    # infeasible do the visits become optional with their priority as prize (drops with reasons).
    limit = params.time_limit_s

    def stop(seconds: float) -> Any:
        clock = _CpuRuntime(seconds) if params.clock == "cpu" else MaxRuntime(seconds)
        if params.solution_limit is None:
            return clock
        return MultipleCriteria([MaxIterations(params.solution_limit), clock])

    data = build(optional=False)
    if params.route_elimination > 0 and len(vtypes) == 1:
        # Fleet minimisation first (PyVRP's own: solve with one vehicle less until that fails),
        # then the distance search with the smallest fleet found. Fixed costs alone leave about
        # one vehicle too many on a third of the Solomon R/RC instances at 5 s.
        clock = time.process_time if params.clock == "cpu" else time.perf_counter
        c0 = clock()
        fleet = pyvrp.minimise_fleet(data, stop(params.route_elimination * limit), seed=params.seed,
                                     params=_solve_params())
        left = max(0.2, limit - (clock() - c0))  # it stops early at the lower bound: keep the rest
        stats["fleet"] = (vtypes[0].num_available, fleet.num_available)
        small = data.replace(vehicle_types=[fleet])
        res = pyvrp.solve(small, stop(left), seed=params.seed, display=False, collect_stats=False,
                          params=_solve_params())
        if not res.is_feasible():
            res = pyvrp.solve(data, stop(left), seed=params.seed, display=False, collect_stats=False,
                          params=_solve_params())
    else:
        res = pyvrp.solve(data, stop(limit), seed=params.seed, display=False, collect_stats=False,
                          params=_solve_params())
    stats["required_pass_feasible"] = res.is_feasible()
    if not res.is_feasible():
        data = build(optional=True)
        res = pyvrp.solve(data, stop(max(0.2, limit / 2)), seed=params.seed, display=False,
                          collect_stats=False, params=_solve_params())
    best = res.best
    routes: list[Route] = []
    served: set[str] = set()
    next_of_type = [0] * len(vtypes)
    if res.is_feasible():
        for pr in best.routes():
            t = pr.vehicle_type()
            k = type_techs[t][next_of_type[t]]
            next_of_type[t] += 1
            seq = [visits[a.idx] for a in pr if a.type == pyvrp.ActivityType.CLIENT]
            routes.append(_timed_route(problem, k, seq, int(pr.start_time())))
            served.update(v.id for v in seq)
    for v in visits:
        if v.id not in served:
            unserved.append(Unserved(v.id, Reason.CAPACITY, DROPPED_FOR_PRIORITY))
    stats["wall_s"] = time.perf_counter() - t0
    status = "feasible" if res.is_feasible() else "no_solution"
    return RoutingResult(tuple(routes), tuple(unserved), status, int(res.cost()) if res.is_feasible() else 0,
                         "pyvrp", stats)


def _solve_params() -> Any:
    """PyVRP's search parameters with a higher cap on its infeasibility penalties.

    Our integer units are fine (1/1000 of a Solomon unit, seconds in the field), so distances
    run to 1e6 and more; PyVRP's default cap of 1e5 on the penalty per unit of time warp then
    binds (its PenaltyBoundWarning) and the search drifts among infeasible solutions. Measured on
    Homberger-200 at 30 s: r1_2_8 went from no feasible solution to a 1.2 % gap, rc1_2_5 from
    18.6 % to 8.7 %."""
    import pyvrp

    return pyvrp.SolveParams(penalty=pyvrp.PenaltyParams(max_penalty=1e8))


class _CpuRuntime:
    """PyVRP stopping criterion on this process's CPU time: on a shared machine wall time swings
    2x with the load, CPU time much less, so benchmarks compare equal effort."""

    def __init__(self, seconds: float) -> None:
        self.end = time.process_time() + seconds

    def __call__(self, best_cost: float) -> bool:
        return time.process_time() >= self.end


def _timed_route(problem: RoutingProblem, k: RoutingTechnician, seq: list, depart: int) -> Route:
    """Earliest schedule of ``seq`` when leaving the depot at ``depart``."""
    tt = problem.travel_s[k.speed_class]
    dd = problem.distance_m
    stops = []
    node, free = k.start_node, depart
    travel = dist = 0
    for v in seq:
        leg, d = int(tt[node, v.node]), int(dd[node, v.node])
        arrival = free + leg
        start = max(arrival, v.window_start_s)
        late = 0 if v.dispatch_deadline_s is None else max(0, free - v.dispatch_deadline_s)
        stops.append(Stop(v.id, free, arrival, start, start + v.service_s, leg, d, late))
        travel += leg
        dist += d
        node, free = v.node, start + v.service_s
    leg = int(tt[node, k.end_node])
    travel += leg
    dist += int(dd[node, k.end_node])
    end = free + leg
    return Route(k.id, tuple(stops), depart, end, travel, dist, None, max(0, end - k.shift_end_s))
