"""Call-intake service: an authenticated HTTP API over the real-time engine (``dispatch serve``).

A call centre posts each call and gets the dispatch decision back at once: which centre's
technician goes, when he sets off and arrives, whether the one-hour promise is kept, or why not
with the best alternatives. Field status reports and technician drop-outs change the live plan.

State. One :class:`~dispatch.realtime.LiveArea` per routing area for the served day, built as
the simulation builds them (``dispatch.simulate``). Each area's state is a function of the
operations applied to it, in order; every acknowledged operation is committed to the store's
``service_log`` *before* the answer is sent, with what it needs to be replayed (the exact call,
the effective time, the areas whose clock it moved, the technician chosen). A restart replays
the log in sequence order and so rebuilds the same live plan; a failed commit rebuilds the areas
it touched the same way, so memory never holds an unacknowledged change.

Concurrency. Request handlers run in a thread pool; each area has a lock, and a call takes the
locks of every area it considers (sorted, so two calls never deadlock) and holds them through the
commit. Two calls that could compete for a technician are therefore serialised, and the log's
order is the order the plan saw. A call id is the idempotency key: a retried POST returns the
first answer, and a concurrent duplicate is refused with 409 until the first one is answered.

Clock. Times are ISO 8601; a time without an offset is China Standard Time (+08:00). A request
may carry ``at`` (when the call came / the event happened), which must fall on the served day;
without it, the current wall-clock time of day in China is placed on the served day. An area's
clock never goes back: an ``at`` earlier than the area's clock counts as the clock.

Security. Bearer tokens with roles (``dispatcher`` writes, ``viewer`` reads), from
``DISPATCH_TOKENS`` ("token:role,token:role") or a file of such entries; only their SHA-256
digests are kept, and they are never logged. Missing or unknown token: 401; a viewer writing:
403; bodies are validated (422 naming the field), capped in size (413) and each token is rate
limited (429). No CORS headers unless origins are configured.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from dispatch.errors import DispatchError, ModelError

TOKENS_ENV = "DISPATCH_TOKENS"
ROLES = ("dispatcher", "viewer")
CST = dt.timezone(dt.timedelta(hours=8), "CST")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"
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


# ------------------------------------------------------------------------------------------
# Configuration and tokens


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


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_tokens(text: str, where: str = TOKENS_ENV) -> tuple[tuple[str, str], ...]:
    """"token:role" entries separated by commas or new lines (``#`` starts a comment)."""
    out = []
    for n, raw in enumerate(text.replace(",", "\n").splitlines(), 1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        token, sep, role = entry.rpartition(":")
        token, role = token.strip(), role.strip()
        # The message names the entry's position, never the token itself.
        if not sep or not token:
            raise DispatchError(f"{where}: entry {n} is not 'token:role'")
        if role not in ROLES:
            raise DispatchError(f"{where}: entry {n} has role {role!r}; expected one of {', '.join(ROLES)}")
        if len(token) < 16:
            raise DispatchError(f"{where}: entry {n} has a token shorter than 16 characters")
        out.append((token_digest(token), role))
    return tuple(out)


def load_tokens(tokens_file: str | None = None) -> tuple[tuple[str, str], ...]:
    """Tokens from ``tokens_file`` and ``DISPATCH_TOKENS``; at least one is required."""
    tokens: list[tuple[str, str]] = []
    if tokens_file:
        tokens += parse_tokens(Path(tokens_file).read_text(encoding="utf-8"), tokens_file)
    if os.environ.get(TOKENS_ENV):
        tokens += parse_tokens(os.environ[TOKENS_ENV])
    if not tokens:
        raise DispatchError(f"no tokens: set {TOKENS_ENV}='token:dispatcher,token:viewer' or pass "
                            "--tokens-file with one 'token:role' per line")
    return tuple(tokens)


# ------------------------------------------------------------------------------------------
# Live state


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
        from dispatch.realtime import LiveArea

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
        from dispatch.realtime import NewCall

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
        from dispatch.assignment import business_deadline, dispatch_clock_start
        from dispatch.model import Mode, Priority, Request, TimeWindow
        from dispatch.realtime import NewCall, collect_offers, collection, offer_key

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
        from dispatch.realtime import FROZEN_STATES

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
        from dispatch.checker import check

        out = {}
        for a in sorted(self.areas):
            with self._locked([a]):
                out[a] = check(self.areas[a].checked_problem(), self.areas[a].result())
        return out

    def kpis(self) -> dict[str, Any]:
        """The day so far as planned: the one-hour rate counts planned departures."""
        import pandas as pd

        from dispatch.assignment import business_seconds
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


# ------------------------------------------------------------------------------------------
# Rate limit and body size


class RateLimiter:
    """A token bucket per API token (by digest): ``rate`` per second, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> float:
        """0 if allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            level, last = self._buckets.get(key, (float(self.burst), now))
            level = min(float(self.burst), level + (now - last) * self.rate)
            if level >= 1.0:
                self._buckets[key] = (level - 1.0, now)
                return 0.0
            self._buckets[key] = (level, now)
            return (1.0 - level) / self.rate


class BodyLimit:
    """Pure ASGI middleware: bodies over ``limit`` bytes get 413 before any parsing."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await _send_json(send, 413, {"detail": f"request body over {self.limit} bytes"})
            return
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:  # a chunked body without a length
                raise _TooLarge()
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await _send_json(send, 413, {"detail": f"request body over {self.limit} bytes"})


class _TooLarge(Exception):
    pass


async def _send_json(send: Any, status: int, doc: dict) -> None:
    body = json.dumps(doc).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


# ------------------------------------------------------------------------------------------
# The HTTP API


Level = Annotated[int, Field(ge=1, le=3, description="repair level: 1 simple, 2 module, 3 board-level")]
When = Annotated[dt.datetime | None, Field(None, description="ISO 8601; no offset means +08:00 (CST)")]

class CallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, pattern=ID_PATTERN, description="call id, also the idempotency key")
    lon: float | None = Field(None, ge=73.0, le=135.5, allow_inf_nan=False, description="WGS84")
    lat: float | None = Field(None, ge=3.5, le=53.6, allow_inf_nan=False, description="WGS84")
    county: str | None = Field(None, pattern=r"^[1-9]\d{5}$", description="county adcode, instead of lon/lat")
    level: Level = 1
    mode: Literal["onsite", "pickup", "walkin"] = "onsite"
    priority: int = Field(1, ge=1, le=3, description="1 normal, 2 high (enterprise), 3 urgent (VIP)")
    window_start: When = None
    window_end: When = None
    service_min: int | None = Field(None, ge=0, le=600, description="default by mode and level")
    product_line: str | None = Field(None, max_length=40, pattern=r"^[A-Za-z0-9_\-]*$")
    at: When = None

class Option(BaseModel):
    area: str
    centre_id: str
    centre_name: str
    technician_id: str
    departure: str
    departure_s: int
    arrival: str
    arrival_s: int
    meets_deadline: bool
    late_s: int

class Decision(BaseModel):
    call_id: str
    status: Literal["planned", "unassigned", "walkin"]
    mode: str
    visit_mode: str | None = Field(None, description="how the technician serves it: an onsite call nobody able "
                                   "to repair on site can set off for within the hour is collected (pickup)")
    note: str = ""
    at: str
    at_s: int
    station_id: str
    station_name: str
    clock_start: str
    clock_start_s: int
    dispatch_deadline: str | None = None
    dispatch_deadline_s: int | None = None
    area: str | None = None
    centre_id: str | None = None
    centre_name: str | None = None
    technician_id: str | None = None
    departure: str | None = None
    departure_s: int | None = None
    arrival: str | None = None
    arrival_s: int | None = None
    meets_deadline: bool | None = None
    late_s: int | None = None
    reason_code: str = ""
    reason: str = ""
    alternatives: list[Option] = []
    replayed: bool = False

class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["dispatched", "on_site", "done", "overrun"]
    at: When = None

class StatusOut(BaseModel):
    job_id: str
    status: str
    at: str
    at_s: int
    area: str
    technician_id: str
    state: str
    arrival: str
    end: str
    end_s: int
    frozen: bool

class UnavailableIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    at: When = None

class Moved(BaseModel):
    job_id: str
    technician_id: str

class Lost(BaseModel):
    job_id: str
    reason_code: str
    reason: str

class UnavailableOut(BaseModel):
    technician_id: str
    at: str
    at_s: int
    area: str
    moved: list[Moved]
    unserved: list[Lost]

class PlanStop(BaseModel):
    job_id: str
    state: str
    departure: str
    arrival: str
    start: str
    end: str
    late_s: int

class PlanRoute(BaseModel):
    technician_id: str
    start: str
    end: str
    travel_s: int
    distance_m: int
    unavailable: bool
    stops: list[PlanStop]

class PlanOut(BaseModel):
    area: str
    clock: str
    clock_s: int
    routes: list[PlanRoute]
    unassigned: list[Lost]

class KpisOut(BaseModel):
    day: int
    calls: int
    kpis: dict[str, float | None]

class Health(BaseModel):
    status: Literal["ok", "starting"]

Idem = Annotated[str | None, Header(alias="Idempotency-Key", pattern=ID_PATTERN)]
JobId = Annotated[str, PathParam(pattern=ID_PATTERN)]


bearer = HTTPBearer(auto_error=False, description="An API token: Authorization: Bearer <token>")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _role(request: Request, creds: HTTPAuthorizationCredentials | None) -> str:
    if creds is None or creds.scheme.lower() != "bearer":
        raise ServiceError(401, "missing bearer token: send 'Authorization: Bearer <token>'")
    digest = token_digest(creds.credentials)
    state = request.app.state
    # Compared as digests in constant time; the token itself is never stored or logged.
    role = next((r for d, r in state.tokens.items() if hmac.compare_digest(d, digest)), None)
    if role is None:
        raise ServiceError(401, "unknown token")
    wait = state.limiter.allow(digest)
    if wait:
        raise ServiceError(429, f"rate limit of {state.config.rate_per_s:g} requests/s per token; "
                           f"retry in {wait:.2f} s")
    return role


def reader(request: Request, creds: Credentials) -> str:
    return _role(request, creds)


def writer(request: Request, creds: Credentials) -> str:
    role = _role(request, creds)
    if role != "dispatcher":
        raise ServiceError(403, f"role {role!r} may only read; writing needs a dispatcher token")
    return role


def create_app(config: ServiceConfig, service: LiveService | None = None) -> Any:
    """The FastAPI app. The live state is built at startup (or given, for tests); building the
    app itself loads nothing, so ``app.openapi()`` is cheap."""
    holder: dict[str, LiveService] = {}
    if service is not None:
        holder["svc"] = service

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Iterator[None]:  # type: ignore[misc]
        if "svc" not in holder:
            holder["svc"] = LiveService(config)
        yield

    app = FastAPI(title="repair-dispatch call intake", version="1",
                  description=__doc__.split("\n\n")[1] if __doc__ else "", lifespan=lifespan)  # type: ignore[arg-type]
    # The auth dependencies read these (they live at module level so FastAPI can resolve them).
    app.state.config = config
    app.state.tokens = dict(config.tokens)
    app.state.limiter = RateLimiter(config.rate_per_s, config.burst)

    def svc() -> LiveService:
        if "svc" not in holder:
            raise ServiceError(503, "the service is starting; retry in a moment")
        return holder["svc"]

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        if exc.status == 422:
            detail: Any = [{"type": "value_error", "loc": ["body", exc.field or "body"], "msg": str(exc)}]
        else:
            detail = str(exc)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status == 429:
            headers = {"Retry-After": "1"}
        return JSONResponse({"detail": detail}, status_code=exc.status, headers=headers)

    @app.exception_handler(DispatchError)
    async def _dispatch_error(request: Request, exc: DispatchError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": e.get("msg")}
                  for e in exc.errors()]
        fields = ", ".join(".".join(str(x) for x in e["loc"][1:]) or str(e["loc"][0]) for e in errors)
        return JSONResponse({"detail": errors, "message": f"invalid field(s): {fields}"}, status_code=422)

    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)

    errors = {401: {"description": "missing or unknown token"}, 422: {"description": "invalid field"},
              429: {"description": "rate limit"}, 413: {"description": "body too large"}}
    write_errors = {**errors, 403: {"description": "a viewer token cannot write"},
                    409: {"description": "conflicts with the live plan"}, 404: {"description": "unknown id"}}

    @app.post("/calls", response_model=Decision, responses=write_errors)
    def post_call(body: CallIn, role: Annotated[str, Depends(writer)], idem: Idem = None) -> dict[str, Any]:
        """Take a call; answer the dispatch decision (or why not, with the best alternatives)."""
        answer, replayed = svc().post_call(body.model_dump(exclude_none=True), idem)
        return {**answer, "replayed": replayed}

    @app.post("/technicians/{technician_id}/unavailable", response_model=UnavailableOut, responses=write_errors)
    def post_unavailable(technician_id: JobId, body: UnavailableIn,
                         role: Annotated[str, Depends(writer)]) -> dict[str, Any]:
        """The technician drops out from ``at``: his unfinished work is re-planned over the others."""
        return svc().unavailable(technician_id, body.at)

    @app.post("/jobs/{job_id}/status", response_model=StatusOut, responses=write_errors)
    def post_status(job_id: JobId, body: StatusIn, role: Annotated[str, Depends(writer)]) -> dict[str, Any]:
        """A field report on a job: dispatched, on_site, done or overrun (still working at ``at``)."""
        return svc().job_status(job_id, body.status, body.at)

    @app.get("/plan", response_model=PlanOut, responses={**errors, 404: {"description": "unknown area"}})
    def get_plan(area: Annotated[str, Query(max_length=20, description="area (prefecture adcode)")],
                 role: Annotated[str, Depends(reader)]) -> dict[str, Any]:
        """One area's current routes (times as planned now; dispatched work is frozen)."""
        return svc().plan(area)

    @app.get("/kpis", response_model=KpisOut, responses=errors)
    def get_kpis(role: Annotated[str, Depends(reader)]) -> dict[str, Any]:
        """The day so far as planned (the one-hour rate counts planned departures)."""
        return svc().kpis()

    @app.get("/health", response_model=Health)
    def health() -> dict[str, Any]:
        """Liveness without a token; tells nothing about the plan."""
        return {"status": "ok" if "svc" in holder else "starting"}

    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document as committed in docs/openapi.json."""
    return create_app(ServiceConfig()).openapi()  # type: ignore[no-any-return]


def run(config: ServiceConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Build the live state, then serve until stopped (uvicorn; one process: the state is in it)."""
    import uvicorn

    uvicorn.run(create_app(config), host=host, port=port, log_level="info", access_log=True)
