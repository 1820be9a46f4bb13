"""The reasons that need no solver: who can serve each visit alone, and the visits nobody can."""

from __future__ import annotations

from dispatch.reasons import Reason
from dispatch.routing.problem import (
    RoutingParams,
    RoutingProblem,
    RoutingTechnician,
    RoutingVisit,
    Unserved,
    qualified,
)


def reachable_alone(problem: RoutingProblem, k: RoutingTechnician, v: RoutingVisit, depart_by: int | None) -> bool:
    """Can k serve v alone on a route (start at shift start, back by his latest end)?"""
    tt = problem.travel_s[k.speed_class]
    leave = max(k.shift_start_s, v.release_s)
    if depart_by is not None and leave > depart_by:
        return False
    start = max(leave + int(tt[k.start_node, v.node]), v.window_start_s)
    if v.pinned_start_s is not None:
        if start > v.pinned_start_s:
            return False
        start = v.pinned_start_s
    if start > v.window_end_s:
        return False
    return start + v.service_s + int(tt[v.node, k.end_node]) <= k.shift_end_s + k.max_overtime_s


def precheck(problem: RoutingProblem, params: RoutingParams) -> tuple[dict[str, list[int]], list[Unserved]]:
    """Eligible technician positions per servable visit, and the visits nobody can serve."""
    eligible: dict[str, list[int]] = {}
    unserved: list[Unserved] = []
    techs = problem.technicians
    for v in problem.visits:
        cand = [i for i, k in enumerate(techs) if qualified(k, v)]
        code: Reason | None = None
        if not cand:
            code = Reason.NO_SKILL
        if code is None and v.pinned_technician is not None:
            cand = [i for i in cand if techs[i].id == v.pinned_technician]
            if not cand:
                code = Reason.PIN_INFEASIBLE
        if code is None:
            cand = [i for i in cand if techs[i].capacity is None or techs[i].capacity >= v.demand]
            if not cand:
                code = Reason.NO_CAPACITY
        if code is None:
            cand = [i for i in cand if reachable_alone(problem, techs[i], v, None)]
            if not cand:
                code = Reason.UNREACHABLE_WINDOW
        if code is None and params.dispatch_deadline == "hard" and v.dispatch_deadline_s is not None:
            cand = [i for i in cand if reachable_alone(problem, techs[i], v, v.dispatch_deadline_s)]
            if not cand:
                code = Reason.DEADLINE_UNREACHABLE
        if code is None:
            eligible[v.id] = cand
        else:
            unserved.append(Unserved(v.id, code, code.sentence))
    return eligible, unserved

