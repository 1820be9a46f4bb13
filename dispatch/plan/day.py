"""The day's dispatch: each area's morning batch routed, then every later call placed in call order by the one decision."""

from __future__ import annotations

import time
from concurrent.futures import Executor, Future, as_completed
from dataclasses import replace

import numpy as np

from dispatch.live import AreaFinder, LiveArea, NewCall
from dispatch.live.decision import Dispatched, decide
from dispatch.plan.benches import Benches
from dispatch.plan.params import PlanParams
from dispatch.progress import Note, Report
from dispatch.routing import (
    RoutingParams,
    RoutingProblem,
    RoutingResult,
    RoutingVisit,
    solve,
)
from dispatch.routing.checker import check
from dispatch.rules import Rules


def _solve_batch(key: str, problem: RoutingProblem, routing: RoutingParams) -> tuple[str, RoutingResult, float]:
    """Top-level so that process pools and Dask can pickle it: one area's morning batch."""
    t0 = time.perf_counter()
    result = solve(problem, routing)
    return key, result, time.perf_counter() - t0


DETERMINISTIC_GUARD_S = 3600.0


def batch_start_s(problem: RoutingProblem, day_start_s: int) -> int:
    """When an area's day starts: the later of the day's first call and its first shift. The
    calls released by then are its morning batch."""
    return max(day_start_s, min((k.shift_start_s for k in problem.technicians), default=day_start_s))


def _batch(problem: RoutingProblem, day_start_s: int, params: PlanParams) -> tuple[RoutingProblem, RoutingParams, int]:
    """The calls an area knows when its day starts (the later of the day's first call and its
    first shift), routed together with the one-hour deadline as a hard limit; technicians start
    no earlier than that moment. Returns the batch problem, its routing parameters (the area's
    time budget, sized on its whole day, in the batch's share) and the start moment."""
    techs = problem.technicians
    t0 = batch_start_s(problem, day_start_s)
    batch = tuple(replace(v, release_s=0) for v in problem.visits if v.release_s <= t0)
    batch_problem = replace(problem, visits=batch, technicians=tuple(
        replace(k, shift_start_s=min(max(k.shift_start_s, t0), k.shift_end_s)) for k in techs))
    limit = params.routing_s_per_visit * len(problem.visits)
    limit = min(params.routing_max_s, max(params.routing_min_s, limit))
    if params.deterministic:
        # The descent stops at its local optimum by itself; the cap is a guard a busy machine
        # never reaches, so no clock decides the answer.
        routing = RoutingParams(time_limit_s=DETERMINISTIC_GUARD_S, seed=params.seed, workers=1,
                                metaheuristic="GREEDY_DESCENT", dispatch_deadline="hard",
                                lns_time_limit_s=DETERMINISTIC_GUARD_S, warm_start="none",
                                km_cost_s=params.routing_km_cost_s)
        return batch_problem, routing, t0
    routing = RoutingParams(time_limit_s=limit, seed=params.seed, workers=1, dispatch_deadline="hard",
                            warm_start=params.routing_warm_start, km_cost_s=params.routing_km_cost_s,
                            clock=params.routing_clock)
    share = len(batch) / len(problem.visits) if problem.visits else 0.0
    return batch_problem, replace(routing, time_limit_s=max(0.1, routing.time_limit_s * share)), t0


def _call_of(v: RoutingVisit, lon: float, lat: float) -> NewCall:
    return NewCall(v.id, lon, lat, v.service_s, v.window_start_s, v.window_end_s, v.required_level,
                   v.required_skill, v.priority, v.release_s, v.dispatch_deadline_s, v.pinned_technician,
                   v.pinned_start_s)


