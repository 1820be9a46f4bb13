"""Tier assignment: where and how each request is repaired, with capacities, and why.

Escalation rules a manager can read (each a parameter of ``AssignmentParams`` or of its rule
book, ``dispatch.rules.Rules``):

1. A request is served by the network of its own province (Bird-style provincial branches);
   a travelling call that no centre of its province can reach goes to the nearest centres of
   a neighbouring province that can.
2. ``onsite`` (level <= ``onsite_max_level``): a technician of one of the ``candidates`` nearest
   staffed centres travels; only centres with a technician of the level and product line count,
   and only within ``max_visit_travel_s`` one way.
3. ``pickup``: a technician of one of those centres collects the device and brings it to his
   centre; ``walkin``: the customer brings it to the nearest centre.
4. The device is repaired at that centre if it can do the level, or is couriered up the chain
   (county -> city -> province), paying each hop's courier lead time both ways.
5. Each centre's bench has ``bench_hours_per_day``; when a day is full the repair waits for the
   next day (up to ``queue_days`` days), which is how the bench queue enters the estimate.
6. Each centre's technicians have their net shift hours (times ``tech_utilisation``); visits
   beyond that go to the next candidate. The hours are an estimate (routing decides, and may
   borrow technicians of neighbouring areas), so when every candidate is full the call still
   goes to one of them, each minute over the estimate costing ``overload_cost`` minutes of
   turnaround; only a full bench refuses a call.
7. ``onsite`` when no technician within reach can do the repair on site (its level, or a level
   beyond ``onsite_max_level``): with ``collect_onsite``, a technician collects the device for
   the bench instead (rule 3, a ``collect_service_s`` hand-over at the door), rather than
   leaving the customer without anyone. The day plan applies the same rule when nobody able
   to repair on site can set off within the hour.
8. Among all options the solver minimises the total estimated turnaround (then travel); options
   are scored with the explicit formula in ``bench_turnaround``. With ``cost`` (issue 20), each
   option also counts what it costs the maker (:func:`option_cost_cny`), converted to minutes of
   turnaround at ``CostRates.turnaround_cny_per_h``, the call decision's weight: a faster option
   wins only when the hours it saves are worth its extra cost.
9. With spare parts (``Dataset.parts``), an option's repair starts when its part can be there
   (``dispatch.parts.promise``: on the shelf or the vans, else a lateral transfer or an order,
   whichever comes first); its rule then says ``waiting_for_part`` with the part and its ETA.

The choice is a small CP-SAT model per province (exactly one option per request; capacity per
centre-day bench and per centre technician hours), warm-started from the greedy choice. Every
request ends either assigned, or unassigned with a reason code and a sentence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, replace

import numpy as np

from dispatch.assignment_solve import SolverParams, solve_group, solve_options
from dispatch.contracts.model import NO_CONTRACTS, ContractBook
from dispatch.dataset import Dataset
from dispatch.hours import dispatch_clock_start, opening_start
from dispatch.model import DAY_S, Centre, Mode, Request, Technician
from dispatch.network import CentreIndex, Network
from dispatch.parts.lanes import DeviceLegs
from dispatch.parts.promise import Promise, promise_for
from dispatch.progress import Progress
from dispatch.reasons import Reason
from dispatch.rules import DEFAULT_RULES, CostRates, Rules
from dispatch.travel import DEFAULT_SPEEDS_KMH, DEFAULT_TRAVEL, Travel, drive_s, legs_by_hour


@dataclass(frozen=True)
class AssignmentParams:
    # The business rules (bench times, return, the on-site limit and the collection rule, the
    # maximum drive): one rule book for assignment, plan, simulation and service.
    rules: Rules = DEFAULT_RULES
    candidates: int = 4  # nearest staffed centres with a qualified technician considered for a visit
    search_factor: int = 4  # how many nearest centres are searched for them: candidates x this
    dispatch_allowance_s: int = 30 * 60  # planning estimate of call -> set-off
    queue_days: int = 3  # bench days considered: the day the device arrives and the next ones
    tech_utilisation: float = 0.85  # share of net shift time that can be planned
    visit_overhead: float = 2.0  # technician time per visit = overhead x one-way travel + service
    overload_cost: int = 10  # minutes of turnaround one minute of technician load over the estimate costs
    # CP-SAT per province, warm-started from the greedy choice, stopping at a 0.1 % gap: on the
    # Zhejiang day it finds nothing better after 0.2 s than after 5 s.
    time_limit_s: float = 0.5
    relative_gap: float = 0.001
    seed: int = 0
    # Repeatable: CP-SAT stops on its own deterministic clock (time_limit_s of it), not the wall
    # clock, so a busy machine cannot change the answer.
    deterministic: bool = False
    # Money in the objective (rule 8): None weighs turnaround alone; with rates, every option
    # also costs its CNY at their turnaround_cny_per_h, a contracted station's job its fee.
    cost: CostRates | None = None
    contracts: ContractBook = NO_CONTRACTS


@dataclass(frozen=True)
class Assignment:
    request_id: str
    mode: Mode  # how it is served: an ``onsite`` call may be collected (``pickup``, rule 7)
    visit_centre_id: str | None  # whose technicians travel to the customer (onsite/pickup)
    repair_centre_id: str | None  # whose bench repairs the device (pickup/walkin)
    bench_day: int | None  # day index (since the epoch) of the bench slot
    courier_hops: int  # escalation: tiers climbed by courier
    est_turnaround_s: int
    visit_travel_s: int  # one way, from the visiting centre
    rule: str  # the escalation rule that applied, in words (with waiting_for_part when it waits for one)
    part_ready_s: int = 0  # when its spare part can be where the repair is (dispatch.parts; 0: none needed)


@dataclass(frozen=True)
class Unassigned:
    request_id: str
    reason_code: str  # a dispatch.reasons.Reason: no_capable_centre, no_technician_in_reach, capacity_full
    reason: str


@dataclass(frozen=True)
class AssignmentResult:
    assigned: tuple[Assignment, ...]
    unassigned: tuple[Unassigned, ...]
    status: str  # OPTIMAL | FEASIBLE | GREEDY (per-province worst)
    objective_s: int


@dataclass(frozen=True)
class _Option:
    visit: str | None
    repair: str | None
    day: int | None
    hops: int
    turnaround_s: int
    travel_s: int
    tech_load_s: int
    bench_s: int
    rule: str
    part_s: int = 0
    cost_min: int = 0  # what the option costs, in minutes of turnaround (rule 8; 0: time alone)


def option_cost_cny(o: _Option, r: Request, network: Network, rates: CostRates,
                    book: ContractBook = NO_CONTRACTS) -> float:
    """What an option costs the maker, estimated as the assignment sees it: an own visiting
    technician's time (``tech_load_s``) at his tier's wage and the drive there and back at a car's
    nominal speed and rate, or a contracted station's fee over its quality score (a repair done
    twice is paid twice; the fee of the level it repairs itself, else a hand-over); the bench time
    at the repairing centre's wage (a contracted station's own bench is in its fee); and the
    courier legs up the chain and back."""
    cny = 2 * o.hops * rates.courier_cny_per_leg
    if o.repair is not None and o.repair not in book:
        cny += rates.wage_cny_per_h(network[o.repair].tier) * o.bench_s / 3600
    if o.visit is not None:
        km = o.travel_s / 3600 * DEFAULT_SPEEDS_KMH["car"]
        c = book.get(o.visit)
        if c is None:
            cny += rates.technician_cny(network[o.visit].tier, o.tech_load_s, 2 * km, "car")
        else:
            itself = o.repair in (None, o.visit) and r.level in c.levels
            channel = Mode.ONSITE if o.repair is None else Mode.PICKUP
            cny += c.fees.job_cny(r.level if itself else None, channel, km) / max(c.quality, 1e-6)
    return cny


def bench_turnaround(
    network: Network, chain: tuple[Centre, ...], hops: int, t_at_station: int, bench_s: int,
    day_offset: int, created_s: int, params: AssignmentParams,
    part_ready: Callable[[Centre, int], int] | None = None, legs: DeviceLegs | None = None,
) -> tuple[int, int, int]:
    """(turnaround_s, bench day, completion time) for repairing at chain[hops] on the
    ``day_offset``-th day after the device reaches it (and its spare part: ``part_ready``); the
    courier legs by lane when ``legs`` (parts on), else the per-tier lead times."""
    return bench_turnarounds(chain, hops, t_at_station, bench_s, range(day_offset, day_offset + 1), created_s,
                             params, part_ready, legs)[0]


def bench_turnarounds(
    chain: tuple[Centre, ...], hops: int, t_at_station: int, bench_s: int, day_offsets: range,
    created_s: int, params: AssignmentParams, part_ready: Callable[[Centre, int], int] | None = None,
    legs: DeviceLegs | None = None,
) -> list[tuple[int, int, int]]:
    """``bench_turnaround`` for each of ``day_offsets``: the trip up the chain and the part's
    arrival are the same for every bench day, so they are worked out once."""
    t = t_at_station
    for i in range(hops if legs is None else 0):  # up the chain by courier
        t += chain[i].courier_to_parent_s
    t = t if legs is None else legs.up(chain, hops, t)
    repair = chain[hops]
    first = opening_start(repair, t if part_ready is None else part_ready(repair, t))
    down = sum(chain[i].courier_to_parent_s for i in range(hops))  # back down (per-tier lead times)
    out = []
    for day_offset in day_offsets:
        start = first
        day = start // DAY_S + day_offset
        if day_offset:
            start = day * DAY_S + repair.opening.start_s
        done = start + bench_s
        if done > day * DAY_S + repair.opening.end_s:  # does not fit today: finishes next morning
            done = (day + 1) * DAY_S + repair.opening.start_s + bench_s
        back = done + down if legs is None else legs.down(chain, hops, done)
        out.append((back + params.rules.return_s - created_s, day, done))
    return out


def _staff(technicians: tuple[Technician, ...]) -> dict[str, list[Technician]]:
    out: dict[str, list[Technician]] = defaultdict(list)
    for t in technicians:
        out[t.home_centre_id].append(t)
    return out


def _can_visit(techs: list[Technician], req: Request, level: int) -> bool:
    return any(
        t.max_level >= level and (not t.product_lines or req.product_line in t.product_lines)
        for t in techs
    )


def build_options(
    dataset: Dataset, params: AssignmentParams, travel: Travel = DEFAULT_TRAVEL
) -> tuple[dict[str, list[_Option]], list[Unassigned]]:
    """Every request's options (or why it has none), in request order within each province."""
    options: dict[str, list[_Option]] = {}
    unassigned: list[Unassigned] = []
    for _, opts, unserved in province_options(dataset, params, travel):
        options |= opts
        unassigned += unserved
    return options, unassigned


