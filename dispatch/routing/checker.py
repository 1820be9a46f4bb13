"""Independent feasibility checker for routing results.

It shares no code with the model builder in :mod:`dispatch.routing` (only the plain dataclasses
that describe problem and result): every time is recomputed from the matrices, every constraint is
re-stated here from the problem's own words. ``check(problem, result)`` returns the violations as
readable sentences; an empty list means the plan is feasible and its reported figures are right.

Timing semantics a plan must follow:

* the technician sets off toward a visit when he finishes the previous one (or leaves his centre:
  the route's ``start_s``), but never before the visit's ``release_s`` (the call must exist);
  that is ``departure_toward_s``;
* arrival = departure + travel, plus the break when the break starts during that drive;
* service starts no earlier than arrival, inside the visit's window, and lasts ``service_s``;
* the break lies inside its start window and overlaps no service and no drive; it may also be
  taken before the route starts or after it ends;
* the route ends no earlier than the return drive allows and no later than shift end + allowed
  overtime.
"""

from __future__ import annotations

from collections import Counter

from dispatch.routing.problem import ALL_SKILLS, RoutingProblem, RoutingResult


def _can_do(tech, visit) -> bool:
    if tech.max_level < visit.required_level:
        return False
    return visit.required_skill is None or ALL_SKILLS in tech.skills or visit.required_skill in tech.skills


def _overlap(a0: int, a1: int, b0: int, b1: int) -> bool:
    return max(a0, b0) < min(a1, b1)


def check(problem: RoutingProblem, result: RoutingResult, hard_deadline: bool = False) -> list[str]:
    """Every violated constraint or mis-reported figure of ``result`` as a sentence."""
    out: list[str] = []
    techs = {k.id: k for k in problem.technicians}
    visits = {v.id: v for v in problem.visits}

    # Each visit exactly once: in one route or among the unassigned, with a reason.
    seen = Counter([s.visit_id for r in result.routes for s in r.stops] + [u.visit_id for u in result.unassigned])
    for vid, n in seen.items():
        if vid not in visits:
            out.append(f"unknown visit {vid!r} in the result")
        elif n > 1:
            out.append(f"visit {vid} appears {n} times")
    for vid in visits:
        if vid not in seen:
            out.append(f"visit {vid} is neither routed nor unassigned")
    for u in result.unassigned:
        if not u.reason_code or not u.reason:
            out.append(f"unassigned visit {u.visit_id} has no reason")
    used = Counter(r.technician_id for r in result.routes)
    for tid, n in used.items():
        if n > 1:
            out.append(f"technician {tid} has {n} routes")

    for r in result.routes:
        k = techs.get(r.technician_id)
        if k is None:
            out.append(f"route of unknown technician {r.technician_id!r}")
            continue
        out += _check_route(problem, k, r, visits, hard_deadline)
    return out


