"""The parts in the simulation (``dispatch.simulate`` calls these hooks; ``NoParts`` when a
dataset has none, so a run without parts is the run it always was).

Where a job's part comes from, in order of the promise it gives (``PartsSim.source``):

1. on the technician's van (on-site calls prefer the technician whose van holds it), or on hand
   where the device is repaired: held for the job at once;
2. else whichever arrives first: a unit already on its way to that centre, a lateral transfer
   from another centre of the province that has one (courier lane), or a unit ordered for the
   job from the national warehouse (its lane; the warehouse's factory delivery when it has none).
   The log says ``waiting_for_part`` with the part, where it comes from and its ETA.

An on-site call whose technician has the part neither on his van nor at his centre is collected
for the bench (the part is sourced there). The device's repair centre in the chain is the one
that finishes soonest with the part's ETA counted ("send the job where the part is"). A device
whose repair would keep its customer past ``Rules.swap_after_s`` gets a loaner from the station
when it has one: the customer's turnaround ends there. The 三包 rules at intake
(``Rules.sanbao``) refund, exchange (a handset from stock), repair or quote first. Stock-outs,
shipments (with their lane's pickup: a missed cut-off waits for the next day), arrivals and
lateral transfers are events of the log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from dispatch.hours import opening_start
from dispatch.model import DAY_S, Centre, Mode, Request, Tier
from dispatch.parts.catalogue import LOANER, uniform
from dispatch.parts.lanes import DeviceLegs, Lanes, Shipment, lateral_neighbours, points_of
from dispatch.parts.stock import NATIONAL, VAN_REFILL_S, Ledger, is_van, van
from dispatch.parts.world import PartsData, intake_route
from dispatch.rules import EXCHANGE, QUOTE, REFUND, REPAIR

# The outcome columns a parts run adds (dispatch.kpis reads them).
PART_COLUMNS = ("part_id", "part_source", "part_tier", "part_wait_s", "swapped", "sanbao_rule")
SOURCES = ("van", "stock", "inbound", "lateral", "order")  # first two: a first-pick fill
LATERAL_FROM = 8
NEIGHBOURS_VISITING = 3  # centres whose technicians may take a call beside its station's


class NoParts:
    """Parts off: every hook does nothing (devices ride the per-tier shuttle: ``device_legs`` None)."""

    def __init__(self) -> None:
        self.handlers: dict[str, Callable[..., None]] = {}
        self.device_legs: DeviceLegs | None = None

    def intake(self, rid: str, t: int, station_id: str) -> bool:
        return False

    def ready(self, rid: str, centre: Centre, arrive_s: int) -> int:
        return arrive_s

    def reserve(self, rid: str, station_id: str, centre: Centre, t: int, arrive_s: int) -> None:
        pass

    def wait(self, rid: str, t: int, payload: tuple) -> bool:
        return False

    def fitted(self, rid: str, t: int, used: bool) -> None:
        pass

    def completion(self, rid: str, t: int) -> int:
        return t

    def on_site(self, r: Request, technician_id: str, t: int) -> bool:
        return True

    def holder(self, r: Request) -> Callable[[str], bool] | None:
        return None

    def visit_at(self, r: Request, t: int) -> int | None:
        return None

    def columns(self, outcomes: pd.DataFrame) -> pd.DataFrame:
        return outcomes

    def stock_frame(self) -> pd.DataFrame | None:
        return None


class PartsSim(NoParts):
    """Parts on (module docstring). ``world`` is the simulation's world: its queue, log,
    outcomes, network, roster, rules, seed and field ledger."""

    def __init__(self, world: Any, parts: PartsData) -> None:
        self.w, self.data, self.cat = world, parts, parts.catalogue
        self.rules, self.seed = world.p.rules, world.p.seed
        net = world.net
        self.home = {t.id: t.home_centre_id for t in world.ds.technicians}
        self.crew: dict[str, list[str]] = {}  # centre -> its field technicians (their vans)
        for t in world.ds.technicians:
            if t.role == "field":
                self.crew.setdefault(t.home_centre_id, []).append(t.id)
        self.booked: set[str] = set()  # on-site calls whose visit waits for their part (visit_at)
        self.lanes = Lanes(points_of(tuple(net), parts.national), world.travel, parts.lane_params, parts.lane_table, seed=self.seed)
        self.device_legs = DeviceLegs(self.lanes)  # devices up and down the chain by lane too
        self.ledger = Ledger(parts.levels, self._supplier, self._ship,
                             lambda tr: world.push(tr.arrive_s, "part_arrives", tr.job.split("#")[0], (tr.id,)))
        # Lateral transfers come from the province's centres nearest by road first (LATERAL_FROM of them).
        self.province = lateral_neighbours(tuple(net), world.travel, LATERAL_FROM)
        self.rows: dict[str, dict[str, Any]] = {}
        self.parcels: set[tuple[str, str, str, int]] = set()  # (origin, dest, service, pickup) paid for
        self.waiting: dict[str, tuple[int, tuple]] = {}  # job -> (since, its at_repair payload)
        self.swapped: dict[str, int] = {}
        self.settled: set[str] = set()  # 三包 applied
        self.stock_rows: list[dict[str, Any]] = []
        self.handlers = {"part_arrives": self._on_arrive, "faulty_back": self._on_faulty_back,
                         "sanbao_done": self._on_sanbao_done, "stock_day": self._on_stock_day}
        self._tier = {c.id: int(c.tier) for c in net}
        days = sorted({r.created_s // DAY_S for r in world.ds.requests})
        for d in range(days[0], days[-1] + world.p.drain_days + 1) if days else ():
            world.push((d + 1) * DAY_S - 1, "stock_day", "")

    # -- lanes and suppliers ---------------------------------------------------------------

    def _supplier(self, location: str) -> str:
        return self.home[location[len("van:"):]] if is_van(location) else NATIONAL

    def _ship(self, origin: str, dest: str, part: str, ready_s: int, key: str) -> tuple[int, int, float]:
        if is_van(dest):  # refilled at his centre before tomorrow's shift: no courier
            at = (ready_s // DAY_S + 1) * DAY_S + VAN_REFILL_S
            return at, at, 0.0
        s = self.lanes.ship(origin, dest, ready_s, key)
        self.w.event(key.split(":")[-1], ready_s, "part_shipped", origin,
                     f"{part} to {dest} by {s.lane.service}: picked up {_clock(s.pickup_s)}, due {_clock(s.eta_s)}"
                     + (" (a day late)" if s.arrive_s > s.eta_s else ""))
        return s.arrive_s, s.eta_s, self._parcel_cny(s)

    def _parcel_cny(self, s: Shipment) -> float:
        """A lane's price once per parcel: units between the same two places on the same pickup
        share one box (the first pays it), as a centre's daily replenishment does."""
        key = (s.lane.origin, s.lane.dest, s.lane.service, s.pickup_s)
        if key in self.parcels:
            return 0.0
        self.parcels.add(key)
        return s.lane.price_cny

    def _eta(self, origin: str, dest: str, ready_s: int) -> int:
        return self.lanes.ship(origin, dest, ready_s).eta_s

    # -- the job's part --------------------------------------------------------------------

    def _row(self, rid: str) -> dict[str, Any]:
        return self.rows.setdefault(rid, {"part_id": "", "part_source": "", "part_tier": np.nan, "part_wait_s": 0.0,
                                          "swapped": False, "sanbao_rule": ""})

    def _need(self, rid: str) -> str | None:
        r = self.w.req[rid]
        if not r.device_model or rid in self.w.field.nff:  # the bench found no fault: no part
            return None
        return self.cat.need(self.seed, rid, r.device_model, self.w.field.level_of(rid))

    def options(self, part: str, centre_id: str, t: int) -> list[tuple[int, str, Any]]:
        """(ETA, source, what) of every way ``part`` can reach ``centre_id`` from ``t``, best first."""
        if self.ledger.free(centre_id, part) > 0:
            return [(t, "stock", None)]
        out: list[tuple[int, str, Any]] = []
        inbound = self.ledger.inbound(centre_id, part)
        if inbound:
            out.append((inbound[0].arrive_s, "inbound", inbound[0]))
        for other in self.province[centre_id]:
            if self.ledger.free(other, part) > 0:
                out.append((self._eta(other, centre_id, t), "lateral", other))
        if self.ledger.free(NATIONAL, part) > 0:
            out.append((self._eta(NATIONAL, centre_id, t), "order", None))
        else:
            nat = self.ledger.inbound(NATIONAL, part)
            at = nat[0].arrive_s if nat else t + self.ledger.levels.factory_lead_s
            out.append((self._eta(NATIONAL, centre_id, at), "order", None))
        return sorted(out, key=lambda o: (o[0], SOURCES.index(o[1])))

    def source(self, job: str, part: str, centre_id: str, t: int) -> tuple[int, str]:
        """Hold or bring ``part`` to ``centre_id`` for ``job``: (ETA, source), logged."""
        eta, how, what = self.options(part, centre_id, t)[0]
        led = self.ledger
        if how == "stock":
            led.hold(job, centre_id, part, t)
            return t, how
        led.stockouts += 1
        led.expedited += how != "inbound"
        self.w.event(job.split("#")[0], t, "stockout", centre_id, f"no {part} on hand")
        if how == "inbound":
            led.claim(job, what, centre_id, t)
            eta = what.arrive_s
        elif how == "lateral":
            eta = led.send(what, centre_id, part, t, job).arrive_s
        else:
            tr = led.order(centre_id, part, t, job)
            eta = tr.arrive_s if tr is not None else eta
        self.w.event(job.split("#")[0], t, "waiting_for_part", centre_id,
                     f"{part} by {how}{' from ' + what if how == 'lateral' else ''}, ETA {_clock(eta)}")
        return eta, how

    # -- hooks -----------------------------------------------------------------------------

    def holder(self, r: Request) -> Callable[[str], bool] | None:
        part = self.cat.need(self.seed, r.id, r.device_model, r.level) if r.device_model else None
        if part is None or r.mode != Mode.ONSITE:
            return None
        return lambda tid: self.ledger.free(van(tid), part) > 0 or self.ledger.free(self.home.get(tid, ""), part) > 0

    def visit_at(self, r: Request, t: int) -> int | None:
        """An on-site repair whose part is on no van of its station's technicians nor on the
        station's shelf: when the visit should be booked, the part sourced to the station for it
        (``Rules.onsite_waits_for_part``), or None (visit now; or collect, when the bench would
        hand the phone back sooner)."""
        if not self.rules.onsite_waits_for_part or r.mode != Mode.ONSITE or not r.device_model \
                or r.id in self.booked or r.level > self.rules.onsite_max_level:
            return None
        if self._sanbao(r)[0] in (REFUND, EXCHANGE):
            return None
        part = self.cat.need(self.seed, r.id, r.device_model, r.level)
        station = self.w.nearest[r.id].id
        if part is None:
            return None
        # A technician of the station or of its nearest neighbours (the decision's candidates
        # prefer him) has it on his van or shelf: visit now.
        for centre in (station, *self.province[station][:NEIGHBOURS_VISITING]):
            if self.ledger.free(centre, part) > 0 \
                    or any(self.ledger.free(van(tid), part) > 0 for tid in self.crew.get(centre, ())):
                return None
        eta, how, _ = self.options(part, station, t)[0]
        if how == "order" and self.ledger.free(NATIONAL, part) == 0:
            return None  # the warehouse owes it too: no date to book (collected, as before)
        bench = self.w.bench_return_estimate(r, station, t + self.rules.part_visit_s)
        if bench is not None and eta + self.rules.part_visit_s > bench:
            return None  # the bench would be sooner: collected (on_site says so)
        self.booked.add(r.id)
        at, how = self.source(r.id, part, station, t)
        tr = next((x for x in self.ledger.transit.values() if x.job == r.id), None)
        at = max(t, at if tr is None else tr.arrive_s)  # booked when the parcel really comes
        row = self._row(r.id)
        row.update(part_id=part, part_source=how, part_tier=self._tier[station], part_wait_s=float(at - t))
        self.w.event(r.id, t, "visit_booked", station, f"when {part} is in, {_clock(at)}")
        return at

    def on_site(self, r: Request, technician_id: str, t: int) -> bool:
        """A technician takes an on-site call: False when it must be collected for the bench
        instead (no part on his van or at his centre; a 三包 refund or exchange)."""
        if r.mode != Mode.ONSITE or not r.device_model:
            return True
        if self._sanbao(r)[0] in (REFUND, EXCHANGE):
            return False
        part = self.cat.need(self.seed, r.id, r.device_model, r.level)
        if part is None:
            return True
        if r.id in self.booked:  # booked for when its part is in (the day's arrivals run after its dispatches)
            return True
        row = self._row(r.id)
        row["part_id"], row["part_tier"] = part, self._tier[self.home[technician_id]]
        for loc, how in ((van(technician_id), "van"), (self.home[technician_id], "stock")):
            if self.ledger.free(loc, part) > 0:
                self.ledger.release(r.id)  # a re-booked visit: the unit held before goes back
                self.ledger.hold(r.id, loc, part, t)
                row["part_source"] = how
                return True
        self.ledger.stockouts += 1
        self.w.event(r.id, t, "stockout", technician_id, f"no {part} on his van or at his centre: collected for the bench")
        return False

    def fitted(self, rid: str, t: int, used: bool) -> None:
        """The job's work is done (``used``: its part was fitted); its faulty part starts back."""
        if rid in self.booked and rid not in self.ledger.held:
            # Its part came today: the day's device events run after its visits, so take it in now.
            tr = next((x for x in self.ledger.transit.values() if x.job == rid), None)
            if tr is not None and tr.arrive_s <= t:
                self.ledger.arrive(tr.id, tr.arrive_s)
        if not used:
            self.ledger.release(rid)
            return
        got = self.ledger.consume(rid)
        if got is not None:
            origin = self.home[got[0][len("van:"):]] if is_van(got[0]) else got[0]
            back = self.lanes.ship(origin, NATIONAL, t)
            self.ledger.shipping_cny[rid] += self._parcel_cny(back)
            self.w.push(back.eta_s, "faulty_back", rid)

    def _sanbao(self, r: Request) -> tuple[str, str]:
        return intake_route(r, self.rules)

    def intake(self, rid: str, t: int, station_id: str) -> bool:
        """The 三包 rules at the station: True when they settle the call or hold it (a quote)."""
        r = self.w.req[rid]
        if rid in self.settled or not r.device_model:
            return False
        self.settled.add(rid)
        route, rule = self._sanbao(r)
        self._row(rid)["sanbao_rule"] = rule
        if route == REPAIR:
            return False
        self.w.event(rid, t, "sanbao", station_id, f"{rule}: {route}")
        if route == QUOTE:  # back at the station once the customer accepts
            answer = self.quote_answer(r, t)
            self.w.event(rid, answer, "quote_accepted", station_id, f"after {(answer - t) / 3600:.1f} h")
            self.w.push(answer, "at_station", rid, (station_id,))
        elif route == REFUND:
            self.w.push(t, "sanbao_done", rid, (station_id, "refunded"))
        else:
            handset = self.cat.handset(r.device_model)
            eta, how = (t, "") if handset is None else self.source(rid, handset, station_id, t)
            self._row(rid).update(part_id=handset or "", part_source=how, part_tier=self._tier[station_id])
            self.waiting[rid] = (t, ("sanbao",))
            if handset is None or rid in self.ledger.held:
                self.waiting.pop(rid)
                self.w.push(eta, "sanbao_done", rid, (station_id, "exchanged"))
        return True

    def quote_answer(self, r: Request, t: int) -> int:
        """When the customer accepts a quote given at ``t`` (``Sanbao.quote_wait_s``): at the counter
        if he walked in, else by phone in his waking hours (``Rules.customer_hours_s``)."""
        wait = self.rules.sanbao.quote_wait_s(uniform(self.seed, "quote", r.id), r.mode == Mode.WALKIN)
        return awake_after(t, wait, self.rules.customer_hours_s)

    def _on_sanbao_done(self, t: int, rid: str, station_id: str, what: str) -> None:
        self.fitted(rid, t, True)
        self.w.event(rid, t, what, station_id, "三包: " + ("refunded" if what == "refunded" else "a new phone"))
        back = opening_start(self.w.net[station_id], t) + (0 if what == "refunded" else self.rules.return_s)
        self.w.event(rid, back, "returned", station_id, "settled at intake (三包)")
        self.w.outcome[rid]["completion_s"] = back

    def ready(self, rid: str, centre: Centre, arrive_s: int) -> int:
        """When a repair of ``rid`` at ``centre`` could start, the part's ETA counted (a promise: no hold)."""
        part = self._need(rid)
        return arrive_s if part is None else max(arrive_s, self.options(part, centre.id, arrive_s)[0][0])

    def reserve(self, rid: str, station_id: str, centre: Centre, t: int, arrive_s: int) -> None:
        """The device leaves for ``centre``: its part is held or brought there; a loaner when the
        wait would pass the swap threshold."""
        part = self._need(rid)
        if part is None or rid in self.ledger.held:
            return
        row = self._row(rid)
        eta, how = self.source(rid, part, centre.id, arrive_s)
        row.update(part_id=part, part_source=row["part_source"] or how, part_tier=int(centre.tier))
        r = self.w.req[rid]
        done = max(eta, arrive_s) + self.rules.bench_s(self.w.field.level_of(rid)) + (arrive_s - t) + self.rules.return_s
        if done - r.created_s > self.rules.swap_after_s and self.ledger.free(station_id, LOANER) > 0:
            self.ledger.on_hand[station_id, LOANER] -= 1
            self.ledger.held[rid + "#loaner"] = (station_id, LOANER)
            self.swapped[rid] = opening_start(self.w.net[station_id], t) + self.rules.return_s
            row["swapped"] = True
            self.w.event(rid, t, "swap", station_id, f"a loaner: the repair would take until {_clock(done)}")

    def wait(self, rid: str, t: int, payload: tuple) -> bool:
        """The device is at its repair centre: True while its part is not (it resumes on arrival)."""
        if self._need(rid) is None or rid in self.ledger.held or rid not in self.rows:
            return False
        self.waiting[rid] = (t, payload)
        return True

    def _on_arrive(self, t: int, rid: str, transit_id: int) -> None:
        if transit_id not in self.ledger.transit:  # taken in already by its booked visit (fitted)
            return
        tr = self.ledger.arrive(transit_id, t)
        if tr.job and tr.job in self.waiting:
            since, payload = self.waiting.pop(tr.job)
            self._row(tr.job)["part_wait_s"] += t - since
            if payload == ("sanbao",):
                self.w.push(t, "sanbao_done", tr.job, (tr.dest, "exchanged"))
            else:
                self.w.push(t, "at_repair", tr.job, payload)

    def _on_faulty_back(self, t: int, rid: str) -> None:
        self.ledger.faulty_back()

    def completion(self, rid: str, t: int) -> int:
        """The device is back: the customer's turnaround ended at the swap, if he had one."""
        if self.ledger.held.get(rid + "#loaner"):
            self.ledger.release(rid + "#loaner")
        return min(t, self.swapped.get(rid, t))

    def _on_stock_day(self, t: int, rid: str) -> None:
        value: dict[str, float] = {}
        for (loc, part), n in list(self.ledger.on_hand.items()) + [(v, 1) for v in self.ledger.held.values()]:
            tier = "van" if is_van(loc) else "national" if loc == NATIONAL else Tier(self._tier[loc]).name.lower()
            value[tier] = value.get(tier, 0.0) + n * self.cat.part(part).cost_cny
        # The conservation identity's terms beside the values (Ledger.balance): a day's row adds up.
        self.stock_rows.append({"day": t // DAY_S, **value,
                                **{f"units_{k}": v for k, v in self.ledger.balance().items()}})

    def columns(self, outcomes: pd.DataFrame) -> pd.DataFrame:
        shipping: dict[str, float] = {}
        for cause, cny in self.ledger.shipping_cny.items():  # a job's own units and its suffixed ones (#…)
            rid = cause.split("#")[0]
            shipping[rid] = shipping.get(rid, 0.0) + cny
        rows = pd.DataFrame([{"request_id": k, **v} for k, v in self.rows.items()], columns=["request_id", *PART_COLUMNS])
        out = outcomes.merge(rows, on="request_id", how="left")
        # Courier legs of stock moves, charged to the job that caused them (Ledger.shipping_cny).
        out["part_ship_cny"] = out["request_id"].map(shipping).fillna(0.0)
        return out.fillna({"part_id": "", "part_source": "", "part_wait_s": 0.0, "swapped": False, "sanbao_rule": ""})

    def stock_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.stock_rows).fillna(0.0)


def awake_after(t_s: int, wait_s: int, hours: tuple[int, int]) -> int:
    """``t_s`` plus ``wait_s`` counted in the customer's waking ``hours`` (clock seconds)."""
    start, end = hours
    t, left = t_s, wait_s
    for _ in range(366):
        day, clock = divmod(t, DAY_S)
        if clock < start:
            t, clock = day * DAY_S + start, start
        elif clock >= end:
            t = (day + 1) * DAY_S + start
            continue
        if clock + left <= end:
            return t + left
        left -= end - clock
        t = (day + 1) * DAY_S + start
    return t + left


def _clock(t_s: int) -> str:
    d, s = divmod(int(t_s), DAY_S)
    return f"day {d} {s // 3600:02d}:{s % 3600 // 60:02d}"


def parts_for(world: Any) -> NoParts:
    """The world's parts: on when its dataset has them."""
    parts = world.ds.parts
    return NoParts() if parts is None else PartsSim(world, parts)
