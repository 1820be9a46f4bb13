"""The two dispatch policies of the simulation, day by day: the optimiser's live plans and the
whiteboard dispatcher (see ``dispatch.simulate``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

from dispatch.baseline import TechState, send_nearest_free
from dispatch.contracts.offers import Choice, Pending, Trip, decision_choices, place, trip_choices
from dispatch.fieldwork import LiveField
from dispatch.hours import dispatch_clock_start
from dispatch.live import LiveArea, NewCall
from dispatch.live.calls import call_depart_s, collection, first_shift_s
from dispatch.live.decision import Decision, Dispatched, NotServed, decide
from dispatch.live.roster import LiveNetwork
from dispatch.live.slots import offer_slots
from dispatch.model import DAY_S, Mode, Request, Technician, TimeWindow
from dispatch.reasons import Reason
from dispatch.routing import RoutingParams, Stop
from dispatch.simulate.world import MorningRoutes, World, call_of, part_visit
from dispatch.staffing import on_duty
from dispatch.travel import drive_s


def wait_for_part(w: World, r: Request, call: NewCall) -> NewCall | None:
    """The call re-booked for when its part is at the station, if it waits for one (both policies)."""
    at = w.parts.visit_at(r, call.release_s)
    return None if at is None or at <= call.release_s else part_visit(call, w.nearest[r.id], at, w.p.rules)


class Optimiser:
    """Per day, one live plan per area; calls inserted as their clock starts."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.live = LiveNetwork(world.net, world.ds.technicians, world.p.rules, world.travel, world.ds.epoch_date)
        self.areas: dict[str, LiveArea] = {}
        self.field: LiveField | None = None
        self.ahead: dict[int, dict[str, LiveArea]] = {}  # later days' plans: what is booked for them
        # The areas each travelling call may go to, found for a day's calls in one ask at the day's
        # start (AreaFinder.many); a call not found then (a repeat call) is asked alone.
        self._areas_at: dict[tuple[float, float], list[str]] = {}
        self._calls_of_day: dict[int, list[Request]] = defaultdict(list)
        for r in world.req.values():
            if r.mode.travels:
                self._calls_of_day[r.created_s // DAY_S].append(r)

    def start_day(self, day: int) -> None:
        self.day = day
        new = [r for r in self._calls_of_day.pop(day, ()) if (r.lon, r.lat) not in self._areas_at]
        if new:
            found = self.live.find_areas.many([r.lon for r in new], [r.lat for r in new])
            self._areas_at.update(zip(((r.lon, r.lat) for r in new), found))
        # A day already holding bookings opens with them (the rolling plan); else empty.
        self.areas = self.ahead.pop(day, None) or self.live.start_day(day, self._overtime_left)
        # Field reports only when work can differ from the plan (none(): the plan as it was).
        self.field = LiveField(self._true_end) if self.w.fw.active else None
        self.dropped: dict[str, int] = self.field.dropped if self.field is not None else {}

    def expect(self, todays: list[tuple[int, Request, NewCall]]) -> None:
        """Today's calls, known at the day's start: each area's legs to and from the calls that
        will be offered to it are priced in bulk (``dispatch.live.legbook``), the same legs a
        call would ask for alone."""
        keys: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
        first = {name: first_shift_s(area.problem.technicians) for name, area in self.areas.items()}
        for _, r, call in todays:
            for name in self._find_areas(r):
                if name in self.areas:
                    keys[name].append((call.lon, call.lat, call_depart_s(call, (), first[name])))
        for name, area in self.areas.items():
            if keys[name]:
                area.expect_calls(keys[name])

    def _overtime_left(self, technician_id: str) -> int:
        return self.w.overtime.allowance_s(technician_id, self.day)

    def follow(self, morning: MorningRoutes, todays: list[tuple[int, Request, NewCall]]
               ) -> tuple[list[tuple[int, Request, NewCall]], list[tuple[Request, NewCall]]]:
        """Begin the day with a day plan's morning routes: each of its calls stays with the
        technician the plan gave it, in the plan's order (a collection as the plan chose it).
        Returns today's other calls, to dispatch as they come, and the plan's calls the day
        cannot keep (its own timing differs, e.g. a call re-booked from yesterday)."""
        calls = {r.id: (r, call) for _, r, call in todays}
        if self.w.desk is not None:  # a contracted station's job is an offer: on no route before it accepts
            morning = replace(morning, routes={t: ids for t, ids in morning.routes.items()
                                               if not self.w.desk.is_contracted(t)})
        planned = {v for ids in morning.routes.values() for v in ids if v in calls}
        collect_s = self.w.p.rules.collect_service_s
        routes = {tid: [collection(calls[v][1], collect_s) if v in morning.collected else calls[v][1]
                        for v in ids if v in calls] for tid, ids in morning.routes.items()}
        self.areas = self.live.start_day(self.day, self._overtime_left, routes)
        kept = {v for area in self.areas.values() for ids in area.routes.values() for v in ids}
        for area in self.areas.values():
            for vid in [v for v in area.unassigned if v in planned]:
                area.hand_over(vid)  # it leaves the plan: another day
        self.w.collected.update(kept & morning.collected)
        return [x for x in todays if x[1].id not in planned], [calls[v] for v in sorted(planned - kept)]

    def _find_areas(self, r: Request) -> list[str]:
        got = self._areas_at.get((r.lon, r.lat))
        return list(got) if got is not None else self.live.find_areas(r.lon, r.lat)

    def _catch_up(self, names: list[str], t_s: int) -> None:
        for name in names if self.field is not None else ():
            self.field.catch_up(name, self.areas[name], t_s)  # type: ignore[union-attr]

    def _true_end(self, area: LiveArea, tid: str, st: Stop) -> int:
        """A job's real end, known at the door; the plan hears it in the technician's reports."""
        k, rules = area.technician(tid), self.w.p.rules
        node = next(v.node for v in reversed(area.problem.visits) if v.id == st.visit_id)
        home_s = int(area.problem.travel_s[k.speed_class][node, k.end_node])
        bw = k.break_window  # a break still to come must fit before he is home
        later_break_s = bw.duration_s if bw is not None and tid not in area.break_taken else 0
        door = self.w.at_door(st.visit_id, on_site_repair=self.w.req[st.visit_id].mode == Mode.ONSITE
                              and st.visit_id not in self.w.collected, planned_s=st.end_s - st.start_s,
                              level_on_site=min(k.max_level, rules.onsite_max_level), start_s=st.start_s,
                              latest_end_s=k.shift_end_s + k.max_overtime_s - home_s - later_break_s)
        return st.start_s + door.door_s

    def dispatch(self, r: Request, call: NewCall) -> Reason | NewCall | None:
        """Place the call by the one decision; None when a technician takes it, the call again when a
        contracted station's answer is awaited (dispatch.contracts), else why nobody can today."""
        booked = wait_for_part(self.w, r, call)
        if booked is not None:
            return booked
        names = self._find_areas(r)
        self._catch_up(names, call.release_s)

        def ask(c: NewCall, allow: Callable[[str], bool] | None = None, probe: bool = False) -> Decision:
            return decide(c, self.areas, names, c.release_s, self.w.p.rules, self.live.repairs_at_home, mode=r.mode,
                          device_level=r.level, may_collect=self.w.p.rules.may_collect(r.mode, c.required_level),
                          allow=allow, probe=probe, has_part=self.w.parts.holder(r),
                          alternatives=self.w.desk is not None)  # only a desk offers the next best
        decision = place(self.w.desk, r, call, ask, lambda d: decision_choices(d, r.mode), self._holds)
        if isinstance(decision, Pending):
            return decision.call
        if isinstance(decision, NotServed):
            # Whatever the area's reason, nobody can take it today: the customer is offered the
            # next morning (only a call beyond every area's reach stays open).
            return decision.reason if decision.reason == Reason.NO_TECHNICIAN_IN_REACH else Reason.CAPACITY
        if decision.visit_mode != r.mode or not self.w.parts.on_site(r, decision.technician_id, call.release_s):
            self.w.collected.add(r.id)
        return None

    def day_areas(self, day: int) -> dict[str, LiveArea]:
        """The live plan of ``day``: today's, or a later day's, built when first booked into (its
        overtime allowance as the ledger stands at the booking)."""
        if day == self.day:
            return self.areas
        if day not in self.ahead:
            self.ahead[day] = self.live.start_day(day, lambda tid: self.w.overtime.allowance_s(tid, day))
        return self.ahead[day]

    def book(self, r: Request, call: NewCall, at_s: int) -> tuple[NewCall, str, int] | None:
        """Offer the calling customer the slots the rolling plan can keep (``dispatch.live.slots``)
        and book the first-ranked in its day's plan: (the booked call, its area, its day), or
        None when no window can be kept (the call is then dispatched as any other)."""
        names = self._find_areas(r)
        self._catch_up(names, at_s)
        station, rules = self.w.nearest[r.id], self.w.p.rules

        def in_window(ws: int, we: int) -> NewCall:
            shifted = replace(r, window=TimeWindow(ws, we))
            return call_of(shifted, dispatch_clock_start(station, shifted), station, self.w.p)
        found = offer_slots(in_window, self.day_areas, names, at_s, int(r.priority), rules, count=1)
        if not found:
            return None
        slot = found[0]  # the customer takes the planner's first choice
        booked = in_window(slot.window_start_s, slot.window_end_s)
        decision = decide(booked, self.day_areas(slot.day), names, at_s, rules, self.live.repairs_at_home,
                          mode=r.mode, device_level=r.level, may_collect=False, has_part=self.w.parts.holder(r))
        if not isinstance(decision, Dispatched):  # pragma: no cover (the offer was just tried)
            return None
        if decision.visit_mode != r.mode or not self.w.parts.on_site(r, decision.technician_id, booked.release_s):
            self.w.collected.add(r.id)
        return booked, decision.area, slot.day

    @property
    def _holds(self) -> SlotHolds:
        return SlotHolds(self.areas, self.w.p.rules.ranking, self.dropped)

    def tick(self, t_s: int) -> None:
        if self.w.p.reoptimise_every_s is None:
            return
        # On the CPU clock: a simulated day must not depend on how loaded the machine running it is.
        params = RoutingParams(time_limit_s=self.w.p.reoptimise_time_limit_s, dispatch_deadline="hard",
                               seed=self.w.p.seed, clock="cpu")
        self._catch_up(list(self.areas), t_s)
        for area in self.areas.values():
            area.advance(max(area.clock_s, t_s))
            if sum(1 for ids in area.routes.values() for x in ids if x not in area.frozen) >= 3:
                area.reoptimise(params)

    def end_day(self) -> list[tuple[Technician, list[Stop], int, int, int]]:
        """(technician, stops, route end, route travel/distance) of the day, all frozen."""
        out = []
        end = (self.day + 1) * DAY_S
        techs = {t.id: t for t in self.w.ds.technicians}
        self._catch_up(list(self.areas), end)
        for area in self.areas.values():
            area.advance(max(area.clock_s, end))
            for r in area.result().routes:
                out.append((techs[r.technician_id], list(r.stops), r.end_s, r.travel_s, r.distance_m))
        return out


class SlotHolds:
    """The live plans' reservations for offers (``dispatch.contracts.offers.Hold``): a stand-in
    visit ``<call>#offer<n>`` in the offered technician's route, which sets off no earlier than the
    latest answer (so it is never under way) and leaves the plan when the answer comes."""

    def __init__(self, areas: dict[str, LiveArea], ranking: Callable[[int], str], dropped: dict[str, int]) -> None:
        self.areas, self.ranking, self.dropped = areas, ranking, dropped

    def reserve(self, stand_in: NewCall, choice: Choice) -> object:
        self.areas[choice.area].insert_with(stand_in, choice.technician_id, self.ranking(stand_in.priority))
        return choice.area, stand_in.id

    def release(self, token: object) -> None:
        area, visit_id = token  # type: ignore[misc]
        self.areas[area].hand_over(visit_id)
        self.dropped.pop(visit_id, None)  # a report's repair may have dropped the stand-in: it is no call


class Baseline:
    """The nearest free technician in call order (dispatch.baseline's rule), day by day."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.dropped: dict[str, int] = {}  # nobody's plan changes under him: nothing is dropped

    def expect(self, todays: list[tuple[int, Request, NewCall]]) -> None:
        """Nothing to prepare: the whiteboard dispatcher prices each call when it comes."""

    def start_day(self, day: int) -> None:
        self.day = day
        base = day * DAY_S
        self.states: dict[str, list] = defaultdict(list)
        # The field staff at work that day (rest days, roles), as the live network has them.
        for t in on_duty(self.w.ds.technicians, self.w.ds.epoch_date, day):
            c = self.w.net[t.home_centre_id]
            bw = t.break_window
            self.states[c.province_adcode].append(TechState(
                t, base + t.shift.start_s, c.lon, c.lat, base + t.shift.end_s,
                None if bw is None or t.break_s == 0 else base + bw.start_s,
                None if bw is None or t.break_s == 0 else base + bw.end_s,
                # Home by shift end + what the ledger allows, as the optimiser's routes.
                max_overtime_s=self.w.overtime.allowance_s(t.id, day), home=(c.lon, c.lat)))
        self.trips: dict[str, list] = defaultdict(list)

    def dispatch(self, r: Request, call: NewCall) -> Reason | NewCall | None:
        booked = wait_for_part(self.w, r, call)
        if booked is not None:
            return booked
        states = self.states[self.w.nearest[r.id].province_adcode]
        shifted = replace(r, window=type(r.window)(call.window_start_s, call.window_end_s))

        def ask(c: NewCall, allow: Callable[[str], bool] | None = None, probe: bool = False) -> Trip | None:
            able = [replace(s) if probe else s for s in states if allow is None or allow(s.tech.id)]
            return send_nearest_free(able, shifted, c.release_s, self.w.travel)
        got = place(self.w.desk, r, call, ask, trip_choices)
        if isinstance(got, Pending):  # a contracted station's answer is awaited
            return got.call
        if got is None:
            return Reason.NO_FREE_TECHNICIAN
        st, depart, arrive, end = got
        start = max(arrive, call.window_start_s)
        if not self.w.parts.on_site(r, st.tech.id, call.release_s):  # no part with him: collected for the bench
            self.w.collected.add(r.id)
        if self.w.fw.active:  # he is busy for as long as the work really takes
            rules, home = self.w.p.rules, self.w.net[st.tech.home_centre_id]
            home_s = int(drive_s(self.w.travel, r.lon, r.lat, home.lon, home.lat, st.tech.speed_class, end % DAY_S))
            door = self.w.at_door(r.id, on_site_repair=r.mode == Mode.ONSITE and r.id not in self.w.collected,
                                  planned_s=end - start,
                                  level_on_site=min(st.tech.max_level, rules.onsite_max_level), start_s=start,
                                  latest_end_s=st.shift_end_s + self.w.overtime.allowance_s(st.tech.id, self.day) - home_s)
            st.busy_s += start + door.door_s - end
            end = st.free_at_s = start + door.door_s
        self.trips[st.tech.id].append(Stop(r.id, depart, arrive, start, end, 0, 0, 0))
        return None

    def tick(self, t_s: int) -> None:
        pass

    def end_day(self) -> list[tuple[Technician, list[Stop], int, int, int]]:
        out = []
        for sts in self.states.values():
            for st in sts:
                if not st.jobs:
                    continue
                c = self.w.net[st.tech.home_centre_id]
                home_s, home_m = (int(x) for x in self.w.travel.legs(st.lon, st.lat, c.lon, c.lat, st.tech.speed_class,
                                                                     st.free_at_s % DAY_S))
                back = st.free_at_s + home_s
                # Back at his centre after the last job: the devices he picked up arrive then.
                out.append((st.tech, self.trips[st.tech.id], back,
                            st.travel_s + back - st.free_at_s, st.distance_m + home_m))
        return out


