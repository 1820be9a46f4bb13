"""The board's live plan: the day's plan advanced through the dispatcher's events, stored.

A :class:`LiveBoard` holds one area's day (a dataset restricted to a province or prefecture,
one day): the plan's routing areas as live areas whose clock starts at the day's midnight, then
every event in the order it was made: an urgent call (``dispatch.live.decision.decide``, the
decision of the day plan, the simulation and ``dispatch serve``), a technician's drop-out, a
pin (a job moved to a chosen technician), a field report, an undo. Work finished before an
event's time is history, never re-timed from the board's clock.

Each event is an entry of the store's service log under the board's scope, committed before it
is shown, under the scope's lease (``dispatch.lease``: one writer; another board process on the
same store gets a read-only copy that names the holder). The log starts with a ``plan`` entry,
the routes of the day plan the events apply to, so a restarted board comes back to the same
picture from the log (the routing problems are rebuilt from the dataset; the solver is not
asked again). One board object is shared by every session of the process, so every tab sees
the same live plan. Streamlit-free: ``loaders`` caches it, the board page draws it.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from dispatch.dataset import Dataset
from dispatch.errors import DispatchError
from dispatch.hours import business_seconds
from dispatch.lease import LeaseHeld, LeaseKeeper
from dispatch.live import InsertionOption, LiveArea, NewCall
from dispatch.live.decision import Decision, Dispatched, decide
from dispatch.live.roster import LiveNetwork
from dispatch.model import DAY_S, Mode
from dispatch.plan import Plan
from dispatch.routing import Unserved
from dispatch.rules import DEFAULT_RULES, Rules
from dispatch.store import Store
from dispatch.travel import DEFAULT_TRAVEL

EVENT_KINDS = ("plan", "call", "unavailable", "pin", "status", "undo")


@dataclass(frozen=True)
class Event:
    seq: int
    kind: str
    key: str
    at_s: int
    payload: dict[str, Any]
    answer: dict[str, Any]


class ReadOnly(DispatchError):
    """This board does not hold the live plan's lease: it shows the log, it cannot add to it."""


def live_areas(plan: Plan, ds: Dataset, routes: dict[str, dict[str, list[str]]] | None = None,
               unassigned: dict[str, list[str]] | None = None) -> dict[str, LiveArea]:
    """The plan's routing areas as live areas at the day's midnight: the plan's routes (or the
    given ones, area -> technician -> visit ids), nothing frozen yet. Advancing one to a time
    freezes what the plan had under way by then, with the plan's times."""
    day_start = (plan.params.day or 0) * DAY_S
    pos = {c.id: (c.lon, c.lat) for c in ds.network} | {r.id: (r.lon, r.lat) for r in ds.requests}
    out = {}
    for a, problem in plan.area_problems.items():
        result = plan.area_results[a]
        lon = np.array([pos[n][0] for n in problem.node_names])
        lat = np.array([pos[n][1] for n in problem.node_names])
        release = {v.id: v.release_s for v in problem.visits}
        if routes is None:
            order = {r.technician_id: [s.visit_id for s in r.stops] for r in result.routes}
            dropped = {u.visit_id: u for u in result.unassigned}
        else:
            # A visit or technician the rebuilt problem does not have cannot be in its routes.
            ids, techs = {v.id for v in problem.visits}, {k.id for k in problem.technicians}
            order = {k: [x for x in v if x in ids] for k, v in routes.get(a, {}).items() if k in techs}
            known = {u.visit_id: u for u in result.unassigned}
            dropped = {v: known.get(v, Unserved(v, "capacity", "")) for v in (unassigned or {}).get(a, [])}
        area = LiveArea(problem, order, day_start, DEFAULT_TRAVEL, lon, lat, release)
        area.unassigned = dropped
        out[a] = area
    return out