def _check_route(problem, k, r, visits, hard_deadline) -> list[str]:
    out: list[str] = []
    who = f"technician {k.id}"
    tt = problem.travel_s[k.speed_class]
    dd = problem.distance_m
    if not k.shift_start_s <= r.start_s <= k.shift_end_s:
        out.append(f"{who}: leaves at {r.start_s}, outside the shift [{k.shift_start_s}, {k.shift_end_s}]")
    brk = r.break_start_s
    dur = k.break_window.duration_s if k.break_window is not None else 0
    if k.break_window is not None:
        if brk is None:
            out.append(f"{who}: no break although the shift has one")
        elif not k.break_window.earliest_start_s <= brk <= k.break_window.latest_start_s:
            out.append(f"{who}: break at {brk} outside [{k.break_window.earliest_start_s}, "
                       f"{k.break_window.latest_start_s}]")
    elif brk is not None:
        out.append(f"{who}: a break is reported but the shift has none")
        brk = None

    node, free_at = k.start_node, r.start_s  # where he is and when he can leave
    load = travel_sum = dist_sum = 0
    pinned_seq: list[int] = []
    for n, s in enumerate(r.stops):
        v = visits.get(s.visit_id)
        if v is None:
            continue
        at = f"{who}, stop {n + 1} ({v.id})"
        if not _can_do(k, v):
            out.append(f"{at}: needs level {v.required_level} / {v.required_skill}, technician has "
                       f"level {k.max_level} / {sorted(k.skills)}")
        if v.pinned_technician is not None and v.pinned_technician != k.id:
            out.append(f"{at}: pinned to {v.pinned_technician}")
        if v.pinned_sequence is not None:
            pinned_seq.append(v.pinned_sequence)
        leg, dist = int(tt[node, v.node]), int(dd[node, v.node])
        depart = max(free_at, v.release_s)  # he cannot set off toward a call that does not exist yet
        arrive = depart + leg
        en_route = brk is not None and depart <= brk < arrive
        if en_route:
            arrive += dur
        if s.departure_toward_s != depart:
            out.append(f"{at}: departure reported {s.departure_toward_s}, recomputed {depart}")
        if s.travel_s != leg or s.distance_m != dist:
            out.append(f"{at}: leg reported {s.travel_s} s / {s.distance_m} m, matrices say {leg} s / {dist} m")
        if s.arrival_s != arrive:
            out.append(f"{at}: arrival reported {s.arrival_s}, recomputed {arrive}")
        if s.start_s < arrive:
            out.append(f"{at}: starts at {s.start_s} before arriving at {arrive}")
        if not v.window_start_s <= s.start_s <= v.window_end_s:
            out.append(f"{at}: starts at {s.start_s} outside its window [{v.window_start_s}, {v.window_end_s}]")
        if v.pinned_start_s is not None and s.start_s != v.pinned_start_s:
            out.append(f"{at}: pinned start {v.pinned_start_s}, starts at {s.start_s}")
        if s.end_s != s.start_s + v.service_s:
            out.append(f"{at}: ends at {s.end_s}, expected start + service = {s.start_s + v.service_s}")
        late = 0 if v.dispatch_deadline_s is None else max(0, depart - v.dispatch_deadline_s)
        if s.dispatch_late_s != late:
            out.append(f"{at}: dispatch lateness reported {s.dispatch_late_s}, recomputed {late}")
        if hard_deadline and late > 0:
            out.append(f"{at}: sets off at {depart}, {late} s after the dispatch deadline {v.dispatch_deadline_s}")
        if brk is not None:
            if _overlap(brk, brk + dur, s.start_s, s.end_s):
                out.append(f"{at}: break [{brk}, {brk + dur}) overlaps the service [{s.start_s}, {s.end_s})")
            if not en_route and _overlap(brk, brk + dur, depart, depart + leg):
                out.append(f"{at}: break [{brk}, {brk + dur}) overlaps the drive [{depart}, {depart + leg})")
        load += v.demand
        travel_sum += leg
        dist_sum += dist
        node, free_at = v.node, s.end_s
    leg, dist = int(tt[node, k.end_node]), int(dd[node, k.end_node])
    back = free_at + leg
    if brk is not None and free_at <= brk < back:
        back += dur
    elif brk is not None and _overlap(brk, brk + dur, free_at, free_at + leg):
        out.append(f"{who}: break overlaps the drive home")
    travel_sum += leg
    dist_sum += dist
    if r.end_s < back:
        out.append(f"{who}: route ends at {r.end_s} but he cannot be back before {back}")
    if r.end_s > k.shift_end_s + k.max_overtime_s:
        out.append(f"{who}: back at {r.end_s}, after shift end {k.shift_end_s} + allowed overtime {k.max_overtime_s}")
    if r.overtime_s != max(0, r.end_s - k.shift_end_s):
        out.append(f"{who}: overtime reported {r.overtime_s}, recomputed {max(0, r.end_s - k.shift_end_s)}")
    if r.travel_s != travel_sum or r.distance_m != dist_sum:
        out.append(f"{who}: route totals {r.travel_s} s / {r.distance_m} m, recomputed {travel_sum} s / {dist_sum} m")
    if k.capacity is not None and load > k.capacity:
        out.append(f"{who}: load {load} exceeds capacity {k.capacity}")
    if pinned_seq != sorted(pinned_seq):
        out.append(f"{who}: pinned visits out of their pinned order {pinned_seq}")
    return out