def dispatch_day(
    problems: dict[str, RoutingProblem], coords: dict[str, tuple[np.ndarray, np.ndarray]],
    find_areas: AreaFinder, params: PlanParams, pool: Executor | None, report: Report,
    benches: Benches,
) -> tuple[dict[str, LiveArea], dict[str, float], dict[str, float]]:
    """Dispatch the day as its calls arrive, every area at once.

    1. Each area's morning batch is routed by the routing engine (in ``pool``, areas in
       parallel; the longest first so that one slow area does not stall the plan).
    2. Every other call, and every batch call the engine could not fit on time, is then placed
       in the order the calls arrive (nobody is sent toward a call before it exists; work under
       way never moves; a kept promise is never broken): in its own area when a technician there
       can set off within the hour without overtime, otherwise with the best offer among its
       own and the nearest neighbouring areas (a dispatcher borrowing a technician from the next
       prefecture). Among technicians who keep the promise, one whose own centre can repair a
       pickup's device comes first (``benches``: it skips the courier); then urgent calls go by
       ETA, the others by the least added driving. An on-site call that nobody able to repair
       it on site can set off for within the hour is collected for the bench by a technician
       who can set off in time (assignment rule 7), when ``collect_onsite``.
    3. Optionally, every area's movable work is re-solved every ``reoptimise_every_s``.

    Returns the live areas, the batch solve's wall time and time limit per area.
    """
    day_start = min((v.release_s for p in problems.values() for v in p.visits), default=0)
    batches = {k: _batch(p, day_start, params) for k, p in problems.items()}
    results: dict[str, RoutingResult] = {}
    walls: dict[str, float] = {}
    order = sorted((k for k in problems if batches[k][0].visits and batches[k][0].technicians),
                   key=lambda k: -len(problems[k].visits))
    report("routing areas", 0, len(order))
    batch_calls = sum(len(batches[k][0].visits) for k in order)
    routed = 0

    def routed_note(res: RoutingResult) -> str:
        nonlocal routed
        routed += sum(len(r.stops) for r in res.routes)
        return Note("morning_routed", f"{routed:,} of {batch_calls:,} morning calls routed within the hour",
                    routed=routed, total=batch_calls)

    if pool is None:
        for n, key in enumerate(order):
            _, results[key], walls[key] = _solve_batch(key, *batches[key][:2])
            report("routing areas", n + 1, len(order), routed_note(results[key]))
    else:
        futures: list[Future] = [pool.submit(_solve_batch, key, *batches[key][:2]) for key in order]
        for n, fut in enumerate(as_completed(futures)):
            key, res, wall = fut.result()
            results[key], walls[key] = res, wall
            report("routing areas", n + 1, len(order), routed_note(res))

    lives: dict[str, LiveArea] = {}
    waiting: list[tuple[str, RoutingVisit]] = []
    for key, problem in problems.items():
        t0 = batches[key][2]
        res = results.get(key)
        routes = {} if res is None else {r.technician_id: [s.visit_id for s in r.stops] for r in res.routes}
        live = LiveArea(problem, routes, t0, find_areas.travel, *coords[key],
                        count_return=params.insertion_counts_return, leave_home_s=params.rules.leave_home_s)
        live.repair("travel")
        lives[key] = live
        placed = {x for ids in live.routes.values() for x in ids}
        waiting += [(key, v) for v in problem.visits if v.id not in placed]
    waiting.sort(key=lambda kv: (kv[1].release_s, -kv[1].priority, kv[1].id))
    next_reopt = None if params.reoptimise_every_s is None else day_start + params.reoptimise_every_s
    report("dispatching calls", 0, len(waiting))
    on_time = routed_total = sum(len(ids) for live in lives.values() for ids in live.routes.values())
    for n, (key, v) in enumerate(waiting):
        while next_reopt is not None and next_reopt <= v.release_s:
            for live in lives.values():
                live.advance(max(live.clock_s, next_reopt))
                live.reoptimise(RoutingParams(time_limit_s=params.reoptimise_time_limit_s, seed=params.seed,
                                              workers=1, dispatch_deadline="hard", engine=params.reoptimise_engine,
                                              clock=params.routing_clock), params.reoptimise_steps_per_visit)
            next_reopt += params.reoptimise_every_s  # type: ignore[operator]
        on_time += _place(key, v, lives, find_areas, benches, params.rules)
        if n % 500 == 499 or n + 1 == len(waiting):
            share = on_time / (routed_total + n + 1)
            report("dispatching calls", n + 1, len(waiting),
                   Note("one_hour_so_far", f"{100 * share:.1f} % dispatched within the hour so far", share_pct=100 * share))
    return lives, walls, {k: batches[k][1].time_limit_s for k in problems}


def _place(key: str, v: RoutingVisit, lives: dict[str, LiveArea], find_areas: AreaFinder,
           benches: Benches, rules: Rules) -> bool:
    """Place one call by the one decision (see ``dispatch_day``, step 2); True if a technician
    sets off for it within the hour."""
    home = lives[key]
    call = _call_of(v, float(home.lon[v.node]), float(home.lat[v.node]))
    mode = benches.mode(v.id)
    # The neighbours are looked up only when the home area does not settle the call.
    decision = decide(call, lives, lambda: find_areas(call.lon, call.lat), v.release_s, rules, benches.repairs_at_home,
                      mode=mode, device_level=benches.level[v.id], home=key,
                      may_collect=benches.may_collect(v.id, mode, rules))
    if not isinstance(decision, Dispatched):
        return False
    if decision.visit_mode != mode:
        benches.collect(v.id)
    return decision.on_time


def violations_of(live: LiveArea, result: RoutingResult, day_problem: RoutingProblem) -> list[str]:
    """The independent checker on the area's day, and that nobody set off toward a call before
    it existed (the checker sees a dispatched visit released when it was dispatched)."""
    release = {v.id: v.release_s for v in day_problem.visits}
    early = [f"technician {r.technician_id} set off toward {s.visit_id} at {s.departure_toward_s}, before "
             f"its call at {release[s.visit_id]}" for r in result.routes for s in r.stops
             if s.departure_toward_s < release[s.visit_id]]
    return early + check(live.checked_problem(), result)

