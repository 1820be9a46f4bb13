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

from dispatch.contracts import ContractBook, read_contracts
from dispatch.errors import DispatchError
from dispatch.io import read_dataset
from dispatch.lease import DEFAULT_LEASE_TTL_S, LeaseKeeper, LeaseLost
from dispatch.live import InsertionOption, LiveArea, NewCall
from dispatch.live.decision import Dispatched, decide
from dispatch.live.horizon import Horizon
from dispatch.live.roster import LiveNetwork
from dispatch.live.slots import offer_slots
from dispatch.model import Mode
from dispatch.parts.answer import answer_for
from dispatch.reasons import Reason
from dispatch.routing.checker import check
from dispatch.rules import DEFAULT_RULES, Rules
from dispatch.service import dayplan
from dispatch.service.booking import SLOT_PROBE_ID, booked_for, booking_day, slots_answer
from dispatch.service.clock import (
    CST,
    ClockRule,
    Judged,
    RunningClock,
    ServiceClock,
    WallClock,
    judge,
    warnings_of,
)
from dispatch.service.errors import ServiceError
from dispatch.service.intake import read_intake
from dispatch.service.notices import NoticeSender, NoticeTracker, notice_rows
from dispatch.service.offers import OfferTimer, ServiceOffers
from dispatch.service.reports import cancel_unassigned, job_status
from dispatch.service.views import area_plan, day_kpis
from dispatch.staffing import off_duty
from dispatch.store import Store
from dispatch.synthetic import generate
from dispatch.tables import centres_frame, technicians_frame
from dispatch.travel import DEFAULT_TRAVEL, travel_from_spec

