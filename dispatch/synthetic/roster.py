"""The generated roster: who works at each centre, in which role, shift, rest day and skills.

Two sizings (``RosterParams.sizing``):

* ``workload`` (default): ``dispatch.staffing`` sizes field staff per prefecture, bench and counter
  staff per centre from the expected calls (the call parameters' volume, hourly profile, mixes
  and weekday factors, at points drawn as the calls are drawn around the county seats), with a
  rest weekday for each person; a centre's bench hours are what its bench people give.
* ``sqrt``: the roster before staffing existed: a tier's range of technicians by the square root
  of the area's demand, everyone in the field seven days a week, bench hours growing with the
  staff on top (``bench_follows_staff``). Kept for comparison; the committed sample uses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from dispatch.errors import DispatchError
from dispatch.model import FIELD_ROLE, LEVELS, MAX_BENCH_HOURS_PER_DAY, Technician, Tier, TimeWindow
from dispatch.network import Network
from dispatch.rules import DEFAULT_RULES, Rules
from dispatch.staffing import (
    BENCH,
    COUNTER,
    DUAL,
    FLAT_WEEK,
    StaffingParams,
    StaffingPlan,
    Workload,
    recommend,
    workload_from_points,
)
from dispatch.synthetic.calls import CallParams, points_in_county
from dispatch.synthetic.network import (
    DEFAULT_TIERS,
    GENERATOR_TRAVEL,
    TierParams,
    bench_follows_staff,
    seconds_of_hours,
)

SIZINGS = ("workload", "sqrt")
_ROLE_LABEL = {FIELD_ROLE: "technician", BENCH: "bench technician", COUNTER: "counter clerk",
               DUAL: "bench and counter technician"}


@dataclass(frozen=True)
class RosterParams:
    """How many people, and their shifts, breaks and skills."""

    sizing: str = "workload"  # see the module docstring; "sqrt" for the roster before staffing
    staffing: StaffingParams = field(default_factory=StaffingParams)
    # Points per county at which the expected calls are placed (drawn as the calls are, with a
    # fixed seed: the roster is sized on the forecast, whatever the dataset's seed).
    forecast_points_per_county: int = 64
    forecast_seed: int = 0
    shift_early_h: tuple[float, float] = (8.0, 17.0)
    shift_late_h: tuple[float, float] = (11.0, 20.0)
    late_shift_share: float = 0.3  # field staff at city and provincial centres
    county_shift_h: tuple[float, float] = (9.0, 18.0)  # county technicians work the station's hours
    break_min: int = 45
    break_earliest_after_start_h: float = 3.5
    break_latest_after_start_h: float = 5.5
    scooter_share_city: float = 0.5  # e-scooters are common in city centres
    phone_only_share: float = 0.2  # technicians trained on phones only
    county_level2_share: float = 0.3  # county technicians who can also do module swaps on site

    def __post_init__(self) -> None:
        if self.sizing not in SIZINGS:
            raise DispatchError(f"unknown roster sizing {self.sizing!r}; expected one of {', '.join(SIZINGS)}")


def _area_demand(network: Network, counties: pd.DataFrame) -> dict[str, float]:
    """Demand weight of the area a centre is sized for: its county, prefecture or province."""
    by_county = dict(zip(counties["adcode"], counties["weight"]))
    by_pref = counties.groupby("prefecture_adcode")["weight"].sum().to_dict()
    by_prov = counties.groupby("province_adcode")["weight"].sum().to_dict()
    out = {}
    for c in network:
        if c.tier == Tier.COUNTY:
            out[c.id] = by_county.get(c.county_adcode, 0.0)
        elif c.tier == Tier.CITY:
            out[c.id] = by_pref.get(c.prefecture_adcode, 0.0)
        else:
            out[c.id] = by_prov.get(c.province_adcode, 0.0)
    return out


def staff_network(
    network: Network, counties_with_weight: pd.DataFrame, rng: np.random.Generator,
    tiers: Mapping[Tier, TierParams] = DEFAULT_TIERS, params: RosterParams = RosterParams(),
    calls_per_day: float | None = None, calls: CallParams | None = None, rules: Rules = DEFAULT_RULES,
) -> tuple[Network, tuple[Technician, ...]]:
    """The roster, and the network with each centre's bench hours from it."""
    calls = calls or CallParams()
    if params.sizing == "sqrt":
        techs = generate_roster(network, counties_with_weight, rng, tiers, params)
        return bench_follows_staff(network, techs, tiers), techs
    plan = staffing_plan(network, counties_with_weight, calls_per_day, calls, params, rules, tiers)
    # A hub's demand may ask more bench hours than a centre can hold (Guangdong's provincial
    # centre at 60,000 national calls a day): it holds the most, and its repairs queue.
    bench_h = {c.centre_id: min(c.bench_h_per_day, MAX_BENCH_HOURS_PER_DAY) for c in plan.centres}
    network = Network(tuple(replace(c, bench_hours_per_day=bench_h.get(c.id, 0.0)) for c in network))
    return network, _technicians(network, plan, rng, params)


