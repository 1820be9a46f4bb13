"""A day plan as the served day's base, pins and their undo, and the log as the board reads it.

``POST /plan`` gives the service a day plan's routes (each technician's calls in order, and the
calls it left unassigned): the areas it touches start the day from them instead of empty
(``LiveNetwork.start_day`` with routes), and every later change (a call, a drop-out, a pin, a
field report) is applied on top, as for any other day. The plan is an entry of the log, so a
restart replays it first. A plan is refused once the areas it touches have changes of their own:
those were decided on the plan they saw, and a new base would re-time them behind their backs.

``POST /jobs/{id}/pin`` moves a job to a chosen technician of its area at his best position, or
refuses (409) and leaves it where it was; ``POST /jobs/{id}/move`` does the same with the time
its work may start from (the dispatcher's chosen slot); ``POST /events/{seq}/undo`` takes one pin
or move back (the area is rebuilt from the log without it). ``GET /events`` is the log as a dispatcher reads it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from dispatch.live import InsertionOption, LiveArea, NewCall
from dispatch.service.clock import warnings_of
from dispatch.service.errors import ServiceError

# The entries that are not changes of the live plan (a base, or taking a change back).
NOT_CHANGES = ("plan", "undo")
UNDOABLE = ("pin", "move")
CALL_FIELDS = ("id", "lon", "lat", "service_s", "window_start_s", "window_end_s", "required_level",
               "required_skill", "priority", "release_s", "dispatch_deadline_s")


def active(entries: list[Any]) -> list[Any]:
    """The log less the entries an ``undo`` took back (the undo entries stay: they say when)."""
    undone = {int(e.payload["seq"]) for e in entries if e.kind == "undo"}
    return [e for e in entries if e.seq not in undone]


def merged_base(plans: list[dict[str, Any]]) -> tuple[dict[str, list[dict[str, Any]]], dict[str, dict[str, Any]]]:
    """(technician -> his calls in order, call id -> unassigned call) of the plans in log order:
    a later plan replaces the routes of the technicians it covers, and takes its calls out of
    whatever an earlier plan had them in."""
    routes: dict[str, list[dict[str, Any]]] = {}
    unassigned: dict[str, dict[str, Any]] = {}
    for p in plans:
        ids = {c["id"] for calls in p["routes"].values() for c in calls} | {c["id"] for c in p["unassigned"]}
        for tech in list(routes):
            routes[tech] = [c for c in routes[tech] if c["id"] not in ids]
        unassigned = {k: v for k, v in unassigned.items() if k not in ids}
        routes.update({tech: list(calls) for tech, calls in p["routes"].items()})
        unassigned.update({c["id"]: c for c in p["unassigned"]})
    return routes, unassigned


def _new_call(c: dict[str, Any]) -> NewCall:
    return NewCall(**{k: c.get(k) for k in CALL_FIELDS})


def base_areas(svc: Any, names: set[str]) -> dict[str, LiveArea]:
    """The areas ``names`` at the day's midnight with the routes of the plans logged so far
    (``svc.day_plans``); a call a plan left unassigned is held unassigned by its centre's area."""
    routes, unassigned = merged_base([svc.day_plans[s] for s in sorted(svc.day_plans)])
    calls = {tech: [_new_call(c) for c in cs] for tech, cs in routes.items()}
    areas = {a: x for a, x in svc.live.start_day(svc.day, routes=calls).items() if a in names}
    for c in unassigned.values():
        a = svc.live.area_of.get(c.get("centre_id", ""))
        if a in areas and not areas[a].holds(c["id"]):
            areas[a].insert_with(_new_call(c), None, svc.rules.ranking(int(c["priority"])))
    return areas


def _plan_areas(svc: Any, body: dict[str, Any]) -> set[str]:
    """The areas a plan touches: its technicians' (a call it left unassigned is held by its
    centre's area, if that centre has field staff)."""
    out = set()
    for tech in body["routes"]:
        if tech not in svc.tech_area:
            raise ServiceError(422, f"technician {tech!r} of the plan is not on the served roster", "routes")
        out.add(svc.tech_area[tech])
    return out | {a for c in body["unassigned"] if (a := svc.live.area_of.get(c.get("centre_id", ""))) is not None}


