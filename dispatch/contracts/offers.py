"""Offers: a job for a contracted station is offered, and the station accepts, refuses or lets it lapse.

The one call decision (``dispatch.live.decision.decide``, or the same-physics dispatcher's
nearest free technician) ranks who could take a call. When the winner belongs to a contracted
station (``ContractBook``), the call is not simply given to him:

1. the station is **offered** the job at the call's release; it answers after a while drawn
   from its :class:`~dispatch.contracts.model.OfferRates` (the simulation; the service hears the
   real answer, ``dispatch.service.offers``): it **accepts**, **refuses**, or the offer **times
   out**;
2. on acceptance the job goes to the station's best technician, who cannot set off before the
   answer came;
3. on refusal or timeout the station is struck off for this call and the call is **re-offered**
   to the next best option at the time of the answer, the one-hour clock still running from
   where it started (the call's deadline never moves: time lost to refusals is a late dispatch,
   and the one-hour rate counts it).

How the planner offers (what a dispatcher would do, not only what the contract allows):

* **the slot is held** while the station decides (``Hold``; the live plan's stand-in visit, which
  sets off no earlier than the latest answer): offers made at the same moment, the morning's
  backlog above all, no longer all count on the same free technician, every acceptance after
  the first finding him gone and the job late;
* **the territory is a first offer, not a wall**: once the territory's station refused or let a
  call lapse, or when no station the territory allows can keep the promise (closed, full or too
  far behind), neighbouring contracted stations of the prefecture may be offered it
  (``ContractBook.reoffer_roam``; each free to refuse a job outside its county); "county"
  keeps every offer in the territory, own staff taking what its station cannot.

A contracted station is offered only jobs its contract covers: levels and product lines it is
authorised for, within its own opening hours, below its daily job capacity, within its own area
(its territory: its county, and the customers it is the nearest county station to, as a county
without a station of its own is served by the nearest one; unless the contract's ``roam`` allows
its prefecture or anywhere), and only while
its quality score is at or above the book's floor. The maker's own technicians take a job at once.

**Cost against time.** Among the options that keep the promise, the optimiser compares the best
own technician with the best contracted station by ``cost + turnaround_cny_per_h x arrival``
(``CostRates.turnaround_cny_per_h``, :func:`weigh`): it sends the cheaper one unless the faster
one saves more hours than its extra cost buys. Between two own technicians (or two stations) the
decision's own ranking stands, so a dataset without contracts is decided exactly as before. The
cost of an option is estimated at the decision (:meth:`OfferDesk.cost_cny`): an own technician's
added driving and the work at the door at his tier's wage, his added kilometres (driving time at
the speed class's nominal speed) at its per-km rate, overtime at 150 %; a contracted station's fee
for the job (``Fees.job_cny``: level, channel, kilometres beyond its radius) over its quality
score (a job done twice is paid twice).
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, NamedTuple, Protocol, TypeVar

import numpy as np

from dispatch.contracts.model import ROAMS, Contract, ContractBook, OfferRates
from dispatch.live.calls import InsertionOption, NewCall
from dispatch.live.decision import Decision, Dispatched
from dispatch.model import DAY_S, Centre, Mode, Request, Technician, Tier
from dispatch.network import CentreIndex, Network
from dispatch.rules import DEFAULT_COST_RATES, CostRates
from dispatch.travel import DEFAULT_SPEEDS_KMH, Travel

ACCEPTED, REFUSED, TIMEOUT = "accepted", "refused", "timeout"
# The event log's names (dispatch.simulate's log: request_id, t_s, event, where, detail).
EVENTS = {"offer": "offered", ACCEPTED: "offer_accepted", REFUSED: "offer_refused", TIMEOUT: "offer_timeout",
          "lapsed": "offer_lapsed"}

R = TypeVar("R")


class Choice(NamedTuple):
    """One technician's best way of taking a call, as a decision ranks it."""

    technician_id: str
    eta_s: int
    late_s: int = 0
    added_travel_s: int = 0
    overtime_s: int = 0
    departure_s: int = 0  # when he would set off (the live plan's; 0: not known)
    area: str = ""  # the live area whose plan holds him ("": none, the whiteboard dispatcher)


class Answer(NamedTuple):
    kind: str  # accepted | refused | timeout
    after_s: int  # seconds from the offer to the answer (the timeout, when it lapses)


@dataclass(frozen=True)
class Pending:
    """The call waits for a station's answer: decide it again at ``call.release_s``."""

    call: NewCall


