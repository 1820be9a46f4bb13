"""The day plan: assignment, one routing solve per area in parallel, bench work, KPIs.

An area is a prefecture: its city centre, its county stations (and, in a capital, the provincial
centre), their technicians and the visits assigned to them. Technicians of a county may serve any
county of the same prefecture; the routing engine chooses who goes where and when.

Calls whose dispatch clock starts on a later day (after-hours calls answered the next morning)
belong to the next day's plan: they are listed as unassigned with reason ``next_day``.
"""

from __future__ import annotations

import inspect
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, as_completed
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from dispatch.assignment import (
    Assignment,
    AssignmentParams,
    AssignmentResult,
    _bench_turnaround,
    assign,
    business_deadline,
    business_seconds,
    dispatch_clock_start,
    opening_start,
)
from dispatch.checker import check
from dispatch.errors import DispatchError, InputError
from dispatch.model import DAY_S, Centre, Dataset, Mode, Request, Technician, Tier
from dispatch.network import CentreIndex, Network
from dispatch.realtime import AreaFinder, InsertionOption, LiveArea, NewCall, collect_offers, collection, offer_key
from dispatch.routing import (
    BreakRule,
    RoutingParams,
    RoutingProblem,
    RoutingResult,
    RoutingTechnician,
    RoutingVisit,
    solve,
)
from dispatch.travel import DEFAULT_TRAVEL, HaversineTravel

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
class Area:
    key: str  # prefecture adcode
    centre_ids: tuple[str, ...]
    technician_ids: tuple[str, ...]
    request_ids: tuple[str, ...]


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


def clock_start_s(centre: Centre, request: Request) -> int:
    """The dispatch clock starts at the call, or at the next opening for an after-hours call."""
    return dispatch_clock_start(centre, request)


def area_of_centre(net: Network) -> dict[str, str]:
    """Centre id -> routing area (a prefecture adcode). The provincial centre's technicians work
    in the capital's area."""
    capital_of = {p.parent_id: p.prefecture_adcode for p in net
                  if p.tier == Tier.CITY and p.parent_id is not None
                  and (p.lon, p.lat) == (net[p.parent_id].lon, net[p.parent_id].lat)}
    return {c.id: (capital_of.get(c.id, c.province_adcode) if c.tier == Tier.PROVINCE
                   else c.prefecture_adcode or c.county_adcode) for c in net}


def make_areas(dataset: Dataset, assignment: AssignmentResult, day: int,
               pinned_to: dict[str, str] | None = None) -> list[Area]:
    """Every area with technicians or visits. A visit belongs to its visiting centre's area, or
    to the area of the technician a dispatcher pinned it to (``pinned_to``: request -> technician)."""
    area_of_centre_ = area_of_centre(dataset.network)
    centres_by_area: dict[str, list[str]] = defaultdict(list)
    for cid, a in area_of_centre_.items():
        centres_by_area[a].append(cid)
    techs_by_area: dict[str, list[str]] = defaultdict(list)
    home = {}
    for t in dataset.technicians:
        techs_by_area[area_of_centre_[t.home_centre_id]].append(t.id)
        home[t.id] = t.home_centre_id
    pinned_to = pinned_to or {}
    reqs_by_area: dict[str, list[str]] = defaultdict(list)
    for a in assignment.assigned:
        if a.request_id in pinned_to:
            reqs_by_area[area_of_centre_[home[pinned_to[a.request_id]]]].append(a.request_id)
        elif a.visit_centre_id is not None:
            reqs_by_area[area_of_centre_[a.visit_centre_id]].append(a.request_id)
    return [
        Area(k, tuple(centres_by_area[k]), tuple(techs_by_area[k]), tuple(reqs_by_area[k]))
        for k in sorted(set(reqs_by_area) | set(techs_by_area))
    ]


def routing_technicians(
    techs: Sequence[Technician], node_of: dict[str, int], day: int, classes: tuple[str, ...],
    max_overtime_s: int = 0,
) -> list[RoutingTechnician]:
    """The technicians as the routing engine sees them on ``day`` (absolute times), each allowed
    up to ``max_overtime_s`` past his shift end (paid overtime, counted in the KPIs)."""
    base = day * DAY_S
    out = []
    for t in techs:
        br = None
        if t.break_window is not None and t.break_s > 0:
            br = BreakRule(base + t.break_window.start_s, base + t.break_window.end_s, t.break_s)
        out.append(RoutingTechnician(
            id=t.id, start_node=node_of[t.home_centre_id], end_node=node_of[t.home_centre_id],
            shift_start_s=base + t.shift.start_s, shift_end_s=base + t.shift.end_s,
            max_level=t.max_level, skills=t.product_lines or frozenset({"*"}), break_window=br,
            speed_class=classes.index(t.speed_class), max_overtime_s=max_overtime_s,
        ))
    return out


