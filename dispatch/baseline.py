"""The naive baseline a planner is measured against: the old world, rule by rule.

1. Calls are handled one at a time in the order their dispatch clock starts (the call, or the
   next opening for an after-hours call). No look-ahead, no re-planning.
2. ``onsite``/``pickup``: the nearest *free* technician of the call's province who can do the
   work is sent from wherever he is (his centre, or his last customer); when nobody is free, the
   one who frees up first. He takes his break as soon as he is idle inside his break window.
3. ``walkin``: the customer goes to the nearest centre of any tier.
4. Fixed escalation: level 1 is repaired at the centre that took the device; level >= 2 always
   goes by courier to the provincial centre. Picked-up devices reach the technician's centre
   when his shift ends.
5. The courier runs once a day, leaving at ``courier_cutoff_s`` (18:00); a leg takes the sum of
   the courier lead times up the chain; the repaired device comes back the same way.
6. Benches are first come, first served queues with each centre's daily bench hours.

Its output is the same ``outcomes``/``workload`` frames as a plan's, so the same KPI functions
apply (``dispatch.kpis``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dispatch.dataset import Dataset
from dispatch.errors import DispatchError
from dispatch.hours import business_seconds, dispatch_clock_start, opening_start
from dispatch.model import DAY_S, Centre, Mode, RepairLevel, Request, Technician, Tier
from dispatch.network import Network
from dispatch.reasons import Reason
from dispatch.rules import DEFAULT_RULES, Rules
from dispatch.travel import DEFAULT_TRAVEL, Travel, legs_by_hour


@dataclass(frozen=True)
class BaselineParams:
    day: int = 0
    courier_cutoff_s: int = 18 * 3600  # the daily courier leaves at 18:00
    # The same rule book as the plan it is compared with (bench times, return).
    rules: Rules = DEFAULT_RULES


@dataclass
class TechState:
    tech: Technician
    free_at_s: int
    lon: float
    lat: float
    shift_end_s: int
    break_from_s: int | None
    break_to_s: int | None
    break_taken: bool = False
    busy_s: int = 0
    travel_s: int = 0
    distance_m: int = 0
    jobs: int = 0
    overtime_s: int = 0
    # Work past shift end he may be asked for, the drive home included (the optimiser's routes
    # end home by shift end + the day's allowance too); None: the service must end in the shift.
    max_overtime_s: int | None = None
    home: tuple[float, float] | None = None  # his centre (lon, lat), for the drive home


class BenchQueues:
    """First come, first served benches. A centre's daily bench hours are worked on parallel
    benches during its opening hours (40 h over a 10-hour day: 4 benches), never more hours in a
    day than it has."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.free_at: dict[tuple[str, int], list[int]] = {}  # per centre and day: each bench
        self.used: dict[tuple[str, int], int] = defaultdict(int)

    def repair(self, centre: Centre, arrive_s: int, bench_s: int) -> int:
        """Book the repair of a device arriving at ``arrive_s``; its completion time."""
        return self._slot(centre, arrive_s, bench_s, book=True)

    def peek(self, centre: Centre, arrive_s: int, bench_s: int) -> int:
        """When that repair would be done, without booking it."""
        return self._slot(centre, arrive_s, bench_s, book=False)

    def _slot(self, centre: Centre, arrive_s: int, bench_s: int, book: bool) -> int:
        open_len = max(centre.opening.duration_s, 1)
        n_benches = max(1, -(-centre.bench_s_per_day // open_len))
        t = opening_start(centre, arrive_s)
        for _ in range(366):
            day = t // DAY_S
            key = (centre.id, day)
            day_open = day * DAY_S + centre.opening.start_s
            benches = self.free_at.get(key) or [day_open] * n_benches
            k = min(range(n_benches), key=lambda i: benches[i])
            start = max(t, benches[k])
            if self.used[key] + bench_s <= centre.bench_s_per_day and \
                    start + bench_s <= day * DAY_S + centre.opening.end_s:
                if book:
                    benches = list(benches)
                    benches[k] = start + bench_s
                    self.free_at[key] = benches
                    self.used[key] += bench_s
                return start + bench_s
            t = (day + 1) * DAY_S + centre.opening.start_s
        raise DispatchError(f"the bench of {centre.id} has no room for a {bench_s // 60}-min repair within a "
                            f"year ({centre.bench_hours_per_day} bench hours a day)")  # pragma: no cover

    @staticmethod
    def fits(centre: Centre, bench_s: int) -> bool:
        """Whether one repair fits in a day of the centre's bench at all."""
        return bench_s <= min(centre.bench_s_per_day, centre.opening.duration_s)


def _courier(network: Network, chain: tuple[Centre, ...], ready_s: int, cutoff_s: int) -> int:
    """Arrival at the top of ``chain`` of a device ready at ``ready_s`` at its bottom."""
    day = ready_s // DAY_S
    leave = day * DAY_S + cutoff_s
    if ready_s > leave:
        leave += DAY_S
    return leave + sum(c.courier_to_parent_s for c in chain[:-1])


def baseline_plan(
    dataset: Dataset, params: BaselineParams = BaselineParams(), travel: Travel = DEFAULT_TRAVEL,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(outcomes, workload) of the naive policy for day ``params.day`` (see the module doc)."""
    net = dataset.network
    base = params.day * DAY_S
    benches = BenchQueues(net)
    home = {t.id: net[t.home_centre_id] for t in dataset.technicians}
    states: dict[str, list[TechState]] = defaultdict(list)
    for t in dataset.technicians:
        c = home[t.id]
        bw = t.break_window
        states[c.province_adcode].append(TechState(
            t, base + t.shift.start_s, c.lon, c.lat, base + t.shift.end_s,
            None if bw is None or t.break_s == 0 else base + bw.start_s,
            None if bw is None or t.break_s == 0 else base + bw.end_s,
        ))
    lon = np.array([r.lon for r in dataset.requests])
    lat = np.array([r.lat for r in dataset.requests])
    nearest_idx, _ = net.nearest(lon, lat) if len(lon) else (np.array([], dtype=int), None)
    nearest = [net.centres[int(j)] for j in np.atleast_1d(nearest_idx)]
    day_reqs = []
    for r, c in zip(dataset.requests, nearest):
        clock = dispatch_clock_start(c, r)
        # The same rule as the plan's: a travelling call belongs to the day it can be served.
        day = r.created_s // DAY_S if not r.mode.travels else clock // DAY_S
        if day == params.day:
            day_reqs.append((clock, r, c))
    day_reqs.sort(key=lambda x: (x[0], x[1].id))
    pickups_of: dict[str, list[tuple[Request, int]]] = defaultdict(list)  # tech -> (request, picked at)
    rows: dict[str, dict] = {}
    for clock, r, station in day_reqs:
        row = {"request_id": r.id, "mode": r.mode.value, "level": r.level, "priority": int(r.priority),
               "province_adcode": station.province_adcode, "centre_id": station.id,
               "created_s": r.created_s, "clock_start_s": clock, "dispatch_s": np.nan, "dispatch_wait_s": np.nan,
               "completion_s": np.nan, "repair_tier": np.nan, "repair_centre_id": None,
               "est_turnaround_s": np.nan, "unassigned_reason": ""}
        rows[r.id] = row
        if not r.mode.travels:  # walk-in, or mail-in a leg later
            leg = params.rules.mail_leg_s if r.mode == Mode.MAILIN else 0
            _repair(net, benches, params, row, r, station, opening_start(station, r.created_s + leg))
            continue
        chosen = send_nearest_free(states[station.province_adcode], r, clock, travel)
        if chosen is None:
            row["unassigned_reason"] = Reason.NO_FREE_TECHNICIAN
            continue
        st, depart_s, arrive_s, end_s = chosen
        row["dispatch_s"] = depart_s
        row["dispatch_wait_s"] = business_seconds(station, clock, depart_s)
        row["centre_id"] = st.tech.home_centre_id
        if r.mode == Mode.ONSITE:
            row["completion_s"] = end_s
        else:
            pickups_of[st.tech.id].append((r, end_s))
    for tech_states in states.values():
        for st in tech_states:
            centre = home[st.tech.id]
            home_s, home_m = (int(x) for x in travel.legs(st.lon, st.lat, centre.lon, centre.lat, st.tech.speed_class,
                                                          st.free_at_s % DAY_S))
            back_s = st.free_at_s + home_s
            if st.jobs:  # the drive home counts, as in a planned route
                st.distance_m += home_m
                st.travel_s += back_s - st.free_at_s
                st.busy_s += back_s - st.free_at_s
            st.overtime_s = max(0, back_s - st.shift_end_s)
            drop_s = max(back_s, st.shift_end_s)  # devices reach the centre when the shift ends
            for r, _picked in pickups_of.get(st.tech.id, []):
                _repair(net, benches, params, rows[r.id], r, centre, drop_s)
    outcomes = pd.DataFrame(list(rows.values()))
    if len(outcomes):
        outcomes["est_turnaround_s"] = outcomes["completion_s"] - outcomes["created_s"]
    workload = pd.DataFrame([
        {"technician_id": st.tech.id, "centre_id": st.tech.home_centre_id,
         "province_adcode": home[st.tech.id].province_adcode,
         "available_s": st.tech.shift.duration_s - st.tech.break_s, "busy_s": st.busy_s,
         "travel_s": st.travel_s, "distance_m": st.distance_m, "overtime_s": st.overtime_s, "jobs": st.jobs}
        for sts in states.values() for st in sts
    ])
    return outcomes, workload


def send_nearest_free(
    candidates: list[TechState], r: Request, clock_s: int, travel: Travel,
) -> tuple[TechState, int, int, int] | None:
    """The nearest free capable technician (or the first to free up) and his trip."""
    level = r.level if r.mode == Mode.ONSITE else 1
    able = [s for s in candidates if s.tech.max_level >= level
            and (not s.tech.product_lines or r.product_line in s.tech.product_lines)]
    if not able:
        return None
    lon = np.array([s.lon for s in able])
    lat = np.array([s.lat for s in able])
    trip_of = np.zeros(len(able), np.int64)
    dist = np.zeros(len(able), np.int64)
    classes = np.array([s.tech.speed_class for s in able])
    for cls in set(classes.tolist()):  # priced at the clock: the free set off now
        m = classes == cls
        trip_of[m], dist[m] = travel.legs(lon[m], lat[m], r.lon, r.lat, cls, clock_s % DAY_S)
    ready = np.array([max(s.free_at_s, clock_s) for s in able])
    free = ready <= clock_s
    # Nearest among the free; if none is free, the earliest to free up (nearest on ties). They are
    # tried in that order a growing batch at a time, each batch's drives at a later hour and drives
    # home asked together (once per class and hour): a call late in the day may try every
    # technician of the province, and a model pays per ask, not per leg.
    order = np.lexsort((dist, np.where(free, 0, ready)))
    done, size = 0, 8
    while done < len(order):
        batch = order[done:done + size]
        got = _first_feasible([able[int(k)] for k in batch], r, clock_s, travel, ready[batch], trip_of[batch],
                              lon[batch], lat[batch], classes[batch])
        if got is not None:
            i, depart, trip_s, takes_break, arrive, end = got
            st, k = able[int(batch[i])], int(batch[i])
            st.break_taken = st.break_taken or takes_break
            st.free_at_s, st.lon, st.lat = end, r.lon, r.lat
            st.busy_s += trip_s + r.service_s
            st.travel_s += trip_s
            st.distance_m += int(dist[k])
            st.jobs += 1
            return st, depart, arrive, end
        done, size = done + size, size * 4
    return None


def _first_feasible(sts: list[TechState], r: Request, clock_s: int, travel: Travel, ready: np.ndarray,
                    trip_s: np.ndarray, lon: np.ndarray, lat: np.ndarray, classes: np.ndarray,
                    ) -> tuple[int, int, int, bool, int, int] | None:
    """The first of ``sts`` (in their order) who can set off, be in the customer's window, finish
    in his shift or be home within the overtime allowed: (index, set-off, trip, takes his break,
    arrival, end)."""
    never = np.iinfo(np.int64).max // 4
    brk_from = np.array([never if s.break_from_s is None else s.break_from_s for s in sts], np.int64)
    pending = np.array([s.break_from_s is not None and not s.break_taken for s in sts])
    takes_break = pending & (ready >= brk_from)  # he takes his break before setting off
    depart = np.where(takes_break, np.maximum(ready, brk_from) + np.array([s.tech.break_s for s in sts]), ready)
    trip_s = trip_s.copy()
    later = depart // 3600 != clock_s // 3600  # he sets off in a later hour: the drive at that hour
    if later.any():
        trip_s[later] = legs_by_hour(travel, lon[later], lat[later], r.lon, r.lat, depart[later], classes[later])[0]
    arrive = depart + trip_s
    end = np.maximum(arrive, r.window.start_s) + r.service_s
    shift_end = np.array([s.shift_end_s for s in sts], np.int64)
    ok = np.maximum(arrive, r.window.start_s) <= r.window.end_s  # he can be there in the customer's window
    homed = np.array([s.max_overtime_s is not None and s.home is not None for s in sts])
    ok &= homed | (end <= shift_end)  # without a home: the service must end in his shift
    ask = np.flatnonzero(ok & homed)
    if len(ask):  # with one: home within the overtime the day allows
        home = np.array([sts[int(i)].home for i in ask], dtype=float)
        back_s = legs_by_hour(travel, r.lon, r.lat, home[:, 0], home[:, 1], end[ask], classes[ask])[0]
        allowed = np.array([sts[int(i)].shift_end_s + (sts[int(i)].max_overtime_s or 0) for i in ask], np.int64)
        ok[ask] = end[ask] + back_s <= allowed
    first = np.flatnonzero(ok)
    if not len(first):
        return None
    i = int(first[0])
    return i, int(depart[i]), int(trip_s[i]), bool(takes_break[i]), int(arrive[i]), int(end[i])


def _repair(
    net: Network, benches: BenchQueues, params: BaselineParams, row: dict, r: Request, station: Centre,
    at_station_s: int,
) -> None:
    bench_s = params.rules.bench_s(r.level)
    if r.level == RepairLevel.SIMPLE and station.can_repair(r.level) and BenchQueues.fits(station, bench_s):
        done = benches.repair(station, at_station_s, bench_s)
        back = done
        repair_centre = station
    else:
        chain = net.chain(station.id)
        province = chain[-1]
        if province.tier != Tier.PROVINCE or not province.can_repair(r.level) or not BenchQueues.fits(province, bench_s):
            row["unassigned_reason"] = Reason.NO_CAPABLE_CENTRE
            return
        arrive = _courier(net, chain, at_station_s, params.courier_cutoff_s)
        done = benches.repair(province, arrive, bench_s)
        back = _courier(net, chain, done, params.courier_cutoff_s)
        repair_centre = province
    row["completion_s"] = back + params.rules.return_s
    row["repair_tier"] = int(repair_centre.tier)
    row["repair_centre_id"] = repair_centre.id