def draw_answer(rates: OfferRates, seed: int, call_id: str, station_id: str, attempt: int = 0) -> Answer:
    """A station's answer to an offer, the same for the same seed, call, station and attempt
    (both policies of a simulation draw the same answers): accepted with ``rates.accept``,
    refused with ``rates.refuse``, else a timeout; answered after U(0.5, 1.5) x ``response_s``
    (at most the timeout), a timeout after exactly ``timeout_s``."""
    rng = np.random.default_rng([seed, zlib.crc32(call_id.encode()), zlib.crc32(station_id.encode()), attempt])
    u, spread = rng.random(), rng.uniform(0.5, 1.5)
    after = min(rates.timeout_s, max(1, round(spread * rates.response_s)))
    if u < rates.accept:
        return Answer(ACCEPTED, after)
    if u < rates.accept + rates.refuse:
        return Answer(REFUSED, after)
    return Answer(TIMEOUT, rates.timeout_s)


def weigh(choices: Sequence[Choice], is_contracted: Callable[[str], bool], cost_cny: Callable[[Choice], float],
          turnaround_cny_per_h: float) -> Choice:
    """The option to take among ``choices`` (the decision's ranking, best first): the best,
    unless it keeps the promise and the best option on the other side (own vs contracted) that
    also keeps it scores lower on ``cost_cny + turnaround_cny_per_h x eta_s / 3600``. Ties keep
    the best. Break-even: with the best arriving ``dh`` hours earlier at ``dc`` CNY more than its
    rival, the decision moves to the cheaper rival exactly when the weight falls below dc / dh."""
    best = choices[0]
    if best.late_s > 0:
        return best
    side = is_contracted(best.technician_id)
    rival = next((c for c in choices if c.late_s == 0 and is_contracted(c.technician_id) != side), None)
    if rival is None:
        return best

    def score(c: Choice) -> float:
        return cost_cny(c) + turnaround_cny_per_h * c.eta_s / 3600

    return rival if score(rival) < score(best) else best


def decision_choices(decision: Decision, mode: Mode) -> list[Choice]:
    """The options a live decision on a call of ``mode`` weighed, best first (its winner first);
    one for a collection (rule 7: the alternatives are on-site offers, not the same job); none
    when nobody can."""
    if not isinstance(decision, Dispatched):
        return []
    first = _choice(decision.option, decision.area)
    if decision.visit_mode != mode:
        return [first]
    return [first, *(_choice(o.option, o.area) for o in decision.alternatives
                     if o.option.technician_id != first.technician_id)]


def _choice(o: InsertionOption, area: str) -> Choice:
    return Choice(o.technician_id, o.eta_s, o.late_s, o.added_travel_s, o.overtime_s, o.departure_s, area)


class Hold(Protocol):
    """A plan's reservation of an offered technician's slot while his station decides: the
    offers made at the same moment (the morning's backlog) would otherwise all count on the same
    free technician, and every acceptance after the first would find him gone."""

    def reserve(self, stand_in: NewCall, choice: Choice) -> object:
        """Put ``stand_in`` (the offered call under an id of its own, its ``release_s`` after the
        latest answer: nobody sets off toward it) in ``choice``'s route; returns what
        :meth:`release` takes."""

    def release(self, token: object) -> None:
        """Take the stand-in out again (the answer came)."""


@dataclass
class _OfferState:
    day: int
    refused: set[str] = field(default_factory=set)
    accepted: str | None = None  # the station whose acceptance is awaited at the call's release
    attempts: int = 0
    held: object = None  # the slot reserved in the offered technician's route until the answer


