"""Staffing from workload: the fewest field, bench and counter staff that keep the promises.

**Pooling unit.** A prefecture's routing area (its city centre, its county stations and, in a
capital, the provincial centre): the live plan sends any of the area's field technicians to any
of its calls, so their field staff are one queue. Bench and counter staff work at their centre.

**Field staff, per pool.** A call's dispatch clock starts at the call, or at the opening for a
call made before it or after the same-day cut-off (booked for the next morning): a share of the
day's travelling calls, the *opening backlog* (39.6 % with the generator's hourly profile), all
start their clock at the opening; the rest arrive through the open hours. ``S`` is the time a
technician is away for one job: the mean drive from the call's nearest centre (the travel
model, by car) out and back, plus the mean work at the door. Two requirements, the larger binds:

* *stream*: Erlang C (``pyworkforce.ErlangC``, M/M/c) at the busiest open hour of the clock
  starts after the opening: arrival rate = that hour's share of the day's travelling calls,
  handling time ``S``, answer target = the dispatch target; the fewest technicians on duty with
  P(set off within the target) >= the service level;
* *opening*: the backlog must be set off within the target of the opening. A technician sets off
  at the opening and again each time a job ends, every ``drive + work`` on average, so over many
  technicians ``k = 1 + target / (drive + work)`` departures each in the target (the renewal
  mean; not floored, since the jobs' lengths vary). Technicians = ceil(B / k), with B the
  backlog's Poisson quantile at the service level (a day's backlog is a Poisson count).

Both are evaluated for each weekday (its demand factor), which gives the technicians needed on
duty each weekday.

**Weekly rest** (Labour Law art. 38). Each person gets a rest weekday. With ``N_d`` needed on
weekday ``d``, ``H = max(max N_d, ceil(sum N_d / 6))`` heads are the fewest whose rest days can be
staggered so that ``H - resting_d >= N_d`` every day (each head rests one day in seven); the
rest days are dealt to the weekday with the most room left, so a centre's people rest on
different days. A flat week needs ``ceil(7 N / 6)``.

**Bench and counter staff, per centre.** Bench hours = the repairs it does per day (a call's
bench is the lowest centre of its nearest centre's chain that repairs the level) x the rule
book's bench time per level; counter hours = walk-ins x ``counter_s_per_walkin`` (intake and
hand-back). A person gives ``net_shift_s x productive_share`` of work a day. On duty: enough for
both, at least one person at the counter of a centre with walk-ins. Whoever holds the counter
repairs between walk-ins (role ``bench+counter``: never both at once, the counter comes first);
the others are ``bench``. The centre's bench capacity is what its people on duty give on an
average day, less the counter's hours.

**Overtime** (art. 41): :class:`OvertimeLedger` keeps each technician's overtime per calendar
month; ``Rules.overtime_allowance_s`` gives what he may still work today.

The sizing is not fitted to the simulation: data/README.md ("Roster") compares it with
``dispatch simulate`` on the Zhejiang week.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dispatch.dataset import Dataset
from dispatch.errors import DispatchError
from dispatch.hours import dispatch_clock_start
from dispatch.model import DAY_S, FIELD_ROLE, LEVELS, TRAVELLING_MODES, WEEKDAYS, Mode, Technician
from dispatch.network import Network, area_of_centre
from dispatch.rules import DEFAULT_RULES, Rules
from dispatch.travel import DEFAULT_TRAVEL, Travel, drive_s

FLAT_WEEK = (1.0,) * WEEKDAYS
BENCH, COUNTER, DUAL = "bench", "counter", "bench+counter"
COUNTER_ROLES = frozenset({COUNTER, DUAL})


@dataclass(frozen=True)
class StaffingParams:
    """The service target and what a person gives in a day."""

    service_level: float = 0.95  # share of travelling calls set off within the target
    target_s: int | None = None  # None: the rule book's dispatch target
    net_shift_s: int = 9 * 3600 - 45 * 60  # the generated roster's 9-hour shift less its break
    # Of a bench or counter person's net shift, the share spent on the work itself (the rest:
    # testing, notes, parts booking, hand-overs between people).
    productive_share: float = 0.85
    counter_s_per_walkin: int = 20 * 60  # intake with the 三包 check, and the hand-back

    def __post_init__(self) -> None:
        if not 0 < self.service_level < 1:
            raise DispatchError(f"service_level must be between 0 and 1 (exclusive), got {self.service_level}")
        if self.target_s is not None and self.target_s <= 0:
            raise DispatchError(f"target_s must be > 0 s, got {self.target_s}")
        if self.net_shift_s <= 0 or not 0 < self.productive_share <= 1 or self.counter_s_per_walkin < 0:
            raise DispatchError("net_shift_s must be > 0 s, productive_share in (0, 1] and counter_s_per_walkin "
                                f">= 0 s; got {self.net_shift_s}, {self.productive_share}, {self.counter_s_per_walkin}")

    def target(self, rules: Rules) -> int:
        return rules.dispatch_target_s if self.target_s is None else self.target_s

    @property
    def productive_s(self) -> float:
        return self.net_shift_s * self.productive_share


@dataclass(frozen=True)
class CentreLoad:
    """A centre's expected work on an average day."""

    centre_id: str
    pool: str  # its routing area (prefecture adcode)
    travelling_per_day: float  # travelling calls whose nearest centre it is
    walkins_per_day: float
    bench_s_per_day: float  # bench work of the repairs it does