def routing_problem(
    area: Area, dataset: Dataset, assignment: dict[str, Assignment], day: int,
    dispatch_target_s: int, travel: HaversineTravel = DEFAULT_TRAVEL,
    tech_of: dict[str, Technician] | None = None, req_of: dict[str, Request] | None = None,
    max_overtime_s: int = 0, collect_service_s: int = 600,
) -> RoutingProblem:
    """One area's routing problem. ``tech_of``/``req_of`` (by id) save rebuilding them per area.
    An on-site call the assignment has collected for the bench is a pickup: any technician, and
    a ``collect_service_s`` hand-over at the door."""
    net = dataset.network
    tech_of = tech_of or {t.id: t for t in dataset.technicians}
    req_of = req_of or {r.id: r for r in dataset.requests}
    techs = [tech_of[t] for t in area.technician_ids]
    reqs = [req_of[r] for r in area.request_ids]
    centre_ids = sorted({t.home_centre_id for t in techs})
    node_of = {cid: i for i, cid in enumerate(centre_ids)}
    lon = [net[c].lon for c in centre_ids] + [r.lon for r in reqs]
    lat = [net[c].lat for c in centre_ids] + [r.lat for r in reqs]
    classes = travel.speed_classes
    travel_s, distance_m = travel.matrices(np.array(lon), np.array(lat), classes)
    rtechs = routing_technicians(techs, node_of, day, classes, max_overtime_s)
    visits = []
    for i, r in enumerate(reqs):
        a = assignment[r.id]
        start = clock_start_s(net[a.visit_centre_id], r)
        collected = r.mode == Mode.ONSITE and a.mode == Mode.PICKUP
        visits.append(RoutingVisit(
            id=r.id, node=len(centre_ids) + i, service_s=collect_service_s if collected else r.service_s,
            window_start_s=r.window.start_s, window_end_s=r.window.end_s,
            required_level=r.level if a.mode == Mode.ONSITE else 1,
            required_skill=r.product_line or None, priority=int(r.priority),
            dispatch_deadline_s=business_deadline(net[a.visit_centre_id], start, dispatch_target_s),
            release_s=start,
        ))
    names = tuple(centre_ids) + tuple(r.id for r in reqs)
    return RoutingProblem(travel_s=travel_s, distance_m=distance_m, technicians=tuple(rtechs),
                          visits=tuple(visits), node_names=names)


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