class OfferDesk(Generic[R]):
    """The offers of a run: who may be offered a call, the stations' answers and their capacity used.

    :meth:`step` is given the decision as ``ask(call, allow, probe)`` (a probe ranks without
    placing) and ``choices(result)`` reading a result's options; it returns the placed result,
    or :class:`Pending` when the call must wait for a station's answer."""

    def __init__(self, book: ContractBook, network: Network, technicians: Sequence[Technician], travel: Travel,
                 log: Callable[[str, int, str, str, str], None], seed: int = 0,
                 rates: CostRates = DEFAULT_COST_RATES, weigh_cost: bool = True) -> None:
        self.book, self.network, self.travel, self.log, self.seed, self.rates = book, network, travel, log, seed, rates
        self.weigh_cost = weigh_cost
        self.tech = {t.id: t for t in technicians}
        self.station_of = {t.id: t.home_centre_id for t in technicians}
        self.booked: Counter[tuple[str, int]] = Counter()  # (station, day) -> jobs accepted
        self.asked: Counter[tuple[str, str]] = Counter()  # (call, station) -> offers made: each a fresh draw
        self.state: dict[str, _OfferState] = {}
        county = tuple(c for c in network if c.tier == Tier.COUNTY)
        self._stations = CentreIndex(county) if county else None
        self._territory: dict[str, str] = {}  # call id -> the county station nearest the customer

    def contract_of(self, technician_id: str) -> Contract | None:
        return self.book.get(self.station_of[technician_id])

    def is_contracted(self, technician_id: str) -> bool:
        return self.station_of[technician_id] in self.book

    def may_offer(self, c: Contract, county_adcode: str, call: NewCall, now_s: int, reoffer: bool = False) -> bool:
        """Whether station ``c`` may be offered ``call`` (a customer in ``county_adcode``; "":
        unknown, anywhere) at ``now_s`` (module docstring); ``reoffer``: another station has
        already refused it (the book's ``reoffer_roam`` then widens a territory)."""
        if not (c.authorised(call.required_level, call.required_skill) and c.open_at(now_s)
                and self.booked[c.centre_id, now_s // DAY_S] < c.daily_jobs and c.quality >= self.book.min_quality):
            return False
        station = self.network[c.centre_id]
        roam = c.roam
        if reoffer and ROAMS.index(self.book.reoffer_roam) > ROAMS.index(roam):
            roam = self.book.reoffer_roam
        if roam == "any" or not county_adcode:
            return True
        if roam == "prefecture":
            return county_adcode[:4] == (station.prefecture_adcode or station.county_adcode)[:4]
        return county_adcode == station.county_adcode or self.nearest_station(call) == c.centre_id

    def nearest_station(self, call: NewCall) -> str | None:
        """The county station nearest the customer (straight line): whose territory the call is in."""
        if call.id not in self._territory:
            if self._stations is None:
                return None
            j = np.atleast_1d(self._stations.nearest(np.array([call.lon]), np.array([call.lat]))[0])[0]
            self._territory[call.id] = self._stations.centres[int(j)].id
        return self._territory[call.id]

    def allow(self, county_adcode: str, call: NewCall, refused: set[str],
              reoffer: bool | None = None) -> Callable[[str], bool]:
        """Whether a technician may be given ``call`` now: own staff always; a contracted
        station's only if it has not ``refused`` the call and :meth:`may_offer` says so (as a
        re-offer when ``reoffer``; default: once a station refused it)."""
        memo: dict[str, bool] = {}
        wider = bool(refused) if reoffer is None else reoffer

        def allow(technician_id: str) -> bool:
            cid = self.station_of[technician_id]
            if cid not in memo:
                c = self.book.get(cid)
                memo[cid] = c is None or (cid not in refused and self.may_offer(c, county_adcode, call, call.release_s,
                                                                                 reoffer=wider))
            return memo[cid]
        return allow

    def cost_cny(self, choice: Choice, r: Request, call: NewCall) -> float:
        """The estimated cost of giving ``call`` to ``choice`` (module docstring)."""
        t = self.tech[choice.technician_id]
        home = self.network[t.home_centre_id]
        c = self.book.get(home.id)
        if c is None:
            km = choice.added_travel_s / 3600 * DEFAULT_SPEEDS_KMH.get(t.speed_class, 40.0)
            return self.rates.technician_cny(home.tier, choice.added_travel_s + call.service_s, km, t.speed_class,
                                             choice.overtime_s)
        return self.fee_cny(c, home, r, r.mode.value) / max(c.quality, 1e-6)

    def fee_cny(self, c: Contract, station: Centre, r: Request, channel: str) -> float:
        """The contract's fee for ``r`` served through ``channel``: repaired at the station when
        it can do the level, else handed over; kilometres as the station drives to the customer."""
        level = r.level if station.can_repair(r.level) and r.level in c.levels else None
        km = 0.0
        if channel == Mode.ONSITE:
            km = float(np.atleast_1d(self.travel.legs(station.lon, station.lat, r.lon, r.lat, "car")[1])[0]) / 1000
        return c.fees.job_cny(level, channel, km)

    def step(self, r: Request, call: NewCall, ask: Callable[..., R], choices: Callable[[R], list[Choice]],
             hold: Hold | None = None) -> R | Pending:
        """Place ``call`` (``r`` the request behind it) by the module's rules, or leave it pending;
        ``hold`` reserves the offered technician's slot until the answer (module docstring)."""
        now, day = call.release_s, call.release_s // DAY_S
        st = self.state.get(call.id)
        if st is not None and st.held is not None and hold is not None:  # the answer is in: the slot is free again
            hold.release(st.held)
            st.held = None
        if st is None or st.day != day:  # a call carried over starts afresh: yesterday's refusals lapse
            st = self.state[call.id] = _OfferState(day)
        if st.accepted is not None:  # the station said yes: its technician takes the job
            station, st.accepted = st.accepted, None
            got = ask(call, lambda t: self.station_of[t] == station, False)
            if choices(got):
                self.booked[station, day] += 1
                del self.state[call.id]
                return got
            self.log(call.id, now, EVENTS["lapsed"], station, "accepted, but the station can no longer fit it in; re-offered")
            st.refused.add(station)
        allow = self.allow(r.county_adcode, call, st.refused)
        options = choices(ask(call, allow, True))
        if (not st.refused and self.book.reoffer_roam != "county"
                and not any(o.late_s == 0 and self.is_contracted(o.technician_id) for o in options)):
            # No station the territory allows can keep the promise (closed, full, or too far
            # behind): as good as a refusal, so the neighbours may be offered it now (own staff
            # stay among the options, and the cost weighs the two).
            wider = self.allow(r.county_adcode, call, st.refused, reoffer=True)
            more = choices(ask(call, wider, True))
            if more:
                allow, options = wider, more
        if not options:
            return ask(call, allow, False)  # nobody: the decision's own answer (its reason)
        pick = options[0]
        if self.weigh_cost:
            pick = weigh(options, self.is_contracted, lambda ch: self.cost_cny(ch, r, call),
                         self.rates.turnaround_cny_per_h)
        contract = self.contract_of(pick.technician_id)
        if contract is None:
            del self.state[call.id]
            return ask(call, lambda t: t == pick.technician_id, False)
        station = contract.centre_id
        answer = draw_answer(contract.offers, self.seed, call.id, station, self.asked[call.id, station])
        self.asked[call.id, station] += 1
        st.attempts += 1
        deadline = "" if call.dispatch_deadline_s is None else f"; set-off deadline t={call.dispatch_deadline_s} s"
        planned = f"; {pick.technician_id} to set off at t={pick.departure_s} s" if pick.departure_s else ""
        self.log(call.id, now, EVENTS["offer"], station,
                 f"offer {st.attempts} to contracted station {station}{deadline}{planned}")
        t = now + answer.after_s
        if hold is not None:  # nobody else is given his slot while the station decides
            stand_in = replace(call, id=f"{call.id}#offer{st.attempts}", release_s=now + contract.offers.timeout_s + 1)
            st.held = hold.reserve(stand_in, pick)
        if answer.kind == ACCEPTED:
            st.accepted = station
            self.log(call.id, t, EVENTS[ACCEPTED], station, f"accepted after {answer.after_s // 60} min")
        else:
            st.refused.add(station)
            self.log(call.id, t, EVENTS[answer.kind], station,
                     f"{answer.kind} after {answer.after_s // 60} min; re-offered to the next best option, "
                     "the one-hour clock still running")
        return Pending(replace(call, release_s=t))


def trip_choices(trip: tuple | None) -> list[Choice]:  # type: ignore[type-arg]
    """The same-physics dispatcher's pick (``baseline.send_nearest_free``: state, set-off,
    arrival, end) as the only option; none when nobody is free."""
    if trip is None:
        return []
    st, depart, arrive, end = trip
    return [Choice(st.tech.id, arrive, 0, arrive - depart, max(0, end - st.shift_end_s), depart)]


def offer_desk(book: ContractBook, network: Network, technicians: Sequence[Technician], travel: Travel,
               log: Callable[[str, int, str, str, str], None], seed: int = 0) -> OfferDesk | None:
    """The run's desk, or None when the book is empty (every centre own: no offers, as before)."""
    return OfferDesk(book, network, technicians, travel, log, seed) if len(book) else None


Trip = tuple  # what baseline.send_nearest_free returns: (state, set-off, arrival, end)


def place(desk: OfferDesk | None, r: Request, call: NewCall, ask: Callable[..., R],
          choices: Callable[[R], list[Choice]], hold: Hold | None = None) -> R | Pending:
    """``call`` placed by ``ask`` as before when there is no desk, else through its offers."""
    return ask(call) if desk is None else desk.step(r, call, ask, choices, hold)
