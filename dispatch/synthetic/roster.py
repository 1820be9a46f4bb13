"""The generated roster: technicians per centre, by tier and demand, with shifts, breaks and skills."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from dispatch.model import (
    Technician,
    Tier,
    TimeWindow,
)
from dispatch.network import Network
from dispatch.synthetic.network import DEFAULT_TIERS, TierParams, seconds_of_hours


@dataclass(frozen=True)
class RosterParams:
    """Technicians per centre scale with the demand of the centre's area, within the tier's range."""

    shift_early_h: tuple[float, float] = (8.0, 17.0)
    shift_late_h: tuple[float, float] = (11.0, 20.0)
    late_shift_share: float = 0.3  # at city and provincial centres
    county_shift_h: tuple[float, float] = (9.0, 18.0)  # county technicians work the station's hours
    break_min: int = 45
    break_earliest_after_start_h: float = 3.5
    break_latest_after_start_h: float = 5.5
    scooter_share_city: float = 0.5  # e-scooters are common in city centres
    phone_only_share: float = 0.2  # technicians trained on phones only
    county_level2_share: float = 0.3  # county technicians who can also do module swaps on site


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


def generate_roster(
    network: Network,
    counties_with_weight: pd.DataFrame,
    rng: np.random.Generator,
    tiers: Mapping[Tier, TierParams] = DEFAULT_TIERS,
    params: RosterParams = RosterParams(),
) -> tuple[Technician, ...]:
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
            late = c.tier != Tier.COUNTY and rng.random() < params.late_shift_share
            start_h, end_h = params.shift_late_h if late else params.shift_early_h
            if c.tier == Tier.COUNTY:
                start_h, end_h = params.county_shift_h
            start_s, end_s = seconds_of_hours(start_h), seconds_of_hours(end_h)
            if c.tier == Tier.COUNTY:
                max_level = 2 if rng.random() < params.county_level2_share else 1
            else:
                max_level = max(c.levels)
            phone_only = rng.random() < params.phone_only_share
            scooter = c.tier != Tier.COUNTY and rng.random() < params.scooter_share_city
            techs.append(
                Technician(
                    id=f"T{c.id}-{k + 1:02d}",
                    home_centre_id=c.id,
                    max_level=max_level,
                    shift=TimeWindow(start_s, end_s),
                    break_window=TimeWindow(
                        start_s + seconds_of_hours(params.break_earliest_after_start_h),
                        start_s + seconds_of_hours(params.break_latest_after_start_h),
                    ),
                    break_s=params.break_min * 60,
                    product_lines=frozenset({"phone"}) if phone_only else frozenset(),
                    speed_class="scooter" if scooter else "car",
                    name=f"{c.name.split(' ')[0]} technician {k + 1}",
                )
            )
    return tuple(techs)

