"""The day's live plan behind the service: calls decided and logged before they are acknowledged,
field reports, drop-outs, and the replay that rebuilds the same plan after a restart."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import threading
import uuid
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from dispatch.errors import DispatchError, ModelError

CST = dt.timezone(dt.timedelta(hours=8), "CST")


# Customers' default window length by priority (as the synthetic calls: 4 h, 3 h, 2 h), and the
# hour from which customers accept visits.
WINDOW_H = {1: 4.0, 2: 3.0, 3: 2.0}


CUSTOMER_OPEN_S = 8 * 3600


SERVICE_MIN = {"onsite": (30, 75, 75), "pickup": (10, 10, 10), "walkin": (0, 0, 0)}


class ServiceError(DispatchError):
    """A request the service refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        self.status, self.field = status, field
        super().__init__(message)


@dataclass(frozen=True)
class ServiceConfig:
    source: str | None = None  # dataset folder; None: generate ``preset``
    preset: str = "zhejiang"
    seed: int = 1
    day: int = 0
    db: str | None = None  # store URL (default: DISPATCH_DB, else sqlite:///dispatch.sqlite)
    tokens: tuple[tuple[str, str], ...] = ()  # (sha256 hex of token, role)
    rate_per_s: float = 300.0  # per token, sustained
    burst: int = 600  # per token, bucket size
    max_body_bytes: int = 64 * 1024
    cors_origins: tuple[str, ...] = ()
    candidate_areas: int = 3  # nearest areas tried for each call


@dataclass
class _Call:
    id: str
    digest: str  # of the request body, to tell a retry from a different call with the same id
    answer: dict[str, Any]
    area: str | None
    mode: str
    level: int
    created_s: int
    clock_start_s: int
    centre_id: str
    province_adcode: str