def province_options(
    dataset: Dataset, params: AssignmentParams, travel: Travel = DEFAULT_TRAVEL
) -> Iterator[tuple[str, dict[str, list[_Option]], list[Unassigned]]]:
    """(province, its requests' options, those with none) one province at a time, in the order
    the provinces first appear among the requests (the parts promise hands its units out in
    that order), so that a caller may start solving a province while the next is built."""
    network = dataset.network
    staff = _staff(dataset.technicians)
    by_province: dict[str, list[Centre]] = defaultdict(list)
    for c in network:
        by_province[c.province_adcode].append(c)
    promise = promise_for(dataset, travel, params.seed)  # spare parts: None when the dataset has none
    national = [c for c in network if staff.get(c.id)]
    national_net = CentreIndex(tuple(national)) if national else None
    can_visit = _CanVisit(staff)
    no_part = None if promise is None else _NoPart(promise.legs)
    reqs_by_prov: dict[str, list[Request]] = defaultdict(list)
    for r in dataset.requests:
        reqs_by_prov[r.county_adcode[:2] + "0000" if r.county_adcode else ""].append(r)
    for prov, reqs in reqs_by_prov.items():
        options: dict[str, list[_Option]] = {}
        unassigned: list[Unassigned] = []
        centres = by_province.get(prov)
        if not centres:  # unknown province code: fall back to the whole network
            centres = list(network)
        sub = CentreIndex(tuple(centres))
        staffed = [c for c in centres if staff.get(c.id)]
        staffed_net = CentreIndex(tuple(staffed)) if staffed else None
        lon = np.array([r.lon for r in reqs])
        lat = np.array([r.lat for r in reqs])
        near_any, _ = sub.nearest(lon, lat, k=1)
        # When each call's dispatch clock starts, at its nearest centre: the hour its drives are priced at.
        departs = [dispatch_clock_start(sub.centres[int(j)], r) for j, r in zip(np.atleast_1d(near_any), reqs)]
        if staffed_net is not None:
            # Look further than ``candidates``: the nearest centres may lack the skill. The drives
            # to them are asked of the travel model once for the whole province.
            k = min(params.candidates * params.search_factor, len(staffed))
            near_staffed, _ = staffed_net.nearest(lon, lat, k=k)
            near_staffed = np.asarray(near_staffed).reshape(len(reqs), k)
            # The travelling calls' drives from their nearest staffed centres in one ask per hour
            # of departure: a model pays per ask (the road model looks up every point's land and
            # terrain; a provider sends a request), not per leg. Each call's drives are priced at
            # the hour its dispatch clock starts (the call, its window's start or the next
            # opening), as a live insertion's are at its release: rush hour in the big cities.
            moving = np.flatnonzero([r.mode != Mode.WALKIN for r in reqs])
            s_lon, s_lat = np.array([c.lon for c in staffed]), np.array([c.lat for c in staffed])
            near_drive = np.zeros(near_staffed.shape, np.int64)
            if len(moving):
                rows = near_staffed[moving]
                near_drive[moving] = legs_by_hour(travel, s_lon[rows], s_lat[rows], lon[moving, None],
                                                  lat[moving, None], np.array(departs, np.int64)[moving, None])[0]
            near_drive = near_drive.tolist()
        for i, r in enumerate(reqs):
            opts: list[_Option] = []
            bench_s = params.rules.bench_s(r.level)
            # A call whose repair needs no part never waits for one: ask the catalogue once.
            wants = promise if promise is None or promise.need(r) is not None else no_part
            if not r.mode.travels:  # walk-in, or mail-in (its parcel reaches the station's chain a leg later)
                station = sub.centres[int(np.atleast_1d(near_any)[i])]
                mailed = r.mode == Mode.MAILIN
                t_at = opening_start(station, r.created_s + (params.rules.mail_leg_s if mailed else 0))
                opts += _repair_options(network, station, None, 0, t_at, r, bench_s, params,
                                        "mail-in to the nearest centre's chain" if mailed else "walk-in at the nearest centre",
                                        promise=wants)
            else:
                on_site = r.mode == Mode.ONSITE and r.level <= params.rules.onsite_max_level
                level = r.level if r.mode == Mode.ONSITE else 1

                def in_reach(level: int) -> list[tuple[Centre, int]]:
                    found = [] if staffed_net is None else _reachable(
                        r, level, [staffed[int(j)] for j in near_staffed[i]], near_drive[i], can_visit, params)
                    if not found and national_net is not None:  # across the provincial border
                        k_nat = min(params.candidates * params.search_factor, len(national))
                        idx, _ = national_net.nearest(np.array([r.lon]), np.array([r.lat]), k=k_nat)
                        far = [national[int(j)] for j in np.atleast_1d(idx).ravel()]
                        drive = drive_s(travel, np.array([c.lon for c in far]), np.array([c.lat for c in far]),
                                        r.lon, r.lat, "car", departs[i] % DAY_S)
                        found = _reachable(r, level, far, drive.tolist(), can_visit, params)
                    return found

                reachable = in_reach(level) if r.mode == Mode.PICKUP or on_site else []
                rule = "picked up, repaired on a bench"
                if (r.mode == Mode.ONSITE and not reachable
                        and (params.rules.collect_onsite or r.level > params.rules.onsite_max_level)):
                    on_site, level = False, 1
                    rule = "collected for the bench (nobody within reach can repair it on site), repaired"
                    reachable = in_reach(level)
                service_s = r.service_s if r.mode == Mode.PICKUP or on_site else params.rules.collect_service_s
                for c, tr in reachable:
                    t0 = max(opening_start(c, r.created_s), r.window.start_s - tr)
                    load = int(params.visit_overhead * tr) + service_s
                    if on_site:  # booked for its part's arrival when neither vans nor shelf hold it
                        part_s, why = (0, "") if wants is None else wants.ready(r, c, t0, on_site=True)
                        done = max(t0 + params.dispatch_allowance_s, part_s) + tr + service_s
                        opts.append(_Option(c.id, None, None, 0, done - r.created_s, tr, load, 0,
                                            "on site by the nearest capable technicians" + why, part_s))
                    else:
                        t_at = t0 + params.dispatch_allowance_s + 2 * tr + service_s
                        opts += _repair_options(network, c, c.id, tr, t_at, r, bench_s, params, rule, load, wants)
                if not reachable:
                    unassigned.append(Unassigned(
                        r.id, Reason.NO_TECHNICIAN_IN_REACH,
                        f"no technician able to do level {level} ({r.product_line or 'any'}) within "
                        f"{params.rules.max_visit_travel_s / 3600:g} h of the customer (the nearest "
                        f"{params.candidates * params.search_factor} staffed centres of its province and of "
                        f"the whole network searched)"))
                    continue
            if not opts:
                unassigned.append(Unassigned(
                    r.id, Reason.NO_CAPABLE_CENTRE,
                    f"no centre in the escalation chain can repair level {r.level} "
                    f"(capability and a bench day long enough for one repair)"))
                continue
            options[r.id] = opts
            if wants is promise and promise is not None:  # the best option takes its unit: the next call finds one fewer
                best = min(opts, key=lambda o: o.turnaround_s)
                promise.take(r, best.repair or best.visit, on_site=best.repair is None)
        yield prov, options, unassigned