def generate_roster(
    network: Network,
    counties_with_weight: pd.DataFrame,
    rng: np.random.Generator,
    tiers: Mapping[Tier, TierParams] = DEFAULT_TIERS,
    params: RosterParams = RosterParams(),
    calls_per_day: float | None = None,
    calls: CallParams | None = None,
) -> tuple[Technician, ...]:
    """The technicians alone (``staff_network`` also gives the bench hours that go with them)."""
    if params.sizing == "workload":
        return staff_network(network, counties_with_weight, rng, tiers, params, calls_per_day, calls)[1]
    demand = _area_demand(network, counties_with_weight)
    max_by_tier = {
        t: max((demand[c.id] for c in network if c.tier == t), default=0.0) or 1.0 for t in Tier
    }
    techs: list[Technician] = []
    for c in network:
        tp = tiers[c.tier]
        share = np.sqrt(demand[c.id] / max_by_tier[c.tier])
        n = tp.technicians_min + int(round((tp.technicians_max - tp.technicians_min) * share))
        for k in range(n):
            techs.append(_field_technician(c, k, rng, params))
    return tuple(techs)


def _shift(params: RosterParams, tier: Tier, late: bool) -> tuple[int, int]:
    start_h, end_h = params.shift_late_h if late else params.shift_early_h
    if tier == Tier.COUNTY:
        start_h, end_h = params.county_shift_h
    return seconds_of_hours(start_h), seconds_of_hours(end_h)


def _person(c, k: int, params: RosterParams, start_s: int, end_s: int, **kw) -> Technician:  # type: ignore[no-untyped-def]
    return Technician(
        id=f"T{c.id}-{k + 1:02d}",
        home_centre_id=c.id,
        shift=TimeWindow(start_s, end_s),
        break_window=TimeWindow(
            start_s + seconds_of_hours(params.break_earliest_after_start_h),
            start_s + seconds_of_hours(params.break_latest_after_start_h),
        ),
        break_s=params.break_min * 60,
        **kw,
    )


def _field_technician(c, k: int, rng: np.random.Generator, params: RosterParams,  # type: ignore[no-untyped-def]
                      rest_weekday: int | None = None) -> Technician:
    # The draws in the sqrt roster's order, so that it stays what it was.
    late = c.tier != Tier.COUNTY and rng.random() < params.late_shift_share
    start_s, end_s = _shift(params, c.tier, late)
    max_level = (2 if rng.random() < params.county_level2_share else 1) if c.tier == Tier.COUNTY else max(c.levels)
    phone_only = rng.random() < params.phone_only_share
    scooter = c.tier != Tier.COUNTY and rng.random() < params.scooter_share_city
    label = _ROLE_LABEL[FIELD_ROLE]
    return _person(c, k, params, start_s, end_s, max_level=max_level,
                   product_lines=frozenset({"phone"}) if phone_only else frozenset(),
                   speed_class="scooter" if scooter else "car", name=f"{c.name.split(' ')[0]} {label} {k + 1}",
                   rest_weekday=rest_weekday)


def _technicians(network: Network, plan: StaffingPlan, rng: np.random.Generator,
                 params: RosterParams) -> tuple[Technician, ...]:
    people = plan.roster()
    techs: list[Technician] = []
    for c in network:
        stationary = 0
        for k, (role, rest) in enumerate(people.get(c.id, [])):
            if role == FIELD_ROLE:
                techs.append(_field_technician(c, k, rng, params, rest))
                continue
            # Stationary staff cover the opening: at a centre open longer than a shift, early
            # and late shifts alternate.
            late = c.tier != Tier.COUNTY and stationary % 2 == 1
            stationary += 1
            start_s, end_s = _shift(params, c.tier, late)
            techs.append(_person(c, k, params, start_s, end_s, max_level=max(c.levels), role=role,
                                 rest_weekday=rest, name=f"{c.name.split(' ')[0]} {_ROLE_LABEL[role]} {k + 1}"))
    return tuple(techs)


# ------------------------------------------------------------------------------------------
# The forecast the workload sizing reads


