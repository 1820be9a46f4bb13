"""Overnight trips to remote counties: calls no technician can reach and be back from the same
day (``no_technician_in_reach``) are served on a two-day trip from the nearest staffed centre
whose technicians can do them, batched per centre. An on-site call is repaired at the door; a
pickup's device rides home with the technician at the trip's end and climbs his centre's chain
to the first bench able to repair it, as every collected device does.

The rule, as the routing model and the checker see it: a trip technician's shift runs from his
start on the first day to his end on the second, and his one break is the night away
(``Rules.trip_rest_s``, starting between ``trip_rest_from_s`` and ``trip_rest_by_s`` of the
first day): a technician on a trip never works or drives through the night. The customers'
windows are their hours on either day. So a trip is an ordinary routing problem, solved by the
routing engine and verified by the independent checker like every other; nothing in the
engine's adapter is special to it. A route that is not home when its rest starts spends the
night away (a hotel night, ``CostRates.hotel_cny_per_night``, on the way or at the customers');
one that is home first rests at home. A call beyond ``Rules.trip_max_travel_s`` of every qualified centre stays unserved.

The technicians sent are field staff of the centre at work on both days. One with a route in
the day's plan (``busy_until``: :func:`back_home`) sets off only when that route is back at his
centre: his trip shift starts then, so the day's route and the trip never overlap, and each is
checked on its own problem. Technicians in ``busy`` are not sent at all. Their second day is the
trip's (a later day's plan must leave them out).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dispatch.assignment import AssignmentParams, bench_turnaround
from dispatch.dataset import Dataset
from dispatch.hours import business_seconds
from dispatch.live.roster import matrix_depart_s
from dispatch.model import DAY_S, Mode, Request
from dispatch.network import Network
from dispatch.plan.benches import first_bench
from dispatch.routing import (
    ALL_SKILLS,
    BreakRule,
    RoutingParams,
    RoutingProblem,
    RoutingTechnician,
    RoutingVisit,
)
from dispatch.routing import solve as route
from dispatch.routing.checker import check
from dispatch.rules import DEFAULT_COST_RATES, DEFAULT_RULES, CostRates, Rules
from dispatch.staffing import on_duty
from dispatch.travel import DEFAULT_TRAVEL, Travel


@dataclass(frozen=True)
class TripStop:
    request_id: str
    departure_s: int
    arrival_s: int
    start_s: int
    end_s: int


@dataclass(frozen=True)
class Trip:
    technician_id: str
    centre_id: str
    day: int
    stops: tuple[TripStop, ...]
    start_s: int
    end_s: int
    travel_s: int
    distance_m: int
    nights_away: int
    cost_cny: float  # hotel, kilometres and the technician's paid hours (the rest excluded)


@dataclass(frozen=True)
class TripPlan:
    trips: tuple[Trip, ...]
    unserved: dict[str, str]  # request id -> why no trip serves it
    violations: tuple[str, ...]  # the checker on every trip problem (empty: all kept)

    @property
    def served(self) -> set[str]:
        return {s.request_id for t in self.trips for s in t.stops}


def back_home(routes: pd.DataFrame) -> dict[str, int]:
    """When each technician with a route in a day plan's ``routes`` frame is back at his centre."""
    if not len(routes):
        return {}
    return {str(t): int(e) for t, e in zip(routes["technician_id"], routes["end_s"])}