class _NoPart:
    """The promise for a call that needs no part: it is ready when asked for (what
    ``Promise.ready`` answers for such a call, without drawing its part again per option); its
    device still rides the promise's courier lanes."""

    def __init__(self, legs: DeviceLegs | None) -> None:
        self.legs = legs

    @staticmethod
    def ready(r: Request, centre: Centre, t: int, on_site: bool = False) -> tuple[int, str]:
        return t, ""


class _CanVisit:
    """Whether a centre has a technician able to do a call's level and product line, remembered
    per (centre, level, product line): a national day asks it ~200,000 times of ~8,000 answers."""

    def __init__(self, staff: dict[str, list[Technician]]) -> None:
        self.staff = staff
        self.known: dict[tuple[str, int, str], bool] = {}

    def __call__(self, centre_id: str, r: Request, level: int) -> bool:
        key = (centre_id, level, r.product_line)
        got = self.known.get(key)
        if got is None:
            got = self.known[key] = _can_visit(self.staff[centre_id], r, level)
        return got


def _reachable(r: Request, level: int, centres: list[Centre], drive: list[int], can_visit: _CanVisit,
               params: AssignmentParams) -> list[tuple[Centre, int]]:
    """Up to ``candidates`` of ``centres`` (nearest first; ``drive``: the drive from each, s)
    with a technician able to do the call's ``level`` within the maximum drive, and that drive."""
    out = []
    for c, tr in zip(centres, drive):
        if tr <= params.rules.max_visit_travel_s and can_visit(c.id, r, level):
            out.append((c, tr))
            if len(out) == params.candidates:
                break
    return out