@dataclass(frozen=True)
class PoolLoad:
    key: str
    travelling_per_day: float
    drive_s: float  # mean one-way drive from a call's nearest centre (car)
    work_s: float  # mean work at the door

    @property
    def service_s(self) -> float:
        """Away for one job: out, work, back."""
        return 2 * self.drive_s + self.work_s


@dataclass(frozen=True)
class Workload:
    """Expected work of a network on an average day, and how its calls start their clocks."""

    centres: tuple[CentreLoad, ...]
    pools: tuple[PoolLoad, ...]
    backlog_share: float  # of the day's travelling calls: clock starting at the opening
    busy_hour_share: float  # the busiest open hour (after the opening) of the others' clock starts
    weekday_factors: tuple[float, ...] = FLAT_WEEK  # Mon..Sun, mean 1
    source: str = ""


@dataclass(frozen=True)
class PoolStaffing:
    key: str
    travelling_per_day: float
    service_s: float
    busy_hour_erlangs: float
    stream_on_duty: int  # Erlang C at the busy hour (busiest weekday)
    opening_on_duty: int  # the opening backlog within the target (busiest weekday)
    on_duty_by_weekday: tuple[int, ...]
    heads: int
    busy_hour_service_level: float  # Erlang C's, with the busiest weekday's staff
    utilisation: float  # expected: travel + work over the net shift of those on duty

    @property
    def binding(self) -> str:
        return "opening" if self.opening_on_duty > self.stream_on_duty else "stream"


@dataclass(frozen=True)
class CentreStaffing:
    centre_id: str
    pool: str
    field: int
    bench: int
    counter: int  # counter only (a centre without bench work)
    dual: int  # bench+counter
    bench_h_per_day: float  # bench capacity on an average day, after the counter
    bench_work_h_per_day: float
    counter_work_h_per_day: float
    stationary_on_duty_by_weekday: tuple[int, ...] = ()
    counter_on_duty_by_weekday: tuple[int, ...] = ()

    @property
    def heads(self) -> int:
        return self.field + self.bench + self.counter + self.dual


