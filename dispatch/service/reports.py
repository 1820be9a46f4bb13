"""Field reports on the service's jobs (``POST /jobs/{id}/status``): checked, applied, logged."""

from __future__ import annotations

import datetime as dt
from typing import Any

from dispatch.errors import DispatchError
from dispatch.live import JobState, LiveArea, StatusConflict
from dispatch.live.calls import check_report
from dispatch.service.clock import warnings_of
from dispatch.service.errors import ServiceError


def job_status(svc: Any, job_id: str, status: str, at: dt.datetime | None,
               expected_end: dt.datetime | None = None) -> dict[str, Any]:
    """``POST /jobs/{id}/status`` on ``svc`` (a ``LiveService``): a field report checked against the
    job's state and times, applied to its area and logged before it is answered."""
    svc._usable()
    judged = svc.at_s(at)
    t = judged.at_s
    end_s = None if expected_end is None else svc.to_s(expected_end)
    if end_s is not None and status != "overrun":
        raise ServiceError(422, f"'expected_end' goes with an 'overrun' report only, not {status!r}", "expected_end")
    call = svc.calls.get(job_id)
    if call is None:
        raise ServiceError(404, f"no job {job_id!r}; a job is a call acknowledged by POST /calls")
    a = svc.job_area.get(job_id)
    if a is None:
        raise ServiceError(409, f"job {job_id!r} has no technician ({call.answer.get('status')}); "
                           "there is no field work to report")
    with svc._locked([a]):
        area = svc.horizon.area_of_job(job_id, a)  # a booking on a later day is in that day's plan
        t = max(t, area.clock_s)
        if job_id in area.unassigned and status == "cancelled":  # nobody's work: it leaves the list
            area.advance(max(area.clock_s, t))
            cancel_unassigned(area, job_id, t)
            answer = {"job_id": job_id, "status": status, "at": svc.iso(t), "at_s": t,
                      "warnings": warnings_of(judged), "area": a, "technician_id": "", "state": "cancelled",
                      "arrival": None, "end": None, "end_s": None, "frozen": False}
            svc._commit([a], "status", job_id, t, {"area": a, "status": status}, answer)
            return answer
        if job_id in area.unassigned:
            raise ServiceError(409, f"job {job_id!r} is unassigned: {area.unassigned[job_id].reason}; "
                               "it can only be cancelled")
        tid = next((k for k, ids in area.routes.items() if job_id in ids), None)
        if tid is None:  # cancelled before anyone set off: it left the plan
            raise ServiceError(409, f"job {job_id!r} is {area.state(job_id).value}; no report can follow it")
        st = next(s for s in area.schedule(tid).stops if s.visit_id == job_id)
        # Checked before the clock moves, so a refused report changes nothing.
        if job_id not in area.frozen and st.departure_toward_s > t and status != "cancelled":
            raise ServiceError(409, f"job {job_id!r} is planned to set off at "
                               f"{svc.iso(st.departure_toward_s)}; a status at {svc.iso(t)} is too early")
        try:
            check_report(job_id, status, t, area.reported.get(job_id, (JobState.PLANNED, None)))
        except StatusConflict as exc:
            raise ServiceError(409, f"{exc}; its planned times: set off {svc.iso(st.departure_toward_s)}, "
                               f"arrival {svc.iso(st.arrival_s)}, end {svc.iso(st.end_s)}") from exc
        if status == "cancelled" and st.arrival_s <= t:
            raise ServiceError(409, f"job {job_id!r} cannot be cancelled: its technician is at the door since "
                               f"{svc.iso(st.arrival_s)} (report done when he leaves)")
        if end_s is not None and end_s <= t:
            raise ServiceError(422, f"'expected_end' is {expected_end.isoformat()}; expected a time after the "  # type: ignore[union-attr]
                               f"report at {svc.iso(t)}", "expected_end")
        try:
            area.advance(max(area.clock_s, t))
            trips = completed_trip(svc, area, tid, job_id, status, t)  # before the report replaces his set-off
            area.report(job_id, status, t, end_s)
        except DispatchError:
            svc._rebuild([a])  # the clock moved for a report refused: forget both
            raise
        state = area.state(job_id)
        st = next((s for s in area.schedule(tid).stops if s.visit_id == job_id), None)  # None: cancelled
        answer = {"job_id": job_id, "status": status, "at": svc.iso(t), "at_s": t, "warnings": warnings_of(judged),
                  "area": a, "technician_id": tid, "state": state.value,
                  "arrival": svc.iso(st.arrival_s) if st else None, "end": svc.iso(st.end_s) if st else None,
                  "end_s": st.end_s if st else None, "frozen": job_id in area.frozen}
        logged = {"area": a, "status": status} | ({} if end_s is None else {"expected_end_s": end_s})
        svc._commit([a], "status", job_id, t, logged, answer, trips=trips)
    return answer


def completed_trip(svc: Any, area: LiveArea, tech_id: str, job_id: str, status: str, at_s: int) -> list[dict[str, Any]]:
    """The drive an arrival report (``on_site`` at ``at_s``) completes, for the road model's
    calibration (``dispatch travel calibrate --store``): from where the technician set off (the
    door of the job before this one on his route, or his centre) to this job's, timed by his own
    reports. None unless he also reported setting off, and none when his break fell on the way
    (the time is no drive's)."""
    state, departed = area.reported.get(job_id, (JobState.PLANNED, None))
    if status != "on_site" or state != JobState.DISPATCHED or departed is None or at_s <= departed:
        return []
    if departed <= area.break_taken.get(tech_id, -1) < at_s:
        return []
    tech = next(k for k in area.problem.technicians if k.id == tech_id)
    node = {v.id: v.node for v in area.problem.visits}
    route = area.routes[tech_id]
    k = route.index(job_id)
    a, b = (node[route[k - 1]] if k else tech.start_node), node[job_id]
    return [{"job_id": job_id, "technician_id": tech_id, "speed_class": area.travel.speed_classes[tech.speed_class],
             "from_lon": float(area.lon[a]), "from_lat": float(area.lat[a]), "to_lon": float(area.lon[b]),
             "to_lat": float(area.lat[b]), "depart_at": svc.iso(departed), "duration_s": int(at_s - departed),
             "distance_m": None}]


def cancel_unassigned(area: LiveArea, job_id: str, at_s: int) -> None:
    """A call nobody was given, cancelled by its customer: it leaves the area's unassigned list."""
    area.hand_over(job_id)
    area.reported[job_id] = (JobState.CANCELLED, at_s)