def _repair_options(
    network: Network, station: Centre, visit_id: str | None, travel_s: int, t_at: int,
    r: Request, bench_s: int, params: AssignmentParams, rule: str, load: int = 0,
    promise: Promise | _NoPart | None = None,
) -> list[_Option]:
    chain = network.chain(station.id)
    out = []
    days = range(params.queue_days)
    for hops, centre in enumerate(chain):
        if not centre.can_repair(r.level) or centre.bench_s_per_day < bench_s:
            continue
        got = (0, "")  # the part's (ETA, sentence) at this centre: the same for every bench day

        def part_ready(c: Centre, t: int) -> int:
            nonlocal got
            got = (0, "") if promise is None else promise.ready(r, c, t)
            return max(t, got[0])

        where = "at the station" if hops == 0 else f"escalated {hops} tier(s) to {centre.id}"
        for d, (ta, day, _) in zip(days, bench_turnarounds(chain, hops, t_at, bench_s, days, r.created_s, params,
                                                            part_ready, None if promise is None else promise.legs)):
            queue = "" if d == 0 else f", bench queue +{d} day(s)"
            out.append(_Option(visit_id, centre.id, day, hops, ta, travel_s, load, bench_s,
                               f"{rule} {where}{queue}{got[1]}", got[0]))
    return out