def _without(svc: Any, body: dict[str, Any], areas: set[str]) -> dict[str, Any]:
    """The plan less what it says of ``areas`` (their technicians, and calls they hold or would)."""
    held = {j for j, a in svc.job_area.items() if a in areas}
    keep = {t: [c for c in cs if c["id"] not in held] for t, cs in body["routes"].items()
            if svc.tech_area.get(t) not in areas}
    free = [c for c in body["unassigned"] if c["id"] not in held and svc.live.area_of.get(c.get("centre_id", "")) not in areas]
    return {**body, "routes": keep, "unassigned": free}


def _index(svc: Any, seq: int, body: dict[str, Any]) -> None:
    """The plan's calls become known jobs (field reports, pins, the KPIs count them)."""
    svc.day_plans[seq] = body
    for tech, calls in body["routes"].items():
        for c in calls:
            svc.index_plan_call(c, svc.tech_area.get(tech))
    for c in body["unassigned"]:
        svc.index_plan_call(c, svc.live.area_of.get(c.get("centre_id", "")))


def post_plan(svc: Any, body: dict[str, Any]) -> dict[str, Any]:
    """``POST /plan``: the day plan ``body`` as the base of the areas it touches (logged first)."""
    svc._usable()
    ids = [c["id"] for calls in body["routes"].values() for c in calls] + [c["id"] for c in body["unassigned"]]
    if len(ids) != len(set(ids)):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:3]
        raise ServiceError(422, f"call id(s) {', '.join(dup)} appear more than once in the plan", "routes")
    names = _plan_areas(svc, body)
    with svc._locked(sorted(names)):
        changed = {a for e in svc._log() if e.kind not in NOT_CHANGES and e.scope == svc.scope
                   for a in {e.payload.get("area")} | set(e.payload.get("advanced", [])) if a in names}
        # The areas that already live on a plan of their own keep it: the plan is the rest.
        body = _without(svc, body, changed) if changed else body
        names -= changed
        if not names:
            raise ServiceError(409, f"the live day of area(s) {', '.join(sorted(changed))} already has changes made "
                               "on the plan it holds; a new day plan would re-time them (serve a new day, or a new "
                               "store, to start from another plan)")
        ids = [c["id"] for calls in body["routes"].values() for c in calls] + [c["id"] for c in body["unassigned"]]
        taken = [i for i in ids if i in svc.calls and not svc.calls[i].answer.get("from_day_plan")]
        if taken:
            raise ServiceError(409, f"call id(s) {', '.join(taken[:3])} are calls the service took; a day plan "
                               "cannot take them over", "routes")
        provisional = max(svc.day_plans, default=0) + 10**12  # ordered last until the log gives its seq
        svc.day_plans[provisional] = body
        try:
            fresh = base_areas(svc, names)
        finally:
            del svc.day_plans[provisional]
        routed = sum(len(v) for v in body["routes"].values())
        kept = {v for x in fresh.values() for ids_ in x.routes.values() for v in ids_}
        answer = {"key": body["key"], "areas": sorted(names), "kept_live": sorted(changed), "calls": len(ids),
                  "routed": routed,
                  "unassigned": len(body["unassigned"]),
                  "not_kept": sorted(c["id"] for cs in body["routes"].values() for c in cs if c["id"] not in kept)}
        svc._commit(sorted(names), "plan", body["key"], svc.day * 86_400, body, answer)
        seq = max(e.seq for e in svc.store.service_entries(svc.scope, kind="plan"))
        _index(svc, seq, body)
        for a, x in fresh.items():
            svc.areas[a] = x
    return answer