@dataclass(frozen=True)
class StaffingPlan:
    pools: tuple[PoolStaffing, ...]
    centres: tuple[CentreStaffing, ...]
    params: StaffingParams
    workload: Workload
    target_s: int

    def pool_frame(self) -> pd.DataFrame:
        by_pool: dict[str, list[CentreStaffing]] = defaultdict(list)
        for c in self.centres:
            by_pool[c.pool].append(c)
        rows = []
        for p in self.pools:
            cs = by_pool.get(p.key, [])
            rows.append({
                "pool": p.key, "travelling_per_day": p.travelling_per_day, "service_min": p.service_s / 60,
                "field": p.heads, "field_on_duty_mean": float(np.mean(p.on_duty_by_weekday)),
                "rest_cover": p.heads - min(p.on_duty_by_weekday, default=0),
                "stream_on_duty": p.stream_on_duty, "opening_on_duty": p.opening_on_duty, "binding": p.binding,
                "bench": sum(c.bench for c in cs), "counter": sum(c.counter + c.dual for c in cs),
                "of_them_bench_counter": sum(c.dual for c in cs),
                "heads": p.heads + sum(c.bench + c.counter + c.dual for c in cs),
                "utilisation": p.utilisation,
            })
        return pd.DataFrame(rows)

    def roster(self) -> dict[str, list[tuple[str, int]]]:
        """Per centre, its people as (role, rest weekday): field staff with their pool's rest
        days staggered over the pool, counter holders and bench staff over the centre."""
        out: dict[str, list[tuple[str, int]]] = defaultdict(list)
        by_pool: dict[str, list[CentreStaffing]] = defaultdict(list)
        for c in self.centres:
            by_pool[c.pool].append(c)
        for p in self.pools:
            rests = iter(stagger_rest(p.heads, p.on_duty_by_weekday))
            for c in by_pool.get(p.key, []):
                out[c.centre_id] += [(FIELD_ROLE, next(rests)) for _ in range(c.field)]
        for c in self.centres:
            counter_role = DUAL if c.dual else COUNTER
            holders = c.dual + c.counter
            out[c.centre_id] += [(counter_role, d) for d in stagger_rest(holders, c.counter_on_duty_by_weekday)]
            bench_need = tuple(s - k for s, k in zip(c.stationary_on_duty_by_weekday, c.counter_on_duty_by_weekday))
            out[c.centre_id] += [(BENCH, d) for d in stagger_rest(c.bench, bench_need)]
        return dict(out)


# ------------------------------------------------------------------------------------------
# The formulas


def _erlang(calls_per_h: float, service_s: float, target_s: int):  # type: ignore[no-untyped-def]
    # pyworkforce and scipy.stats take a second to import: only a roster being sized pays it.
    from pyworkforce.queuing import ErlangC

    return ErlangC(transactions=calls_per_h, aht=service_s / 60, asa=target_s / 60, interval=60)


def erlang_c_on_duty(calls_per_h: float, service_s: float, target_s: int, service_level: float) -> tuple[int, float]:
    """The fewest servers with P(wait <= target) >= service_level in an M/M/c queue (Erlang C,
    pyworkforce), and the service level they give. No calls: (0, 1.0)."""
    if calls_per_h <= 0 or service_s <= 0:
        return 0, 1.0
    got = _erlang(calls_per_h, service_s, target_s).required_positions(service_level=service_level)
    return int(got["raw_positions"]), float(got["service_level"])


def erlang_c_service_level(calls_per_h: float, service_s: float, target_s: int, servers: int) -> float:
    """P(wait <= target) with ``servers`` (0 when they cannot keep up)."""
    if calls_per_h <= 0:
        return 1.0
    erlang = _erlang(calls_per_h, service_s, target_s)
    return float(erlang.service_level(servers)) if servers > erlang.intensity else 0.0


def opening_on_duty(backlog_mean: float, drive_s: float, work_s: float, target_s: int, service_level: float) -> int:
    """Technicians who set the opening backlog off within the target on ``service_level`` of days."""
    if backlog_mean <= 0:
        return 0
    from scipy.stats import poisson  # slow to import (see _erlang)

    per_tech = 1 + target_s / max(drive_s + work_s, 1.0)
    backlog = float(poisson.ppf(service_level, backlog_mean))
    return math.ceil(backlog / per_tech)


def heads_for(on_duty_by_weekday: Sequence[int]) -> int:
    """The fewest people, each resting one weekday, who leave ``on_duty_by_weekday[d]`` at work on
    every weekday d (rest days staggered by :func:`stagger_rest`)."""
    need = list(on_duty_by_weekday)
    if not need or max(need) <= 0:
        return 0
    return max(max(need), math.ceil(sum(need) / (WEEKDAYS - 1)))


def stagger_rest(heads: int, on_duty_by_weekday: Sequence[int]) -> list[int]:
    """A rest weekday for each of ``heads`` people such that at least ``on_duty_by_weekday[d]``
    work on weekday d: each rest day goes to the weekday with the most room left (ties: the
    quieter day, then the earlier), so consecutive people rest on different days."""
    need = list(on_duty_by_weekday) or [0] * WEEKDAYS
    room = [heads - n for n in need]
    if heads and (min(room) < 0 or sum(room) < heads):
        raise DispatchError(f"{heads} people cannot rest one day a week and still cover {need} a day")
    out = []
    for _ in range(heads):
        d = max(range(WEEKDAYS), key=lambda k: (room[k], -need[k], -k))
        out.append(d)
        room[d] -= 1
    return out