def plan_trips(dataset: Dataset, request_ids: Sequence[str], day: int, busy: Collection[str] = (),
               rules: Rules = DEFAULT_RULES, rates: CostRates = DEFAULT_COST_RATES, travel: Travel = DEFAULT_TRAVEL,
               time_limit_s: float = 2.0, seed: int = 0, busy_until: Mapping[str, int] | None = None) -> TripPlan:
    """Two-day trips from ``day`` for the calls ``request_ids`` (module doc): ``busy``, technicians
    not to send; ``busy_until``, technicians who may go once back from the day's route (id -> s)."""
    assignment = AssignmentParams(rules=rules)
    req = {r.id: r for r in dataset.requests}
    free_from = dict(busy_until or {})
    staff = [t for t in on_duty(dataset.technicians, dataset.epoch_date, day)
             if t.id not in busy and t in on_duty(dataset.technicians, dataset.epoch_date, day + 1)]
    by_centre: dict[str, list] = defaultdict(list)
    for t in staff:
        by_centre[t.home_centre_id].append(t)
    centres = [dataset.network[c] for c in sorted(by_centre)]
    groups: dict[str, list[Request]] = defaultdict(list)
    unserved: dict[str, str] = {}
    for rid in request_ids:
        r = req[rid]
        if not r.mode.travels:
            unserved[rid] = f"a {r.mode.value} call needs no trip"
            continue
        able = [c for c in centres if any(_can(t, r) for t in by_centre[c.id])
                and (r.mode == Mode.ONSITE or first_bench(dataset.network.chain(c.id), r.level, assignment) is not None)]
        if not able:
            unserved[rid] = ("no technician on duty both days can do this repair" if r.mode == Mode.ONSITE else
                             "no technician on duty both days has a bench on his chain able to repair it")
            continue
        drive = travel.legs(np.array([c.lon for c in able]), np.array([c.lat for c in able]), r.lon, r.lat)[0]
        best = int(np.argmin(drive))
        if drive[best] > rules.trip_max_travel_s:
            unserved[rid] = (f"the nearest able centre is {drive[best] / 3600:.1f} h away, beyond a trip's "
                             f"{rules.trip_max_travel_s / 3600:g} h")
            continue
        groups[able[best].id].append(r)
    trips, violations = [], []
    for cid, reqs in sorted(groups.items()):
        problem = _trip_problem(dataset, cid, by_centre[cid], reqs, day, rules, travel, free_from)
        res = route(problem, RoutingParams(time_limit_s=time_limit_s, seed=seed, dispatch_deadline="ignore"))
        violations += [f"trip from {cid}: {v}" for v in check(problem, res)]
        for u in res.unassigned:
            unserved[u.visit_id] = f"the trip from {cid} has no room for it: {u.reason}"
        for r in res.routes:
            rest = r.break_start_s
            # The night is away unless he is home before it starts (a rest on the way home counts).
            away = int(rest is not None and bool(r.stops) and rest < r.end_s)
            paid_s = r.end_s - r.start_s - rules.trip_rest_s * away
            cost = (rates.hotel_cny_per_night * away + rates.vehicle_cny_per_km * r.distance_m / 1000
                    + rates.technician_cny_per_h * paid_s / 3600)
            trips.append(Trip(r.technician_id, cid, day, tuple(TripStop(s.visit_id, s.departure_toward_s, s.arrival_s,
                                                                        s.start_s, s.end_s) for s in r.stops),
                              r.start_s, r.end_s, r.travel_s, r.distance_m, away, round(cost, 2)))
    return TripPlan(tuple(trips), unserved, tuple(violations))


def _can(t, r: Request) -> bool:  # type: ignore[no-untyped-def]
    """Whether technician ``t`` can serve ``r`` at the door (a pickup: anyone collects it)."""
    level = r.level if r.mode == Mode.ONSITE else 1
    return t.max_level >= level and (not t.product_lines or not r.product_line or r.product_line in t.product_lines)