def replay_plan(svc: Any, e: Any, names: set[str], rebuild_index: bool) -> None:
    """A logged plan: the base of the areas it touches (those in ``names``)."""
    if rebuild_index or e.seq not in svc.day_plans:
        _index(svc, e.seq, e.payload)
    touched = names & _plan_areas(svc, e.payload)
    svc.areas.update(base_areas(svc, touched))


def move(area: LiveArea, job: str, tech: str, not_before_s: int | None = None) -> InsertionOption | None:
    """Give ``job`` to ``tech`` at his best position, starting no earlier than ``not_before_s``
    (``LiveArea.move``); None (nothing changed but the area's clock) when he cannot take it
    without breaking a promise, or when it is under way."""
    return area.move(job, tech, not_before_s)


def pin(svc: Any, job: str, tech: str, at: dt.datetime | None) -> dict[str, Any]:
    """``POST /jobs/{id}/pin``: the job to ``tech`` from ``at`` on (logged), or 409 and no change."""
    return _reassign(svc, "pin", job, tech, at, None)


def move_job(svc: Any, job: str, tech: str, start: dt.datetime | None, at: dt.datetime | None) -> dict[str, Any]:
    """``POST /jobs/{id}/move``: the job to ``tech``, its work starting no earlier than ``start``
    (logged and replayed as a pin is), or 409 and no change."""
    not_before = None
    if start is not None:
        not_before = svc.to_s(start)
        lo = svc.day * 86_400
        if not lo <= not_before < lo + 86_400:
            raise ServiceError(422, f"'start' is {start.isoformat()}; expected a time on the served day "
                               f"{svc.iso(lo)[:10]} (China Standard Time)", "start")
    return _reassign(svc, "move", job, tech, at, not_before)


def _reassign(svc: Any, kind: str, job: str, tech: str, at: dt.datetime | None,
              not_before_s: int | None) -> dict[str, Any]:
    """A pin or a move: ``job`` to ``tech`` (from ``not_before_s`` on), decided at ``at``, logged."""
    svc._usable()
    judged = svc.at_s(at)
    a = svc.job_area.get(job)
    if a is None or a not in svc.areas:
        raise ServiceError(404, f"no job {job!r} on the served day's plan")
    if svc.tech_area.get(tech) != a:
        raise ServiceError(409 if tech in svc.tech_area else 404,
                           f"technician {tech!r} does not work in area {a}, where job {job!r} is"
                           if tech in svc.tech_area else f"no technician {tech!r} on the served roster")
    verb = "pinned to" if kind == "pin" else "moved to"
    with svc._locked([a]):
        area = svc.areas[a]
        t = max(judged.at_s, area.clock_s)
        before = area.state(job).value
        holder = next((k for k, ids in area.routes.items() if job in ids), None)
        area.advance(t)
        got = move(area, job, tech, not_before_s)
        if got is None:
            svc._rebuild([a])  # refused: from the log again, so not even the clock moved
            window_end = area.visit(job).window_end_s
            if before not in ("planned", "unassigned"):
                why = "it is already under way"
            elif not_before_s is not None and not_before_s >= window_end:
                why = f"{_hhmm(not_before_s)} is after the customer's window closes at {_hhmm(window_end)}"
            else:
                why = (f"{tech} cannot take it{' from ' + _hhmm(not_before_s) if not_before_s is not None else ''}"
                       " without breaking a promise (its window, another job's window or kept deadline, "
                       "his shift or his break)")
            raise ServiceError(409, f"job {job!r} cannot be {verb} {tech} ({why}); it stays "
                               f"{'with ' + holder if holder else 'unassigned'}")
        answer = {"job_id": job, "technician_id": tech, "area": a, "at": svc.iso(t), "at_s": t,
                  "warnings": warnings_of(judged), "sequence": got.position + 1, "from_technician": holder,
                  "departure": svc.iso(got.departure_s), "departure_s": got.departure_s,
                  "arrival": svc.iso(got.eta_s), "arrival_s": got.eta_s, "start_s": got.start_s,
                  "meets_deadline": bool(got.meets_deadline)}
        payload = {"area": a, "technician_id": tech}
        if kind == "move":
            answer |= {"not_before": svc.iso(not_before_s), "not_before_s": not_before_s}
            payload["not_before_s"] = not_before_s
        svc._commit([a], kind, job, t, payload, answer)
        svc.job_area[job] = a
    return answer