def assign(
    dataset: Dataset,
    params: AssignmentParams = AssignmentParams(),
    travel: Travel = DEFAULT_TRAVEL,
    progress: Progress | None = None,
    pool: Executor | None = None,
) -> AssignmentResult:
    """Assign every request (see the rules above). With ``pool``, the independent groups
    (provinces) are solved in parallel, each as soon as its province's options are built (while
    the next province is built here): the same answer as without whenever each solve ends on
    its gap before its time limit (CP-SAT stopped by the clock depends on load)."""
    req_by_id = {r.id: r for r in dataset.requests}
    tech_cap = _tech_capacity_s(dataset, params)
    bench_cap = {c.id: c.bench_s_per_day for c in dataset.network}
    solver = SolverParams(params.overload_cost, params.time_limit_s, params.relative_gap, params.seed,
                          params.deterministic)
    options: dict[str, list[_Option]] = {}
    unassigned: list[Unassigned] = []
    # Independent subproblems: requests sharing no centre. Provinces in practice.
    groups: dict[str, list[str]] = defaultdict(list)
    sent: dict[str, tuple[int, Future]] = {}  # group -> (its calls when sent to the pool, the solve)
    assigned: list[Assignment] = []
    statuses = []
    objective = 0

    def send(key: str) -> None:
        rids = list(groups[key])  # a copy: a pool may pickle its arguments after a later province adds to the group
        sent[key] = (len(rids), pool.submit(  # type: ignore[union-attr]
            solve_group, rids, {rid: solve_options(options[rid]) for rid in rids}, tech_cap, bench_cap, solver))

    for prov, opts, unserved in province_options(dataset, params, travel):
        if params.cost is not None:
            rates, book = params.cost, params.contracts
            opts = {rid: [replace(o, cost_min=round(rates.as_turnaround_s(
                option_cost_cny(o, req_by_id[rid], dataset.network, rates, book)) / 60)) for o in v]
                for rid, v in opts.items()}
        options |= opts
        unassigned += unserved
        for rid, v in opts.items():
            groups[dataset.network[_first_centre(v[0])].province_adcode].append(rid)
        if pool is not None and prov in groups:
            # Sent now, while the next province is built. A province built later may still add a
            # call across the border to this group: it is then sent again, whole, below.
            send(prov)
    ordered = sorted(groups.items())
    if pool is not None:
        for key, rids in sorted(ordered, key=lambda kv: -len(kv[1])):
            if key not in sent or sent[key][0] != len(rids):
                if key in sent:
                    sent[key][1].cancel()
                send(key)
        solved: Iterator[tuple[dict[str, int], str]] = (sent[key][1].result() for key, _ in ordered)
    else:
        solved = (solve_group(rids, {rid: solve_options(options[rid]) for rid in rids}, tech_cap, bench_cap, solver)
                  for _, rids in ordered)
    for n, ((_, rids), (choice, status)) in enumerate(zip(ordered, solved)):
        statuses.append(status)
        for rid in rids:
            k = choice.get(rid)
            if k is None:
                unassigned.append(_capacity_reason(rid, options[rid]))
                continue
            o = options[rid][k]
            objective += o.turnaround_s
            mode = req_by_id[rid].mode
            if mode == Mode.ONSITE and o.repair is not None:
                mode = Mode.PICKUP  # collected for the bench (rule 7)
            assigned.append(Assignment(rid, mode, o.visit, o.repair, o.day, o.hops,
                                       o.turnaround_s, o.travel_s, o.rule, o.part_s))
        if progress is not None:
            progress("assignment", n + 1, len(groups))
    order = {r.id: i for i, r in enumerate(dataset.requests)}
    assigned.sort(key=lambda a: order[a.request_id])
    unassigned.sort(key=lambda u: order[u.request_id])
    worst = "OPTIMAL" if all(s == "OPTIMAL" for s in statuses) else (
        "FEASIBLE" if all(s in ("OPTIMAL", "FEASIBLE") for s in statuses) else "GREEDY")
    return AssignmentResult(tuple(assigned), tuple(unassigned), worst, objective)


def _first_centre(o: _Option) -> str:
    return o.visit or o.repair or ""


def _capacity_reason(rid: str, opts: list[_Option]) -> Unassigned:
    # Technician hours are soft (see rule 6): only benches refuse a call.
    return Unassigned(rid, Reason.CAPACITY_FULL, Reason.CAPACITY_FULL.sentence)


def _tech_capacity_s(dataset: Dataset, params: AssignmentParams) -> dict[str, int]:
    days = max(1, len({r.created_s // DAY_S for r in dataset.requests}))
    cap: dict[str, int] = defaultdict(int)
    for t in dataset.technicians:
        cap[t.home_centre_id] += int((t.shift.duration_s - t.break_s) * params.tech_utilisation) * days
    return cap