def _trip_problem(dataset: Dataset, centre_id: str, techs: list, reqs: list[Request], day: int, rules: Rules,
                  travel: Travel, free_from: Mapping[str, int]) -> RoutingProblem:
    """The centre's technicians on two-day shifts from their shift start, or from when their day's
    route is back (``free_from``), with the night's rest as their break, and the calls with the
    customer's hours of both days as their window."""
    c = dataset.network[centre_id]
    lon = np.array([c.lon] + [r.lon for r in reqs])
    lat = np.array([c.lat] + [r.lat for r in reqs])
    # A trip sets off at its technicians' first shift start; that hour prices its legs.
    travel_s, distance_m = travel.matrices(lon, lat, travel.speed_classes, matrix_depart_s(techs))
    base = day * DAY_S
    rest = BreakRule(base + rules.trip_rest_from_s, base + rules.trip_rest_by_s, rules.trip_rest_s)
    ktechs = tuple(RoutingTechnician(
        t.id, 0, 0, max(base + t.shift.start_s, free_from.get(t.id, 0)), base + DAY_S + t.shift.end_s, t.max_level,
        t.product_lines or frozenset({ALL_SKILLS}), rest, travel.speed_classes.index(t.speed_class))
        for t in techs)
    open_s, close_s = rules.customer_hours_s
    # Nobody sets off toward a call before it exists.
    visits = tuple(RoutingVisit(r.id, i + 1, r.service_s, base + open_s, base + DAY_S + close_s,
                                r.level if r.mode == Mode.ONSITE else 1,
                                r.product_line or None, int(r.priority), None,
                                release_s=max(base + open_s, r.created_s))
                   for i, r in enumerate(reqs))
    return RoutingProblem(travel_s, distance_m, ktechs, visits, (centre_id,) + tuple(r.id for r in reqs))


def trips_frame(trips: TripPlan) -> pd.DataFrame:
    """One row per trip visit: who, from where, when he sets off, arrives and is done."""
    rows = [{"technician_id": t.technician_id, "centre_id": t.centre_id, "day": t.day, "sequence": i + 1,
             "request_id": s.request_id, "departure_s": s.departure_s, "arrival_s": s.arrival_s,
             "start_s": s.start_s, "end_s": s.end_s, "nights_away": t.nights_away, "trip_cost_cny": t.cost_cny}
            for t in trips.trips for i, s in enumerate(t.stops)]
    return pd.DataFrame(rows, columns=TRIP_COLUMNS)


TRIP_COLUMNS = ("technician_id", "centre_id", "day", "sequence", "request_id", "departure_s", "arrival_s",
                "start_s", "end_s", "nights_away", "trip_cost_cny")


def with_trips(outcomes: pd.DataFrame, unassigned: pd.DataFrame, trips: TripPlan, network: Network,
               rules: Rules = DEFAULT_RULES) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A plan's outcomes and unassigned list once its trips serve their calls: dispatched from
    the trip's centre when the technician sets off (its wait counted in that centre's hours),
    done at the end of the work at the door, or for a pickup when its device, home with the
    technician at the trip's end, is repaired and back with the customer."""
    out = outcomes.copy()
    assignment = AssignmentParams(rules=rules)
    for t in trips.trips:
        c = network[t.centre_id]
        for s in t.stops:
            i = out.index[out["request_id"] == s.request_id]
            row = out.loc[i].iloc[0]
            created, done = int(row["created_s"]), s.end_s
            out.loc[i, ["centre_id", "unassigned_reason"]] = [t.centre_id, ""]
            out.loc[i, ["dispatch_s", "arrival_s"]] = [s.departure_s, s.arrival_s]
            out.loc[i, "dispatch_wait_s"] = business_seconds(c, int(row["clock_start_s"]), s.departure_s)
            if row["mode"] == Mode.PICKUP:
                chain = network.chain(t.centre_id)
                hops = first_bench(chain, int(row["level"]), assignment)
                ta, _, _ = bench_turnaround(network, chain, hops, t.end_s, rules.bench_s(int(row["level"])), 0,
                                            created, assignment)  # type: ignore[arg-type]
                done = created + ta
                out.loc[i, ["repair_centre_id", "repair_tier"]] = [chain[hops].id, int(chain[hops].tier)]  # type: ignore[index]
            out.loc[i, ["completion_s", "est_turnaround_s"]] = [done, done - created]
    return out, unassigned[~unassigned["request_id"].isin(trips.served)].reset_index(drop=True)