class LiveBoard:
    """One area's live day, event-sourced in the store (see the module's docstring)."""

    def __init__(self, plan: Plan, ds: Dataset, scope: str, store: Store, rules: Rules = DEFAULT_RULES,
                 lease_ttl_s: float = 30.0) -> None:
        self.plan, self.ds, self.scope, self.store, self.rules = plan, ds, scope, store, rules
        self.day = int(plan.params.day or 0)
        self.network = LiveNetwork(ds.network, ds.technicians, rules, DEFAULT_TRAVEL, ds.epoch_date)
        self.lock = threading.RLock()
        self.mode_of = dict(zip(plan.outcomes["request_id"], plan.outcomes["mode"].astype(str)))
        try:
            self.lease = store.acquire_lease(scope, lease_ttl_s)
            self.holder = None
        except LeaseHeld as exc:
            self.lease, self.holder = None, str(exc)
        self.keeper = LeaseKeeper(store, self.lease).start() if self.lease else None
        self.refresh()
        if self.lease is not None and not any(e.kind == "plan" for e in self.events):
            self._commit("plan", "day", self.day * DAY_S, self._routes_payload(), {})

    def close(self) -> None:
        if self.keeper is not None:
            self.keeper.stop(release=True)
            self.keeper = None

    # -- the log ------------------------------------------------------------------------------

    @property
    def writable(self) -> bool:
        return self.lease is not None

    def refresh(self) -> None:
        """Read the log and rebuild the live plan from it (a read-only copy follows the writer)."""
        with self.lock:
            self.events = [Event(e.seq, e.kind, e.key, e.at_s, e.payload, e.answer)
                           for e in self.store.service_entries(self.scope)]
            self._rebuild()

    def _routes_payload(self) -> dict[str, Any]:
        return {"routes": {a: {k: list(v) for k, v in area.routes.items() if v} for a, area in self.areas.items()},
                "unassigned": {a: sorted(area.unassigned) for a, area in self.areas.items()}}

    def active_events(self) -> list[Event]:
        """The events the live plan is made of: those after the last ``plan`` entry, less undone ones."""
        start = max((i for i, e in enumerate(self.events) if e.kind == "plan"), default=-1)
        tail = self.events[start + 1:]
        undone = {int(e.payload["seq"]) for e in tail if e.kind == "undo"}
        return [e for e in tail if e.kind != "undo" and e.seq not in undone]

    def _rebuild(self) -> None:
        base = next((e for e in reversed(self.events) if e.kind == "plan"), None)
        self.areas = live_areas(self.plan, self.ds, base.payload["routes"] if base else None,
                                base.payload["unassigned"] if base else None)
        self.calls: dict[str, dict[str, Any]] = {}
        self.out: dict[str, int] = {}
        for e in self.active_events():
            self._apply(e)

    def _commit(self, kind: str, key: str, at_s: int, payload: dict[str, Any], answer: dict[str, Any]) -> None:
        if self.lease is None:
            raise ReadOnly(f"this board shows a read-only copy of the live plan: {self.holder}")
        seq = self.store.append_service_entry(self.scope, kind, key, at_s, payload, answer, lease=self.lease)
        self.events.append(Event(seq, kind, key, at_s, payload, answer))

    def _advance(self, names: list[str], at_s: int) -> int:
        for a in names:
            self.areas[a].advance(max(self.areas[a].clock_s, at_s))
        return at_s

    # -- applying an event (a new one, or one replayed) ----------------------------------------

    def _apply(self, e: Event) -> None:
        p = e.payload
        if e.kind == "call":
            self._advance(p["advanced"], e.at_s)
            if p["area"]:
                self.areas[p["area"]].insert_with(NewCall(**p["call"]), p["technician_id"], p["policy"])
            self.calls[e.key] = p["meta"]
        elif e.kind == "unavailable":
            self._advance([p["area"]], e.at_s)
            self.areas[p["area"]].drop_out(e.key, max(e.at_s, self.areas[p["area"]].clock_s))
            self.out[e.key] = e.at_s
        elif e.kind == "pin":
            self._advance([p["area"]], e.at_s)
            self._move(p["area"], e.key, p["technician_id"])
        elif e.kind == "status":
            self._advance([p["area"]], e.at_s)
            self.areas[p["area"]].report(e.key, p["status"], max(e.at_s, self.areas[p["area"]].clock_s))

    def _move(self, a: str, job: str, tech: str) -> InsertionOption | None:
        """Give ``job`` to ``tech`` at his best position, or change nothing (None) when he cannot
        take it without breaking a promise or when the job is already under way."""
        area = self.areas[a]
        if job in area.frozen:
            return None
        option = next((o for o in area.options(job) if o.technician_id == tech), None)
        if option is None:
            return None
        if job not in area.unassigned:
            area.hand_over(job)  # out of his current route (the visit stays known to the area)
            area.gone.discard(job)
        got = area.place(job, option)
        return got if isinstance(got, InsertionOption) else None

    # -- what the dispatcher does -------------------------------------------------------------

    def area_of_job(self, job: str) -> str | None:
        return next((a for a, area in self.areas.items() if area.holds(job) and job not in area.gone), None)

    def area_of_technician(self, tech: str) -> str | None:
        return next((a for a, area in self.areas.items() if any(k.id == tech for k in area.problem.technicians)),
                    None)

    def urgent(self, call: NewCall, at_s: int, level: int, centre: Any, insert: bool) -> Decision:
        """The one call decision for an urgent on-site call at ``at_s``; with ``insert`` it is
        applied and logged, else it is weighed on a copy (the live plan is unchanged)."""
        with self.lock:
            if insert and call.id in self.calls:
                raise DispatchError(f"call {call.id!r} is already on the live plan")
            candidates = [a for a in self.network.find_areas(call.lon, call.lat) if a in self.areas]
            if insert and self.lease is None:
                raise ReadOnly(f"this board shows a read-only copy of the live plan: {self.holder}")
            try:
                decision = decide(call, self.areas, candidates, at_s, self.rules, self.network.repairs_at_home,
                                  mode=Mode.ONSITE, device_level=int(level),
                                  may_collect=self.rules.may_collect(Mode.ONSITE, int(level)), hold_unserved=True)
            finally:
                if not insert:  # weighed, not taken: the live plan is rebuilt from the log
                    self._rebuild()
            if insert:
                tech = decision.technician_id if isinstance(decision, Dispatched) else None
                meta = {"mode": Mode.ONSITE.value, "visit_mode": decision.visit_mode.value
                        if isinstance(decision, Dispatched) else Mode.ONSITE.value, "level": int(level),
                        "priority": call.priority, "centre_id": centre.id, "province_adcode": centre.province_adcode,
                        "created_s": at_s, "clock_start_s": call.release_s, "lon": call.lon, "lat": call.lat}
                payload = {"advanced": candidates, "area": decision.area, "technician_id": tech,
                           "policy": self.rules.ranking(call.priority), "call": asdict(decision.call or call),
                           "meta": meta}
                try:
                    self._commit("call", call.id, at_s, payload, {"technician_id": tech})
                except Exception:
                    self._rebuild()  # the decision was applied in memory: forget it with the write
                    raise
                self.calls[call.id] = meta
            return decision

    def drop_out(self, tech: str, at_s: int):  # type: ignore[no-untyped-def]
        """The technician stops at ``at_s`` (``LiveArea.drop_out``): logged, his work re-planned."""
        with self.lock:
            if self.lease is None:
                raise ReadOnly(f"this board shows a read-only copy of the live plan: {self.holder}")
            if tech in self.out:
                raise DispatchError(f"{tech} is already out")
            a = self.area_of_technician(tech)
            if a is None:
                raise DispatchError(f"no technician {tech!r} on this live plan")
            self._advance([a], at_s)
            res = self.areas[a].drop_out(tech, max(at_s, self.areas[a].clock_s))
            self.out[tech] = at_s
            self._safe_commit("unavailable", tech, at_s, {"area": a},
                              {"moved": [list(m) for m in res.moved], "unserved": [u.visit_id for u in res.unserved]})
            return res

    def pin(self, job: str, tech: str, at_s: int) -> InsertionOption | None:
        """Move ``job`` to ``tech`` (logged when kept); None when it cannot be kept: the job
        stays where it was and nothing is logged."""
        with self.lock:
            if self.lease is None:
                raise ReadOnly(f"this board shows a read-only copy of the live plan: {self.holder}")
            a = self.area_of_job(job)
            if a is None or a != self.area_of_technician(tech):
                return None
            self._advance([a], at_s)
            got = self._move(a, job, tech)
            if got is None:
                self._rebuild()  # refused: from the log again, so not even the clock moved
                return None
            self._safe_commit("pin", job, at_s, {"area": a, "technician_id": tech}, {"sequence": got.position + 1})
            return got

    def undo(self, seq: int) -> None:
        """Undo one event (a pin, a drop-out, a call): the live plan is rebuilt without it."""
        with self.lock:
            if not any(e.seq == seq for e in self.active_events()):
                raise DispatchError(f"no active event {seq} to undo")
            self._commit("undo", str(seq), max(e.at_s for e in self.events), {"seq": seq}, {})
            self._rebuild()

    def replan(self, plan: Plan) -> None:
        """A new day plan (Run plan): it becomes the base, the events so far are history."""
        with self.lock:
            self.plan = plan
            self.mode_of = dict(zip(plan.outcomes["request_id"], plan.outcomes["mode"].astype(str)))
            self.areas = live_areas(plan, self.ds)
            self._commit("plan", "day", self.day * DAY_S, self._routes_payload(), {})
            self.calls, self.out = {}, {}

    def _safe_commit(self, kind: str, key: str, at_s: int, payload: dict[str, Any], answer: dict[str, Any]) -> None:
        try:
            self._commit(kind, key, at_s, payload, answer)
        except Exception:
            self._rebuild()
            raise

    # -- the picture ----------------------------------------------------------------------------

    def picture(self) -> Plan:
        """The live plan as a ``Plan`` (stops, routes, outcomes, workload, unassigned), so the
        map, timeline, KPIs and exports draw it as they draw a day plan."""
        with self.lock:
            return _picture(self)