def _dispatch_day(
    problems: dict[str, RoutingProblem], coords: dict[str, tuple[np.ndarray, np.ndarray]],
    find_areas: AreaFinder, params: PlanParams, pool: Executor | None, report: Progress,
    benches: "_Benches",
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
           benches: "_Benches", collect_service_s: int | None) -> bool:
    """Place one call (see ``_dispatch_day``, step 2); True if a technician sets off for it
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
             benches: "_Benches", policy: str, service_s: int) -> bool:
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


def make_plan(
    dataset: Dataset,
    params: PlanParams = PlanParams(),
    pool: Executor | None = None,
    travel: HaversineTravel = DEFAULT_TRAVEL,
    progress: Progress | None = None,
    pins: Sequence[Pin] = (),
) -> Plan:
    """Plan day ``params.day``: assign, route every area (in ``pool`` if given), estimate, KPIs."""
    from dispatch.io import dataset_fingerprint

    report = _noting(progress)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    day_reqs, deferred = _requests_of_day(dataset, params.day)
    day_ds = Dataset(dataset.network, dataset.technicians, tuple(day_reqs), dataset.epoch_date, dataset.meta)
    result = assign(day_ds, params.assignment, travel, report, pool)
    timings["assignment"] = time.perf_counter() - t0
    pinned_to = _pinned_to(pins, day_ds)
    result = _assign_pinned(result, pinned_to, day_ds, params.assignment, travel)
    by_req = {a.request_id: a for a in result.assigned}

    t0 = time.perf_counter()
    areas = make_areas(day_ds, result, params.day, pinned_to)
    tech_of = {t.id: t for t in day_ds.technicians}
    req_of = {r.id: r for r in day_ds.requests}
    problems = {a.key: routing_problem(a, day_ds, by_req, params.day, params.dispatch_target_s, travel,
                                       tech_of, req_of, params.max_overtime_s, params.assignment.collect_service_s)
                for a in areas}
    if pins:
        problems = {k: _with_pins(p, pins) for k, p in problems.items()}
    where = {c.id: (c.lon, c.lat) for c in day_ds.network} | {r.id: (r.lon, r.lat) for r in day_ds.requests}
    coords = {k: _node_coordinates(p, where) for k, p in problems.items()}
    timings["matrices"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    benches = _Benches.of(day_ds, result, params.assignment)
    lives, walls, limits = _dispatch_day(problems, coords, _area_finder(day_ds, params, travel), params, pool,
                                         report, benches)
    result = _collected(result, benches)
    results = {k: live.result() for k, live in lives.items()}
    day_problems = {k: live.day_problem() for k, live in lives.items()}
    violations = {k: _violations(live, results[k], day_problems[k]) for k, live in lives.items()}
    timings["routing"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    plan = _assemble(dataset, day_ds, deferred, result, areas, results, params)
    if len(plan[2]):
        plan[2]["reach_s"] = reach_s(day_ds, plan[2]["request_id"], travel)
    timings["assemble"] = time.perf_counter() - t0
    stats = _routing_stats(areas, problems, day_problems, results, walls, limits, violations)
    return Plan(dataset_fingerprint(dataset), params, *plan, timings, stats, day_problems, results)


def _noting(progress: Progress | None) -> Callable[..., None]:
    """The caller's progress callback as ``(stage, done, total, note="")``: the running-KPI note
    goes to a callback taking a ``note`` keyword (the CLI's bar and the dashboard do); a plain
    (stage, done, total) callback is called without it."""
    if progress is None:
        return lambda stage, done, total, note="": None
    try:
        params = inspect.signature(progress).parameters.values()
        takes_note = any(p.name == "note" or p.kind == p.VAR_KEYWORD for p in params)
    except (TypeError, ValueError):  # a builtin without a signature
        takes_note = False
    if takes_note:
        return lambda stage, done, total, note="": progress(stage, done, total, note=note)  # type: ignore[call-arg]
    return lambda stage, done, total, note="": progress(stage, done, total)


def _pinned_to(pins: Sequence[Pin], day_ds: Dataset) -> dict[str, str]:
    """Request -> technician for the dispatcher's pins; a pin the plan cannot take is an error
    that says why, never silently dropped."""
    techs = {t.id for t in day_ds.technicians}
    travelling = {r.id for r in day_ds.requests if r.mode != Mode.WALKIN}
    out = {}
    for p in pins:
        if p.technician_id not in techs:
            raise InputError(f"pin of request {p.request_id!r}: unknown technician {p.technician_id!r}; "
                             f"expected one of the roster's {len(techs)} technician ids")
        if p.request_id not in travelling:
            raise InputError(f"pin of request {p.request_id!r} to {p.technician_id!r}: it is not an onsite or "
                             f"pickup call of this day (a walk-in, another day's call, or unknown); expected "
                             f"the id of an onsite or pickup call of the day")
        out[p.request_id] = p.technician_id
    return out


def _assign_pinned(result: AssignmentResult, pinned_to: dict[str, str], day_ds: Dataset,
                   params: AssignmentParams, travel: HaversineTravel) -> AssignmentResult:
    """A dispatcher's pin overrides the assignment's limits: a pinned call the assignment left
    unassigned (beyond the usual drive, or benches full) is visited from the technician's centre,
    and a picked-up device is repaired at the lowest centre of that centre's chain able to."""
    missing = {u.request_id for u in result.unassigned} & set(pinned_to)
    if not missing:
        return result
    net = day_ds.network
    home = {t.id: t.home_centre_id for t in day_ds.technicians}
    extra = []
    for r in day_ds.requests:
        if r.id not in missing:
            continue
        centre = net[home[pinned_to[r.id]]]
        chain = net.chain(centre.id)
        hops = 0
        if r.mode == Mode.PICKUP:
            first = _first_bench(chain, r.level, params)
            if first is None:
                continue  # nobody on that chain can repair it: it stays unassigned with its reason
            hops = first
        drive_s = int(travel.time_s_from_distance(travel.distance_m(centre.lon, centre.lat, r.lon, r.lat)))
        extra.append(Assignment(r.id, r.mode, centre.id, chain[hops].id if r.mode == Mode.PICKUP else None,
                                None, hops, 0, drive_s, "pinned by the dispatcher to a technician of this centre"))
    taken = {a.request_id for a in extra}
    return replace(result, assigned=result.assigned + tuple(extra),
                   unassigned=tuple(u for u in result.unassigned if u.request_id not in taken))


def reach_s(dataset: Dataset, request_ids: Sequence[str], travel: HaversineTravel = DEFAULT_TRAVEL) -> np.ndarray:
    """Per request, the drive (s) from the nearest centre with a technician: how far the
    network's reach is from the customer, whoever is free (splits the dispatch KPI into calls
    the network covers within the hour and those beyond it)."""
    staffed_ids = {t.home_centre_id for t in dataset.technicians}
    staffed = CentreIndex(tuple(c for c in dataset.network if c.id in staffed_ids))
    req = {r.id: r for r in dataset.requests}
    if not len(request_ids) or not len(staffed):
        return np.full(len(request_ids), np.nan)
    lon = np.array([req[i].lon for i in request_ids])
    lat = np.array([req[i].lat for i in request_ids])
    _, dist_m = staffed.nearest(lon, lat)
    road_m = (np.atleast_1d(dist_m) * travel.detour).astype(np.int64)
    return np.asarray(travel.time_s_from_distance(road_m), dtype=float)


def _area_finder(day_ds: Dataset, params: PlanParams, travel: HaversineTravel) -> AreaFinder:
    staffed_ids = {t.home_centre_id for t in day_ds.technicians}
    staffed = [c for c in day_ds.network if c.id in staffed_ids]
    return AreaFinder(CentreIndex(tuple(staffed)) if staffed else None, area_of_centre(day_ds.network), travel,
                      params.assignment.max_visit_travel_s, params.candidate_areas)


@dataclass
class _Benches:
    """Which calls bring a device to a bench (pickups, and on-site calls collected instead), so
    that among technicians who keep the promise one whose own centre can repair the device comes
    first (it skips the courier; every on-site call counts as such)."""

    home: dict[str, Centre]  # technician id -> his centre
    level: dict[str, int]  # request id -> repair level
    to_bench: set[str]  # requests whose device goes to a bench
    # Request -> (hops, centre id): the lowest centre of its visiting centre's chain able to
    # repair the device with a bench day long enough, where a collected device goes.
    bench_of: dict[str, tuple[int, str] | None]
    collected: set[str] = field(default_factory=set)  # on-site calls collected during dispatch

    @classmethod
    def of(cls, day_ds: Dataset, result: AssignmentResult, params: AssignmentParams) -> "_Benches":
        net = day_ds.network
        level = {r.id: r.level for r in day_ds.requests}
        bench_of: dict[str, tuple[int, str] | None] = {}
        for a in result.assigned:
            if a.mode == Mode.ONSITE and a.visit_centre_id is not None:
                chain = net.chain(a.visit_centre_id)
                first = _first_bench(chain, level[a.request_id], params)
                bench_of[a.request_id] = None if first is None else (first, chain[first].id)
        return cls({t.id: net[t.home_centre_id] for t in day_ds.technicians}, level,
                   {a.request_id for a in result.assigned if a.mode == Mode.PICKUP}, bench_of)

    def prefer(self, vid: str, technician_id: str, to_bench: bool = False) -> int:
        if not (to_bench or vid in self.to_bench):
            return 0
        return 0 if self.home[technician_id].can_repair(self.level[vid]) else 1

    def collect(self, vid: str) -> None:
        self.to_bench.add(vid)
        self.collected.add(vid)


def _collected(result: AssignmentResult, benches: _Benches) -> AssignmentResult:
    """The assignment with the on-site calls collected during dispatch served as pickups: their
    device goes to the lowest centre of the visiting centre's chain able to repair it (the plan
    follows it from the technician's own centre, see ``_device_path``)."""
    if not benches.collected:
        return result
    out = []
    for a in result.assigned:
        if a.request_id in benches.collected:
            hops, repair_id = benches.bench_of[a.request_id]  # type: ignore[misc]  # _collect checked it
            a = replace(a, mode=Mode.PICKUP, repair_centre_id=repair_id, bench_day=None, courier_hops=hops,
                        rule="collected for the bench: nobody able to repair it on site could set off within the hour")
        out.append(a)
    return replace(result, assigned=tuple(out))


def _violations(live: LiveArea, result: RoutingResult, day_problem: RoutingProblem) -> list[str]:
    """The independent checker on the area's day, and that nobody set off toward a call before
    it existed (the checker sees a dispatched visit released when it was dispatched)."""
    release = {v.id: v.release_s for v in day_problem.visits}
    early = [f"technician {r.technician_id} set off toward {s.visit_id} at {s.departure_toward_s}, before "
             f"its call at {release[s.visit_id]}" for r in result.routes for s in r.stops
             if s.departure_toward_s < release[s.visit_id]]
    return early + check(live.checked_problem(), result)


def _with_pins(problem: RoutingProblem, pins: Sequence[Pin]) -> RoutingProblem:
    by_id = {p.request_id: p for p in pins}
    techs = {k.id for k in problem.technicians}
    visits = tuple(
        replace(v, pinned_technician=by_id[v.id].technician_id, pinned_start_s=by_id[v.id].start_s)
        if v.id in by_id and by_id[v.id].technician_id in techs else v
        for v in problem.visits)
    return replace(problem, visits=visits)


def _node_coordinates(problem: RoutingProblem, where: dict[str, tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    lon = np.array([where[n][0] for n in problem.node_names], dtype=float)
    lat = np.array([where[n][1] for n in problem.node_names], dtype=float)
    return lon, lat


def _requests_of_day(dataset: Dataset, day: int) -> tuple[list[Request], list[Request]]:
    """The requests of ``day``, and those already called in but served on a later day.

    A travelling call belongs to the day its technician can first set off: the later of its
    dispatch clock's start (the nearest centre's hours) and the customer's window. A walk-in
    belongs to the day the customer walks in."""
    net = dataset.network
    if not dataset.requests:
        return [], []
    idx, _ = net.nearest(np.array([r.lon for r in dataset.requests]), np.array([r.lat for r in dataset.requests]))
    today, later = [], []
    for r, j in zip(dataset.requests, np.atleast_1d(idx)):
        if r.mode == Mode.WALKIN:
            service_day = r.created_s // DAY_S
        else:
            service_day = dispatch_clock_start(net.centres[int(j)], r) // DAY_S
        if service_day == day:
            today.append(r)
        elif r.created_s // DAY_S <= day < service_day:
            later.append(r)
    return today, later


def _routing_stats(areas, problems, day_problems, results, walls, limits, violations) -> pd.DataFrame:
    """Per area: its own calls, the calls its technicians took for neighbouring areas and the
    ones it handed to them, the morning batch's time limit and wall time, routed and dropped."""
    rows = []
    for a in areas:
        own = {v.id for v in problems[a.key].visits}
        held = {v.id for v in day_problems[a.key].visits}
        rows.append({
            "area": a.key, "technicians": len(problems[a.key].technicians), "visits": len(own),
            "taken_from_neighbours": len(held - own), "handed_to_neighbours": len(own - held),
            "time_limit_s": round(limits[a.key], 3), "wall_s": round(walls.get(a.key, 0.0), 3),
            "routed": sum(len(r.stops) for r in results[a.key].routes), "dropped": len(results[a.key].unassigned),
            "violations": len(violations[a.key]), "first_violation": violations[a.key][0] if violations[a.key] else ""})
    return pd.DataFrame(rows)


def _assemble(dataset, day_ds, deferred, result, areas, results, params):
    net = dataset.network
    req = {r.id: r for r in dataset.requests}
    by_req = {a.request_id: a for a in result.assigned}
    tech_by_id = {t.id: t for t in dataset.technicians}
    stop_rows, route_rows, unassigned_rows = [], [], []
    routed: dict[str, dict] = {}
    back_at_centre: dict[str, int] = {}
    for area in areas:
        res = results[area.key]
        for route in res.routes:
            t = tech_by_id[route.technician_id]
            route_rows.append({
                "technician_id": t.id, "centre_id": t.home_centre_id, "area": area.key,
                "start_s": route.start_s, "end_s": route.end_s, "travel_s": route.travel_s,
                "distance_m": route.distance_m, "break_start_s": route.break_start_s,
                "overtime_s": route.overtime_s, "jobs": len(route.stops),
            })
            for seq, s in enumerate(route.stops):
                r = req[s.visit_id]
                stop_rows.append({
                    "technician_id": t.id, "sequence": seq + 1, "request_id": s.visit_id,
                    "mode": by_req[s.visit_id].mode.value, "level": r.level, "priority": int(r.priority),
                    "lon": r.lon, "lat": r.lat, "departure_s": s.departure_toward_s,
                    "arrival_s": s.arrival_s, "start_s": s.start_s, "end_s": s.end_s,
                    "travel_s": s.travel_s, "distance_m": s.distance_m, "dispatch_late_s": s.dispatch_late_s,
                    "window_start_s": r.window.start_s, "window_end_s": r.window.end_s,
                })
                routed[s.visit_id] = {"dispatch_s": s.departure_toward_s, "end_s": s.end_s, "tech": t}
                back_at_centre[s.visit_id] = route.end_s
        for u in res.unassigned:
            unassigned_rows.append({"request_id": u.visit_id, "reason_code": u.reason_code, "reason": u.reason})
    for u in result.unassigned:
        unassigned_rows.append({"request_id": u.request_id, "reason_code": u.reason_code, "reason": u.reason})
    for r in deferred:
        unassigned_rows.append({"request_id": r.id, "reason_code": "next_day",
                                "reason": "called in today, served on a later day (the clock starts at the next "
                                          "opening, or the customer's window is then); planned with that day"})
    reason_of = {u["request_id"]: u["reason_code"] for u in unassigned_rows}

    outcome_rows, bench_use = [], defaultdict(int)
    devices = []  # picked-up devices, booked on benches once every walk-in has its slot
    for r in day_ds.requests:
        a = by_req.get(r.id)
        centre_id = (a.visit_centre_id or a.repair_centre_id) if a else ""
        row = {"request_id": r.id, "mode": r.mode.value, "level": r.level, "priority": int(r.priority),
               "visit_mode": a.mode.value if a else r.mode.value,
               "province_adcode": net[centre_id].province_adcode if centre_id else r.county_adcode[:2] + "0000",
               "centre_id": centre_id, "created_s": r.created_s,
               "clock_start_s": clock_start_s(net[centre_id], r) if centre_id else r.created_s,
               "dispatch_s": np.nan, "dispatch_wait_s": np.nan, "completion_s": np.nan, "repair_tier": np.nan,
               "repair_centre_id": a.repair_centre_id if a else None,
               "est_turnaround_s": np.nan, "unassigned_reason": reason_of.get(r.id, "")}
        outcome_rows.append(row)
        if a is None or r.id in reason_of:
            continue
        if r.mode == Mode.WALKIN:
            _bench_row(row, r, r.created_s + a.est_turnaround_s, a.repair_centre_id, a.bench_day, net, bench_use,
                       params.assignment)
            continue
        info = routed[r.id]
        row["dispatch_s"] = info["dispatch_s"]
        # The promise runs on business hours (see assignment.business_deadline).
        row["dispatch_wait_s"] = business_seconds(net[centre_id], row["clock_start_s"], info["dispatch_s"])
        if a.mode == Mode.ONSITE:
            row["completion_s"] = info["end_s"]
            row["est_turnaround_s"] = info["end_s"] - r.created_s
            continue
        hops, chain, day_offset = _device_path(net, a, info["tech"].home_centre_id, r.level,
                                               back_at_centre[r.id], params.assignment)
        at_bench_s = back_at_centre[r.id] + sum(chain[i].courier_to_parent_s for i in range(hops))
        devices.append((at_bench_s, r, row, hops, chain, day_offset))
    # The devices the plan collected reach their benches in this order; a day that is full
    # (the assignment booked it for other devices, or technicians brought more than it planned)
    # sends the repair to the next day with room.
    for _, r, row, hops, chain, day_offset in sorted(devices, key=lambda d: (d[0], d[1].id)):
        bench_s = params.assignment.bench_s_by_level[r.level]
        cap_s = chain[hops].bench_s_per_day
        for extra in range(MAX_BENCH_WAIT_DAYS):
            ta, bench_day, _ = _bench_turnaround(net, chain, hops, back_at_centre[r.id], bench_s, day_offset + extra,
                                                 r.created_s, params.assignment)
            if bench_use[(chain[hops].id, bench_day)] + bench_s <= cap_s:
                break
        _bench_row(row, r, r.created_s + ta, chain[hops].id, bench_day, net, bench_use, params.assignment)
    outcomes = pd.DataFrame(outcome_rows)
    stops = pd.DataFrame(stop_rows)
    routes = pd.DataFrame(route_rows)
    workload = _workload(dataset, routes, stops, params.day)
    bench = pd.DataFrame([
        {"centre_id": cid, "day": day, "bench_h_used": s / 3600, "bench_h_capacity": net[cid].bench_hours_per_day}
        for (cid, day), s in sorted(bench_use.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
    ])
    unassigned = pd.DataFrame(unassigned_rows, columns=["request_id", "reason_code", "reason"])
    return stops, routes, outcomes, workload, bench, unassigned


MAX_BENCH_WAIT_DAYS = 30  # a device never waits longer for a bench in a plan's estimate


def _bench_row(row: dict, r: Request, done_s: int, repair_id: str | None, bench_day: int | None, net: Network,
               bench_use: dict, params: AssignmentParams) -> None:
    """Fill a bench repair's completion into its outcome row and book its bench day."""
    row["completion_s"] = done_s
    row["est_turnaround_s"] = done_s - r.created_s
    if repair_id is not None:
        row["repair_centre_id"] = repair_id
        row["repair_tier"] = int(net[repair_id].tier)
        bench_use[(repair_id, bench_day)] += params.bench_s_by_level[r.level]


def _first_bench(chain: Sequence[Centre], level: int, params: AssignmentParams) -> int | None:
    """Index of the lowest centre of an escalation chain able to repair ``level`` with a bench
    day long enough for one such repair, or None."""
    bench_s = params.bench_s_by_level[level]
    return next((i for i, c in enumerate(chain) if c.can_repair(level) and c.bench_s_per_day >= bench_s), None)


def _device_path(net: Network, a: Assignment, home_id: str, level: int, back_s: int,
                 params: AssignmentParams) -> tuple[int, tuple[Centre, ...], int]:
    """Where a picked-up device goes: its technician brings it to his own centre (he may come
    from another station of the area, or from a neighbouring area), and from there it climbs
    that centre's chain by courier to the repair centre the assignment chose, with the bench day
    it booked, when that centre lies on the chain; otherwise to the lowest centre of the chain
    able to repair it, on the first day it can. Returns (hops, chain, bench day offset)."""
    chain = net.chain(home_id)
    ids = [c.id for c in chain]
    if a.repair_centre_id not in ids:
        first = _first_bench(chain, level, params)
        if first is not None:
            return first, chain, 0
        chain = net.chain(a.visit_centre_id)  # type: ignore[arg-type]
        ids = [c.id for c in chain]
    hops = ids.index(a.repair_centre_id)  # type: ignore[arg-type]
    t = back_s + sum(chain[i].courier_to_parent_s for i in range(hops))
    arrival_day = opening_start(chain[hops], t) // DAY_S
    return hops, chain, 0 if a.bench_day is None else max(0, a.bench_day - arrival_day)


def _workload(dataset: Dataset, routes: pd.DataFrame, stops: pd.DataFrame, day: int) -> pd.DataFrame:
    net = dataset.network
    by_tech = routes.set_index("technician_id") if len(routes) else None
    service = stops.assign(service_s=stops["end_s"] - stops["start_s"]).groupby("technician_id")["service_s"].sum() if len(stops) else {}
    rows = []
    for t in dataset.technicians:
        has = by_tech is not None and t.id in by_tech.index
        travel = int(by_tech.loc[t.id, "travel_s"]) if has else 0
        rows.append({
            "technician_id": t.id, "centre_id": t.home_centre_id,
            "province_adcode": net[t.home_centre_id].province_adcode,
            "available_s": t.shift.duration_s - t.break_s,
            "busy_s": travel + int(service.get(t.id, 0)) if has else 0,
            "travel_s": travel, "distance_m": int(by_tech.loc[t.id, "distance_m"]) if has else 0,
            "overtime_s": int(by_tech.loc[t.id, "overtime_s"]) if has else 0,
            "jobs": int(by_tech.loc[t.id, "jobs"]) if has else 0,
        })
    return pd.DataFrame(rows)
