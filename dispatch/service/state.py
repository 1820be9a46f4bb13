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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from dispatch.contracts import ContractBook, read_contracts
from dispatch.errors import DispatchError, ModelError
from dispatch.geodata import load_geography
from dispatch.hours import business_seconds, dispatch_clock_start
from dispatch.io import read_dataset
from dispatch.kpis import kpis
from dispatch.lease import DEFAULT_LEASE_TTL_S, LeaseKeeper, LeaseLost
from dispatch.live import InsertionOption, JobState, LiveArea, NewCall, StatusConflict
from dispatch.live.calls import check_report
from dispatch.live.decision import Dispatched, decide
from dispatch.live.roster import LiveNetwork
from dispatch.model import Mode, Priority, Request, TimeWindow
from dispatch.reasons import Reason
from dispatch.routing.checker import check
from dispatch.rules import DEFAULT_RULES, Rules
from dispatch.service.clock import (
    CST,
    ClockRule,
    Judged,
    RunningClock,
    ServiceClock,
    WallClock,
    judge,
)
from dispatch.service.offers import ServiceOffers
from dispatch.store import Store
from dispatch.synthetic import generate
from dispatch.tables import centres_frame, technicians_frame
from dispatch.travel import DEFAULT_TRAVEL

__all__ = ["CST", "LiveService", "ServiceConfig", "ServiceError"]


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
    # The business rules the service decides by (the target, candidate areas, collection, the
    # defaults of a call that gives no window or service time).
    rules: Rules = DEFAULT_RULES
    # The server's clock (dispatch.service.clock): None is China's time of day placed on the served
    # day; a time of day (seconds) starts a clock there, running ``clock_speed`` times real time
    # from the wall instant ``clock_anchor_unix`` (default: when the service starts).
    clock_start_s: int | None = None
    clock_speed: float = 1.0
    clock_anchor_unix: float | None = None
    clock_rule: ClockRule = field(default_factory=ClockRule)
    # One live writer per store scope: the lease's time to live (renewed every third of it) and
    # how long a starting server waits for another's lease before it gives up.
    lease_ttl_s: float = DEFAULT_LEASE_TTL_S
    lease_wait_s: float = 0.0

    def clock(self) -> ServiceClock:
        if self.clock_start_s is None:
            return WallClock(self.day)
        return RunningClock(self.day * 86_400 + self.clock_start_s, self.clock_speed, self.clock_anchor_unix)


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


def _warnings(judged: Judged) -> list[str]:
    return [judged.warning] if judged.warning else []


