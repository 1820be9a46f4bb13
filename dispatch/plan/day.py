"""The day's dispatch: each area's morning batch routed, then every later call placed in call order by the one decision."""

from __future__ import annotations

import time
from concurrent.futures import Executor, Future, as_completed
from dataclasses import replace

import numpy as np

from dispatch.live import (
    AreaFinder,
    InsertionOption,
    LiveArea,
    NewCall,
    collect_offers,
    collection,
    offer_key,
)
from dispatch.plan.benches import Benches
from dispatch.plan.params import PlanParams, Progress
from dispatch.routing import (
    RoutingParams,
    RoutingProblem,
    RoutingResult,
    RoutingVisit,
    solve,
)
from dispatch.routing.checker import check


def _solve_batch(key: str, problem: RoutingProblem, routing: RoutingParams) -> tuple[str, RoutingResult, float]:
    """Top-level so that process pools and Dask can pickle it: one area's morning batch."""
    t0 = time.perf_counter()
    result = solve(problem, routing)
    return key, result, time.perf_counter() - t0


def _batch(problem: RoutingProblem, day_start_s: int, params: PlanParams) -> tuple[RoutingProblem, RoutingParams, int]:
    """The calls an area knows when its day starts (the later of the day's first call and its
    first shift), routed together with the one-hour deadline as a hard limit; technicians start
    no earlier than that moment. Returns the batch problem, its routing parameters (the area's
    time budget, sized on its whole day, in the batch's share) and the start moment."""
    techs = problem.technicians
    t0 = max(day_start_s, min((k.shift_start_s for k in techs), default=day_start_s))
    batch = tuple(replace(v, release_s=0) for v in problem.visits if v.release_s <= t0)
    batch_problem = replace(problem, visits=batch, technicians=tuple(
        replace(k, shift_start_s=min(max(k.shift_start_s, t0), k.shift_end_s)) for k in techs))
    limit = params.routing_s_per_visit * len(problem.visits)
    limit = min(params.routing_max_s, max(params.routing_min_s, limit))
    if params.deterministic:
        routing = RoutingParams(time_limit_s=max(60.0, 20 * limit), seed=params.seed, workers=1,
                                metaheuristic="GREEDY_DESCENT", dispatch_deadline="hard")
    else:
        routing = RoutingParams(time_limit_s=limit, seed=params.seed, workers=1, dispatch_deadline="hard")
    share = len(batch) / len(problem.visits) if problem.visits else 0.0
    return batch_problem, replace(routing, time_limit_s=max(0.1, routing.time_limit_s * share)), t0


def _call_of(v: RoutingVisit, lon: float, lat: float) -> NewCall:
    return NewCall(v.id, lon, lat, v.service_s, v.window_start_s, v.window_end_s, v.required_level,
                   v.required_skill, v.priority, v.release_s, v.dispatch_deadline_s, v.pinned_technician,
                   v.pinned_start_s)


def dispatch_day(
    problems: dict[str, RoutingProblem], coords: dict[str, tuple[np.ndarray, np.ndarray]],
    find_areas: AreaFinder, params: PlanParams, pool: Executor | None, report: Progress,
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
        return f"{routed:,} of {batch_calls:,} morning calls routed within the hour"

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
        live = LiveArea(problem, routes, t0, find_areas.travel, *coords[key])
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
                                              workers=1, dispatch_deadline="hard"))
            next_reopt += params.reoptimise_every_s  # type: ignore[operator]
        on_time += _place(key, v, lives, find_areas, benches,
                          params.assignment.collect_service_s if params.assignment.collect_onsite else None)
        if n % 500 == 499 or n + 1 == len(waiting):
            share = on_time / (routed_total + n + 1)
            report("dispatching calls", n + 1, len(waiting), f"{100 * share:.1f} % dispatched within the hour so far")
    return lives, walls, {k: batches[k][1].time_limit_s for k in problems}


def _place(key: str, v: RoutingVisit, lives: dict[str, LiveArea], find_areas: AreaFinder,
           benches: Benches, collect_service_s: int | None) -> bool:
    """Place one call (see ``dispatch_day``, step 2); True if a technician sets off for it
    within the hour."""
    home = lives[key]
    home.advance(max(home.clock_s, v.release_s))
    policy = "eta" if v.priority == 3 else "travel"
    rank = offer_key(policy, lambda o: benches.prefer(v.id, o.technician_id))
    # Only the best home option matters here (and whether it settles the call), so the search
    # may stop at the first insertion that keeps the promise without overtime (travel policy).
    offers = [(rank(o), key, o) for o in home.options(v.id, policy, lambda t: benches.prefer(v.id, t),
                                                      settle_first=policy == "travel")]
    settled = offers and offers[0][2].late_s == 0 and offers[0][2].overtime_s == 0
    call = _call_of(v, float(home.lon[v.node]), float(home.lat[v.node]))
    searched = [key]
    if not settled and v.pinned_technician is None:
        for other in find_areas(call.lon, call.lat):
            if other == key:
                continue
            live = lives[other]
            live.advance(max(live.clock_s, v.release_s))
            searched.append(other)
            offers += [(rank(o), other, o) for o in live.urgent_options(call, policy=policy)]
    offers.sort(key=lambda x: (x[0], x[1] != key, x[2].technician_id))
    on_time = bool(offers) and offers[0][2].late_s == 0
    if (not on_time and collect_service_s is not None and v.required_level > 1 and v.pinned_technician is None
            and _collect(key, v, call, searched, lives, benches, policy, collect_service_s)):
        return True
    if offers and offers[0][1] != key:
        _, other, option = offers[0]
        home.hand_over(v.id)
        got = lives[other].insert(call, option, policy=policy)
    else:
        got = home.place(v.id, offers[0][2] if offers else None, policy=policy)
    return isinstance(got, InsertionOption) and got.late_s == 0


def _collect(key: str, v: RoutingVisit, call: NewCall, areas: list[str], lives: dict[str, LiveArea],
             benches: Benches, policy: str, service_s: int) -> bool:
    """Collect an on-site call for the bench when a technician of ``areas`` can set off for it
    within the hour (and a bench of its chain can repair it); True if one was sent."""
    if benches.bench_of.get(v.id) is None:
        return False
    collect = collection(call, service_s)
    rank = offer_key(policy, lambda o: benches.prefer(v.id, o.technician_id, to_bench=True))
    offers = collect_offers(collect, [(a, lives[a]) for a in areas], policy, rank)
    if not offers:
        return False
    _, area, option = offers[0]
    benches.collect(v.id)
    if area == key:
        lives[key].collect_instead(v.id, service_s)
        lives[key].place(v.id, option, policy=policy)
    else:
        lives[key].hand_over(v.id)
        lives[area].insert(collect, option, policy=policy)
    return True


def violations_of(live: LiveArea, result: RoutingResult, day_problem: RoutingProblem) -> list[str]:
    """The independent checker on the area's day, and that nobody set off toward a call before
    it existed (the checker sees a dispatched visit released when it was dispatched)."""
    release = {v.id: v.release_s for v in day_problem.visits}
    early = [f"technician {r.technician_id} set off toward {s.visit_id} at {s.departure_toward_s}, before "
             f"its call at {release[s.visit_id]}" for r in result.routes for s in r.stops
             if s.departure_toward_s < release[s.visit_id]]
    return early + check(live.checked_problem(), result)

