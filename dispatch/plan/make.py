"""The day plan: assignment, one routing solve per area in parallel, bench work, KPIs.

An area is a prefecture: its city centre, its county stations (and, in a capital, the provincial
centre), their technicians and the visits assigned to them. Technicians of a county may serve any
county of the same prefecture; the routing engine chooses who goes where and when.

Calls whose dispatch clock starts on a later day (after-hours calls answered the next morning)
belong to the next day's plan: they are listed as unassigned with reason ``next_day``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from dispatch.assignment import assign
from dispatch.dataset import Dataset
from dispatch.hours import dispatch_clock_start
from dispatch.live.roster import LiveNetwork
from dispatch.model import DAY_S, Request
from dispatch.parts.promise import device_legs_for
from dispatch.plan.areas import make_areas, reach_s
from dispatch.plan.benches import Benches, with_collected
from dispatch.plan.build import node_coordinates, routing_problem, with_pins
from dispatch.plan.day import dispatch_day, violations_of
from dispatch.plan.frames import assemble, routing_stats_frame
from dispatch.plan.params import Pin, Plan, PlanParams
from dispatch.plan.pins import assign_pinned, pinned_to_technician
from dispatch.progress import Progress, noting
from dispatch.staffing import on_duty
from dispatch.tables import dataset_fingerprint
from dispatch.travel import DEFAULT_TRAVEL, Travel


def make_plan(
    dataset: Dataset,
    params: PlanParams = PlanParams(),
    pool: Executor | None = None,
    travel: Travel = DEFAULT_TRAVEL,
    progress: Progress | None = None,
    pins: Sequence[Pin] = (),
) -> Plan:
    """Plan day ``params.day``: assign, route every area (in ``pool`` if given), estimate, KPIs."""
    report = noting(progress)
    timings: dict[str, float] = {}
    # The dataset's fingerprint (a hash of its canonical CSV, seconds on a national day) is worked
    # out on a thread while this one mostly waits for the pool's assignment and routing.
    fingerprint = ThreadPoolExecutor(max_workers=1)
    fingerprinted = fingerprint.submit(dataset_fingerprint, dataset)
    fingerprint.shutdown(wait=False)
    t0 = time.perf_counter()
    day_reqs, deferred = requests_of_day(dataset, params.day)
    # The day's field technicians: not on their weekly rest day, not bench or counter staff.
    at_work = tuple(on_duty(dataset.technicians, dataset.epoch_date, params.day))
    day_ds = Dataset(dataset.network, at_work, tuple(day_reqs), dataset.epoch_date, dataset.meta, dataset.parts)
    assignment = params.assignment_params()
    if assignment.cost is not None and not params.routing_km_cost_s:  # money on the arcs too, at the same weight
        params = replace(params, routing_km_cost_s=assignment.cost.km_as_turnaround_s(travel.speed_classes))
    result = assign(day_ds, assignment, travel, report, pool)
    timings["assignment"] = time.perf_counter() - t0
    pinned_to = pinned_to_technician(pins, day_ds)
    result = assign_pinned(result, pinned_to, day_ds, assignment, travel)
    by_req = {a.request_id: a for a in result.assigned}

    t0 = time.perf_counter()
    areas = make_areas(day_ds, result, params.day, pinned_to)
    tech_of = {t.id: t for t in day_ds.technicians}
    req_of = {r.id: r for r in day_ds.requests}
    problems = {a.key: routing_problem(a, day_ds, by_req, params.day, params.rules, travel, tech_of, req_of)
                for a in areas}
    if pins:
        problems = {k: with_pins(p, pins) for k, p in problems.items()}
    where = {c.id: (c.lon, c.lat) for c in day_ds.network} | {r.id: (r.lon, r.lat) for r in day_ds.requests}
    coords = {k: node_coordinates(p, where) for k, p in problems.items()}
    timings["matrices"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    live_network = LiveNetwork(day_ds.network, day_ds.technicians, params.rules, travel, day_ds.epoch_date)
    benches = Benches.of(day_ds, result, assignment, live_network.repairs_at_home)
    lives, walls, limits = dispatch_day(problems, coords, live_network.find_areas, params, pool, report, benches)
    result = with_collected(result, benches)
    results = {k: live.result() for k, live in lives.items()}
    day_problems = {k: live.day_problem() for k, live in lives.items()}
    violations = {k: violations_of(live, results[k], day_problems[k]) for k, live in lives.items()}
    timings["routing"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    plan = assemble(dataset, day_ds, deferred, result, areas, results, params, device_legs_for(day_ds, travel))
    plan[2]["reach_s"] = reach_s(day_ds, plan[2]["request_id"], travel)  # a day with no calls: no rows
    timings["assemble"] = time.perf_counter() - t0
    stats = routing_stats_frame(areas, problems, day_problems, results, walls, limits, violations)
    return Plan(fingerprinted.result(), params, *plan, timings, stats, day_problems, results)


def requests_of_day(dataset: Dataset, day: int) -> tuple[list[Request], list[Request]]:
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
        if not r.mode.travels:
            service_day = r.created_s // DAY_S
        else:
            service_day = dispatch_clock_start(net.centres[int(j)], r) // DAY_S
        if service_day == day:
            today.append(r)
        elif r.created_s // DAY_S <= day < service_day:
            later.append(r)
    return today, later

