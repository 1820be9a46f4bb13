"""The board's live plan: the live plan of ``dispatch serve``, read and changed through its API.

A live store has one writer, the service that holds its lease, so the board holds no live state
of its own. A :class:`RemoteBoard` is one area's day on a service (``dashboard.service_link``):
the board's day plan is posted once as the base of the areas its technicians work in
(``POST /plan``), and every change the dispatcher makes (an urgent call, a drop-out, a pin and
its undo, a field report) is a request to the service, decided and logged there before it is
answered. The picture the board draws is the service's plan of those areas (``GET /plan``)
with what the day plan says of each call (channel, centre, clocks), so the map, timeline, KPIs
and exports show what the API shows, in every tab. The log's head (``GET /events``) tells the
board when to read the plan again: a widget change costs one small request.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from dashboard.service_link import ServiceLink, ServiceRefused
from dispatch.dataset import Dataset
from dispatch.hours import business_seconds
from dispatch.model import Mode
from dispatch.plan import Plan

__all__ = ["Event", "RemoteBoard", "ServiceRefused", "later_bookings", "plan_body"]


@dataclass(frozen=True)
class Event:
    seq: int
    kind: str
    key: str
    at_s: int
    payload: dict[str, Any]
    answer: dict[str, Any]


def plan_body(plan: Plan, ds: Dataset, key: str) -> dict[str, Any]:
    """The day plan as ``POST /plan``'s body: each of its technicians' calls in the plan's order
    (every technician of its areas is listed, with no calls if it gave him none) and the calls
    it left unassigned, each with what the live day needs of it."""
    pos = {r.id: (r.lon, r.lat) for r in ds.requests}
    o = plan.outcomes.set_index("request_id")
    order = {}
    if len(plan.stops):
        for tid, g in plan.stops.groupby("technician_id", sort=True):
            order[str(tid)] = list(g.sort_values("sequence")["request_id"].astype(str))
    routes: dict[str, list[dict[str, Any]]] = {}
    unassigned = []
    for problem in plan.area_problems.values():
        visits = {v.id: v for v in problem.visits}
        routed = set()
        for k in problem.technicians:
            ids = [v for v in order.get(k.id, []) if v in visits]
            routes[k.id] = [_call_of(visits[v], pos, o) for v in ids]
            routed |= set(ids)
        unassigned += [_call_of(v, pos, o) for vid, v in sorted(visits.items()) if vid not in routed]
    return {"key": key, "routes": routes, "unassigned": unassigned}


def _call_of(v: Any, pos: dict[str, tuple[float, float]], o: pd.DataFrame) -> dict[str, Any]:
    row = o.loc[v.id] if v.id in o.index else None
    lon, lat = pos[v.id]
    mode = str(row["mode"]) if row is not None else Mode.ONSITE.value
    return {"id": v.id, "lon": float(lon), "lat": float(lat), "service_s": int(v.service_s),
            "window_start_s": int(v.window_start_s), "window_end_s": int(v.window_end_s),
            "required_level": int(v.required_level), "required_skill": v.required_skill, "priority": int(v.priority),
            "release_s": int(v.release_s), "dispatch_deadline_s": None if v.dispatch_deadline_s is None
            else int(v.dispatch_deadline_s), "mode": mode if mode != Mode.WALKIN.value else Mode.ONSITE.value,
            "visit_mode": str(row["visit_mode"]) if row is not None and str(row["visit_mode"]) in ("onsite", "pickup")
            else Mode.ONSITE.value,
            "centre_id": str(row["centre_id"]) if row is not None else "",
            "created_s": int(row["created_s"]) if row is not None else int(v.release_s),
            "clock_start_s": int(row["clock_start_s"]) if row is not None else int(v.release_s)}


class RemoteBoard:
    """One area's live day on a service (see the module's docstring). Shared by every session
    of the Streamlit process that opens the same area, day and service."""

    def __init__(self, plan: Plan, ds: Dataset, link: ServiceLink, key: str) -> None:
        self.plan, self.ds, self.link, self.key = plan, ds, link, key
        self.day = int(plan.params.day or 0)
        self.epoch = dt.datetime.fromisoformat(ds.epoch_date).replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
        self.mine = {k.id for k in ds.technicians}
        self.lock = threading.RLock()
        self.head = -1
        self._picture: Plan | None = None
        self.refresh()
        self.posted: dict[str, Any] | None = None
        if key not in self.plans:
            self.posted = link.post("/plan", plan_body(plan, ds, key))
            self.refresh()

    # -- reading the service --------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the log's head and, if it moved, the plan of the board's areas."""
        with self.lock:
            log = self.link.get("/events")
            if log["head"] == self.head and self._picture is not None:
                return
            self.plans = log["plans"]
            self.technicians = {k: a for a, ks in log["areas"].items() for k in ks if k in self.mine}
            self.area_names = sorted(set(self.technicians.values()))
            entries = log["events"]
            self.events = [Event(e["seq"], e["kind"], e["key"], e["at_s"],
                                 {"technician_id": e["technician_id"], "area": e["area"]}, e) for e in entries]
            self.calls = {e["key"]: e["call"] for e in entries if e["kind"] == "call" and e["call"]}
            self.out = {e["key"]: e["at_s"] for e in entries if e["kind"] == "unavailable" and e["key"] in self.mine}
            self.routes = {a: self.link.get("/plan", area=a) for a in self.area_names}
            self._picture = _picture(self)
            self._derived: dict[Any, Any] = {}
            self.head = log["head"]

    def use_plan(self, plan: Plan) -> None:
        """The board's day plan solved again (a restarted board, the cache): what it says of each
        call is drawn with the service's routes (the service keeps the routes it was given)."""
        with self.lock:
            if plan is not self.plan:
                self.plan, self.head = plan, -1

    def replan(self, plan: Plan) -> dict[str, Any]:
        """A new day plan (Run plan) for the service: the areas without changes start from it,
        those with changes keep their live day (``POST /plan``'s ``kept_live``)."""
        with self.lock:
            self.plan, self.head = plan, -1
            self.key = f"{self.key.split('#')[0]}#{len(self.plans) + 1}"
            self.posted = self._change("/plan", plan_body(plan, self.ds, self.key))
            return self.posted

    def active_events(self) -> list[Event]:
        """The changes the live plan is made of, less those undone (the plans and undos are not)."""
        return [e for e in self.events if e.kind not in ("plan", "undo") and not e.answer["undone"]]

    def picture(self) -> Plan:
        """The live plan as a ``Plan`` (stops, routes, outcomes, workload, unassigned), so the
        map, timeline, KPIs and exports draw it as they draw a day plan."""
        with self.lock:
            assert self._picture is not None
            return self._picture

    def derived(self, key: Any, build: Any) -> Any:
        """What a panel draws from the picture (a table, the timeline's segments), built once per
        version of the live plan: a widget change that does not change the plan reuses it."""
        with self.lock:
            if key not in self._derived:
                self._derived[key] = build()
            return self._derived[key]

    # -- what the dispatcher does: requests to the service --------------------------------------

    def iso(self, t_s: int | None) -> str | None:
        return None if t_s is None else (self.epoch + dt.timedelta(seconds=int(t_s))).isoformat()

    def _change(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.link.post(path, body)
        finally:
            self.refresh()

    def urgent(self, call_id: str, lon: float, lat: float, level: int, priority: int, service_min: int,
               at_s: int | None) -> dict[str, Any]:
        """An urgent on-site call: the service's one call decision (``POST /calls``)."""
        return self._change("/calls", {"id": call_id, "lon": float(lon), "lat": float(lat), "level": int(level),
                                       "mode": "onsite", "priority": int(priority), "service_min": int(service_min),
                                       "at": self.iso(at_s)})

    def slots(self, lon: float, lat: float, level: int, priority: int, service_min: int,
              at_s: int | None) -> dict[str, Any]:
        """Appointment windows the plan can keep for a new call (``POST /calls/slots``); no change."""
        return self.link.post("/calls/slots", {"lon": float(lon), "lat": float(lat), "level": int(level),
                                               "mode": "onsite", "priority": int(priority),
                                               "service_min": int(service_min), "at": self.iso(at_s)})

    def drop_out(self, tech: str, at_s: int | None) -> dict[str, Any]:
        return self._change(f"/technicians/{tech}/unavailable", {"at": self.iso(at_s)})

    def pin(self, job: str, tech: str, at_s: int | None) -> dict[str, Any]:
        """Move ``job`` to ``tech`` (``POST /jobs/{id}/pin``); ``ServiceRefused`` (409) when it
        cannot be kept: the job stays where it was."""
        return self._change(f"/jobs/{job}/pin", {"technician_id": tech, "at": self.iso(at_s)})

    def move(self, job: str, tech: str, start_s: int | None, at_s: int | None) -> dict[str, Any]:
        """Move ``job`` to ``tech``, its work starting no earlier than ``start_s``
        (``POST /jobs/{id}/move``); ``ServiceRefused`` (409) when that cannot be kept: nothing changes."""
        return self._change(f"/jobs/{job}/move", {"technician_id": tech, "start": self.iso(start_s),
                                                   "at": self.iso(at_s)})

    def undo(self, seq: int) -> dict[str, Any]:
        return self._change(f"/events/{int(seq)}/undo", {})

    def report(self, job: str, status: str, at_s: int | None) -> dict[str, Any]:
        return self._change(f"/jobs/{job}/status", {"status": status, "at": self.iso(at_s)})

    def offers(self) -> list[dict[str, Any]]:
        return self.link.get("/offers")  # type: ignore[no-any-return]

    def notices(self) -> list[dict[str, Any]]:
        """``GET /notices`` for the board's calls: the customers to tell, oldest first (read at
        every redraw: a delivery changes a notice without a change of the plan)."""
        with self.lock:
            ours = set(self.picture().outcomes["request_id"])
        return [n for n in self.link.get("/notices")["notices"] if n["job_id"] in ours]


# -- the picture -----------------------------------------------------------------------------

def _picture(board: RemoteBoard) -> Plan:
    plan = board.plan
    stops, routes, unassigned = [], [], []
    home = {t.id: t.home_centre_id for t in board.ds.technicians}
    mode_of = dict(zip(plan.outcomes["request_id"], plan.outcomes["mode"].astype(str)))
    centres = {c.id for c in board.ds.network}
    ours = set(mode_of) | {cid for cid, m in board.calls.items() if m.get("centre_id") in centres}
    for a in board.area_names:
        p = board.routes[a]
        for r in p["routes"]:
            mine = r["technician_id"] in board.mine
            for i, s in enumerate(r["stops"]):
                if not mine and s["job_id"] not in ours:
                    continue  # another area's technician: only the area's jobs he took are drawn
                mode = mode_of.get(s["job_id"]) or (board.calls.get(s["job_id"]) or {}).get("mode") or "onsite"
                stops.append({"technician_id": r["technician_id"], "sequence": i + 1, "request_id": s["job_id"],
                              "mode": mode, "level": s["level"], "priority": s["priority"], "lon": s["lon"],
                              "lat": s["lat"], "departure_s": s["departure_s"], "arrival_s": s["arrival_s"],
                              "start_s": s["start_s"], "end_s": s["end_s"], "travel_s": s["travel_s"],
                              "distance_m": s["distance_m"], "dispatch_late_s": s["late_s"],
                              "window_start_s": s["window_start_s"], "window_end_s": s["window_end_s"]})
            if not mine:
                continue
            routes.append({"technician_id": r["technician_id"], "centre_id": home.get(r["technician_id"], ""),
                           "area": a, "start_s": r["start_s"], "end_s": r["end_s"], "travel_s": r["travel_s"],
                           "distance_m": r["distance_m"], "break_start_s": r["break_start_s"],
                           "overtime_s": r["overtime_s"], "jobs": len(r["stops"])})
        for u in p["unassigned"]:
            if u["job_id"] in ours:
                unassigned.append({"request_id": u["job_id"], "reason_code": u["reason_code"], "reason": u["reason"]})
    stop_f = pd.DataFrame(stops, columns=list(plan.stops.columns) if len(plan.stops.columns) else None)
    route_f = pd.DataFrame(routes, columns=list(plan.routes.columns) if len(plan.routes.columns) else None)
    # The day's own calls no area holds (no technician in reach) stay as the plan left them;
    # the calls booked for a later day are not the day's (``later_bookings``).
    held = set(stop_f["request_id"]) | {u["request_id"] for u in unassigned}
    in_areas = {v for problem in plan.area_problems.values() for v in problem.node_names}
    kept = plan.unassigned[plan.unassigned["request_id"].isin(plan.outcomes["request_id"])
                           & ~plan.unassigned["request_id"].isin(in_areas | held)]
    unassigned_f = pd.concat([kept, pd.DataFrame(unassigned, columns=["request_id", "reason_code", "reason"])],
                             ignore_index=True)
    outcomes = _outcomes(board, stop_f, unassigned_f)
    workload = _workload(plan.workload, route_f, stop_f)
    return replace(plan, stops=stop_f, routes=route_f, outcomes=outcomes, workload=workload,
                   unassigned=unassigned_f)


def _outcomes(board: RemoteBoard, stops: pd.DataFrame, unassigned: pd.DataFrame) -> pd.DataFrame:
    """The plan's outcomes with each travelling call's live times and reason, and the urgent
    calls taken on the board's areas (their clock starts when they came)."""
    out = board.plan.outcomes.copy()
    known = set(out["request_id"])
    centres = {c.id for c in board.ds.network}
    extra = [{"request_id": cid, "mode": m["mode"], "level": m["required_level"], "priority": m["priority"],
              "visit_mode": m["visit_mode"] or m["mode"], "province_adcode": m["province_adcode"],
              "centre_id": m["centre_id"], "created_s": m["created_s"], "clock_start_s": m["clock_start_s"],
              "unassigned_reason": "", "lon": m["lon"], "lat": m["lat"]}
             for cid, m in board.calls.items() if cid not in known and m.get("centre_id") in centres
             and m.get("mode") != Mode.WALKIN.value]
    if extra:
        out = pd.concat([out, pd.DataFrame(extra)], ignore_index=True)
    by = stops.set_index("request_id") if len(stops) else pd.DataFrame()
    reason = dict(zip(unassigned["request_id"], unassigned["reason_code"]))
    net = board.ds.network
    travelling = out["mode"].astype(str) != Mode.WALKIN.value
    for i in np.flatnonzero(travelling.to_numpy()):
        rid = out["request_id"].iat[i]
        if rid in by.index:
            s = by.loc[rid]
            out.loc[out.index[i], ["dispatch_s", "arrival_s"]] = [s["departure_s"], s["arrival_s"]]
            out.loc[out.index[i], "dispatch_wait_s"] = business_seconds(
                net[out["centre_id"].iat[i]], int(out["clock_start_s"].iat[i]), int(s["departure_s"]))
            if str(out["visit_mode"].iat[i]) == Mode.ONSITE.value:
                out.loc[out.index[i], "completion_s"] = s["end_s"]
            out.loc[out.index[i], "unassigned_reason"] = ""
        elif rid in reason:
            out.loc[out.index[i], ["dispatch_s", "arrival_s", "dispatch_wait_s", "completion_s"]] = np.nan
            out.loc[out.index[i], "unassigned_reason"] = reason[rid]
    return out


def _workload(base: pd.DataFrame, routes: pd.DataFrame, stops: pd.DataFrame) -> pd.DataFrame:
    """Each technician's busy, travel and overtime time on the live routes."""
    w = base.copy()
    if w.empty:
        return w
    service = (stops["end_s"] - stops["start_s"]).groupby(stops["technician_id"]).sum() if len(stops) else pd.Series()
    r = routes.set_index("technician_id") if len(routes) else pd.DataFrame(columns=["travel_s", "distance_m",
                                                                                    "overtime_s", "jobs"])
    tid = w["technician_id"]
    w["travel_s"] = tid.map(r["travel_s"]).fillna(0).astype(int)
    w["distance_m"] = tid.map(r["distance_m"]).fillna(0).astype(int)
    w["overtime_s"] = tid.map(r["overtime_s"]).fillna(0).astype(int)
    w["jobs"] = tid.map(r["jobs"]).fillna(0).astype(int)
    w["busy_s"] = w["travel_s"] + tid.map(service).fillna(0).astype(int)
    return w


def later_bookings(plan: Plan) -> int:
    """Calls that came in on the plan's day but are served on a later one (not unassigned)."""
    return int((~plan.unassigned["request_id"].isin(plan.outcomes["request_id"])).sum())


def board_key(fingerprint: str, province: str, prefecture: str, day: int, seed: int) -> str:
    """The name of one area's day plan on the service (``POST /plan``'s key)."""
    return f"board:{fingerprint[:24]}:{province}:{prefecture or 'all'}:day{day}:seed{seed}"
