"""Offers in the call-intake service: a contracted station's job waits for its answer.

With a dataset whose folder holds ``contracts.csv`` (``dispatch.contracts``), a call the one
decision gives to a contracted station's technician is answered ``offered``: the answer shows
who would go and when, but nobody is committed (the job waits in its area, unassigned with the
code ``offered``, as a station's technician sets off only once it accepts) and the station has
``timeout_min`` (its contract's ``OfferRates``) to answer ``POST /offers/{id}/accept`` or
``POST /offers/{id}/refuse``. Acceptance places the job with the station's best technician at
the answer's time (``planned``; if none of them can still take it, it is re-offered).
A refusal, or an answer after the timeout (the offer lapsed: accept then answers 409 and the
call is re-offered at once), takes the job out of the station's route and decides the call
again at the answer's time, the station struck off for it and the one-hour deadline unchanged
(the clock keeps running); the answer says who has it now (a second offer, own staff, or
unassigned with the reason). Offers are made only within the contract's terms (levels, product
lines, hours, daily jobs, own area, quality), exactly as in the simulation
(``dispatch.contracts.offers.OfferDesk.allow``).

**Lapsed offers** (:meth:`ServiceOffers.lapse_due`): an offer nobody answered by its deadline on
the server's clock lapses and the call is re-offered, as after a refusal, at the server's time
when it is seen (logged as an ``offer`` with action ``lapse``, replayed as the others). The
:class:`OfferTimer` looks every few seconds of wall time while the server runs, and
``GET /offers`` looks before it lists, so no lapsed offer is ever listed as open.

Every answer is committed to the service log before it is acknowledged (kind ``offer``) and
replayed in order after a restart, as calls and field reports are. Without contracts nothing
here changes a decision: no call is ever ``offered``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from dispatch.contracts.model import ContractBook
from dispatch.contracts.offers import OfferDesk
from dispatch.live import InsertionOption, NewCall
from dispatch.live.decision import Dispatched, decide
from dispatch.model import Mode
from dispatch.routing import Unserved



@dataclass
class OpenOffer:
    call_id: str
    area: str
    station_id: str
    technician_id: str
    offered_s: int
    expires_s: int
    payload: dict[str, Any]  # the call's log payload: the exact call, its policy and meta
    refused: list[str] = field(default_factory=list)


def _placed(technician_id: str) -> InsertionOption:
    """A replayed placement: ``LiveArea.place`` reads only the technician of its option."""
    return InsertionOption(technician_id, 0, 0, 0, 0, True, 0, 0, 0)


OFFERED = "offered"  # the unassigned code of a job awaiting its station's answer


def hold(area: Any, call_id: str, t: int) -> None:
    """The job leaves its technician's route and waits in ``area``, unassigned, for the answer:
    nobody sets off for it before ``t``."""
    area.hand_over(call_id)
    area.gone.discard(call_id)  # still the area's visit
    area.release_s[call_id] = t
    area.unassigned[call_id] = Unserved(call_id, OFFERED, "offered to a contracted station; awaiting its answer")


class ServiceOffers:
    """The served day's open offers and the stations' answers."""

    def __init__(self, service: Any, book: ContractBook, error: Callable[[int, str], Exception]) -> None:
        """``service``: the ``LiveService`` that owns this ledger (its areas, locks, log); ``error``
        the exception its API answers with a status (``ServiceError``)."""
        self.svc, self.book, self.error = service, book, error
        self.desk: OfferDesk = OfferDesk(book, service.net, service.dataset.technicians, service.live.travel,
                                         lambda *a: None)
        self.open: dict[str, OpenOffer] = {}
        self.refused: dict[str, list[str]] = {}  # call id -> stations that refused it (or let it lapse)
        self.payloads: dict[str, dict[str, Any]] = {}  # call id -> its call's log payload
        self._sweep = threading.Lock()  # one lapse sweep at a time (the timer and GET /offers)

    def allow(self, county_adcode: str, call: NewCall) -> Callable[[str], bool] | None:
        """Who the decision may give ``call`` to (None: no contracts, anyone)."""
        if not len(self.book):
            return None
        return self.desk.allow(county_adcode, call, set(self.refused.get(call.id, ())))

    def offer_of(self, call_id: str, technician_id: str | None, t: int) -> dict[str, Any] | None:
        """The offer made when ``technician_id`` is a contracted station's (None: own staff)."""
        c = None if technician_id is None or not len(self.book) else self.desk.contract_of(technician_id)
        if c is None:
            return None
        return {"offer_id": call_id, "station_id": c.centre_id, "technician_id": technician_id,
                "expires": self.svc.iso(t + c.offers.timeout_s), "expires_s": t + c.offers.timeout_s}

    def remember(self, call_id: str, payload: dict[str, Any], answer: dict[str, Any], at_s: int) -> None:
        """Index an acknowledged (or replayed) answer's offer."""
        self.payloads.setdefault(call_id, payload)
        o = answer.get("offer")
        if answer.get("status") == "offered" and o:
            self.open[call_id] = OpenOffer(call_id, answer["area"], o["station_id"], o["technician_id"], at_s,
                                           o["expires_s"], payload, list(self.refused.get(call_id, ())))

    def listing(self) -> list[dict[str, Any]]:
        if self.svc.lease is not None:  # a writer: what has lapsed is re-offered before it is listed
            self.lapse_due()
        return [{"offer_id": o.call_id, "station_id": o.station_id, "technician_id": o.technician_id,
                 "area": o.area, "offered": self.svc.iso(o.offered_s), "expires": self.svc.iso(o.expires_s),
                 "expires_s": o.expires_s} for o in sorted(self.open.values(), key=lambda o: o.expires_s)]

    # -- answers ------------------------------------------------------------------------------

    def answer(self, offer_id: str, action: str, at: Any) -> dict[str, Any]:
        """A station's ``accept`` or ``refuse`` (module docstring); ServiceError 404/409 else."""
        svc = self.svc
        svc._usable()
        t = svc.at_s(at).at_s
        o = self.open.get(offer_id)
        if o is None:
            known = svc.calls.get(offer_id)
            raise self.error(409 if known else 404, f"no open offer {offer_id!r}" + (
                f"; the call is {known.answer.get('status')} (an offer is answered once)" if known else
                "; an offer is a call answered 'offered' by POST /calls"))
        got, accepted = self._resolve(o, action, t)
        if action == "accept" and not accepted:
            raise self.error(409, f"offer {offer_id!r} lapsed at {svc.iso(o.expires_s)}; the call was re-offered: "
                               f"{got['status']} {got.get('technician_id') or got.get('reason', '')}")
        return got

    def lapse_due(self) -> list[dict[str, Any]]:
        """Lapse every open offer whose deadline has passed on the server's clock, earliest first:
        each call is re-offered at the server's time, without the station (module docstring).
        Returns the answers (an offer answered meanwhile is skipped)."""
        if not self.open:
            return []
        out = []
        with self._sweep:
            now = self.svc.now_s()
            for o in sorted((o for o in self.open.values() if o.expires_s < now), key=lambda o: (o.expires_s, o.call_id)):
                if self.open.get(o.call_id) is o:
                    self.svc._usable()
                    out.append(self._resolve(o, "lapse", now)[0] | {"lapsed_at": self.svc.iso(o.expires_s)})
        return out

    def _resolve(self, o: OpenOffer, action: str, t: int) -> tuple[dict[str, Any], bool]:
        """Apply ``action`` (accept, refuse, lapse) to offer ``o`` at ``t``, log it and settle the
        ledger; (the answer, whether the acceptance held)."""
        svc, offer_id = self.svc, o.call_id
        call = NewCall(**o.payload["call"])
        names = sorted(set(svc.live.find_areas(call.lon, call.lat)) | {o.area})
        with svc._locked(names):
            if self.open.get(offer_id) is not o:  # answered (or lapsed) while this one waited for the lock
                raise self.error(409, f"offer {offer_id!r} was answered meanwhile (an offer is answered once)")
            t = max(t, svc.areas[o.area].clock_s)
            accepted = action == "accept" and t <= o.expires_s
            got = self._decide(o, call, names, t, accepted)
            if accepted and got["status"] == "planned":
                got |= {"station_id": o.station_id}
            else:
                got |= {"previous_station_id": o.station_id,
                        "previous": "no longer fits" if accepted else "lapsed" if t > o.expires_s else "refused"}
            got |= {"offer_id": offer_id, "at": svc.iso(t), "at_s": t}
            payload = {"action": action, "area": o.area, "names": names, "to_area": got.get("area"),
                       "technician_id": got.get("technician_id"), "policy": o.payload["policy"]}
            svc._commit(names, "offer", offer_id, t, payload, got)
            self._settle(o, got, t)
        return got, accepted

    def _decide(self, o: OpenOffer, call: NewCall, names: list[str], t: int, accepted: bool) -> dict[str, Any]:
        """Decide the held call again at ``t``: with the accepting station's technicians only, or
        (refused, lapsed, or accepted but no longer fitting) without the station."""
        svc = self.svc
        station_of = self.desk.station_of
        meta = o.payload["call_meta"]
        # An area that already holds the call (a station there refused it before) is not asked again.
        lives = {n: svc.areas[n] for n in names if n == o.area or not svc.areas[n].holds(call.id)}
        svc.areas[o.area].release_s[call.id] = t  # nobody sets off before the answer

        def again(allow: Callable[[str], bool]) -> Any:
            return decide(replace(call, release_s=t), lives, list(lives), t, svc.rules, svc.live.repairs_at_home,
                          mode=Mode(meta["mode"]), device_level=meta["level"], home=o.area, allow=allow,
                          may_collect=svc.rules.may_collect(meta["mode"], call.required_level))
        decision = again(lambda tid: station_of[tid] == o.station_id) if accepted else None
        if not isinstance(decision, Dispatched):
            refused = {*o.refused, o.station_id}
            self.refused[call.id] = sorted(refused)
            decision = again(self.desk.allow(o.payload.get("county", ""), call, refused))
        if isinstance(decision, Dispatched):
            out = {"status": "planned", "area": decision.area, **svc._option(decision.area, decision.option)}
            offer = None if decision.technician_id in self._station_techs(o.station_id) and accepted else \
                self.offer_of(call.id, decision.technician_id, t)
            if offer:  # offered again, to the next station: it waits for that one's answer
                hold(svc.areas[decision.area], call.id, t)
                return out | {"status": "offered", "offer": offer}
            return out
        return {"status": "unassigned", "area": o.area, "technician_id": None, "reason_code": decision.reason.value,
                "reason": decision.sentence}

    def _station_techs(self, station_id: str) -> set[str]:
        return {t for t, c in self.desk.station_of.items() if c == station_id}

    def _settle(self, o: OpenOffer, got: dict[str, Any], t: int) -> None:
        del self.open[o.call_id]
        if got.get("status") != "planned":
            self.refused[o.call_id] = sorted({*o.refused, o.station_id})
        if got.get("area"):
            self.svc.job_area[o.call_id] = got["area"]
        self.remember(o.call_id, o.payload, got, t)

    def replay(self, key: str, at_s: int, payload: dict[str, Any], answer: dict[str, Any], names: set[str],
               full: bool) -> None:
        """Apply a logged answer to the areas in ``names`` as it was applied, and to the ledger
        when the whole log is replayed (``full``; a partial rebuild leaves the ledger as it is)."""
        svc = self.svc
        for a in payload["names"]:
            if a in names:
                svc.areas[a].advance(max(svc.areas[a].clock_s, at_s))
        home, to, tech = payload["area"], payload.get("to_area"), payload.get("technician_id")
        if home in names:
            svc.areas[home].release_s[key] = at_s
            if tech is None:
                svc.areas[home].unassigned[key] = Unserved(key, answer["reason_code"], answer["reason"])
            elif to == home:
                svc.areas[home].place(key, _placed(tech), policy=payload["policy"])
            else:
                svc.areas[home].hand_over(key)
        if tech is not None and to != home and to in names:
            call = NewCall(**self.payloads[key]["call"])
            svc.areas[to].insert_with(replace(call, release_s=at_s), tech, payload["policy"])
        if answer.get("status") == OFFERED and to in names:
            hold(svc.areas[to], key, at_s)
        if full and key in self.open:
            self._settle(self.open[key], answer, at_s)

    def held(self, area: Any, call_id: str, answer: dict[str, Any], t: int) -> None:
        """A call answered ``offered`` (live or replayed): its job waits in ``area`` for the answer."""
        if answer.get("status") == OFFERED:
            hold(area, call_id, t)


class OfferTimer:
    """Lapses due offers (:meth:`ServiceOffers.lapse_due`) every ``every_s`` seconds of wall time
    in a daemon thread until stopped; a store that cannot be written (503) is retried at the next
    beat."""

    def __init__(self, offers: ServiceOffers, every_s: float = 5.0) -> None:
        self.offers, self.every_s = offers, every_s
        self.error: Exception | None = None  # the last failed sweep's, None after a good one
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="offer-timer", daemon=True)

    def start(self) -> OfferTimer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.offers.lapse_due()
                self.error = None
            except Exception as exc:  # noqa: BLE001 (a sweep that failed is tried again; the server stays up)
                self.error = exc
