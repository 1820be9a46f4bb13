"""Plain-text summaries of datasets for the CLI (tables, no colours, stable ordering)."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from dispatch.dataset import Dataset
from dispatch.model import Tier

TIER_NAMES = {Tier.PROVINCE: "province", Tier.CITY: "city", Tier.COUNTY: "county"}


def table(frame: pd.DataFrame) -> str:
    return frame.to_string(index=False)


def dataset_summary(ds: Dataset, top_provinces: int = 40) -> str:
    centre_tier = {c.id: c.tier for c in ds.network}
    tech_by_tier = Counter(centre_tier[t.home_centre_id] for t in ds.technicians)
    by_tier = pd.DataFrame(
        {
            "tier": [f"{int(t)} {TIER_NAMES[t]}" for t in Tier],
            "centres": [sum(1 for c in ds.network if c.tier == t) for t in Tier],
            "technicians": [tech_by_tier.get(t, 0) for t in Tier],
            "bench_h_per_day": [round(sum(c.bench_hours_per_day for c in ds.network if c.tier == t), 1) for t in Tier],
        }
    )
    days = max(1, len({r.created_s // 86_400 for r in ds.requests}))
    lines = [
        f"dataset: {len(ds.network)} centres, {len(ds.technicians)} technicians, "
        f"{len(ds.requests)} requests over {days} day(s) from {ds.epoch_date}",
        "",
        table(by_tier),
    ]
    if ds.requests:
        mix = pd.crosstab(
            pd.Series([r.mode.value for r in ds.requests], name="mode"),
            pd.Series([f"level {r.level}" for r in ds.requests], name="level"),
            margins=True,
            margins_name="total",
        )
        lines += ["", "calls by mode and repair level:", mix.to_string()]
        prov_of = {c.province_adcode: c.name.split(" ")[0] for c in ds.network if c.tier == Tier.PROVINCE}
        calls = Counter(r.county_adcode[:2] + "0000" for r in ds.requests)
        rows = sorted(calls.items(), key=lambda kv: (-kv[1], kv[0]))[:top_provinces]
        frame = pd.DataFrame(
            {
                "province": [prov_of.get(code, code) for code, _ in rows],
                "adcode": [code for code, _ in rows],
                "calls": [n for _, n in rows],
                "share_%": [round(100 * n / len(ds.requests), 1) for _, n in rows],
            }
        )
        lines += ["", "demand (calls) by province:", table(frame)]
    return "\n".join(lines)