def forecast_workload(
    network: Network, counties_with_weight: pd.DataFrame, calls_per_day: float,
    calls: CallParams | None = None, params: RosterParams = RosterParams(), rules: Rules = DEFAULT_RULES,
    tiers: Mapping[Tier, TierParams] = DEFAULT_TIERS,
) -> Workload:
    """The expected work of ``calls_per_day`` calls drawn as ``generate_calls`` draws them: over
    counties by weight, around the seats, with the call parameters' mixes and hourly profile."""
    rng = np.random.default_rng(params.forecast_seed)
    counties = counties_with_weight[counties_with_weight["weight"] > 0].sort_values("adcode")
    w = counties["weight"].to_numpy(float)
    w = w / w.sum() if len(w) and w.sum() > 0 else w
    n = params.forecast_points_per_county
    lon, lat, per_point = [], [], []
    for share, geom, row in zip(w, counties.geometry.values, counties.itertuples()):
        x, y = points_in_county(geom, row.seat_lon, row.seat_lat, row.area_km2, n, calls.near_seat_share, rng,
                                calls.spread_factor, calls.max_sigma_km)
        lon.append(x)
        lat.append(y)
        per_point.append(np.full(n, calls_per_day * share / n))
    lon_a = np.concatenate(lon) if lon else np.array([])
    lat_a = np.concatenate(lat) if lat else np.array([])
    volume = np.concatenate(per_point) if per_point else np.array([])
    mix = {k: v / sum(calls.mode_mix.values()) for k, v in calls.mode_mix.items()}
    levels = np.asarray(calls.level_mix, float) / sum(calls.level_mix)
    onsite_kept = float(sum(levels[lv - 1] for lv in LEVELS if lv <= calls.onsite_max_level))
    travelling = mix.get("onsite", 0.0) + mix.get("pickup", 0.0)
    bench_share = mix.get("walkin", 0.0) + mix.get("pickup", 0.0) + mix.get("onsite", 0.0) * (1 - onsite_kept)
    # The generator's service times: the level's median x a lognormal(0, 0.25) jitter.
    jitter = float(np.exp(0.25 ** 2 / 2))
    onsite_min = sum(levels[lv - 1] * calls.onsite_service_min[min(lv, 2) - 1]
                     for lv in LEVELS if lv <= calls.onsite_max_level)
    work_min = (mix.get("onsite", 0.0) * onsite_min
                + (mix.get("pickup", 0.0) + mix.get("onsite", 0.0) * (1 - onsite_kept)) * calls.pickup_service_min)
    work_s = work_min / travelling * 60 * jitter if travelling else 0.0
    county = tiers[Tier.COUNTY]
    backlog, busy = clock_profile(calls, county.open_h, county.close_h)
    week = tuple(calls.calendar.weekday_factors) if not calls.calendar.is_flat else FLAT_WEEK
    return workload_from_points(
        network, lon_a, lat_a, volume * travelling, volume * mix.get("walkin", 0.0),
        {lv: volume * bench_share * levels[lv - 1] for lv in LEVELS}, work_s, backlog, busy, week, rules,
        GENERATOR_TRAVEL, source=f"forecast ({calls_per_day:.0f} calls a day)")


def clock_profile(calls: CallParams, open_h: float, close_h: float) -> tuple[float, float]:
    """(opening backlog share, busiest later hour's share) of the day's travelling calls' clock
    starts: a call before the customers' hours or the centre's opening, or after the same-day
    cut-off or the closing, starts its clock at the (next) opening."""
    profile = np.asarray(calls.hourly_profile, float)
    profile = profile / profile.sum()
    first = max(calls.customer_open_h[0], open_h)
    last = min(calls.customer_open_h[1], calls.same_day_cutoff_h, close_h)
    stream = [profile[h] for h in range(24) if first <= h and h + 1 <= last]
    return float(1 - sum(stream)), float(max(stream, default=0.0))


def staffing_plan(
    network: Network, counties_with_weight: pd.DataFrame, calls_per_day: float | None,
    calls: CallParams | None = None, params: RosterParams = RosterParams(), rules: Rules = DEFAULT_RULES,
    tiers: Mapping[Tier, TierParams] = DEFAULT_TIERS,
) -> StaffingPlan:
    """``dispatch.staffing.recommend`` on the forecast."""
    if calls_per_day is None:
        raise DispatchError("the workload roster needs calls_per_day (the area's expected calls a day); "
                            "pass it, or RosterParams(sizing='sqrt')")
    workload = forecast_workload(network, counties_with_weight, calls_per_day, calls, params, rules, tiers)
    return recommend(workload, params.staffing, rules)
