"""One area's routing problem from the dataset and the assignment (absolute times of the day)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from dispatch.assignment import Assignment
from dispatch.dataset import Dataset
from dispatch.hours import dispatch_clock_start
from dispatch.live.roster import matrix_depart_s, routing_technicians
from dispatch.model import Mode, Request, Technician
from dispatch.plan.areas import Area
from dispatch.plan.params import Pin
from dispatch.routing import (
    RoutingProblem,
    RoutingVisit,
)
from dispatch.rules import DEFAULT_RULES, Rules
from dispatch.travel import DEFAULT_TRAVEL, Travel


def routing_problem(
    area: Area, dataset: Dataset, assignment: dict[str, Assignment], day: int,
    rules: Rules = DEFAULT_RULES, travel: Travel = DEFAULT_TRAVEL,
    tech_of: dict[str, Technician] | None = None, req_of: dict[str, Request] | None = None,
) -> RoutingProblem:
    """One area's routing problem. ``tech_of``/``req_of`` (by id) save rebuilding them per area.
    An on-site call the assignment has collected for the bench is a pickup: any technician, and
    the rules' hand-over at the door (``collect_service_s``)."""
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
    # Priced at the area's first shift start, as the live network prices its day (same matrices).
    travel_s, distance_m = travel.matrices(np.array(lon), np.array(lat), classes, matrix_depart_s(techs))
    rtechs = routing_technicians(techs, node_of, day, classes, rules.max_overtime_s)
    visits = []
    for i, r in enumerate(reqs):
        a = assignment[r.id]
        start = dispatch_clock_start(net[a.visit_centre_id], r)
        collected = r.mode == Mode.ONSITE and a.mode == Mode.PICKUP
        visits.append(RoutingVisit(
            id=r.id, node=len(centre_ids) + i, service_s=rules.collect_service_s if collected else r.service_s,
            window_start_s=r.window.start_s, window_end_s=r.window.end_s,
            required_level=r.level if a.mode == Mode.ONSITE else 1,
            required_skill=r.product_line or None, priority=int(r.priority),
            dispatch_deadline_s=rules.dispatch_deadline(net[a.visit_centre_id], start),
            release_s=start,
        ))
    names = tuple(centre_ids) + tuple(r.id for r in reqs)
    return RoutingProblem(travel_s=travel_s, distance_m=distance_m, technicians=tuple(rtechs),
                          visits=tuple(visits), node_names=names)


def with_pins(problem: RoutingProblem, pins: Sequence[Pin]) -> RoutingProblem:
    by_id = {p.request_id: p for p in pins}
    techs = {k.id for k in problem.technicians}
    visits = tuple(
        replace(v, pinned_technician=by_id[v.id].technician_id, pinned_start_s=by_id[v.id].start_s)
        if v.id in by_id and by_id[v.id].technician_id in techs else v
        for v in problem.visits)
    return replace(problem, visits=visits)


def node_coordinates(problem: RoutingProblem, where: dict[str, tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    lon = np.array([where[n][0] for n in problem.node_names], dtype=float)
    lat = np.array([where[n][1] for n in problem.node_names], dtype=float)
    return lon, lat

