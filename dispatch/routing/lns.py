"""Exact ruin-and-recreate: improve routes where every move is timed by the exact timeline.

The OR-Tools model states a call's release (nobody sets off before it exists) and the one-hour
deadline on the departure only loosely or slowly (see ``dispatch.routing.ortools``); on a whole
day with calls arriving all day its moves are often wrong once timed exactly. This search
makes no such approximation: each step removes a few related visits (a random one and its
nearest neighbours, or a random route's tail) and puts each back at its cheapest feasible
position by :func:`dispatch.routing.timeline.timeline` (windows, shifts, overtime limits,
breaks, releases, skills), keeping a visit set off in time in time. A step is kept when the
objective is no worse: fewer unserved calls (by priority), then fewer late departures, then
travel seconds plus overtime at ``overtime_cost_per_s``, the engine's own order.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping

import numpy as np

from dispatch.reasons import DROPPED_FOR_PRIORITY, Reason
from dispatch.routing.problem import (
    RoutingParams,
    RoutingProblem,
    RoutingResult,
    RoutingTechnician,
    RoutingVisit,
    Unserved,
    qualified,
)
from dispatch.routing.timeline import Timeline, as_route, timeline


class _State:
    def __init__(self, problem: RoutingProblem, routes: Mapping[str, list[str]], params: RoutingParams):
        self.problem, self.params = problem, params
        self.visits = {v.id: v for v in problem.visits}
        self.techs = {k.id: k for k in problem.technicians}
        self.routes = {k.id: list(routes.get(k.id, ())) for k in problem.technicians}
        self.able = {v.id: [k.id for k in problem.technicians if qualified(k, v)
                            and (v.pinned_technician is None or v.pinned_technician == k.id)]
                     for v in problem.visits}
        self.cache: dict[str, tuple[Timeline, int]] = {}

    def cost(self, tid: str, ids: list[str] | None = None) -> tuple[Timeline, int]:
        """The route's timeline and its cost (late departures, travel, overtime), or None-feasible."""
        if ids is None and tid in self.cache:
            return self.cache[tid]
        k = self.techs[tid]
        order = self.routes[tid] if ids is None else ids
        t = timeline(self.problem, k, order, self.visits)
        c = _route_cost(self.problem, k, order, t, self.visits, self.params)
        if ids is None:
            self.cache[tid] = (t, c)
        return t, c

    def unserved(self) -> list[str]:
        served = {x for ids in self.routes.values() for x in ids}
        return [v.id for v in self.problem.visits if v.id not in served]

    def total(self) -> int:
        drop = sum(_drop_cost(self.visits[x], self.params) for x in self.unserved())
        return drop + sum(self.cost(tid)[1] for tid in self.routes if self.routes[tid])


def _drop_cost(v: RoutingVisit, params: RoutingParams) -> int:
    return params.drop_penalty_unit * params.priority_weights[v.priority - 1]


def _route_cost(problem: RoutingProblem, k: RoutingTechnician, ids: list[str], t: Timeline,
                visits: Mapping[str, RoutingVisit], params: RoutingParams) -> int:
    if not ids:
        return 0
    if not t.feasible:  # only the start can hold one (times frozen in another way); worse than a drop
        return 10 * params.drop_penalty_unit * len(ids)
    late = sum(1 for s in t.stops if s.dispatch_late_s > 0)
    travel = sum(s.travel_s for s in t.stops)
    if params.count_way_home:
        travel += int(problem.travel_s[k.speed_class][visits[ids[-1]].node, k.end_node])
    return late * params.dispatch_late_penalty + travel + params.overtime_cost_per_s * max(0, t.end_s - k.shift_end_s)


