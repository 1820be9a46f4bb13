"""The generated calls: Poisson arrivals by hour, located around the county seats, with mode, level, priority and the customer's window.

Each day's volume follows the demand calendar (``dispatch.synthetic.calendar``): weekday,
public holidays, the post-holiday backlog and surges."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd
import shapely

from dispatch.errors import InputError
from dispatch.model import (
    DAY_S,
    Mode,
    Priority,
    Request,
    TimeWindow,
)
from dispatch.progress import Progress
from dispatch.rules import DEFAULT_RULES
from dispatch.synthetic.calendar import DemandCalendar, Surge, demand_by_day
from dispatch.synthetic.network import seconds_of_hours


@dataclass(frozen=True)
class CallParams:
    """A day of calls: Poisson count per day, hourly arrival profile, mixes and durations.

    ``calls_per_day_national`` is the mean of an ordinary (holiday-free) week; ``calendar``
    makes the days differ around it (weekday, holidays, backlog, surges; ``DemandCalendar.flat()``
    for every day alike)."""

    calls_per_day_national: float = 30_000.0
    calendar: DemandCalendar = DemandCalendar()
    # Share of a day's calls arriving in each hour (CST); normalised. Peaks mid-morning and
    # mid-afternoon; a trickle at night (after-hours calls wait for opening).
    hourly_profile: tuple[float, ...] = (
        0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.8, 2.0, 4.5, 7.5, 9.0, 8.5,
        6.5, 7.0, 8.5, 8.5, 7.5, 6.5, 5.0, 4.0, 2.5, 1.5, 0.8, 0.4,
    )
    level_mix: tuple[float, float, float] = (0.62, 0.28, 0.10)
    mode_mix: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({"onsite": 0.25, "pickup": 0.35, "walkin": 0.40})
    )
    priority_mix: tuple[float, float, float] = (0.80, 0.15, 0.05)  # normal, high, urgent
    # Mail-in (寄修): the share of the phone calls drawn as a pickup or a walk-in whose customer
    # ships the phone to a repair hub instead (data/README.md, "Mail-in share": a reasoned estimate,
    # no published figure). Drawn from a stream of its own (``generate_calls``), so 0 gives the
    # calls the generator gave before mail-in existed, digest for digest, and any share changes
    # only those calls' mode (and their door time, none for a parcel).
    mailin_share: float = 0.10
    # The rule book's limit and intake values are the centres of the generator's draws (a
    # service time is jittered around them).
    onsite_max_level: int = DEFAULT_RULES.onsite_max_level
    product_mix: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({"phone": 0.85, "tablet": 0.10, "wearable": 0.05})
    )
    onsite_service_min: tuple[float, float] = tuple(  # median by level 1, 2
        DEFAULT_RULES.onsite_service_s_by_level[level] / 60 for level in (1, 2))  # type: ignore[assignment]
    pickup_service_min: float = DEFAULT_RULES.pickup_service_s / 60  # hand-over at the door
    window_h: Mapping[Priority, float] = field(
        default_factory=lambda: MappingProxyType(
            {Priority(p): s / 3600 for p, s in DEFAULT_RULES.window_s_by_priority.items()})
    )
    # Customers accept visits in these hours.
    customer_open_h: tuple[float, float] = tuple(s / 3600 for s in DEFAULT_RULES.customer_hours_s)  # type: ignore[assignment]
    # A call after this hour is booked for the next morning: too late to be visited today.
    same_day_cutoff_h: float = 16.0
    near_seat_share: float = 0.7  # share of calls clustered around the county seat (urban core)
    spread_factor: float = 3.0  # the other calls: around the seat, this many times further out
    max_sigma_km: float = 12.0  # cap on the urban core's spread (1 sigma) in vast counties


def points_in_county(
    geom, seat_lon: float, seat_lat: float, area_km2: float, n: int, near_share: float,
    rng: np.random.Generator, spread_factor: float = 3.0, max_sigma_km: float = 12.0,
) -> tuple[np.ndarray, np.ndarray]:
    """n points inside the polygon: a share in the urban core around the seat, the rest spread
    wider over the towns around it (``spread_factor`` times further). People do not live
    uniformly over a county: in the vast western counties a uniform point lands in desert or
    mountains hundreds of kilometres from anyone, so the spread is capped (``max_sigma_km``)."""
    sigma_km = float(np.clip(0.15 * np.sqrt(max(area_km2, 1.0)), 1.0, max_sigma_km))
    sigma_lat = sigma_km / 111.0
    sigma_lon = sigma_lat / max(np.cos(np.radians(seat_lat)), 0.2)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    have = 0
    for _ in range(200):
        m = max(8, 2 * (n - have))
        near = rng.random(m) < near_share
        spread = np.where(near, 1.0, spread_factor)
        x = rng.normal(seat_lon, sigma_lon * spread, m)
        y = rng.normal(seat_lat, sigma_lat * spread, m)
        inside = shapely.contains_xy(geom, x, y)
        xs.append(x[inside])
        ys.append(y[inside])
        have += int(inside.sum())
        if have >= n:
            break
    x = np.concatenate(xs)[:n]
    y = np.concatenate(ys)[:n]
    if len(x) < n:  # a sliver polygon: fall back to the seat itself, which is inside by contract
        x = np.concatenate([x, np.full(n - len(x), seat_lon)])
        y = np.concatenate([y, np.full(n - len(y), seat_lat)])
    return x, y


def _choice(rng: np.random.Generator, options: list, probs, size: int) -> np.ndarray:
    p = np.asarray(probs, dtype=float)
    return rng.choice(np.asarray(options, dtype=object), size=size, p=p / p.sum())


def generate_calls(
    counties_with_weight: pd.DataFrame,
    days: int,
    calls_per_day: float,
    rng: np.random.Generator,
    params: CallParams = CallParams(),
    progress: Progress | None = None,
    epoch_date: str | None = None,
) -> tuple[Request, ...]:
    """Poisson number of calls per day, split over counties by weight, hours by the profile.

    Day ``d``'s mean is ``calls_per_day`` times its calendar multiplier (``epoch_date``, the ISO
    date of day 0, places the days in the calendar; a flat calendar needs none); a surge of one
    product line or level adds a Poisson number of calls of that kind."""
    demand = _days_demand(params, days, epoch_date)  # (multiplier, one-kind surges) per day
    if not 0.0 <= params.mailin_share <= 1.0:
        raise InputError(f"CallParams.mailin_share must be a share 0..1, got {params.mailin_share!r}")
    # The mail-in draws: a child of the calls' seed, spawned without drawing from the calls' own
    # stream, so every other field of every call is what it was without them.
    mail_rng = rng.spawn(1)[0]
    counties = counties_with_weight[counties_with_weight["weight"] > 0].sort_values("adcode")
    w = counties["weight"].to_numpy(dtype=float)
    w = w / w.sum()
    profile = np.asarray(params.hourly_profile, dtype=float)
    profile = profile / profile.sum()
    geoms = counties.geometry.values
    requests: list[Request] = []
    open_s, close_s = (seconds_of_hours(h) for h in params.customer_open_h)
    cutoff_s = seconds_of_hours(params.same_day_cutoff_h)
    for day in range(days):
        # An ordinary-mix count, then each one-kind surge's extra calls (drawn only when there
        # is one, so a day without surges draws exactly what it drew before the calendar).
        multiplier, kind_surges = demand[day]
        mean = calls_per_day * multiplier
        n_day = int(rng.poisson(mean))
        extra = [(s, int(rng.poisson(mean * _kind_share(s, params) * (s.factor - 1))))
                 for s in kind_surges]
        n_ordinary = n_day
        n_day += sum(k for _, k in extra)
        per_county = rng.multinomial(n_day, w)
        lon = np.empty(n_day)
        lat = np.empty(n_day)
        codes = np.empty(n_day, dtype=object)
        pos = 0
        for i in np.flatnonzero(per_county):
            k = int(per_county[i])
            row = counties.iloc[i]
            x, y = points_in_county(
                geoms[i], row.seat_lon, row.seat_lat, row.area_km2, k, params.near_seat_share, rng,
                params.spread_factor, params.max_sigma_km,
            )
            lon[pos:pos + k], lat[pos:pos + k], codes[pos:pos + k] = x, y, row.adcode
            pos += k
            if progress is not None and i % 200 == 0:
                progress(f"calls day {day + 1}/{days}", pos, n_day)
        hours = rng.choice(24, size=n_day, p=profile)
        created = day * DAY_S + hours * 3600 + rng.integers(0, 3600, size=n_day)
        levels = rng.choice([1, 2, 3], size=n_day, p=np.asarray(params.level_mix) / sum(params.level_mix))
        modes = _choice(rng, list(params.mode_mix), list(params.mode_mix.values()), n_day)
        prios = rng.choice([1, 2, 3], size=n_day, p=np.asarray(params.priority_mix) / sum(params.priority_mix))
        products = _choice(rng, list(params.product_mix), list(params.product_mix.values()), n_day)
        pos = n_ordinary
        for surge, k in extra:  # the surge's calls are the last ones drawn, of its kind
            if surge.level is not None:
                levels[pos:pos + k] = surge.level
            if surge.product_line is not None:
                products[pos:pos + k] = surge.product_line
            pos += k
        jitter = rng.lognormal(0.0, 0.25, size=n_day)
        mailed = (mail_rng.random(n_day) < params.mailin_share) & (products == "phone") \
            & np.isin(modes, [Mode.PICKUP.value, Mode.WALKIN.value])
        order = np.argsort(created, kind="stable")
        for j_out, j in enumerate(order):
            level = int(levels[j])
            mode = Mode(modes[j])
            if mode == Mode.ONSITE and level > params.onsite_max_level:
                mode = Mode.PICKUP
            elif mailed[j]:
                mode = Mode.MAILIN
            prio = Priority(int(prios[j]))
            c = int(created[j])
            # The customer accepts visits from the call for a few hours; a call before customers' hours
            # or after the same-day cut-off is booked for the next morning.
            day_start = (c // DAY_S) * DAY_S
            start = c
            if c - day_start < open_s:
                start = day_start + open_s
            elif c - day_start >= min(close_s, cutoff_s):
                start = day_start + DAY_S + open_s
            end = start + seconds_of_hours(params.window_h[prio])
            if mode == Mode.ONSITE:
                service = params.onsite_service_min[min(level, 2) - 1] * jitter[j]
            elif mode == Mode.PICKUP:
                service = params.pickup_service_min * jitter[j]
            else:
                service = 0.0
            requests.append(
                Request(
                    id=f"R{day + 1:02d}-{j_out + 1:06d}",
                    created_s=c,
                    lon=round(float(lon[j]), 6),
                    lat=round(float(lat[j]), 6),
                    level=level,
                    mode=mode,
                    priority=prio,
                    window=TimeWindow(start, end),
                    service_s=int(round(service)) * 60,  # whole minutes
                    product_line=str(products[j]),
                    county_adcode=str(codes[j]),
                )
            )
    return tuple(requests)


def _days_demand(
    params: CallParams, days: int, epoch_date: str | None,
) -> list[tuple[float, tuple[Surge, ...]]]:
    """Each day's multiplier and one-kind surges; a flat calendar needs no date."""
    if params.calendar.is_flat:
        return [(1.0, ())] * days
    if epoch_date is None:
        raise InputError(
            "generate_calls needs epoch_date (the ISO date of day 0) to place the days in the "
            "demand calendar; pass CallParams(calendar=DemandCalendar.flat()) for days all alike")
    for s in params.calendar.surges:
        if s.product_line is not None and s.product_line not in params.product_mix:
            raise InputError(
                f"surge {s.name!r}: product_line {s.product_line!r} is not in the product mix; "
                f"expected one of {sorted(params.product_mix)}")
    return [(d.multiplier, d.kind_surges) for d in demand_by_day(epoch_date, days, params.calendar)]


def _kind_share(surge: Surge, params: CallParams) -> float:
    """The share of an ordinary day's calls that are of the surge's kind (product line, level)."""
    share = 1.0
    if surge.product_line is not None:
        share *= params.product_mix[surge.product_line] / sum(params.product_mix.values())
    if surge.level is not None:
        share *= params.level_mix[surge.level - 1] / sum(params.level_mix)
    return share