def _ceil(x: float) -> int:
    return math.ceil(x - 1e-9)


def recommend(workload: Workload, params: StaffingParams = StaffingParams(), rules: Rules = DEFAULT_RULES) -> StaffingPlan:
    """The roster the workload needs: field staff per pool, bench and counter staff per centre."""
    target = params.target(rules)
    week = workload.weekday_factors
    pools = []
    for p in workload.pools:
        stream, opening, sl = [], [], 1.0
        for f in week:
            calls_h = p.travelling_per_day * f * workload.busy_hour_share
            stream.append(erlang_c_on_duty(calls_h, p.service_s, target, params.service_level)[0])
            opening.append(opening_on_duty(p.travelling_per_day * f * workload.backlog_share, p.drive_s, p.work_s,
                                           target, params.service_level))
        on_duty = tuple(max(s, o) for s, o in zip(stream, opening))
        busiest = int(np.argmax(week))
        sl = erlang_c_service_level(p.travelling_per_day * week[busiest] * workload.busy_hour_share, p.service_s,
                                    target, on_duty[busiest])
        heads = heads_for(on_duty)
        mean_on_duty = heads * (WEEKDAYS - 1) / WEEKDAYS
        util = p.travelling_per_day * p.service_s / (mean_on_duty * params.net_shift_s) if mean_on_duty else math.nan
        pools.append(PoolStaffing(p.key, p.travelling_per_day, p.service_s,
                                  p.travelling_per_day * week[busiest] * workload.busy_hour_share * p.service_s / 3600,
                                  max(stream), max(opening), on_duty, heads, sl, util))
    field_heads = _field_by_centre(workload, {p.key: p.heads for p in pools})
    centres = [_stationary(c, field_heads.get(c.centre_id, 0), week, params) for c in workload.centres]
    return StaffingPlan(tuple(pools), tuple(centres), params, workload, target)


def _field_by_centre(workload: Workload, heads_by_pool: Mapping[str, int]) -> dict[str, int]:
    """A pool's field staff shared out over its centres by their travelling calls (largest
    remainder), one at least at each centre with calls while there are enough people."""
    out: dict[str, int] = {}
    by_pool: dict[str, list[CentreLoad]] = defaultdict(list)
    for c in workload.centres:
        by_pool[c.pool].append(c)
    for key, heads in heads_by_pool.items():
        cs = sorted(by_pool.get(key, []), key=lambda c: (-c.travelling_per_day, c.centre_id))
        busy = [c for c in cs if c.travelling_per_day > 0]
        share = {c.centre_id: 0 for c in cs}
        floor_one = heads >= len(busy)
        left = heads
        if floor_one:
            for c in busy:
                share[c.centre_id] = 1
            left -= len(busy)
        total = sum(c.travelling_per_day for c in busy)
        if left and total:
            ideal = {c.centre_id: heads * c.travelling_per_day / total - share[c.centre_id] for c in busy}
            base = {k: max(0, math.floor(v)) for k, v in ideal.items()}
            while sum(base.values()) > left:  # the floor of one took more than the smallest shares
                k = max(base, key=lambda k: (base[k] - ideal[k], k))
                base[k] -= 1
            rest = sorted(ideal, key=lambda k: (-(ideal[k] - base[k]), k))
            for k in rest[: left - sum(base.values())]:
                base[k] += 1
            for k, v in base.items():
                share[k] += v
        out.update(share)
    return out


def _stationary(c: CentreLoad, field_heads: int, week: Sequence[float], params: StaffingParams) -> CentreStaffing:
    per_person = params.productive_s
    total, counter = [], []
    for f in week:
        work_s = (c.walkins_per_day * params.counter_s_per_walkin + c.bench_s_per_day) * f
        need_counter = max(1, _ceil(c.walkins_per_day * f * params.counter_s_per_walkin / per_person)) if c.walkins_per_day > 0 else 0
        counter.append(need_counter)
        total.append(max(need_counter, _ceil(work_s / per_person)))
    holders = heads_for(counter)
    bench_only = heads_for([t - k for t, k in zip(total, counter)])
    heads = holders + bench_only
    counter_h = c.walkins_per_day * params.counter_s_per_walkin / 3600
    capacity_h = max(0.0, heads * (WEEKDAYS - 1) / WEEKDAYS * per_person / 3600 - counter_h)
    dual = holders if c.bench_s_per_day > 0 else 0
    return CentreStaffing(c.centre_id, c.pool, field_heads, bench_only, holders - dual, dual, round(capacity_h, 1),
                          c.bench_s_per_day / 3600, counter_h, tuple(total), tuple(counter))