class LiveService:
    """The day's live plan for a network and roster, durable in the store's service log."""

    def __init__(self, config: ServiceConfig) -> None:
        from dispatch.io import centres_frame, read_dataset, technicians_frame
        from dispatch.simulate import SimParams, _Optimiser, _World
        from dispatch.store import Store
        from dispatch.synthetic import generate
        from dispatch.travel import DEFAULT_TRAVEL

        self.config = config
        ds = read_dataset(config.source) if config.source else generate(config.preset, days=1, seed=config.seed)
        # Only the network and the roster are served; the dataset's own calls are not.
        self.dataset = replace(ds, requests=())
        self.day = config.day
        self.epoch = dt.datetime.fromisoformat(ds.epoch_date).replace(tzinfo=CST)
        h = hashlib.sha256(ds.epoch_date.encode())
        for frame in (centres_frame(ds.network), technicians_frame(ds.technicians)):
            h.update(frame.to_csv(index=False, lineterminator="\n").encode("utf-8"))
        self.scope = f"{h.hexdigest()[:40]}:day{config.day}"
        self.params = SimParams(candidate_areas=config.candidate_areas)
        self._opt = _Optimiser(_World(self.dataset, self.params, DEFAULT_TRAVEL))
        self.home = {t.id: t.home_centre_id for t in ds.technicians}
        self.store = Store(config.db)
        self.locks: dict[str, threading.Lock] = {}
        self.calls: dict[str, _Call] = {}
        self.job_area: dict[str, str] = {}
        self.tech_area = {t.id: self._opt.area_of[t.home_centre_id] for t in ds.technicians}
        self._ids = threading.Lock()  # guards calls / in-flight ids
        self._inflight: set[str] = set()
        self._db = threading.Lock()  # one writer at a time (SQLite would make the others spin)
        self._opt.start_day(config.day)
        self.areas = self._opt.areas
        self.locks = {a: threading.Lock() for a in self.areas}
        self.replayed = self._replay(set(self.areas), rebuild_index=True)

    # -- time ---------------------------------------------------------------------------------

    def to_s(self, t: dt.datetime, field_name: str = "at") -> int:
        if t.tzinfo is None:
            t = t.replace(tzinfo=CST)
        return int(math.floor((t - self.epoch).total_seconds()))

    def iso(self, t_s: int | None) -> str | None:
        return None if t_s is None else (self.epoch + dt.timedelta(seconds=int(t_s))).isoformat()

    def now_s(self) -> int:
        """The current time of day in China, placed on the served day."""
        now = dt.datetime.now(CST)
        return self.day * 86_400 + now.hour * 3600 + now.minute * 60 + now.second

    def at_s(self, at: dt.datetime | None) -> int:
        if at is None:
            return self.now_s()
        t = self.to_s(at)
        lo = self.day * 86_400
        if not lo <= t < lo + 86_400:
            raise ServiceError(422, f"'at' is {at.isoformat()}; expected a time on the served day "
                               f"{self.iso(lo)[:10]} (China Standard Time)", "at")  # type: ignore[index]
        return t

    # -- locking ------------------------------------------------------------------------------

    def _locked(self, areas: list[str]) -> ExitStack:
        stack = ExitStack()
        for a in sorted(set(areas)):  # one global order: no deadlock between two calls
            stack.enter_context(self.locks[a])
        return stack

    def _commit(self, touched: list[str], kind: str, key: str, at_s: int, payload: dict[str, Any],
                answer: dict[str, Any], idem: str | None = None) -> None:
        """Log the change before it is acknowledged; if that fails, forget it in memory too."""
        try:
            with self._db:
                self.store.append_service_entry(self.scope, kind, key, at_s, payload, answer, idem)
        except Exception:
            self._rebuild(touched)  # caller holds these areas' locks
            raise

    def _rebuild(self, names: list[str]) -> None:
        from dispatch.live import LiveArea

        for a in names:
            old = self.areas[a]
            n_centres = len(old.problem.node_names) - len(old.problem.visits)
            base = replace(old.problem, visits=(), node_names=old.problem.node_names[:n_centres],
                           travel_s=old.problem.travel_s[:, :n_centres, :n_centres],
                           distance_m=old.problem.distance_m[:n_centres, :n_centres])
            self.areas[a] = LiveArea(base, {}, self.day * 86_400, old.travel, old.lon[:n_centres],
                                     old.lat[:n_centres])
        self._replay(set(names), rebuild_index=False)

    def _replay(self, names: set[str], rebuild_index: bool) -> int:
        """Apply the log to the areas in ``names`` (each area depends only on its own ops)."""
        from dispatch.live import NewCall

        n = 0
        for e in self.store.service_entries(self.scope):
            p = e.payload
            if e.kind == "call":
                if rebuild_index:
                    self._index_call(e.key, p, e.answer)
                for a in p.get("advanced", []):
                    if a in names:
                        self._advance(a, e.at_s)
                a = p.get("area")
                if a in names:
                    call = NewCall(**p["call"])
                    got = self.areas[a].insert(call, _Forced(p.get("technician_id") or "-"), p["policy"])
                    self.job_area[call.id] = a
                    if (getattr(got, "technician_id", None) or None) != (p.get("technician_id") or None):
                        # Not expected: the same operations in the same order give the same plan.
                        raise DispatchError(f"replay of call {e.key!r} in area {a} did not reproduce "
                                            f"technician {p.get('technician_id')!r}")
            elif e.kind == "status" and p["area"] in names:
                self._advance(p["area"], e.at_s)
                if p["status"] != "dispatched":
                    self.areas[p["area"]].report(e.key, p["status"], e.at_s)
            elif e.kind == "unavailable" and p["area"] in names:
                self.areas[p["area"]].drop_out(e.key, e.at_s)
            n += 1
        return n

    def _index_call(self, call_id: str, payload: dict[str, Any], answer: dict[str, Any]) -> None:
        c = payload["call_meta"]
        self.calls[call_id] = _Call(call_id, payload["digest"], answer, payload.get("area"),
                                    c["mode"], c["level"], c["created_s"], c["clock_start_s"],
                                    c["centre_id"], c["province_adcode"])
        if payload.get("area"):
            self.job_area[call_id] = payload["area"]

    def _advance(self, a: str, t_s: int) -> None:
        area = self.areas[a]
        area.advance(max(area.clock_s, t_s))

    # -- calls --------------------------------------------------------------------------------

    def post_call(self, body: dict[str, Any], idem_key: str | None = None) -> tuple[dict[str, Any], bool]:
        """Decide and record a call; (answer, whether it is the earlier answer to a retry)."""
        call_id = body.get("id") or idem_key or f"call-{uuid.uuid4().hex[:20]}"
        if body.get("id") and idem_key and body["id"] != idem_key:
            raise ServiceError(422, f"body id {body['id']!r} and Idempotency-Key {idem_key!r} differ; "
                               "give one, or the same in both", "id")
        digest = hashlib.sha256(json.dumps({k: v for k, v in body.items() if k != "id"}, sort_keys=True,
                                           default=str).encode()).hexdigest()
        with self._ids:
            known = self.calls.get(call_id)
            if known is None and call_id in self._inflight:
                raise ServiceError(409, f"call {call_id!r} is being decided by another request; retry "
                                   "in a moment to get its answer")
            if known is None:
                self._inflight.add(call_id)
        if known is not None:
            if known.digest != digest:
                raise ServiceError(409, f"call id {call_id!r} was already used for a different call; "
                                   "a retry must repeat the same body", "id")
            return known.answer, True
        try:
            return self._decide(call_id, digest, body), False
        finally:
            with self._ids:
                self._inflight.discard(call_id)

    def _location(self, body: dict[str, Any]) -> tuple[float, float, str]:
        lon, lat, county = body.get("lon"), body.get("lat"), body.get("county")
        if county is not None:
            if lon is not None or lat is not None:
                raise ServiceError(422, "give either lon and lat, or county, not both", "county")
            from dispatch.geodata import load_geography

            rows = load_geography().counties
            row = rows[rows["adcode"] == county]
            if row.empty:
                raise ServiceError(422, f"county {county!r} is not a county adcode of mainland China", "county")
            return float(row["seat_lon"].iloc[0]), float(row["seat_lat"].iloc[0]), county
        if lon is None or lat is None:
            missing = "lon" if lon is None else "lat"
            raise ServiceError(422, "a call needs lon and lat (WGS84), or a county adcode", missing)
        return float(lon), float(lat), ""

    def _decide(self, call_id: str, digest: str, body: dict[str, Any]) -> dict[str, Any]:
        from dispatch.hours import business_deadline, dispatch_clock_start
        from dispatch.live import NewCall, collect_offers, collection, offer_key
        from dispatch.model import Mode, Priority, Request, TimeWindow

        at = self.at_s(body.get("at"))
        lon, lat, county = self._location(body)
        mode, level, priority = body.get("mode", "onsite"), int(body.get("level", 1)), int(body.get("priority", 1))
        if mode == "onsite" and level > 2:
            raise ServiceError(422, "board-level repairs (level 3) are never done on site; send it as "
                               "pickup or walkin", "level")
        start = self.to_s(body["window_start"]) if body.get("window_start") else max(
            at, self.day * 86_400 + CUSTOMER_OPEN_S)
        end = self.to_s(body["window_end"]) if body.get("window_end") else start + int(WINDOW_H[priority] * 3600)
        if end < start:
            raise ServiceError(422, "the customer's window ends before it starts", "window_end")
        if mode != "walkin" and end < at:
            raise ServiceError(422, "the customer's window ends before the call", "window_end")
        service_min = body.get("service_min")
        service_s = 60 * (SERVICE_MIN[mode][level - 1] if service_min is None else int(service_min))
        try:
            r = Request(call_id, at, lon, lat, level, Mode(mode), Priority(priority), TimeWindow(start, end),
                        service_s, body.get("product_line") or "", county)
        except ModelError as exc:
            raise ServiceError(422, str(exc), {"window": "window_end", "service_s": "service_min",
                                               "created_s": "at"}.get(exc.field, exc.field)) from exc
        station = self._opt.w.net.centres[int(np.atleast_1d(self._opt.w.net.nearest(
            np.array([lon]), np.array([lat]))[0])[0])]
        clock = dispatch_clock_start(station, r)
        meta = {"mode": mode, "level": level, "created_s": at, "clock_start_s": clock,
                "centre_id": station.id, "province_adcode": station.province_adcode}
        base = {"call_id": call_id, "at": self.iso(at), "at_s": at, "mode": mode, "station_id": station.id,
                "station_name": station.name, "clock_start": self.iso(clock), "clock_start_s": clock}
        if mode == "walkin":
            answer = {**base, "status": "walkin", "reason_code": "walkin",
                      "reason": f"the customer brings the device to {station.name}; no technician travels",
                      "alternatives": []}
            payload = {"digest": digest, "call_meta": meta, "advanced": [], "area": None}
            self._commit([], "call", call_id, at, payload, answer, idem=call_id)
            self._remember(call_id, payload, answer)
            return answer
        call = NewCall(call_id, lon, lat, service_s, start, end, r.level if r.mode == Mode.ONSITE else 1,
                       r.product_line or None, priority, release_s=clock,
                       dispatch_deadline_s=business_deadline(station, clock, self.params.dispatch_target_s))
        base |= {"dispatch_deadline": self.iso(call.dispatch_deadline_s),
                 "dispatch_deadline_s": call.dispatch_deadline_s}
        areas = self._opt.candidate_areas(r, call)
        policy = "eta" if priority == 3 else "travel"
        with self._locked(areas):
            options = []
            rank = offer_key(policy, (lambda o: 0) if mode != "pickup" else self._opt.repairs_at_home(level))
            for a in areas:
                self._advance(a, at)
                for o in self.areas[a].urgent_options(call, policy=policy):
                    options.append((rank(o), a, o))
            options.sort(key=lambda x: (x[0], x[2].technician_id))
            alternatives = sorted(options, key=lambda x: (x[2].eta_s, x[2].late_s, x[2].technician_id))
            visit_mode = mode
            if (mode == "onsite" and call.required_level > 1 and self.params.collect_onsite
                    and (not options or options[0][2].late_s > 0)):
                # Nobody able to repair it on site can set off within the hour: collected for
                # the bench by one who can (assignment rule 7); the on-site offers stay listed.
                collect = collection(call, self.params.collect_service_s)
                collected = collect_offers(collect, [(a, self.areas[a]) for a in areas], policy,
                                           offer_key(policy, self._opt.repairs_at_home(level)))
                if collected:
                    options, call, visit_mode = collected, collect, "pickup"
            if options:
                _, area, opt = options[0]
                got = self.areas[area].insert(call, opt, policy=policy)
            elif areas:
                area = areas[0]  # kept there as unassigned, with the reason
                got = self.areas[area].insert(call, _Forced("-"), policy=policy)
            else:
                area, got = None, None
            tech = getattr(got, "technician_id", None)
            answer = {**base, "area": area, "visit_mode": visit_mode,
                      "alternatives": [self._option(a, o) for _, a, o in alternatives
                                       if o.technician_id != tech][:3]}
            if tech is not None:
                answer |= {"status": "planned", **self._option(area, got)}  # type: ignore[arg-type]
                answer["reason_code"] = "" if got.meets_deadline else "late"  # type: ignore[union-attr]
                answer["reason"] = "" if got.meets_deadline else (  # type: ignore[union-attr]
                    "no technician can set off within the hour without breaking another customer's "
                    "promise; this is the earliest arrival that keeps them")
                if visit_mode != mode:
                    answer["note"] = ("nobody able to repair it on site can set off within the hour: the "
                                      "technician collects the device for the bench (the on-site offers are "
                                      "the alternatives)")
            elif got is not None:
                answer |= {"status": "unassigned", "reason_code": got.reason_code, "reason": got.reason}
            else:
                answer |= {"status": "unassigned", "reason_code": "no_technician_in_reach",
                           "reason": "no staffed centre within the maximum drive of the customer"}
            payload = {"digest": digest, "call_meta": meta, "advanced": areas, "area": area,
                       "technician_id": tech, "policy": policy, "call": asdict(call)}
            self._commit(areas, "call", call_id, at, payload, answer, idem=call_id)
            self._remember(call_id, payload, answer)
        return answer

    def _remember(self, call_id: str, payload: dict[str, Any], answer: dict[str, Any]) -> None:
        with self._ids:
            self._index_call(call_id, payload, answer)

    def _option(self, area: str, o: Any) -> dict[str, Any]:
        centre = self._opt.w.net[self.home[o.technician_id]]
        return {"area": area, "centre_id": centre.id, "centre_name": centre.name,
                "technician_id": o.technician_id, "departure": self.iso(o.departure_s),
                "departure_s": o.departure_s, "arrival": self.iso(o.eta_s), "arrival_s": o.eta_s,
                "meets_deadline": bool(o.meets_deadline), "late_s": int(o.late_s)}

    # -- field reports and drop-outs ----------------------------------------------------------

    def job_status(self, job_id: str, status: str, at: dt.datetime | None) -> dict[str, Any]:
        from dispatch.live import FROZEN_STATES

        t = self.at_s(at)
        call = self.calls.get(job_id)
        if call is None:
            raise ServiceError(404, f"no job {job_id!r}; a job is a call acknowledged by POST /calls")
        a = self.job_area.get(job_id)
        if a is None:
            raise ServiceError(409, f"job {job_id!r} has no technician ({call.answer.get('status')}); "
                               "there is no field work to report")
        with self._locked([a]):
            area = self.areas[a]
            t = max(t, area.clock_s)
            if job_id in area.unassigned:
                raise ServiceError(409, f"job {job_id!r} is unassigned: {area.unassigned[job_id].reason}")
            tid = next(k for k, ids in area.routes.items() if job_id in ids)
            st = next(s for s in area.schedule(tid).stops if s.visit_id == job_id)
            # Checked before the clock moves, so a refused report changes nothing.
            if job_id not in area.frozen and st.departure_toward_s > t:
                raise ServiceError(409, f"job {job_id!r} is planned to set off at "
                                   f"{self.iso(st.departure_toward_s)}; a status at {self.iso(t)} is too early")
            self._advance(a, t)
            if status != "dispatched":
                area.report(job_id, status, t)
            state = area.state(job_id)
            st = next(s for s in area.schedule(tid).stops if s.visit_id == job_id)
            answer = {"job_id": job_id, "status": status, "at": self.iso(t), "at_s": t, "area": a,
                      "technician_id": tid, "state": state.value, "arrival": self.iso(st.arrival_s),
                      "end": self.iso(st.end_s), "end_s": st.end_s, "frozen": state in FROZEN_STATES}
            self._commit([a], "status", job_id, t, {"area": a, "status": status}, answer)
        return answer

    def unavailable(self, tech_id: str, at: dt.datetime | None) -> dict[str, Any]:
        t = self.at_s(at)
        a = self.tech_area.get(tech_id)
        if a is None or a not in self.areas:
            raise ServiceError(404, f"no technician {tech_id!r} on the served roster")
        with self._locked([a]):
            area = self.areas[a]
            if tech_id in area.unavailable:
                raise ServiceError(409, f"technician {tech_id!r} is already unavailable from "
                                   f"{self.iso(area.unavailable[tech_id])}")
            t = max(t, area.clock_s)
            res = area.drop_out(tech_id, t)
            for vid, _ in res.moved:
                self.job_area[vid] = a
            answer = {"technician_id": tech_id, "at": self.iso(t), "at_s": t, "area": a,
                      "moved": [{"job_id": v, "technician_id": k} for v, k in res.moved],
                      "unserved": [{"job_id": u.visit_id, "reason_code": u.reason_code, "reason": u.reason}
                                   for u in res.unserved]}
            self._commit([a], "unavailable", tech_id, t, {"area": a}, answer)
        return answer

    # -- views --------------------------------------------------------------------------------

    def plan(self, area_name: str) -> dict[str, Any]:
        if area_name not in self.areas:
            raise ServiceError(404, f"no area {area_name!r}; areas: {', '.join(sorted(self.areas))}")
        with self._locked([area_name]):
            area = self.areas[area_name]
            res = area.result()
            routes = [{"technician_id": r.technician_id, "start": self.iso(r.start_s), "end": self.iso(r.end_s),
                       "travel_s": r.travel_s, "distance_m": r.distance_m,
                       "unavailable": r.technician_id in area.unavailable,
                       "stops": [{"job_id": s.visit_id, "state": area.state(s.visit_id).value,
                                  "departure": self.iso(s.departure_toward_s), "arrival": self.iso(s.arrival_s),
                                  "start": self.iso(s.start_s), "end": self.iso(s.end_s),
                                  "late_s": s.dispatch_late_s} for s in r.stops]}
                      for r in res.routes]
            unassigned = [{"job_id": u.visit_id, "reason_code": u.reason_code, "reason": u.reason}
                          for u in res.unassigned]
            return {"area": area_name, "clock": self.iso(area.clock_s), "clock_s": area.clock_s,
                    "routes": routes, "unassigned": unassigned}

    def violations(self) -> dict[str, list[str]]:
        """The checker on every area's live plan (empty lists: consistent)."""
        from dispatch.routing.checker import check

        out = {}
        for a in sorted(self.areas):
            with self._locked([a]):
                out[a] = check(self.areas[a].checked_problem(), self.areas[a].result())
        return out

    def kpis(self) -> dict[str, Any]:
        """The day so far as planned: the one-hour rate counts planned departures."""
        import pandas as pd

        from dispatch.hours import business_seconds
        from dispatch.kpis import kpis

        stops: dict[str, Any] = {}
        work = []
        for a in sorted(self.areas):
            with self._locked([a]):
                area = self.areas[a]
                for r in area.result().routes:
                    k = area._tech[r.technician_id]
                    for s in r.stops:
                        stops[s.visit_id] = s
                    work.append({"technician_id": r.technician_id, "available_s": k.shift_end_s - k.shift_start_s,
                                 "busy_s": r.travel_s + sum(s.end_s - s.start_s for s in r.stops),
                                 "travel_s": r.travel_s, "distance_m": r.distance_m,
                                 "overtime_s": r.overtime_s, "jobs": len(r.stops)})
        with self._ids:
            calls = list(self.calls.values())
        net = self._opt.w.net
        rows = []
        for c in calls:
            s = stops.get(c.id)
            rows.append({"request_id": c.id, "mode": c.mode, "level": c.level, "province_adcode": c.province_adcode,
                         "centre_id": c.centre_id, "created_s": c.created_s, "clock_start_s": c.clock_start_s,
                         "dispatch_s": s.departure_toward_s if s else np.nan,
                         "dispatch_wait_s": business_seconds(net[c.centre_id], c.clock_start_s, s.departure_toward_s)
                         if s else np.nan,
                         "visit_mode": c.answer.get("visit_mode", c.mode),
                         "completion_s": s.end_s if s is not None and c.answer.get("visit_mode", c.mode) == "onsite"
                         else np.nan,
                         "repair_tier": np.nan,
                         "unassigned_reason": "" if s is not None or c.mode == "walkin"
                         else (c.answer.get("reason_code") or "unassigned")})
        cols = ["request_id", "mode", "visit_mode", "level", "province_adcode", "centre_id", "created_s", "clock_start_s",
                "dispatch_s", "dispatch_wait_s", "completion_s", "repair_tier", "unassigned_reason"]
        k = kpis(pd.DataFrame(rows, columns=cols), pd.DataFrame(work) if work else None)
        return {"day": self.day, "calls": len(calls),
                "kpis": {key: (None if isinstance(v, float) and not math.isfinite(v) else v) for key, v in k.items()}}


@dataclass(frozen=True)
class _Forced:
    """An option that names only the technician: ``insert`` re-derives his best position."""

    technician_id: str