__all__ = ["CST", "LiveService", "ServiceConfig", "ServiceError"]


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
    max_plan_bytes: int = 16 * 1024 * 1024  # POST /plan: a day plan of a province's calls
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
    # The travel model (a dispatch.travel spec; None: the library's DEFAULT_TRAVEL). `dispatch serve`
    # passes the spec of --travel / DISPATCH_TRAVEL / the commands' default.
    travel: str | None = None
    # Where ETA notices of booked jobs are posted (dispatch.service.notices; None: kept in the
    # outbox, listed by GET /notices), and the back-off between failed attempts (doubling).
    webhook_url: str | None = None
    notice_backoff_s: float = 1.0
    notice_backoff_max_s: float = 300.0

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
        self.scope_of = lambda day: f"{h.hexdigest()[:40]}:day{day}"  # one scope per served day
        self.scope = self.scope_of(config.day)
        self.rules = config.rules
        self.net = ds.network
        self.live = LiveNetwork(ds.network, ds.technicians, config.rules,
                                DEFAULT_TRAVEL if config.travel is None else travel_from_spec(config.travel), ds.epoch_date)
        self.parts = answer_for(ds, self.live.travel, config.rules)  # spare parts: None without parts files
        self.home = {t.id: t.home_centre_id for t in ds.technicians}
        self.store = Store(config.db)
        self.locks: dict[str, threading.Lock] = {}
        self.calls: dict[str, _Call] = {}
        self.job_area: dict[str, str] = {}
        self.tech_area = {t.id: self.live.area_of[t.home_centre_id] for t in ds.technicians}
        self.roster = {t.id: t for t in ds.technicians}
        self.epoch_date = ds.epoch_date
        self._ids = threading.Lock()  # guards calls / in-flight ids
        self._inflight: set[str] = set()
        self._db = threading.Lock()  # one writer at a time (SQLite would make the others spin)
        self.day_plans: dict[int, dict[str, Any]] = {}  # log seq -> a day plan posted (dispatch.service.dayplan)
        self.log_version = 0
        self.areas = self.live.start_day(config.day)
        # Later days' plans, each opened with what earlier days' servers booked for it; today's
        # opens with those too (read once: those servers served their own days).
        self.horizon = Horizon(self.live, config.day, self.areas, self._open_day)
        self.booked_before = self._booked_for(config.day)
        # Contracted stations' jobs are offers (dispatch.service.offers); no contracts.csv: none.
        self.offers = ServiceOffers(self, read_contracts(config.source, ds.network, ds.technicians) if config.source else ContractBook(),
                                    ServiceError)
        self.locks = {a: threading.Lock() for a in self.areas}
        # The lease before the replay: no other server can append to the log being read.
        self.lease = self.store.acquire_lease(self.scope, config.lease_ttl_s, wait_s=config.lease_wait_s) \
            if writer else None
        self.lost: LeaseLost | None = None
        self.broken: str | None = None  # why memory can no longer be trusted (answers 503 until a restart)
        # The heartbeat from now on: a long replay must not let the lease expire under it.
        self.keeper = LeaseKeeper(self.store, self.lease, on_lost=self._lost).start() if self.lease else None
        self.tracker = NoticeTracker(config.rules.eta_notice_threshold_s)
        self.sender: NoticeSender | None = None
        try:
            self.replayed = self._replay(set(self.areas), rebuild_index=True)
            self.horizon.open_booked(self.rules.slot_days, self._booked_for)  # earlier servers' slots
            for n in self.store.notices(self.scope):  # what each booked customer was told
                self.tracker.told(n)
            # Offers nobody answers in time lapse on the server's clock (dispatch.service.offers).
            self.offer_timer = OfferTimer(self.offers).start() if self.lease and len(self.offers.book) else None
            if self.lease and config.webhook_url:
                self.sender = NoticeSender(self.store, self.scope, config.webhook_url, self.iso,
                                           config.notice_backoff_s, config.notice_backoff_max_s).start()
        except BaseException:
            self.close()
            raise

    def _lost(self, exc: LeaseLost) -> None:
        self.lost = exc

    def close(self) -> None:
        """Stop the heartbeat and give the lease back, so the next server starts at once."""
        if getattr(self, "sender", None) is not None:
            self.sender.stop()  # type: ignore[union-attr]
        if getattr(self, "offer_timer", None) is not None:
            self.offer_timer.stop()  # type: ignore[union-attr]
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
                answer: dict[str, Any], idem: str | None = None, trips: list[dict[str, Any]] | None = None) -> None:
        """Log the change (with the drives it completes, ``trips``) before it is acknowledged; if that
        fails, forget it in memory too."""
        try:
            if self.lease is None or self.lost is not None:
                raise ServiceError(503, "this server does not hold the live plan's lease (a read-only copy, or "
                                   f"another server took it over: {self.lost or 'not a writer'}); send changes to "
                                   "the server that holds it")
            # The notices this change owes booked customers: committed with it, or not at all.
            notices = self.tracker.changes(touched, self.horizon.area_of_job, at_s)
            with self._db:
                try:
                    self.store.append_service_entry(self.scope, kind, key, at_s, payload, answer, idem,
                                                    lease=self.lease, notices=notices, trips=trips or ())
                except LeaseLost:
                    # Expired without a heartbeat (a database outage, a pause) but nobody took it:
                    # renewing tells an expiry from a takeover, which is the only real loss.
                    self.lease = self.store.renew_lease(self.lease)
                    self.store.append_service_entry(self.scope, kind, key, at_s, payload, answer, idem,
                                                    lease=self.lease, notices=notices, trips=trips or ())
            for n in notices:
                self.tracker.told(n)
            self.log_version += 1  # the one writer knows when its log grew (GET /events reads it again)
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
            entries = self._log()
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
                                     old.lat[:n_centres], leave_home_s=self.rules.leave_home_s)
        self.horizon.forget(names)
        self._replay(set(names), rebuild_index=False, entries=entries)

    def _replay(self, names: set[str], rebuild_index: bool, entries: list | None = None) -> int:
        """Apply the log (``entries``, default: read now) to the areas in ``names`` (each area
        depends only on its own ops)."""
        n = 0
        for e in entries if entries is not None else self._log():
            p = e.payload
            if rebuild_index and self.parts is not None:  # the parts ledger is one, like the call index
                self.parts.replay(e.kind, e.key, p)
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
                    live = self.horizon.areas(p.get("day", self.day))[a]
                    got = live.insert_with(call, p.get("technician_id") or None, p["policy"])
                    self.job_area[call.id] = a
                    got_tech = got.technician_id if isinstance(got, InsertionOption) else None
                    self.offers.held(live, call.id, e.answer, e.at_s)
                    if got_tech is None and e.scope != self.scope:
                        # Booked by an earlier day's server, whose plan of this day may not have
                        # held every booking this one holds: the window is the promise, not who.
                        got_tech = getattr(live.place(call.id, policy=p["policy"]), "technician_id", None)
                    elif got_tech != (p.get("technician_id") or None):
                        # Not expected: the same operations in the same order give the same plan.
                        raise DispatchError(f"replay of call {e.key!r} in area {a} did not reproduce "
                                            f"technician {p.get('technician_id')!r}")
            elif e.kind == "status" and p["area"] in names:
                area = self.horizon.area_of_job(e.key, p["area"])
                area.advance(max(area.clock_s, e.at_s))
                if p["status"] == "cancelled" and e.key in area.unassigned:
                    cancel_unassigned(area, e.key, e.at_s)
                else:
                    area.report(e.key, p["status"], e.at_s, p.get("expected_end_s"))
            elif e.kind == "offer":
                self.offers.replay(e.key, e.at_s, p, e.answer, names, rebuild_index)
            elif e.kind == "unavailable" and p["area"] in names:
                self.areas[p["area"]].drop_out(e.key, e.at_s)
            elif e.kind == "plan":
                dayplan.replay_plan(self, e, names, rebuild_index)
            elif e.kind in dayplan.UNDOABLE and p["area"] in names:  # a pin or a move
                dayplan.replay_pin(self, e)
            n += 1
        return n

    def _log(self) -> list[Any]:
        """What today's plan is rebuilt from: the bookings earlier days' servers made for it, then
        this day's log."""
        return dayplan.active(self.booked_before + self.store.service_entries(self.scope))

    def _booked_for(self, day: int) -> list[Any]:
        return booked_for(self.store, self.scope_of, day, range(day - self.rules.slot_days + 1, self.day))

    def _open_day(self, day: int, names: set[str], first: bool) -> None:
        """A later day's areas (``names``) just built: the bookings earlier servers made for it."""
        with self._ids:  # the call index may grow (the day's bookings become known calls)
            self._replay(names, rebuild_index=first, entries=self._booked_for(day))

    def _index_call(self, call_id: str, payload: dict[str, Any], answer: dict[str, Any]) -> None:
        c = payload["call_meta"]
        self.calls[call_id] = _Call(call_id, payload["digest"], answer, payload.get("area"),
                                    c["mode"], c["level"], c["created_s"], c["clock_start_s"],
                                    c["centre_id"], c["province_adcode"])
        if payload.get("area"):
            self.job_area[call_id] = payload["area"]
        if payload.get("day", self.day) != self.day:
            self.horizon.day_of_job[call_id] = payload["day"]
        if payload.get("customer_id") and answer.get("arrival_s") is not None:  # booked: watched
            self.tracker.watch(call_id, payload["customer_id"], payload["area"], payload["call"]["window_end_s"],
                               answer["arrival_s"])

    def index_plan_call(self, c: dict[str, Any], area: str | None) -> None:
        """A day plan's call (``POST /plan``) as a known job: field reports, pins and KPIs see it."""
        centre = self.net.by_id.get(c.get("centre_id", ""))
        with self._ids:
            self.calls[c["id"]] = _Call(c["id"], "day-plan", {"status": "planned", "from_day_plan": True,
                                                              "visit_mode": c.get("visit_mode", "onsite")},
                                        area, c.get("mode", "onsite"), int(c["required_level"]), int(c["created_s"]),
                                        int(c["clock_start_s"]), c.get("centre_id", ""),
                                        centre.province_adcode if centre else "")
            if area is not None:
                self.job_area[c["id"]] = area

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

    def _decide(self, call_id: str, digest: str, body: dict[str, Any]) -> dict[str, Any]:
        judged = self.at_s(body.get("at"))
        at = judged.at_s
        it = read_intake(call_id, body, at, self.rules, self.net, self.day, self.to_s,
                         None if self.parts is None else self.parts.models())
        r, station, clock = it.request, it.station, it.clock_start_s
        mode, level, priority = r.mode.value, r.level, int(r.priority)
        meta = {"mode": mode, "level": level, "created_s": at, "clock_start_s": clock,
                "centre_id": station.id, "province_adcode": station.province_adcode}
        base = {"call_id": call_id, "at": self.iso(at), "at_s": at, "warnings": warnings_of(judged), "mode": mode, "station_id": station.id,
                "station_name": station.name, "clock_start": self.iso(clock), "clock_start_s": clock,
                **({} if self.parts is None else self.parts.answer(r, station.id, clock, self.iso))}
        if mode in ("walkin", "mailin"):
            answer = {**base, "status": mode, "reason_code": mode,
                      "reason": f"the customer brings the device to {station.name}; no technician travels" if mode == "walkin"
                      else f"the customer ships the device by courier to {station.name}'s repair chain (寄修); "
                           "no technician travels",
                      "alternatives": []}
            payload = {"digest": digest, "call_meta": meta, "advanced": [], "area": None}
            if self.parts is not None:  # the station's unit is held for it (dispatch.parts.answer)
                block, payload["part_hold"] = self.parts.reserve(call_id, r, station.id, clock, self.iso)
                answer |= block
            self._commit([], "call", call_id, at, payload, answer, idem=call_id)
            self._remember(call_id, payload, answer)
            return answer
        call = it.call(self.rules)
        base |= {"dispatch_deadline": self.iso(call.dispatch_deadline_s),
                 "dispatch_deadline_s": call.dispatch_deadline_s}
        day = booking_day(body, call, self.day, self.rules)  # a booked slot: its day's plan
        areas = self.live.find_areas(r.lon, r.lat)
        with self._locked(areas):
            # A booking is the on-site visit the customer chose: never turned into a collection,
            # never held unassigned (it is refused instead, with the slots open now).
            decision = decide(call, self.horizon.areas(self.day if day is None else day), areas, at, self.rules,
                              self.live.repairs_at_home, mode=Mode(mode), device_level=level, hold_unserved=day is None,
                              may_collect=day is None and self.rules.may_collect(mode, call.required_level),
                              allow=self.offers.allow(r.county_adcode, call) if day is None else None,
                              has_part=None if self.parts is None else self.parts.holder(r))
            if day is not None and not isinstance(decision, Dispatched):
                if day == self.day:
                    self._rebuild(areas)  # the clocks it moved for a booking refused: forgotten
                raise ServiceError(409, f"the window {self.iso(call.window_start_s)} to {self.iso(call.window_end_s)} "
                                   f"can no longer be kept ({decision.sentence}); POST /calls/slots offers the "
                                   "windows open now")
            # The customer is shown the earliest arrivals among the on-site offers.
            alternatives = sorted(decision.alternatives,
                                  key=lambda x: (x.option.eta_s, x.option.late_s, x.option.technician_id))
            tech = decision.technician_id if isinstance(decision, Dispatched) else None
            area = decision.area
            answer = {**base, "area": area,
                      "visit_mode": decision.visit_mode.value if isinstance(decision, Dispatched) else mode,
                      "alternatives": [self._option(x.area, x.option) for x in alternatives
                                       if x.option.technician_id != tech][:3]}
            call, hold = decision.call or call, None
            if isinstance(decision, Dispatched):
                answer |= {"status": "planned", **self._option(decision.area, decision.option)}
                if self.parts is not None:  # the part where his centre (and van) stand, held for the call
                    block, hold = self.parts.reserve(call_id, r, self.home[decision.technician_id], clock, self.iso)
                    answer |= block
                answer["reason_code"] = "" if decision.on_time else Reason.LATE.value
                answer["reason"] = "" if decision.on_time else Reason.LATE.sentence
                # A contracted station's must accept (a booking for a later day is the maker's own promise).
                offer = self.offers.offer_of(call_id, tech, at) if day is None else None
                answer |= {"status": "offered", "offer": offer} if offer else {}
                if decision.visit_mode != mode:
                    answer["note"] = ("nobody able to repair it on site can set off within the hour: the "
                                      "technician collects the device for the bench (the on-site offers are "
                                      "the alternatives)")
            else:
                answer |= {"status": "unassigned", "reason_code": decision.reason.value, "reason": decision.sentence}
            policy = self.rules.ranking(priority)
            payload = {"digest": digest, "call_meta": meta, "advanced": areas if day in (None, self.day) else [],
                       "area": area, "technician_id": tech, "policy": policy, "call": asdict(call),
                       "county": r.county_adcode, **({"part_hold": hold} if hold else {})}
            if day is not None:
                payload |= {"day": day, "customer_id": body.get("customer_id") or call_id}
                answer |= {"booked": True, "day": day, "window_start": self.iso(call.window_start_s),
                           "window_end": self.iso(call.window_end_s)}
            self._commit(areas, "call", call_id, at, payload, answer, idem=call_id)
            if area is not None and day in (None, self.day):  # after the commit: the log replays it
                self.offers.held(self.areas[area], call_id, answer, at)
            self._remember(call_id, payload, answer)
            self.offers.remember(call_id, payload, answer, at)
        return answer

    def slots(self, body: dict[str, Any]) -> dict[str, Any]:
        """The appointment windows over the next days the plan can keep for this call, best first
        (``POST /calls/slots``; ``dispatch.live.slots``). Nothing is planned or logged."""
        self._usable()
        judged = self.at_s(body.get("at"))
        body = {k: v for k, v in body.items() if k not in ("window_start", "window_end", "booked")}
        it = read_intake(SLOT_PROBE_ID, body, judged.at_s, self.rules, self.net, self.day, self.to_s)
        if not it.request.mode.travels:
            raise ServiceError(422, f"a {it.request.mode.value} call needs no appointment: nobody travels to the customer", "mode")
        areas = self.live.find_areas(it.request.lon, it.request.lat)
        with self._locked(areas):
            found = offer_slots(lambda ws, we: it.in_window(ws, we, self.rules), self.horizon.areas, areas,
                                judged.at_s, int(it.request.priority), self.rules)
        return slots_answer(found, judged.at_s, warnings_of(judged), self.iso, self._option, self.rules,
                            int(it.request.priority))

    def notices(self, pending_only: bool = False) -> dict[str, Any]:
        """The ETA notices of this day's plan, oldest first (``GET /notices``)."""
        return {"notices": notice_rows(self.store.notices(self.scope, pending_only), self.iso)}

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

    def job_status(self, job_id: str, status: str, at: dt.datetime | None,
                   expected_end: dt.datetime | None = None) -> dict[str, Any]:
        answer = job_status(self, job_id, status, at, expected_end)
        if status == "cancelled" and self.parts is not None:  # its part is free again (logged: the status)
            self.parts.release(job_id)
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
            if tech_id not in {k.id for k in area.problem.technicians}:
                raise ServiceError(409, f"{off_duty(self.roster[tech_id], self.epoch_date, self.day) or tech_id + ' is not out'}: no visits to re-plan")
            t = max(t, area.clock_s)
            res = area.drop_out(tech_id, t)
            for vid, _ in res.moved:
                self.job_area[vid] = a
            answer = {"technician_id": tech_id, "at": self.iso(t), "at_s": t, "warnings": warnings_of(judged), "area": a,
                      "moved": [{"job_id": v, "technician_id": k} for v, k in res.moved],
                      "unserved": [{"job_id": u.visit_id, "reason_code": u.reason_code, "reason": u.reason}
                                   for u in res.unserved]}
            self._commit([a], "unavailable", tech_id, t, {"area": a}, answer)
        return answer

    # -- views --------------------------------------------------------------------------------

    def plan(self, area_name: str, day: int | None = None) -> dict[str, Any]:
        """One area's plan of the served day, or of a later ``day`` of the slot horizon (its bookings)."""
        self._usable()
        if area_name not in self.areas:
            raise ServiceError(404, f"no area {area_name!r}; areas: {', '.join(sorted(self.areas))}")
        day = self.day if day is None else day
        if not self.day <= day < self.day + self.rules.slot_days:
            raise ServiceError(422, f"day {day} is outside the plans this server holds (days {self.day} to "
                               f"{self.day + self.rules.slot_days - 1})", "day")
        with self._locked([area_name]):
            return area_plan(area_name, self.horizon.areas(day)[area_name], self.iso)

    def violations(self) -> dict[str, list[str]]:
        """The checker on every area's live plan (empty lists: consistent)."""
        out = {}
        for a in sorted(self.areas):
            with self._locked([a]):
                out[a] = check(self.areas[a].checked_problem(), self.areas[a].result())
        for d in self.horizon.later_days():  # the days ahead that hold bookings
            for a, live in sorted(self.horizon.areas(d).items()):
                with self._locked([a]):
                    out[f"{a}@day{d}"] = check(live.checked_problem(), live.result())
        return out

    def kpis(self) -> dict[str, Any]:
        """The day so far as planned: the one-hour rate counts planned departures (a booking of a
        later day counts on its day)."""
        self._usable()

        def calls() -> list[Any]:
            with self._ids:
                return [c for c in self.calls.values() if c.id not in self.horizon.day_of_job]

        return day_kpis(self.areas, self._locked, calls, self.net, self.day)
