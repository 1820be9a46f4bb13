"""Seeded generators: a Bird-style national network on real geography, a roster, and calls.

Every number that shapes the output is a documented parameter in a frozen dataclass; the same
seed and parameters give byte-identical files. Presets:

* ``national``: a tier-1 centre at each of the 31 provincial capitals, a tier-2 centre at every
  prefecture-level seat (prefectures and the 4 municipalities), and 1,600 tier-3 county stations
  at county seats that do not already host a centre: first the fewest that leave no county seat
  beyond ``coverage_max_drive_h`` of a centre, the rest at the most demand-weighted seats,
  shared out among prefectures in proportion to their demand (see ``_station_counties``).
* ``province:<name>`` (aliases such as ``zhejiang``): the national network restricted to one
  province, with calls scaled to the province's share of demand.
* ``tiny``: one prefecture (Huzhou, Zhejiang) with its provincial parent; for tests and demos.

Calls follow the demand calendar by default (``CallParams.calendar``: weekday profile, China's
public holidays, post-holiday backlog; no surge), with ``start_date`` as day 0; ``with_calendar(
params, DemandCalendar.flat())`` makes every day alike, as the generator did before it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from dispatch.dataset import Dataset
from dispatch.errors import DispatchError
from dispatch.geodata import county_demand_weights, load_geography
from dispatch.progress import Progress
from dispatch.rules import DEFAULT_RULES, Rules
from dispatch.staffing import StaffingPlan
from dispatch.synthetic.calendar import DEFAULT_EPOCH_DATE, DemandCalendar
from dispatch.synthetic.calls import CallParams, generate_calls
from dispatch.synthetic.network import NetworkParams, generate_network
from dispatch.synthetic.presets import Preset, parse_preset
from dispatch.synthetic.roster import RosterParams, staff_network, staffing_plan


@dataclass(frozen=True)
class GeneratorParams:
    network: NetworkParams = NetworkParams()
    roster: RosterParams = RosterParams()
    calls: CallParams = CallParams()
    # Day 0 (a Monday outside any holiday); fixed so that output does not depend on today.
    start_date: str = DEFAULT_EPOCH_DATE


def generate(
    preset: str | Preset = "national",
    days: int = 1,
    seed: int = 1,
    params: GeneratorParams = GeneratorParams(),
    population: pd.DataFrame | None = None,
    progress: Progress | None = None,
) -> Dataset:
    """Network, roster and ``days`` days of calls for a preset; deterministic given the seed."""
    if days < 0:
        raise DispatchError(f"days must be >= 0, got {days}")
    dt.date.fromisoformat(params.start_date)
    preset = parse_preset(preset) if isinstance(preset, str) else preset
    report = progress or (lambda stage, done, total: None)
    report("geography", 0, 1)
    geo = load_geography()
    weights = county_demand_weights(geo, population)
    report("geography", 1, 1)
    report("network", 0, 1)
    network = generate_network(geo, weights, params.network, preset)
    report("network", 1, 1)
    counties, share = preset_counties(geo, weights, preset)
    # Separate streams so that changing the number of days does not change the roster.
    roster_rng, calls_rng = (np.random.default_rng([seed, k]) for k in (1, 2))
    report("roster", 0, 1)
    network, techs = staff_network(network, counties, roster_rng, params.network.tiers, params.roster,
                                   params.calls.calls_per_day_national * share, params.calls)
    report("roster", 1, 1)
    requests = generate_calls(
        counties, days, params.calls.calls_per_day_national * share, calls_rng, params.calls, progress,
        epoch_date=params.start_date,
    )
    meta = (
        ("preset", preset.name),
        ("seed", str(seed)),
        ("days", str(days)),
        ("generator", "dispatch.synthetic"),
        ("demand", str(weights["source"].iloc[0]) if "source" in weights else "unknown"),
        ("demand_calendar", params.calls.calendar.describe()),
        ("roster", params.roster.sizing),
    )
    return Dataset(network, techs, requests, params.start_date, meta)


def preset_counties(geo, weights: pd.DataFrame, preset: Preset) -> tuple[pd.DataFrame, float]:  # type: ignore[no-untyped-def]
    """The preset's counties with their demand weight, and their share of the national demand."""
    counties = geo.counties.merge(weights[["adcode", "weight"]], on="adcode", how="left")
    counties["weight"] = counties["weight"].fillna(0.0)
    national_total = float(counties["weight"].sum())
    if preset.prefecture_adcode is not None:
        counties = counties[counties["prefecture_adcode"] == preset.prefecture_adcode]
    elif preset.province_adcode is not None:
        counties = counties[counties["province_adcode"] == preset.province_adcode]
    counties = counties.copy()
    return counties, float(counties["weight"].sum()) / national_total


def preset_staffing(
    preset: str | Preset, seed: int = 1, params: GeneratorParams = GeneratorParams(),
    population: pd.DataFrame | None = None, rules: Rules = DEFAULT_RULES,
) -> tuple[Dataset, StaffingPlan]:
    """The preset's network and generated roster (no calls), and the staffing its expected calls
    need under ``params.roster.staffing`` (``dispatch.staffing``)."""
    preset = parse_preset(preset) if isinstance(preset, str) else preset
    dataset = generate(preset, days=0, seed=seed, params=params, population=population)
    geo = load_geography()
    counties, share = preset_counties(geo, county_demand_weights(geo, population), preset)
    plan = staffing_plan(dataset.network, counties, params.calls.calls_per_day_national * share, params.calls,
                         params.roster, rules, params.network.tiers)
    return dataset, plan


def with_calls_per_day(params: GeneratorParams, calls_per_day_national: float) -> GeneratorParams:
    return replace(params, calls=replace(params.calls, calls_per_day_national=calls_per_day_national))



def with_calendar(params: GeneratorParams, calendar: DemandCalendar) -> GeneratorParams:
    return replace(params, calls=replace(params.calls, calendar=calendar))