def _picture(board: LiveBoard) -> Plan:
    plan = board.plan
    stops, routes, unassigned = [], [], []
    home = {t.id: t.home_centre_id for t in board.ds.technicians}
    info = plan.outcomes.set_index("request_id")
    for a, area in sorted(board.areas.items()):
        visits = {v.id: v for v in area.problem.visits}
        for r in area.result().routes:
            for i, s in enumerate(r.stops):
                v = visits[s.visit_id]
                mode = board.mode_of.get(s.visit_id) or board.calls.get(s.visit_id, {}).get("mode", "onsite")
                stops.append({"technician_id": r.technician_id, "sequence": i + 1, "request_id": s.visit_id,
                              "mode": mode, "level": v.required_level, "priority": v.priority,
                              "lon": float(area.lon[v.node]), "lat": float(area.lat[v.node]),
                              "departure_s": s.departure_toward_s, "arrival_s": s.arrival_s, "start_s": s.start_s,
                              "end_s": s.end_s, "travel_s": s.travel_s, "distance_m": s.distance_m,
                              "dispatch_late_s": s.dispatch_late_s, "window_start_s": v.window_start_s,
                              "window_end_s": v.window_end_s})
            routes.append({"technician_id": r.technician_id, "centre_id": home.get(r.technician_id, ""), "area": a,
                           "start_s": r.start_s, "end_s": r.end_s, "travel_s": r.travel_s,
                           "distance_m": r.distance_m, "break_start_s": r.break_start_s,
                           "overtime_s": r.overtime_s, "jobs": len(r.stops)})
        for u in area.unassigned.values():
            unassigned.append({"request_id": u.visit_id, "reason_code": u.reason_code, "reason": u.reason})
    stop_f = pd.DataFrame(stops, columns=list(plan.stops.columns) if len(plan.stops.columns) else None)
    route_f = pd.DataFrame(routes, columns=list(plan.routes.columns) if len(plan.routes.columns) else None)
    # The day's own calls no area holds (no technician in reach) stay as the plan left them;
    # the calls booked for a later day are not the day's (``later_bookings``).
    in_areas = {v for area in board.areas.values() for v in area.problem.node_names}
    kept = plan.unassigned[plan.unassigned["request_id"].isin(info.index)
                           & ~plan.unassigned["request_id"].isin(in_areas)]
    unassigned_f = pd.concat([kept, pd.DataFrame(unassigned, columns=["request_id", "reason_code", "reason"])],
                             ignore_index=True)
    outcomes = _outcomes(board, stop_f, unassigned_f)
    workload = _workload(plan.workload, route_f, stop_f)
    return replace(plan, stops=stop_f, routes=route_f, outcomes=outcomes, workload=workload,
                   unassigned=unassigned_f)


def _outcomes(board: LiveBoard, stops: pd.DataFrame, unassigned: pd.DataFrame) -> pd.DataFrame:
    """The plan's outcomes with each travelling call's live times and reason, and the urgent
    calls the board took (their clock starts when they came)."""
    out = board.plan.outcomes.copy()
    extra = [{"request_id": cid, "mode": m["mode"], "level": m["level"], "priority": m["priority"],
              "visit_mode": m["visit_mode"], "province_adcode": m["province_adcode"], "centre_id": m["centre_id"],
              "created_s": m["created_s"], "clock_start_s": m["clock_start_s"], "unassigned_reason": "",
              "lon": m["lon"], "lat": m["lat"]}
             for cid, m in board.calls.items()]
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


def board_scope(fingerprint: str, province: str, prefecture: str, day: int, seed: int) -> str:
    """The store scope of one area's live day on the board (apart from ``dispatch serve``'s)."""
    return f"board:{fingerprint[:24]}:{province}:{prefecture or 'all'}:day{day}:seed{seed}"