def _insert(state: _State, vid: str) -> bool:
    """Put ``vid`` at its cheapest feasible position (a kept promise stays kept); False if none.

    Positions are timed in the order of the driving they add (from the matrix, no timeline),
    and the search stops at the first whose added driving alone costs more than the best timed
    position: lateness and overtime only add to a position's cost (on roads where a detour is
    never shorter than the direct leg), so none after it could be cheaper. Ties go to the
    technician and position first in route order, as a full scan's would."""
    node = state.visits[vid].node
    bounds: list[tuple[int, int, int, str]] = []
    for order_i, tid in enumerate(state.able[vid]):
        k = state.techs[tid]
        tt = state.problem.travel_s[k.speed_class]
        nodes = [k.start_node] + [state.visits[x].node for x in state.routes[tid]] + [k.end_node]
        to_v, from_v = tt[nodes, node].tolist(), tt[node, nodes].tolist()
        last = len(nodes) - 2
        for pos in range(len(nodes) - 1):
            if pos == last and not state.params.count_way_home:
                added = to_v[pos]  # put last: only the drive to it
            else:
                added = to_v[pos] + from_v[pos + 1] - int(tt[nodes[pos], nodes[pos + 1]])
            bounds.append((added, order_i, pos, tid))
    bounds.sort()
    best: tuple[int, int, int, str] | None = None  # (added cost, technician's order, position, technician)
    timed: dict[str, tuple[Timeline, int, set[str]]] = {}
    for added, order_i, pos, tid in bounds:
        if best is not None and added > best[0]:
            break
        if tid not in timed:
            before_t, before_c = state.cost(tid)
            timed[tid] = before_t, before_c, {s.visit_id for s in before_t.stops if s.dispatch_late_s == 0}
        _, before_c, on_time = timed[tid]
        ids = state.routes[tid]
        t, c = state.cost(tid, ids[:pos] + [vid] + ids[pos:])
        if not t.feasible or any(s.dispatch_late_s > 0 and s.visit_id in on_time for s in t.stops):
            continue
        cand = (c - before_c, order_i, pos, tid)
        if best is None or cand < best:
            best = cand
    if best is None:
        return False
    _, _, pos, tid = best
    state.routes[tid].insert(pos, vid)
    state.cache.pop(tid, None)
    return True


def improve(problem: RoutingProblem, routes: Mapping[str, list[str]], params: RoutingParams,
            seconds: float, ruin: int = 8, max_steps: int | None = None) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Improve ``routes`` (technician id -> visit ids, each route feasible by the timeline) for
    ``seconds`` of CPU time, or ``max_steps`` steps if that comes first (then the answer does not
    depend on the machine: the same seed gives the same routes); returns the routes and the
    search's figures. Unserved visits are tried at every step too."""
    rng = random.Random(params.seed)
    state = _State(problem, routes, params)
    nodes = np.array([v.node for v in problem.visits], dtype=np.int64)
    ids_all = [v.id for v in problem.visits]
    near = problem.distance_m[np.ix_(nodes, nodes)].argsort(axis=1) if len(nodes) else np.zeros((0, 0), int)
    for vid in state.unserved():  # first, whatever fits as it is
        _insert(state, vid)
    best = start_cost = state.total()
    best_routes = {tid: list(ids) for tid, ids in state.routes.items()}
    # Record-to-record travel: a step may be kept up to ``slack`` worse than the best, the slack
    # shrinking to nothing by the end, so the search leaves local optima early and settles late.
    t0 = time.process_time()
    end = t0 + seconds
    steps = kept = 0
    while (now := time.process_time()) < end and ids_all and (max_steps is None or steps < max_steps):
        steps += 1
        saved = {tid: list(ids) for tid, ids in state.routes.items()}
        saved_cache = dict(state.cache)
        used = [tid for tid, ids in state.routes.items() if ids]
        if used and rng.random() < 0.15:  # a whole route: fewer technicians out, less overtime
            removed = list(state.routes[rng.choice(used)])
        else:
            seed_i = rng.randrange(len(ids_all))
            removed = [ids_all[j] for j in near[seed_i][:rng.randint(2, max(2, ruin))]]
        gone = set(removed)
        for tid, ids in state.routes.items():
            if any(x in gone for x in ids):
                state.routes[tid] = [x for x in ids if x not in gone]
                state.cache.pop(tid, None)
        pending = state.unserved()
        rng.shuffle(pending)
        pending.sort(key=lambda x: -state.visits[x].priority)
        for vid in pending:
            _insert(state, vid)
        total = state.total()
        slack = 0.02 * best * max(0.0, 1 - (now - t0) / seconds)
        if total <= best + slack:
            if total < best:
                kept += 1
                best = total
                best_routes = {tid: list(ids) for tid, ids in state.routes.items()}
        else:
            state.routes, state.cache = saved, saved_cache
    state.routes = best_routes
    return state.routes, {"steps": steps, "improving_steps": kept, "start_cost": start_cost, "end_cost": best}


def routes_result(problem: RoutingProblem, routes: Mapping[str, list[str]], engine: str = "lns",
                  stats: dict | None = None) -> RoutingResult:
    """Routes (each feasible by the timeline) as a RoutingResult timed by the timeline; every
    visit in no route is unassigned with the capacity reason."""
    visits = {v.id: v for v in problem.visits}
    out, served = [], set()
    for k in problem.technicians:
        ids = list(routes.get(k.id, ()))
        if not ids:
            continue
        out.append(as_route(problem, k, ids, timeline(problem, k, ids, visits), visits))
        served.update(ids)
    unserved = tuple(Unserved(v.id, Reason.CAPACITY, DROPPED_FOR_PRIORITY) for v in problem.visits if v.id not in served)
    return RoutingResult(tuple(out), unserved, "feasible", 0, engine, dict(stats or {}))
