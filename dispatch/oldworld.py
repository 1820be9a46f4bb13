"""The old world: how a phone maker's repairs worked before a county network and a call centre.

A seeded simulation of the same calls as the planner's (every call of a :class:`Dataset`), served
as they were around 2000, before Bird built its call centre and service network (issue 16, 4a):

1. **Carry-in.** The customer takes the phone to the dealer at the seat of the call's county
   (Bird sold through dealers in every county; a call without a known county goes to the nearest
   seat). On-site, pickup and walk-in calls all become "carry to the dealer": nobody was sent,
   so no call is ever dispatched (``dispatch_s`` is NaN) and ``visit_mode`` is ``carry_in``. The
   customer sets out at the call and travels by the travel model at the ``scooter`` class (bus
   and e-bike speeds, up to 25 km/h), priced at the call's hour (a big city's rush hour slows
   him); if the dealer is closed on arrival he comes at its next opening. A customer whom the
   model gives no way to the dealer (an island with no modelled ferry: a trip over
   ``max_trip_s``, a day) never arrives: censored, and counted as ``never_at_dealer``.
2. **Batches by mail.** Each dealer posts what it holds to its provincial lab on fixed days: a
   share of dealers twice a week (Mon+Thu or Tue+Fri), the rest weekly (one day Mon..Fri), drawn
   per dealer from the seed. The parcel leaves at the post counter's 16:00 collection; a device
   handed in later waits for the next mail day.
3. **Mail.** Transit in calendar days by distance band (road distance, dealer seat to lab):
   within the province 1 day up to 300 km, else 2; to a lab in another province (only when the
   network has none in the dealer's province) 2 days up to 1,000 km, 3 up to 2,000 km, else 4.
   The post delivers Monday to Saturday at 10:00; a parcel due on Sunday comes on Monday.
   Sources: EMS within a province takes 1-2 days (next day between cities, a day more for
   remote places; a summary of EMS's times: fudaoke.com/exam/2772449.html); the express
   standard's limit between cities is 72 h (GB/T 27917-2011, after YZ/T 0128-2007), hence 2-4
   days across provinces, the tail for the far west.
4. **The lab.** The provincial centre of the network (tier 1) is the only place that repairs: a
   first come, first served bench, one device per technician at a time, worked 09:00-17:00
   Monday to Saturday (a six-day week, as service labs ran then; no Sunday work, and no public
   holidays modelled). A repair takes the rule book's bench time for its level
   (``Rules.bench_s``) plus 20 min of handling (unpack, log, test, clean, pack). The number of
   technicians is sized to the lab's intake (its devices' bench hours over the working days of
   the calls' span, at 85 % utilisation: a lab that falls behind for ever is not a world that
   lasted), or the tier-1 roster of the dataset, or a fixed number (``lab_technicians``).
5. **Parts.** On intake 15 % of devices lack a part; the part comes 2-5 days later (uniform, whole
   days, delivered with the morning post) and the device then joins the queue. In practice the
   wait for parts is the largest share of a phone repair's turnaround (design.md); 15 % and 3.5
   days on average are this model's assumption, not a published figure.
6. **Return.** The lab posts each working day's repairs at its 17:00 collection, with the same
   transit back; the dealer calls the customer, who comes after an exponential delay (mean 18 h)
   within the dealer's hours (09:00-20:00, every day). The cycle ends when he collects the phone:
   ``completion_s``; ``turnaround_s`` is completion minus the call.

The lab's benches are the only resource devices share; every other stage is a function of the
device's own times and the calendars. So the simulation runs stage by stage over all devices
(NumPy), and the lab as a FIFO multi-server queue in order of readiness: the result is the
event queue's, since no stage depends on a later one. It keeps going ``drain_days`` (28) past the
last call day; a device not back with its customer by then is **censored**: in the frame, with
the stages it reached, ``completion_s`` NaN and reason ``open_at_horizon``; never dropped.

Calibration (``calibrate``): Bird's "before" cycle was 6 days (the project's seed: Bird cut its
average service cycle from 6 days to 2; issue 16 asks for 6 +- 0.5 on the default network). Every
parameter above comes from its own source or stated assumption except one, the least known: the
share of dealers posting twice a week. It was swept on the Zhejiang preset (14 days of calls,
seeds 1-5; the median over seeds of each run's mean cycle, never one seed's figure) and set to
0.8, where the median is 6.0 days::

    twice-weekly share   0.5   0.6   0.7   0.75  0.8   0.85  0.9   1.0
    Zhejiang median      6.59  6.38  6.16  6.08  5.99  5.91  5.86  5.65   (days)

With 0.8, ``calibrate()`` (generate(preset, days=14, seed=s), the old world with the same seed;
the sweep and the flat rows were measured with the flat travel model, the planner's default
then; the road rows with the road model, today's default; national road on seeds 1-3 only, at
about 11 minutes a seed)::

    preset            seeds 1..5 mean cycle (days)   median  p50   p90   censored  lab technicians
    zhejiang (flat)   5.95 6.02 5.99 5.97 6.01        5.99    5.70  9.02  0         ~325 (1 lab)
    zhejiang (road)   5.85 5.91 5.86 5.83 5.90        5.86    5.55  8.92  8-14      ~325 (1 lab)
    national (flat)   6.22 6.22 6.20 6.23 6.21        6.22    5.88  9.47  0         ~7,030 (31 labs)
    national (road)   6.15 6.15 6.12                  6.15    5.82  9.18  28-35     ~7,030 (31 labs)

The road model's shorter long-distance roads (a detour of 1.16 rather than 1.3) bring more
dealers within a day's mail of their lab (mail out 0.88 days rather than 0.99), so its cycle is
0.13 days shorter, within the target's tolerance; its censored calls (8-14 of about 19,300) are
island customers with no modelled ferry to their dealer, who never reach it (``never_at_dealer``).
Where the days go (Zhejiang, road model, medians): to the dealer 0.08, waiting for the mail day
2.01, mail out 0.88, at the lab (parts, queue, bench) 0.88, back by mail 1.14, collection 0.87.
Share back within 48 h 0.5 %, over 6 days 37 %. Other presets, seeds 1-3: Guangdong 6.25, Sichuan 6.43
(longer mail from the west), tiny (Huzhou, next to the Hangzhou lab, five dealers) 5.45. To repeat
it: ``dispatch.oldworld.calibrate()`` returns each run and each preset's median over seeds.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from dispatch.dataset import Dataset
from dispatch.errors import DispatchError, InputError
from dispatch.geodata import load_geography
from dispatch.model import DAY_S, Centre, Tier
from dispatch.network import CentreIndex, unit_vectors
from dispatch.progress import Progress
from dispatch.reasons import Reason
from dispatch.rules import DEFAULT_RULES, Rules
from dispatch.synthetic import generate
from dispatch.travel import DEFAULT_TRAVEL, Travel, legs_by_hour

H = 3600
MON_TO_FRI = (0, 1, 2, 3, 4)
MON_TO_SAT = (0, 1, 2, 3, 4, 5)
# (road metres up to, transit days); the last band catches every longer distance.
Bands = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class OldWorldParams:
    """The old world's parameters (module docstring: what each stands for and where it comes from).
    Clock times are seconds since midnight; weekdays 0 = Monday .. 6 = Sunday."""

    # Dealers: hours (every day: Chinese phone retail opens at weekends), mail days, post time.
    dealer_hours_s: tuple[int, int] = (9 * H, 20 * H)
    dealer_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    customer_speed_class: str = "scooter"
    # A longer trip to the dealer is none: the travel model has no way there (an island with no
    # modelled ferry, whose legs the road model gives 30 days); the call is censored, never at its
    # dealer. Every trip with a way there takes well under a day (national: at most 17 h).
    max_trip_s: int = DAY_S
    # The calibrated parameter: the share of dealers posting twice a week (module docstring).
    twice_weekly_share: float = 0.8
    weekly_mail_days: tuple[tuple[int, ...], ...] = tuple((d,) for d in MON_TO_FRI)
    twice_weekly_mail_days: tuple[tuple[int, ...], ...] = ((0, 3), (1, 4))
    dealer_post_s: int = 16 * H  # the post counter's collection on a mail day
    # The post: delivery days and time, transit by road distance.
    post_delivery_weekdays: tuple[int, ...] = MON_TO_SAT
    post_delivery_s: int = 10 * H
    within_province_days: Bands = ((300_000, 1), (10**12, 2))
    interprovince_days: Bands = ((1_000_000, 2), (2_000_000, 3), (10**12, 4))
    # The provincial lab.
    lab_weekdays: tuple[int, ...] = MON_TO_SAT
    lab_bench_s: tuple[int, int] = (9 * H, 17 * H)  # each technician's bench day
    lab_post_s: int = 17 * H  # the day's repairs leave with this collection
    lab_handling_s: int = 20 * 60  # per device, on top of the rule book's bench time
    lab_technicians: int | str = "workload"  # "workload", "roster" or a number per lab
    lab_utilisation: float = 0.85  # "workload": the bench share the lab is sized to
    rules: Rules = DEFAULT_RULES  # bench time by repair level
    # Parts: the share of devices that wait for one, and the wait (whole days, uniform).
    parts_share: float = 0.15
    parts_wait_days: tuple[int, int] = (2, 5)
    # The customer collects after an exponential delay with this mean, in the dealer's hours.
    pickup_mean_s: int = 18 * H
    drain_days: int = 28  # simulated days after the last call day
    seed: int = 0

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 <= self.twice_weekly_share <= 1.0 or not 0.0 <= self.parts_share <= 1.0:
            problems.append(f"twice_weekly_share and parts_share must be shares in 0..1, got "
                            f"{self.twice_weekly_share} and {self.parts_share}")
        if not 0 <= self.parts_wait_days[0] <= self.parts_wait_days[1]:
            problems.append(f"parts_wait_days must be (min, max) days with 0 <= min <= max, got {self.parts_wait_days}")
        # A censored call counts as over 6 days (summary); that holds only with a drain of >= 7 days.
        if self.drain_days < 7 or self.pickup_mean_s < 0:
            problems.append(f"drain_days must be >= 7 and pickup_mean_s >= 0, got {self.drain_days} and "
                            f"{self.pickup_mean_s}")
        if self.max_trip_s <= 0:
            problems.append(f"max_trip_s must be > 0 seconds, got {self.max_trip_s}")
        if not 0.0 < self.lab_utilisation <= 1.0:
            problems.append(f"lab_utilisation must be in (0, 1], got {self.lab_utilisation}")
        staff = self.lab_technicians
        if not (staff in ("workload", "roster") or (isinstance(staff, int) and staff >= 1)):
            problems.append(f"lab_technicians must be 'workload', 'roster' or a number >= 1, got {staff!r}")
        days = (self.dealer_weekdays, self.post_delivery_weekdays, self.lab_weekdays,
                *self.weekly_mail_days, *self.twice_weekly_mail_days)
        if any(not d or any(not 0 <= x <= 6 for x in d) for d in days):
            problems.append("every set of weekdays must be non-empty, with days 0 (Monday) .. 6 (Sunday)")
        for name in ("dealer_hours_s", "lab_bench_s"):
            start, end = getattr(self, name)
            if not 0 <= start < end <= DAY_S:
                problems.append(f"{name} must be (start, end) within a day with start < end, got {(start, end)}")
        for name in ("within_province_days", "interprovince_days"):
            bands = getattr(self, name)
            if not bands or any(days < 0 for _, days in bands) or \
                    [m for m, _ in bands] != sorted(m for m, _ in bands):
                problems.append(f"{name} must be (max metres, days >= 0) bands in increasing distance, got {bands}")
        if problems:
            raise DispatchError("; ".join(problems))


@dataclass(frozen=True)
class OldWorldResult:
    outcomes: pd.DataFrame  # one row per call (columns: OUTCOME_COLUMNS)
    dealers: pd.DataFrame  # one row per dealer that received a call
    labs: pd.DataFrame  # lab_id, technicians, devices, bench_h
    # One row per lab technician and lab working day of the calls' span (their paid bench day,
    # the day's bench work shared among them): what the old world's cost per job charges.
    workload: pd.DataFrame
    summary: dict[str, float]  # see summary()
    horizon_s: int  # the simulation's end: later events are not seen
    params: OldWorldParams


# The per-call frame: the KPI columns of dispatch.kpis (with visit_mode "carry_in", never
# dispatched, repaired at tier 1) and the stages' times, absolute seconds (NaN: not reached by
# the horizon).
STAGES = ("at_dealer_s", "mailed_s", "at_lab_s", "bench_start_s", "repaired_s", "mailed_back_s",
          "back_at_dealer_s", "completion_s")
OUTCOME_COLUMNS = (
    "request_id", "mode", "visit_mode", "level", "priority", "province_adcode", "centre_id", "dealer_id",
    "created_s", "clock_start_s", "dispatch_s", "dispatch_wait_s", *STAGES, "parts_wait_s", "turnaround_s",
    "repair_tier", "repair_centre_id", "unassigned_reason", "courier_legs")
# The labs' technicians as the KPIs' workload (dispatch.kpis: utilisation, cost per job).
WORKLOAD_COLUMNS = ("technician_id", "day", "centre_id", "province_adcode", "available_s", "busy_s", "travel_s",
                    "distance_m", "overtime_s", "jobs")


# --------------------------------------------------------------------------------------------
# Calendars: weekdays as 7-bit masks (bit 0 = Monday), days counted from the dataset's epoch


def _mask(weekdays: Iterable[int]) -> int:
    return sum(1 << d for d in set(weekdays))


def _days_until(day: np.ndarray, mask: np.ndarray | int, epoch_weekday: int) -> np.ndarray:
    """Days from each ``day`` to the first day at or after it whose weekday is in ``mask``."""
    out = np.full(np.shape(day), -1, dtype=np.int64)
    for k in range(7):
        weekday = (epoch_weekday + day + k) % 7
        hit = (out < 0) & (((np.asarray(mask) >> weekday) & 1) == 1)
        out[hit] = k
    return out


def _next_at(t: np.ndarray, at_s: int, mask: np.ndarray | int, epoch_weekday: int) -> np.ndarray:
    """The first moment >= t that is ``at_s`` past midnight on a day in ``mask`` (a collection)."""
    day = t // DAY_S
    day = np.where(t > day * DAY_S + at_s, day + 1, day)
    return (day + _days_until(day, mask, epoch_weekday)) * DAY_S + at_s


def _deliver(day: np.ndarray, p: OldWorldParams, epoch_weekday: int) -> np.ndarray:
    """When mail due on ``day`` is delivered: that day's round, or the next delivery day's."""
    mask = _mask(p.post_delivery_weekdays)
    return (day + _days_until(day, mask, epoch_weekday)) * DAY_S + p.post_delivery_s


def _next_open(t: np.ndarray, hours_s: tuple[int, int], mask: int, epoch_weekday: int) -> np.ndarray:
    """The first moment >= t when a place with these hours, on these weekdays, is open."""
    day = t // DAY_S
    tod = t - day * DAY_S
    opens, closes = hours_s
    first = np.where(tod < opens, day * DAY_S + opens, np.where(tod >= closes, (day + 1) * DAY_S + opens, t))
    d = first // DAY_S
    wait = _days_until(d, mask, epoch_weekday)
    return np.where(wait == 0, first, (d + wait) * DAY_S + opens)


def _bench_start(t: int, work_s: int, hours_s: tuple[int, int], mask: int, epoch_weekday: int) -> int:
    """The first moment >= t on a lab working day when ``work_s`` of repair fits before the bench
    day ends (a repair is not split over two days, as on the planner's benches)."""
    opens, closes = hours_s
    day = t // DAY_S
    for _ in range(8):
        if (mask >> ((epoch_weekday + day) % 7)) & 1:
            start = max(t, day * DAY_S + opens)
            if start + work_s <= day * DAY_S + closes:
                return int(start)
        day += 1
    raise DispatchError(f"a {work_s // 60}-min repair does not fit in the lab's bench day "
                        f"({(closes - opens) // 60} min); expected lab_bench_s longer than any repair")


# --------------------------------------------------------------------------------------------
# Dealers and labs


def county_seats() -> pd.DataFrame:
    """Every county seat of the mainland (adcode, name, province_adcode, seat_lon, seat_lat): where
    the old world's dealers are."""
    counties = load_geography().counties
    return pd.DataFrame(counties[["adcode", "name", "province_adcode", "seat_lon", "seat_lat"]])


def _mail_schedules(seats: pd.DataFrame, p: OldWorldParams) -> tuple[np.ndarray, np.ndarray]:
    """(twice-weekly?, mail-day mask) per seat, drawn in adcode order so that a dealer's days do
    not depend on which counties have calls."""
    rng = np.random.default_rng([p.seed, 1])
    order = np.argsort(seats["adcode"].to_numpy(str), kind="stable")
    n = len(seats)
    twice, pick = rng.random(n) < p.twice_weekly_share, rng.random(n)
    weekly = np.array([_mask(d) for d in p.weekly_mail_days])
    twice_days = np.array([_mask(d) for d in p.twice_weekly_mail_days])
    masks = np.where(twice, twice_days[(pick * len(twice_days)).astype(int)],
                     weekly[(pick * len(weekly)).astype(int)])
    out_twice, out_mask = np.empty(n, bool), np.empty(n, np.int64)
    out_twice[order], out_mask[order] = twice, masks
    return out_twice, out_mask


def _transit_days(distance_m: np.ndarray, same_province: np.ndarray, p: OldWorldParams) -> np.ndarray:
    def band(bands: Bands) -> np.ndarray:
        limits = np.array([m for m, _ in bands])
        days = np.array([d for _, d in bands])
        return days[np.minimum(np.searchsorted(limits, distance_m, side="left"), len(days) - 1)]

    return np.where(same_province, band(p.within_province_days), band(p.interprovince_days))


def _labs_of(seats: pd.DataFrame, dataset: Dataset) -> list[Centre]:
    """Each seat's lab: its province's tier-1 centre, else the nearest tier-1 centre."""
    labs = dataset.network.by_tier(Tier.PROVINCE)
    if not labs:
        raise InputError("the old world needs a provincial lab: the network has no tier-1 centre; expected "
                         "at least one centre of tier 1")
    by_province = {c.province_adcode: c for c in labs}
    nearest = np.atleast_1d(CentreIndex(labs).nearest(seats["seat_lon"].to_numpy(float),
                                                      seats["seat_lat"].to_numpy(float))[0])
    return [by_province.get(prov, labs[int(j)]) for prov, j in zip(seats["province_adcode"], nearest)]


def _dealer_ids(county_adcodes: np.ndarray) -> np.ndarray:
    return np.array([f"dealer-{code}" for code in county_adcodes], dtype=object)


def _dealer_of_calls(dataset: Dataset, seats: pd.DataFrame) -> np.ndarray:
    """Row of ``seats`` for each call: its county's seat, or the nearest seat when the county is
    unknown."""
    from scipy.spatial import cKDTree

    row_of = {code: i for i, code in enumerate(seats["adcode"].astype(str))}
    rows = np.array([row_of.get(r.county_adcode, -1) for r in dataset.requests], dtype=np.int64)
    lost = np.flatnonzero(rows < 0)
    if len(lost):
        tree = cKDTree(unit_vectors(seats["seat_lon"].to_numpy(float), seats["seat_lat"].to_numpy(float)))
        lon = np.array([dataset.requests[i].lon for i in lost])
        lat = np.array([dataset.requests[i].lat for i in lost])
        rows[lost] = tree.query(unit_vectors(lon, lat))[1]
    return rows


def _lab_staff(p: OldWorldParams, lab: Centre, work_s: np.ndarray, days: range, dataset: Dataset,
               epoch_weekday: int) -> int:
    if isinstance(p.lab_technicians, int):
        return p.lab_technicians
    if p.lab_technicians == "roster":
        return max(1, sum(1 for t in dataset.technicians if t.home_centre_id == lab.id))
    mask = _mask(p.lab_weekdays)
    working = sum(1 for d in days if (mask >> ((epoch_weekday + d) % 7)) & 1)
    per_tech_s = (p.lab_bench_s[1] - p.lab_bench_s[0]) * max(working, 1) * p.lab_utilisation
    return max(1, math.ceil(float(work_s.sum()) / per_tech_s))


# --------------------------------------------------------------------------------------------
# The run


def simulate_old_world(dataset: Dataset, params: OldWorldParams = OldWorldParams(),
                       travel: Travel = DEFAULT_TRAVEL, seats: pd.DataFrame | None = None,
                       progress: Progress | None = None) -> OldWorldResult:
    """Every call of ``dataset`` carried to its dealer, mailed to the lab, repaired and mailed back
    (module docstring). ``seats``: the dealers' county seats (``county_seats()`` unless given)."""
    p = params
    report = progress or (lambda stage, done, total: None)
    report("old world", 0, 1)
    seats = (county_seats() if seats is None else seats).reset_index(drop=True)
    seats = seats.assign(adcode=seats["adcode"].astype(str), province_adcode=seats["province_adcode"].astype(str))
    ew = dt.date.fromisoformat(dataset.epoch_date).weekday()
    reqs = dataset.requests
    n = len(reqs)
    created = np.array([r.created_s for r in reqs], dtype=np.int64)
    level = np.array([r.level for r in reqs], dtype=np.int64)
    last_day = int(created.max() // DAY_S) if n else -1
    horizon_s = (last_day + 1 + p.drain_days) * DAY_S

    # Dealers: the seat of each call's county, its lab, mail days and transit.
    seat_row = _dealer_of_calls(dataset, seats) if n else np.array([], np.int64)
    twice, mail_mask = _mail_schedules(seats, p)
    used = np.unique(seat_row)
    lab_of_seat: dict[int, Centre] = dict(zip(used.tolist(), _labs_of(seats.iloc[used], dataset)))
    used_seats = seats.iloc[used]
    labs_used = [lab_of_seat[int(i)] for i in used]
    _, dist_m = travel.legs(used_seats["seat_lon"].to_numpy(float), used_seats["seat_lat"].to_numpy(float),
                            np.array([c.lon for c in labs_used]), np.array([c.lat for c in labs_used]))
    same = used_seats["province_adcode"].to_numpy(str) == np.array([c.province_adcode for c in labs_used], str)
    transit_of_seat = np.zeros(len(seats), np.int64)
    transit_of_seat[used] = _transit_days(np.atleast_1d(dist_m), same, p)
    transit = transit_of_seat[seat_row]
    seat_lon, seat_lat = seats["seat_lon"].to_numpy(float), seats["seat_lat"].to_numpy(float)

    # 1. The customer carries the phone to the dealer, in its hours, setting out at the call (its
    # hour prices the trip: a call in a big city's rush hour travels at the peak's pace).
    trip_s = legs_by_hour(travel, np.array([r.lon for r in reqs]), np.array([r.lat for r in reqs]),
                          seat_lon[seat_row], seat_lat[seat_row], created, p.customer_speed_class)[0]
    dealer_mask = _mask(p.dealer_weekdays)
    at_dealer = np.where(trip_s <= p.max_trip_s, _next_open(created + trip_s, p.dealer_hours_s, dealer_mask, ew),
                         horizon_s + DAY_S)  # no way there: every stage falls past the horizon
    # 2-3. The next mail day's collection, then the post.
    mailed = _next_at(at_dealer, p.dealer_post_s, mail_mask[seat_row], ew)
    at_lab = _deliver(mailed // DAY_S + transit, p, ew)
    # 5. Parts: the device joins the queue when its part comes with the morning post.
    rng = np.random.default_rng([p.seed, 2])
    needs_part = rng.random(n) < p.parts_share
    wait_days = rng.integers(p.parts_wait_days[0], p.parts_wait_days[1] + 1, n)
    ready = np.where(needs_part, _deliver(at_lab // DAY_S + wait_days, p, ew), at_lab)

    # 4. The lab: FIFO in order of readiness (ties in call order), on its technicians' benches.
    bench_of_level = np.zeros(max(p.rules.bench_s_by_level) + 1, np.int64)
    for lv, s in p.rules.bench_s_by_level.items():
        bench_of_level[lv] = s
    work_s = bench_of_level[level] + p.lab_handling_s
    labs_sorted = sorted({c.id: c for c in lab_of_seat.values()}.values(), key=lambda c: c.id)
    lab_pos = {c.id: k for k, c in enumerate(labs_sorted)}
    lab_of_call = np.array([lab_pos[lab_of_seat[int(i)].id] for i in used], np.int64)[np.searchsorted(used, seat_row)]
    call_days = range(int(created.min() // DAY_S), last_day + 1) if n else range(0)
    staff = [_lab_staff(p, lab, work_s[lab_of_call == k], call_days, dataset, ew) for k, lab in enumerate(labs_sorted)]
    benches: list[list[int]] = [[0] * s for s in staff]  # when each technician is next free
    bench_start, repaired = np.zeros(n, np.int64), np.zeros(n, np.int64)
    lab_mask = _mask(p.lab_weekdays)
    order = np.lexsort((np.arange(n), ready))
    for i, k, t, w in zip(order.tolist(), lab_of_call[order].tolist(), ready[order].tolist(),
                          work_s[order].tolist()):
        start = _bench_start(max(t, heapq.heappop(benches[k])), w, p.lab_bench_s, lab_mask, ew)
        bench_start[i], repaired[i] = start, start + w
        heapq.heappush(benches[k], start + w)
    lab_id = np.array([c.id for c in labs_sorted], dtype=object)[lab_of_call]
    labs = pd.DataFrame({"lab_id": [c.id for c in labs_sorted], "technicians": staff,
                         "devices": np.bincount(lab_of_call, minlength=len(labs_sorted)),
                         "bench_h": np.bincount(lab_of_call, work_s, minlength=len(labs_sorted)) / H})

    # 6. Back by mail; the customer collects it in the dealer's hours.
    mailed_back = _next_at(repaired, p.lab_post_s, lab_mask, ew)
    back_at_dealer = _deliver(mailed_back // DAY_S + transit, p, ew)
    delay = np.rint(np.random.default_rng([p.seed, 3]).exponential(p.pickup_mean_s, n)).astype(np.int64)
    collected = _next_open(back_at_dealer + delay, p.dealer_hours_s, dealer_mask, ew)
    report("old world", 1, 1)

    stages = {"at_dealer_s": at_dealer, "mailed_s": mailed, "at_lab_s": at_lab, "bench_start_s": bench_start,
              "repaired_s": repaired, "mailed_back_s": mailed_back, "back_at_dealer_s": back_at_dealer,
              "completion_s": collected}
    frame = pd.DataFrame({
        "request_id": [r.id for r in reqs], "mode": [r.mode.value for r in reqs], "visit_mode": "carry_in",
        "level": level, "priority": [int(r.priority) for r in reqs],
        "province_adcode": seats["province_adcode"].to_numpy(str)[seat_row],
        "centre_id": lab_id, "dealer_id": _dealer_ids(seats["adcode"].to_numpy(str)[seat_row]),
        "created_s": created, "clock_start_s": created, "dispatch_s": np.nan, "dispatch_wait_s": np.nan,
        # Beyond the horizon a stage is not seen: NaN, the call is censored.
        **{k: np.where(v <= horizon_s, v, np.nan) for k, v in stages.items()},
        "parts_wait_s": np.where(ready <= horizon_s, ready - at_lab, np.nan),
        "repair_tier": float(Tier.PROVINCE), "repair_centre_id": lab_id})
    frame["turnaround_s"] = frame["completion_s"] - frame["created_s"]
    frame["unassigned_reason"] = np.where(frame["completion_s"].isna(), str(Reason.OPEN_AT_HORIZON), "")
    # A parcel each way, as far as the device got by the horizon (the KPIs charge courier legs).
    frame["courier_legs"] = frame["mailed_s"].notna().astype(int) + frame["mailed_back_s"].notna().astype(int)
    frame = frame[list(OUTCOME_COLUMNS)]
    dealers = pd.DataFrame({
        "dealer_id": _dealer_ids(used_seats["adcode"].to_numpy(str)), "county_adcode": used_seats["adcode"],
        "name": used_seats.get("name", used_seats["adcode"]), "lon": used_seats["seat_lon"],
        "lat": used_seats["seat_lat"], "lab_id": [c.id for c in labs_used], "lab_distance_m": np.atleast_1d(dist_m),
        "transit_days": transit_of_seat[used], "twice_weekly": twice[used],
        "mail_weekdays": [tuple(d for d in range(7) if (int(m) >> d) & 1) for m in mail_mask[used]],
        "calls": np.bincount(seat_row, minlength=len(seats))[used]}).reset_index(drop=True)
    workload = _lab_workload(labs_sorted, staff, lab_of_call, bench_start, work_s, call_days, lab_mask, ew, p)
    return OldWorldResult(frame, dealers, labs, workload, summary(frame), int(horizon_s), p)


def _lab_workload(labs: list[Centre], staff: list[int], lab_of_call: np.ndarray, bench_start: np.ndarray,
                  work_s: np.ndarray, days: range, lab_mask: int, epoch_weekday: int,
                  p: OldWorldParams) -> pd.DataFrame:
    """Per lab technician and lab working day of the calls' span: his paid bench day, and the
    lab's bench work started that day shared evenly among its technicians."""
    rows = []
    start_day = bench_start // DAY_S
    for k, (lab, n) in enumerate(zip(labs, staff)):
        mine = lab_of_call == k
        for d in days:
            if not (lab_mask >> ((epoch_weekday + d) % 7)) & 1:
                continue
            today = mine & (start_day == d)
            busy, jobs = int(work_s[today].sum()), int(today.sum())
            rows += [{"technician_id": f"{lab.id}-lab{j + 1}", "day": d, "centre_id": lab.id,
                      "province_adcode": lab.province_adcode, "available_s": p.lab_bench_s[1] - p.lab_bench_s[0],
                      "busy_s": busy // n, "travel_s": 0, "distance_m": 0, "overtime_s": 0, "jobs": jobs // n}
                     for j in range(n)]
    return pd.DataFrame(rows, columns=list(WORKLOAD_COLUMNS))


def summary(outcomes: pd.DataFrame) -> dict[str, float]:
    """The old world's figures. The cycle's mean/p50/p90 (days) are over the calls whose device
    came back (``completed``; ``censored`` says how many did not); the shares are over every
    call, a censored one counting as within no target and as over 6 days (true: the drain is
    at least 7 days past its call)."""
    n = len(outcomes)
    done = outcomes["completion_s"].notna()
    days = (outcomes.loc[done, "completion_s"] - outcomes.loc[done, "created_s"]) / DAY_S
    out = {"requests": float(n), "completed": float(done.sum()), "censored": float(n - done.sum()),
           # Of those, the calls that never reached their dealer: no way there in the travel model
           # (an island with no modelled ferry), not a device lost in the mail or the lab's queue.
           "never_at_dealer": float(outcomes["at_dealer_s"].isna().sum())}
    out["cycle_mean_days"] = float(days.mean()) if len(days) else math.nan
    out["cycle_p50_days"] = float(days.quantile(0.5)) if len(days) else math.nan
    out["cycle_p90_days"] = float(days.quantile(0.9)) if len(days) else math.nan
    for name, limit in (("within_24h_share", 1.0), ("within_48h_share", 2.0)):
        out[name] = float((days <= limit).sum() / n) if n else math.nan
    out["over_6_days_share"] = float(((days > 6.0).sum() + (n - done.sum())) / n) if n else math.nan
    # Where the days go (means over completed calls), for the calibration's account.
    legs = (("to_dealer", "created_s", "at_dealer_s"), ("at_dealer", "at_dealer_s", "mailed_s"),
            ("mail_out", "mailed_s", "at_lab_s"), ("lab", "at_lab_s", "repaired_s"),
            ("mail_back", "repaired_s", "back_at_dealer_s"), ("pickup", "back_at_dealer_s", "completion_s"))
    for name, a, b in legs:
        leg = (outcomes.loc[done, b] - outcomes.loc[done, a]) / DAY_S
        out[f"{name}_mean_days"] = float(leg.mean()) if len(leg) else math.nan
    return out


# Bird's "before": the calibration target and its tolerance (issue 16).
TARGET_CYCLE_DAYS = 6.0
TOLERANCE_DAYS = 0.5


@dataclass(frozen=True)
class Calibration:
    runs: pd.DataFrame  # preset, seed, days, requests, cycle_mean_days, p50, p90, censored, ...
    medians: pd.DataFrame  # per preset: the median over seeds of each figure
    within_target: bool  # every preset's median mean cycle within TARGET +- TOLERANCE


def calibrate(presets: Iterable[str] = ("zhejiang", "national"), seeds: Iterable[int] = (1, 2, 3, 4, 5),
              days: int = 14, params: OldWorldParams = OldWorldParams(), seats: pd.DataFrame | None = None,
              progress: Progress | None = None) -> Calibration:
    """The old world's mean cycle on generated datasets, preset x seed (generator and old-world
    seed alike), with each preset's median over seeds: the figure calibrated to Bird's 6 days."""
    report = progress or (lambda stage, done, total: None)
    seats = county_seats() if seats is None else seats
    runs = []
    todo = [(preset, seed) for preset in presets for seed in seeds]
    for k, (preset, seed) in enumerate(todo):
        report("calibration", k, len(todo))
        ds = generate(preset, days=days, seed=seed)
        res = simulate_old_world(ds, replace(params, seed=seed), seats=seats)
        runs.append({"preset": preset, "seed": seed, "days": days, **res.summary,
                     "lab_technicians": int(res.labs["technicians"].sum())})
    report("calibration", len(todo), len(todo))
    frame = pd.DataFrame(runs)
    medians = frame.drop(columns=["seed"]).groupby("preset", sort=False).median().reset_index()
    ok = bool((abs(medians["cycle_mean_days"] - TARGET_CYCLE_DAYS) <= TOLERANCE_DAYS).all())
    return Calibration(frame, medians, ok)