# ------------------------------------------------------------------------------------------
# Workload from points (a forecast) or from a dataset's own calls


def workload_from_points(
    network: Network, lon: np.ndarray, lat: np.ndarray, travelling: np.ndarray, walkins: np.ndarray,
    bench_by_level: Mapping[int, np.ndarray], work_s: float, backlog_share: float, busy_hour_share: float,
    weekday_factors: Sequence[float] = FLAT_WEEK, rules: Rules = DEFAULT_RULES,
    travel: Travel = DEFAULT_TRAVEL, source: str = "",
) -> Workload:
    """The workload of calls at points (``travelling``, ``walkins``, ``bench_by_level[level]``:
    expected calls a day at each point), each answered by its nearest centre."""
    area = area_of_centre(network)
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    idx, _ = network.nearest(lon, lat)
    idx = np.atleast_1d(idx)
    centre_lon = np.array([c.lon for c in network.centres])
    centre_lat = np.array([c.lat for c in network.centres])
    drive = (np.asarray(drive_s(travel, centre_lon[idx], centre_lat[idx], lon, lat), dtype=float) if len(idx)
             else np.array([]))
    n = len(network.centres)
    trav_c = np.bincount(idx, weights=travelling, minlength=n)
    walk_c = np.bincount(idx, weights=walkins, minlength=n)
    bench_c = np.zeros(n)
    pos = {c.id: i for i, c in enumerate(network.centres)}
    for level, w in bench_by_level.items():
        per_nearest = np.bincount(idx, weights=w, minlength=n)
        for i in np.flatnonzero(per_nearest):
            chain = network.chain(network.centres[i].id)
            at = next((c for c in chain if c.can_repair(level)), chain[-1])
            bench_c[pos[at.id]] += per_nearest[i] * rules.bench_s(level)
    centres = tuple(CentreLoad(c.id, area[c.id], float(trav_c[i]), float(walk_c[i]), float(bench_c[i]))
                    for i, c in enumerate(network.centres))
    pool_of = np.array([area[network.centres[i].id] for i in idx]) if len(idx) else np.array([], dtype=str)
    pools = []
    for key in sorted(set(area.values())):
        m = pool_of == key
        w = travelling[m] if len(m) else np.array([])
        total = float(w.sum()) if len(w) else 0.0
        mean_drive_s = float((drive[m] * w).sum() / total) if total else 0.0
        pools.append(PoolLoad(key, total, mean_drive_s, work_s))
    return Workload(centres, tuple(pools), backlog_share, busy_hour_share, tuple(weekday_factors), source)


