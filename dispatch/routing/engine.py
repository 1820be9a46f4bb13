"""Routing entry point: validate, pre-check the visits nobody can serve, pick the engine, re-time releases exactly."""

from __future__ import annotations

from dataclasses import replace

from dispatch.errors import DispatchError
from dispatch.reasons import Reason
from dispatch.routing.ortools import solve_ortools
from dispatch.routing.problem import (
    Route,
    RoutingParams,
    RoutingProblem,
    RoutingResult,
    Unserved,
    qualified,
    validate,
)
from dispatch.routing.pyvrp import solve_pyvrp
from dispatch.routing.timeline import timeline


def pyvrp_can_express(problem: RoutingProblem, params: RoutingParams) -> bool:
    """PyVRP 0.14 has no breaks, skills, departure deadlines, pins, releases or overtime."""
    if any(k.break_window is not None or k.max_overtime_s for k in problem.technicians):
        return False
    if params.dispatch_deadline != "ignore" and any(v.dispatch_deadline_s is not None for v in problem.visits):
        return False
    if any(v.pinned_technician or v.pinned_start_s is not None or v.release_s for v in problem.visits):
        return False
    if params.initial_routes:
        return False
    return all(qualified(k, v) for k in problem.technicians for v in problem.visits)


def solve(problem: RoutingProblem, params: RoutingParams) -> RoutingResult:
    """Route the technicians; every visit ends up in a route or in ``unassigned`` with a reason."""
    validate(problem)
    engine = params.engine
    if engine == "auto":
        engine = "pyvrp" if pyvrp_can_express(problem, params) else "ortools"
    if engine == "pyvrp":
        if not pyvrp_can_express(problem, params):
            raise DispatchError("engine 'pyvrp' cannot express breaks, skills, deadlines, pins or overtime; "
                                "use engine 'ortools' or 'auto'")
        return solve_pyvrp(problem, params)
    if engine != "ortools":
        raise DispatchError(f"unknown routing engine {engine!r}; expected 'ortools', 'pyvrp' or 'auto'")
    result = _solve_portfolio(problem, params) if params.workers > 1 else solve_ortools(problem, params)
    return _exact_release_times(problem, result, hard_deadline=params.dispatch_deadline == "hard")


def _exact_release_times(problem: RoutingProblem, result: RoutingResult, hard_deadline: bool) -> RoutingResult:
    """Re-time the routes that hold a released visit by the exact rules (the model only bounds
    a release loosely, see the model); a visit those times cannot keep is given up, with why."""
    if not any(v.release_s > 0 for v in problem.visits) or not result.routes:
        return result
    visits = {v.id: v for v in problem.visits}
    techs = {k.id: k for k in problem.technicians}
    routes, unserved = [], list(result.unassigned)
    for r in result.routes:
        if not any(visits[s.visit_id].release_s > 0 for s in r.stops):
            routes.append(r)
            continue
        k = techs[r.technician_id]
        ids = [s.visit_id for s in r.stops]
        t = timeline(problem, k, ids, visits)

        def broken(t):  # type: ignore[no-untyped-def]
            if not t.feasible:
                return t.bad_visit or ids[-1]
            late = [s.visit_id for s in t.stops if s.dispatch_late_s > 0]
            return late[0] if hard_deadline and late else None

        while ids and (drop := broken(t)) is not None:
            ids.remove(drop)
            unserved.append(Unserved(drop, Reason.CAPACITY, "dropped: once the call's time is respected (no "
                                     "one sets off before it), the route has no room left for it"))
            t = timeline(problem, k, ids, visits)
        if not ids:
            continue
        tt, dd = problem.travel_s[k.speed_class], problem.distance_m
        last = visits[ids[-1]].node
        routes.append(Route(k.id, tuple(t.stops), t.start_s, t.end_s,
                            sum(s.travel_s for s in t.stops) + int(tt[last, k.end_node]),
                            sum(s.distance_m for s in t.stops) + int(dd[last, k.end_node]),
                            t.break_start_s, max(0, t.end_s - k.shift_end_s)))
    return replace(result, routes=tuple(routes), unassigned=tuple(unserved))


# Searches the portfolio runs, one per worker (first solution, metaheuristic); the first is the
# default, the others give the search a different start or a different way out of local optima.
_PORTFOLIO = (
    ("PARALLEL_CHEAPEST_INSERTION", "GUIDED_LOCAL_SEARCH"),
    ("SAVINGS", "GUIDED_LOCAL_SEARCH"),
    ("LOCAL_CHEAPEST_INSERTION", "SIMULATED_ANNEALING"),
    ("PATH_CHEAPEST_ARC", "TABU_SEARCH"),
)


def _solve_portfolio(problem: RoutingProblem, params: RoutingParams) -> RoutingResult:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from dataclasses import replace

    variants = [replace(params, workers=1, first_solution=fs, metaheuristic=mh, seed=params.seed + i)
                for i, (fs, mh) in enumerate(_PORTFOLIO[: params.workers])]
    variants[0] = replace(params, workers=1)
    with ProcessPoolExecutor(len(variants), mp_context=mp.get_context("spawn")) as pool:
        results = list(pool.map(solve_ortools, [problem] * len(variants), variants))
    best = min(results, key=_result_rank)
    stats = dict(best.stats)
    stats["portfolio"] = [{"first_solution": r.stats.get("first_solution"), "objective": r.objective,
                           "vehicles": r.vehicles, "unassigned": len(r.unassigned)} for r in results]
    return replace(best, stats=stats)


def _result_rank(r: RoutingResult) -> tuple[int, int]:
    return (0 if r.status != "no_solution" else 1, r.objective)