def _hhmm(t_s: int) -> str:
    """A time of the served day as the dispatcher reads it (China Standard Time)."""
    return f"{t_s % 86_400 // 3600:02d}:{t_s % 3600 // 60:02d}"


def replay_pin(svc: Any, e: Any) -> None:
    """A logged pin or move, applied again."""
    a = e.payload["area"]
    area = svc.areas[a]
    area.advance(max(area.clock_s, e.at_s))
    if move(area, e.key, e.payload["technician_id"], e.payload.get("not_before_s")) is None:
        raise ServiceError(503, f"replay of {e.kind} {e.seq} ({e.key!r}) did not reproduce it")


def undo(svc: Any, seq: int) -> dict[str, Any]:
    """``POST /events/{seq}/undo``: take one pin or move back; its area is rebuilt from the log without it."""
    svc._usable()
    entry = next((e for e in active(svc._log()) if e.seq == seq and e.scope == svc.scope), None)
    if entry is None:
        raise ServiceError(404, f"no change {seq} on the served day's log (or it was undone already)")
    if entry.kind not in UNDOABLE:
        raise ServiceError(409, f"change {seq} is a {entry.kind!r}; only a pin or a move can be undone (a call, a "
                           "drop-out or a field report happened, and is answered by another change)")
    a = entry.payload["area"]
    with svc._locked([a]):
        answer = {"seq": seq, "kind": entry.kind, "key": entry.key, "area": a}
        svc._commit([a], "undo", str(seq), svc.areas[a].clock_s, {"seq": seq, "area": a}, answer)
        svc._rebuild([a])
    return answer


def events(svc: Any) -> dict[str, Any]:
    """``GET /events``: the served day's log (without the plans' routes), the areas with their
    technicians, and the head of the log (a client's cue that the plan changed). Read from the
    store once per change: a board asks on every redraw, and a plan's entry is large."""
    cached = getattr(svc, "_events_view", None)
    if cached is not None and cached[0] == svc.log_version:
        return cached[1]  # type: ignore[no-any-return]
    view = _events(svc)
    svc._events_view = (svc.log_version, view)
    return view


def _events(svc: Any) -> dict[str, Any]:
    entries = svc.store.service_entries(svc.scope)  # as written: an undone pin is shown, marked
    undone = {int(e.payload["seq"]) for e in entries if e.kind == "undo"}
    rows = []
    for e in entries:
        p = e.payload
        row = {"seq": e.seq, "kind": e.kind, "key": e.key, "at": svc.iso(e.at_s), "at_s": e.at_s,
               "area": p.get("area"), "technician_id": p.get("technician_id") or e.answer.get("technician_id"),
               "undone": e.seq in undone, "call": None}
        if e.kind == "call" and p.get("call"):
            m = p.get("call_meta", {})
            row["call"] = {**{k: p["call"].get(k) for k in CALL_FIELDS}, "mode": m.get("mode"),
                           "visit_mode": e.answer.get("visit_mode", m.get("mode")), "centre_id": m.get("centre_id"),
                           "province_adcode": m.get("province_adcode"), "created_s": m.get("created_s"),
                           "clock_start_s": m.get("clock_start_s"), "status": e.answer.get("status")}
        if e.kind == "unavailable":
            row["technician_id"] = e.key
        rows.append(row)
    areas = {a: sorted(k.id for k in x.problem.technicians) for a, x in sorted(svc.areas.items())}
    return {"day": svc.day, "head": max((e.seq for e in entries), default=0), "areas": areas,
            "plans": [e.key for e in entries if e.kind == "plan"], "events": rows}


def plan_call_fields(call: NewCall) -> dict[str, Any]:
    return {k: v for k, v in asdict(call).items() if k in CALL_FIELDS}
