"""Routing entry point: validate, pre-check the visits nobody can serve, pick the engine, re-time releases exactly."""

from __future__ import annotations

import time
from dataclasses import replace

from dispatch.errors import DispatchError
from dispatch.reasons import Reason
from dispatch.routing.lns import improve, routes_result
from dispatch.routing.ortools import solve_ortools
from dispatch.routing.precheck import precheck
from dispatch.routing.problem import (
    RoutingParams,
    RoutingProblem,
    RoutingResult,
    Unserved,
    validate,
)
from dispatch.routing.pyvrp import pyvrp_start, solve_pyvrp
from dispatch.routing.timeline import as_route, timeline


def pyvrp_can_express(problem: RoutingProblem, params: RoutingParams) -> bool:
    """PyVRP 0.14 has no breaks, departure deadlines, pins or releases (skills become profiles,
    overtime is its own; see dispatch.routing.pyvrp)."""
    if any(k.break_window is not None for k in problem.technicians):
        return False
    if params.dispatch_deadline != "ignore" and any(v.dispatch_deadline_s is not None for v in problem.visits):
        return False
    if any(v.pinned_technician or v.pinned_start_s is not None or v.release_s for v in problem.visits):
        return False
    return not params.initial_routes


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
    if engine == "lns":
        return _solve_lns(problem, params)
    if engine != "ortools":
        raise DispatchError(f"unknown routing engine {engine!r}; expected 'ortools', 'pyvrp', 'lns' or 'auto'")
    if params.warm_start not in ("pyvrp", "none"):
        raise DispatchError(f"unknown warm start {params.warm_start!r}; expected 'pyvrp' or 'none'")
    warm: dict = {}
    if params.warm_start == "pyvrp" and not params.initial_routes and problem.visits and problem.technicians \
            and not any(v.pinned_technician or v.pinned_start_s is not None for v in problem.visits):
        params, warm = _pyvrp_phase(problem, params)
    result = _solve_portfolio(problem, params) if params.workers > 1 else solve_ortools(problem, params)
    if warm:
        result = replace(result, stats={**result.stats, "warm_start": warm})
    return _exact_release_times(problem, result, hard_deadline=params.dispatch_deadline == "hard")


def _solve_lns(problem: RoutingProblem, params: RoutingParams) -> RoutingResult:
    """The exact ruin-and-recreate search from ``initial_routes`` (or from nothing: every visit
    then goes in by cheapest exact insertion), for the time limit on the CPU clock or
    ``solution_limit`` steps, whichever comes first."""
    eligible, unserved = precheck(problem, params)
    routes: dict[str, list[str]] = {}
    for tid, ids in params.initial_routes:
        routes.setdefault(tid, []).extend(x for x in ids if x in eligible)
    servable = replace(problem, visits=tuple(v for v in problem.visits if v.id in eligible))
    found, stats = improve(servable, routes, params, params.time_limit_s, max_steps=params.solution_limit)
    result = routes_result(servable, found, stats=stats)
    return replace(result, unassigned=result.unassigned + tuple(unserved))


def _pyvrp_phase(problem: RoutingProblem, params: RoutingParams) -> tuple[RoutingParams, dict]:
    """The field-service engine's first phase: PyVRP on the problem (relaxed where it cannot
    express it), for ``warm_share`` of the time limit (``warm_share_exact`` when it expresses the
    whole problem); OR-Tools then searches from its routes for the rest of the time, where every
    constraint holds. Returns the OR-Tools phase's parameters and the phase's figures."""
    clock = time.process_time if params.clock == "cpu" else time.perf_counter
    c0 = clock()
    share = params.warm_share_exact if pyvrp_can_express(problem, params) else params.warm_share
    stats: dict = {}
    routes, exact = pyvrp_start(problem, params, params.time_limit_s * share, stats)
    spent = clock() - c0
    stats.update(seconds=round(spent, 3), exact=exact)
    left = max(0.1, params.time_limit_s - spent)
    # A fleet minimised by PyVRP is kept; OR-Tools has too little time left to empty more routes.
    elim = params.route_elimination if "fleet" not in stats else 0.0
    return replace(params, initial_routes=routes, time_limit_s=left, route_elimination=elim), stats


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
        if ids:
            routes.append(as_route(problem, k, ids, t, visits))
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