class LiveService:
    """The day's live plan for a network and roster, durable in the store's service log."""

    def __init__(self, config: ServiceConfig, clock: ServiceClock | None = None, writer: bool = True) -> None:
        """The live plan of ``config``'s network and day, rebuilt from the store's log. A
        ``writer`` first takes the scope's lease (``LeaseHeld`` names whoever has it) and keeps
        it with a heartbeat until :meth:`close`; ``writer=False`` is a read-only copy (a check
        of what the log rebuilds, a viewer) that refuses every change."""
        self.config = config
        self.clock = clock or config.clock()
        ds = read_dataset(config.source) if config.source else generate(config.preset, days=1, seed=config.seed)
        # Only the network and the roster are served; the dataset's own calls are not.
        self.dataset = replace(ds, requests=())
        self.day = config.day
        self.epoch = dt.datetime.fromisoformat(ds.epoch_date).replace(tzinfo=CST)
        h = hashlib.sha256(ds.epoch_date.encode())
        for frame in (centres_frame(ds.network), technicians_frame(ds.technicians)):
            h.update(frame.to_csv(index=False, lineterminator="\n").encode("utf-8"))
        self.scope = f"{h.hexdigest()[:40]}:day{config.day}"
        self.rules = config.rules
        self.net = ds.network
        self.live = LiveNetwork(ds.network, ds.technicians, config.rules, DEFAULT_TRAVEL, ds.epoch_date)
        self.home = {t.id: t.home_centre_id for t in ds.technicians}
        self.store = Store(config.db)
        self.locks: dict[str, threading.Lock] = {}
        self.calls: dict[str, _Call] = {}
        self.job_area: dict[str, str] = {}
        self.tech_area = {t.id: self.live.area_of[t.home_centre_id] for t in ds.technicians}
        self._ids = threading.Lock()  # guards calls / in-flight ids
        self._inflight: set[str] = set()
        self._db = threading.Lock()  # one writer at a time (SQLite would make the others spin)
        self.areas = self.live.start_day(config.day)
        # Contracted stations' jobs are offers (dispatch.service.offers); no contracts.csv: none.
        self.offers = ServiceOffers(self, read_contracts(config.source, ds.network) if config.source else ContractBook(),
                                    ServiceError)
        self.locks = {a: threading.Lock() for a in self.areas}
        # The lease before the replay: no other server can append to the log being read.
        self.lease = self.store.acquire_lease(self.scope, config.lease_ttl_s, wait_s=config.lease_wait_s) \
            if writer else None
        self.lost: LeaseLost | None = None
        self.broken: str | None = None  # why memory can no longer be trusted (answers 503 until a restart)
        # The heartbeat from now on: a long replay must not let the lease expire under it.
        self.keeper = LeaseKeeper(self.store, self.lease, on_lost=self._lost).start() if self.lease else None
        try:
            self.replayed = self._replay(set(self.areas), rebuild_index=True)
        except BaseException:
            self.close()
            raise

    def _lost(self, exc: LeaseLost) -> None:
        self.lost = exc

    def close(self) -> None:
        """Stop the heartbeat and give the lease back, so the next server starts at once."""
        keeper = getattr(self, "keeper", None)
        if keeper is not None:
            keeper.stop(release=True)
            self.keeper = None
        elif self.lease is not None and self.lost is None:
            self.store.release_lease(self.lease)
        self.lease = None

    # -- time ---------------------------------------------------------------------------------

    def to_s(self, t: dt.datetime) -> int:
        if t.tzinfo is None:
            t = t.replace(tzinfo=CST)
        return int(math.floor((t - self.epoch).total_seconds()))

    def iso(self, t_s: int | None) -> str | None:
        return None if t_s is None else (self.epoch + dt.timedelta(seconds=int(t_s))).isoformat()

    def now_s(self) -> int:
        """The server's clock, on the served day."""
        return self.clock.now_s()

    def at_s(self, at: dt.datetime | None) -> Judged:
        """The time the live plan uses for a client's ``at`` (the server's clock rules)."""
        now = self.now_s()
        if at is None:
            return Judged(now, None)
        t = self.to_s(at)
        lo = self.day * 86_400
        if not lo <= t < lo + 86_400:
            raise ServiceError(422, f"'at' is {at.isoformat()}; expected a time on the served day "
                               f"{self.iso(lo)[:10]} (China Standard Time)", "at")  # type: ignore[index]
        try:
            return judge(t, now, self.config.clock_rule, self.iso)
        except ValueError as exc:
            raise ServiceError(422, str(exc), "at") from exc

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
            if self.lease is None or self.lost is not None:
                raise ServiceError(503, "this server does not hold the live plan's lease (a read-only copy, or "
                                   f"another server took it over: {self.lost or 'not a writer'}); send changes to "
                                   "the server that holds it")
            with self._db:
                try:
                    self.store.append_service_entry(self.scope, kind, key, at_s, payload, answer, idem,
                                                    lease=self.lease)
                except LeaseLost:
                    # Expired without a heartbeat (a database outage, a pause) but nobody took it:
                    # renewing tells an expiry from a takeover, which is the only real loss.
                    self.lease = self.store.renew_lease(self.lease)
                    self.store.append_service_entry(self.scope, kind, key, at_s, payload, answer, idem,
                                                    lease=self.lease)
        except LeaseLost as exc:
            self.lost = exc
            self._rebuild(touched)  # caller holds these areas' locks
            raise ServiceError(503, f"{exc}; send changes to the server that holds it") from exc
        except Exception:
            self._rebuild(touched)
            raise

    def _usable(self) -> None:
        if self.broken:
            raise ServiceError(503, f"this server's live plan could not be rebuilt after a failed write "
                               f"({self.broken}); restart it: the store holds every acknowledged change")

    def _rebuild(self, names: list[str]) -> None:
        """Forget what memory holds of these areas beyond the log: rebuild them from it. If the
        log cannot be read, memory cannot be trusted: the server answers 503 until restarted."""
        try:
            entries = self.store.service_entries(self.scope)
        except Exception as exc:
            self.broken = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            raise
        for a in names:
            old = self.areas[a]
            n_centres = len(old.problem.node_names) - len(old.problem.visits)
            base = replace(old.problem, visits=(), node_names=old.problem.node_names[:n_centres],
                           travel_s=old.problem.travel_s[:, :n_centres, :n_centres],
                           distance_m=old.problem.distance_m[:n_centres, :n_centres])
            self.areas[a] = LiveArea(base, {}, self.day * 86_400, old.travel, old.lon[:n_centres],
                                     old.lat[:n_centres])
        self._replay(set(names), rebuild_index=False, entries=entries)

    def _replay(self, names: set[str], rebuild_index: bool, entries: list | None = None) -> int:
        """Apply the log (``entries``, default: read now) to the areas in ``names`` (each area
        depends only on its own ops)."""
        n = 0
        for e in entries if entries is not None else self.store.service_entries(self.scope):
            p = e.payload
            if e.kind == "call":
                if rebuild_index:
                    self._index_call(e.key, p, e.answer)
                    self.offers.remember(e.key, p, e.answer, e.at_s)
                for a in p.get("advanced", []):
                    if a in names:
                        self._advance(a, e.at_s)
                a = p.get("area")
                if a in names:
                    call = NewCall(**p["call"])
                    got = self.areas[a].insert_with(call, p.get("technician_id") or None, p["policy"])
                    self.job_area[call.id] = a
                    got_tech = got.technician_id if isinstance(got, InsertionOption) else None
                    self.offers.held(self.areas[a], call.id, e.answer, e.at_s)
                    if got_tech != (p.get("technician_id") or None):
                        # Not expected: the same operations in the same order give the same plan.
                        raise DispatchError(f"replay of call {e.key!r} in area {a} did not reproduce "
                                            f"technician {p.get('technician_id')!r}")
            elif e.kind == "status" and p["area"] in names:
                self._advance(p["area"], e.at_s)
                self.areas[p["area"]].report(e.key, p["status"], e.at_s)
            elif e.kind == "offer":
                self.offers.replay(e.key, e.at_s, p, e.answer, names, rebuild_index)
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
        self._usable()
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
        judged = self.at_s(body.get("at"))
        at = judged.at_s
        lon, lat, county = self._location(body)
        mode, level, priority = body.get("mode", "onsite"), int(body.get("level", 1)), int(body.get("priority", 1))
        if mode == "onsite" and level > self.rules.onsite_max_level:
            raise ServiceError(422, f"level {level} repairs (board-level) are never done on site (on site: levels "
                               f"up to {self.rules.onsite_max_level}); send it as pickup or walkin", "level")
        start = self.to_s(body["window_start"]) if body.get("window_start") else max(
            at, self.day * 86_400 + self.rules.customer_hours_s[0])
        end = (self.to_s(body["window_end"]) if body.get("window_end")
               else start + self.rules.window_s_by_priority[priority])
        if end < start:
            raise ServiceError(422, "the customer's window ends before it starts", "window_end")
        if mode != "walkin" and end < at:
            raise ServiceError(422, "the customer's window ends before the call", "window_end")
        service_min = body.get("service_min")
        service_s = self.rules.default_service_s(mode, level) if service_min is None else 60 * int(service_min)
        try:
            r = Request(call_id, at, lon, lat, level, Mode(mode), Priority(priority), TimeWindow(start, end),
                        service_s, body.get("product_line") or "", county)
        except ModelError as exc:
            raise ServiceError(422, str(exc), {"window": "window_end", "service_s": "service_min",
                                               "created_s": "at"}.get(exc.field, exc.field)) from exc
        station = self.net.centres[int(np.atleast_1d(self.net.nearest(
            np.array([lon]), np.array([lat]))[0])[0])]
        clock = dispatch_clock_start(station, r)
        meta = {"mode": mode, "level": level, "created_s": at, "clock_start_s": clock,
                "centre_id": station.id, "province_adcode": station.province_adcode}
        base = {"call_id": call_id, "at": self.iso(at), "at_s": at, "warnings": _warnings(judged), "mode": mode, "station_id": station.id,
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
                       dispatch_deadline_s=self.rules.dispatch_deadline(station, clock))
        base |= {"dispatch_deadline": self.iso(call.dispatch_deadline_s),
                 "dispatch_deadline_s": call.dispatch_deadline_s}
        areas = self.live.find_areas(lon, lat)
        with self._locked(areas):
            decision = decide(call, self.areas, areas, at, self.rules, self.live.repairs_at_home, mode=Mode(mode),
                              device_level=level, may_collect=self.rules.may_collect(mode, call.required_level),
                              hold_unserved=True, allow=self.offers.allow(county, call))
            # The customer is shown the earliest arrivals among the on-site offers.
            alternatives = sorted(decision.alternatives,
                                  key=lambda x: (x.option.eta_s, x.option.late_s, x.option.technician_id))
            tech = decision.technician_id if isinstance(decision, Dispatched) else None
            area = decision.area
            answer = {**base, "area": area,
                      "visit_mode": decision.visit_mode.value if isinstance(decision, Dispatched) else mode,
                      "alternatives": [self._option(x.area, x.option) for x in alternatives
                                       if x.option.technician_id != tech][:3]}
            call = decision.call or call
            if isinstance(decision, Dispatched):
                answer |= {"status": "planned", **self._option(decision.area, decision.option)}
                answer["reason_code"] = "" if decision.on_time else Reason.LATE.value
                answer["reason"] = "" if decision.on_time else Reason.LATE.sentence
                offer = self.offers.offer_of(call_id, tech, at)  # a contracted station's: it must accept
                answer |= {"status": "offered", "offer": offer} if offer else {}
                if decision.visit_mode != mode:
                    answer["note"] = ("nobody able to repair it on site can set off within the hour: the "
                                      "technician collects the device for the bench (the on-site offers are "
                                      "the alternatives)")
            else:
                answer |= {"status": "unassigned", "reason_code": decision.reason.value, "reason": decision.sentence}
            policy = self.rules.ranking(priority)
            payload = {"digest": digest, "call_meta": meta, "advanced": areas, "area": area,
                       "technician_id": tech, "policy": policy, "call": asdict(call), "county": county}
            self._commit(areas, "call", call_id, at, payload, answer, idem=call_id)
            self.offers.held(self.areas[area], call_id, answer, at)  # after the commit: the log replays it
            self._remember(call_id, payload, answer)
            self.offers.remember(call_id, payload, answer, at)
        return answer

    def _remember(self, call_id: str, payload: dict[str, Any], answer: dict[str, Any]) -> None:
        with self._ids:
            self._index_call(call_id, payload, answer)

    def _option(self, area: str, o: Any) -> dict[str, Any]:
        centre = self.net[self.home[o.technician_id]]
        return {"area": area, "centre_id": centre.id, "centre_name": centre.name,
                "technician_id": o.technician_id, "departure": self.iso(o.departure_s),
                "departure_s": o.departure_s, "arrival": self.iso(o.eta_s), "arrival_s": o.eta_s,
                "meets_deadline": bool(o.meets_deadline), "late_s": int(o.late_s)}

    # -- field reports and drop-outs ----------------------------------------------------------

    def job_status(self, job_id: str, status: str, at: dt.datetime | None) -> dict[str, Any]:
        self._usable()
        judged = self.at_s(at)
        t = judged.at_s
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
            tid = next((k for k, ids in area.routes.items() if job_id in ids), None)
            if tid is None:  # cancelled before anyone set off: it left the plan
                raise ServiceError(409, f"job {job_id!r} is {area.state(job_id).value}; no report can follow it")
            st = next(s for s in area.schedule(tid).stops if s.visit_id == job_id)
            # Checked before the clock moves, so a refused report changes nothing.
            if job_id not in area.frozen and st.departure_toward_s > t and status != "cancelled":
                raise ServiceError(409, f"job {job_id!r} is planned to set off at "
                                   f"{self.iso(st.departure_toward_s)}; a status at {self.iso(t)} is too early")
            try:
                check_report(job_id, status, t, area.reported.get(job_id, (JobState.PLANNED, None)))
            except StatusConflict as exc:
                raise ServiceError(409, f"{exc}; its planned times: set off {self.iso(st.departure_toward_s)}, "
                                   f"arrival {self.iso(st.arrival_s)}, end {self.iso(st.end_s)}") from exc
            if status == "cancelled" and st.arrival_s <= t:
                raise ServiceError(409, f"job {job_id!r} cannot be cancelled: its technician is at the door since "
                                   f"{self.iso(st.arrival_s)} (report done when he leaves)")
            try:
                self._advance(a, t)
                area.report(job_id, status, t)
            except DispatchError:
                self._rebuild([a])  # the clock moved for a report refused: forget both
                raise
            state = area.state(job_id)
            st = next((s for s in area.schedule(tid).stops if s.visit_id == job_id), None)  # None: cancelled
            answer = {"job_id": job_id, "status": status, "at": self.iso(t), "at_s": t, "warnings": _warnings(judged),
                      "area": a, "technician_id": tid, "state": state.value,
                      "arrival": self.iso(st.arrival_s) if st else None, "end": self.iso(st.end_s) if st else None,
                      "end_s": st.end_s if st else None, "frozen": job_id in area.frozen}
            self._commit([a], "status", job_id, t, {"area": a, "status": status}, answer)
        return answer

    def unavailable(self, tech_id: str, at: dt.datetime | None) -> dict[str, Any]:
        self._usable()
        judged = self.at_s(at)
        t = judged.at_s
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
            answer = {"technician_id": tech_id, "at": self.iso(t), "at_s": t, "warnings": _warnings(judged), "area": a,
                      "moved": [{"job_id": v, "technician_id": k} for v, k in res.moved],
                      "unserved": [{"job_id": u.visit_id, "reason_code": u.reason_code, "reason": u.reason}
                                   for u in res.unserved]}
            self._commit([a], "unavailable", tech_id, t, {"area": a}, answer)
        return answer

    # -- views --------------------------------------------------------------------------------

    def plan(self, area_name: str) -> dict[str, Any]:
        self._usable()
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
        out = {}
        for a in sorted(self.areas):
            with self._locked([a]):
                out[a] = check(self.areas[a].checked_problem(), self.areas[a].result())
        return out

    def kpis(self) -> dict[str, Any]:
        """The day so far as planned: the one-hour rate counts planned departures."""
        self._usable()
        stops: dict[str, Any] = {}
        work = []
        cancelled: set[str] = set()
        for a in sorted(self.areas):
            with self._locked([a]):
                area = self.areas[a]
                cancelled |= {v for v, (state, _) in area.reported.items() if state == JobState.CANCELLED}
                for r in area.result().routes:
                    k = area.technician(r.technician_id)
                    for s in r.stops:
                        stops[s.visit_id] = s
                    work.append({"technician_id": r.technician_id, "available_s": k.shift_end_s - k.shift_start_s,
                                 "busy_s": r.travel_s + sum(s.end_s - s.start_s for s in r.stops),
                                 "travel_s": r.travel_s, "distance_m": r.distance_m,
                                 "overtime_s": r.overtime_s, "jobs": len(r.stops)})
        with self._ids:
            calls = list(self.calls.values())
        net = self.net
        rows = []
        for c in calls:
            s = stops.get(c.id)
            rows.append({"request_id": c.id, "mode": c.mode, "level": c.level, "province_adcode": c.province_adcode,
                         "centre_id": c.centre_id, "created_s": c.created_s, "clock_start_s": c.clock_start_s,
                         "dispatch_s": s.departure_toward_s if s else np.nan,
                         "dispatch_wait_s": business_seconds(net[c.centre_id], c.clock_start_s, s.departure_toward_s)
                         if s else np.nan,
                         "visit_mode": c.answer.get("visit_mode", c.mode),
                         "completion_s": s.end_s if s is not None and c.id not in cancelled
                         and c.answer.get("visit_mode", c.mode) == "onsite" else np.nan,
                         "repair_tier": np.nan,
                         "unassigned_reason": Reason.CANCELLED.value if c.id in cancelled
                         else "" if s is not None or c.mode == "walkin"
                         else (c.answer.get("reason_code") or "unassigned")})
        cols = ["request_id", "mode", "visit_mode", "level", "province_adcode", "centre_id", "created_s", "clock_start_s",
                "dispatch_s", "dispatch_wait_s", "completion_s", "repair_tier", "unassigned_reason"]
        k = kpis(pd.DataFrame(rows, columns=cols), pd.DataFrame(work) if work else None)
        return {"day": self.day, "calls": len(calls),
                "kpis": {key: (None if isinstance(v, float) and not math.isfinite(v) else v) for key, v in k.items()}}