def workload_from_dataset(dataset: Dataset, rules: Rules = DEFAULT_RULES,
                          travel: Travel = DEFAULT_TRAVEL) -> Workload:
    """The workload a dataset's own calls make, per day over the days they span (the weekday
    profile from them when they cover every weekday, else flat)."""
    net = dataset.network
    reqs = dataset.requests
    if not reqs:
        return workload_from_points(net, np.array([]), np.array([]), np.array([]), np.array([]), {}, 0.0, 0.0, 0.0,
                                    rules=rules, travel=travel, source="dataset (no calls)")
    first = min(r.created_s for r in reqs) // DAY_S
    days_of = np.array([r.created_s // DAY_S - first for r in reqs])
    n_days = int(days_of.max()) + 1
    lon, lat = np.array([r.lon for r in reqs]), np.array([r.lat for r in reqs])
    idx, _ = net.nearest(lon, lat)
    trav = np.array([r.mode in TRAVELLING_MODES for r in reqs], dtype=float)
    walk = np.array([not r.mode.travels for r in reqs], dtype=float)
    bench_call = np.array([r.mode != Mode.ONSITE or r.level > rules.onsite_max_level for r in reqs], dtype=float)
    level = np.array([r.level for r in reqs])
    backlog = starts = 0
    hours = np.zeros(24)
    for r, j in zip(reqs, np.atleast_1d(idx)):
        if r.mode not in TRAVELLING_MODES:
            continue
        centre = net.centres[int(j)]
        clock = dispatch_clock_start(centre, r)
        starts += 1
        if clock > r.created_s and clock % DAY_S == centre.opening.start_s:
            backlog += 1
        else:
            hours[(clock % DAY_S) // 3600] += 1
    work = float(np.mean([r.service_s for r in reqs if r.mode in TRAVELLING_MODES])) if starts else 0.0
    epoch = dt.date.fromisoformat(dataset.epoch_date)
    weekdays = np.array([(epoch + dt.timedelta(days=int(first + d))).weekday() for d in days_of])
    week = FLAT_WEEK
    if len(set(weekdays.tolist())) == WEEKDAYS:
        per_day = np.bincount(days_of, minlength=n_days)
        day_weekday = [(epoch + dt.timedelta(days=int(first + d))).weekday() for d in range(n_days)]
        by_wd = np.array([per_day[[d for d in range(n_days) if day_weekday[d] == w]].mean() for w in range(WEEKDAYS)])
        week = tuple(float(x) for x in by_wd / by_wd.mean())
    scale = 1.0 / n_days
    return workload_from_points(
        net, lon, lat, trav * scale, walk * scale,
        {lv: bench_call * (level == lv) * scale for lv in LEVELS}, work,
        backlog / starts if starts else 0.0, float(hours.max()) / starts if starts else 0.0, week, rules, travel,
        f"dataset ({len(reqs)} calls over {n_days} day(s))")


# ------------------------------------------------------------------------------------------
# Who works on a day, and the overtime ledger


def on_duty(technicians: Iterable[Technician], epoch_date: str | None, day: int,
            roles: frozenset[str] | None = frozenset({FIELD_ROLE})) -> list[Technician]:
    """The technicians at work on ``day`` (the dataset's ``epoch_date`` + ``day``): not on their
    rest weekday, and holding one of ``roles`` (default: the field, the only role a dispatcher
    sends out; None: every role). Without an epoch date nobody's rest day can be placed, so
    everyone of the roles is at work."""
    weekday = None if epoch_date is None else (dt.date.fromisoformat(epoch_date) + dt.timedelta(days=day)).weekday()
    return [t for t in technicians
            if (roles is None or t.role in roles) and (weekday is None or t.rest_weekday != weekday)]


def off_duty(t: Technician, epoch_date: str | None, day: int) -> str | None:
    """Why ``t`` is not among the field staff at work on ``day`` (None: he is): a sentence."""
    if t.role != FIELD_ROLE:
        return f"technician {t.id!r} is {t.role} staff at {t.home_centre_id}, not in the field"
    if epoch_date is None or t.rest_weekday is None:
        return None
    date = dt.date.fromisoformat(epoch_date) + dt.timedelta(days=day)
    if date.weekday() != t.rest_weekday:
        return None
    return f"technician {t.id!r} rests on {calendar.day_name[t.rest_weekday]}s (weekly rest day), and {date} is one"


@dataclass
class OvertimeLedger:
    """Paid overtime per technician and calendar month, against the rule book's monthly cap."""

    epoch_date: str
    rules: Rules = DEFAULT_RULES
    used_s: dict[tuple[str, str], int] = field(default_factory=dict)  # (technician, YYYY-MM) -> s

    def _month(self, day: int) -> str:
        return (dt.date.fromisoformat(self.epoch_date) + dt.timedelta(days=day)).strftime("%Y-%m")

    def record(self, technician_id: str, day: int, overtime_s: int) -> None:
        if overtime_s < 0:
            raise DispatchError(f"overtime of {technician_id} on day {day} is negative: {overtime_s} s")
        key = (technician_id, self._month(day))
        self.used_s[key] = self.used_s.get(key, 0) + int(overtime_s)

    def used(self, technician_id: str, day: int) -> int:
        return self.used_s.get((technician_id, self._month(day)), 0)

    def allowance_s(self, technician_id: str, day: int) -> int:
        """What he may still work past his shift on ``day``: the daily limit within the month's cap."""
        return self.rules.overtime_allowance_s(self.used(technician_id, day))

    def over_cap(self) -> list[tuple[str, str, int]]:
        """(technician, month, seconds over the cap) for every month past it."""
        cap = self.rules.max_overtime_month_s
        return sorted((t, m, s - cap) for (t, m), s in self.used_s.items() if s > cap)
