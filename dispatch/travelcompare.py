"""Two travel models side by side on one dataset (``dispatch travel compare A B``).

Pairs: every county seat of the dataset's provinces and every travelling call (on-site or
pickup), each from its quickest staffed centre as model A sees it. Per model: the drive to the
quickest staffed centre (median, 90th percentile) and the reach (the share beyond an hour, the
rule book's dispatch target). Between models, on the same pairs: B's drive minus A's (median,
10th and 90th percentiles, minutes) and their median ratio. With a plan: the day planned under
each model (dispatched within the hour, turnaround, km per job, unassigned, plan time) and how
many calls changed hands (another technician, or another centre).
"""

from __future__ import annotations

import time
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dispatch.dataset import Dataset
from dispatch.geodata import load_geography
from dispatch.kpis import kpis
from dispatch.model import Mode
from dispatch.network import CentreIndex
from dispatch.rules import DEFAULT_RULES
from dispatch.staffing import on_duty
from dispatch.travel import Travel, drive_s

PLAN_KPIS = ("dispatch_within_target_rate", "beyond_reach_share", "turnaround_mean_h", "turnaround_within_24h_share",
             "travel_km_per_job", "unassigned")


@dataclass(frozen=True)
class TravelComparison:
    drives: pd.DataFrame  # rows: (pairs, statistic); columns: A, B, B - A
    plans: pd.DataFrame | None  # rows: KPI; columns: A, B
    changed: dict[str, float]  # share of served calls with another technician / centre


def _pairs(ds: Dataset) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    provinces = {c.province_adcode for c in ds.network}
    seats = load_geography().counties
    seats = seats[seats["province_adcode"].astype(str).isin(provinces)]
    calls = [r for r in ds.requests if r.mode in (Mode.ONSITE, Mode.PICKUP)]
    return {"centre-seat": (seats["seat_lon"].to_numpy(float), seats["seat_lat"].to_numpy(float)),
            "centre-customer": (np.array([r.lon for r in calls]), np.array([r.lat for r in calls]))}


def _drive_rows(name: str, lon: np.ndarray, lat: np.ndarray, index: CentreIndex, a: Travel, b: Travel,
                target_s: int) -> list[dict[str, object]]:
    if not len(lon):
        return []
    ta, ia = index.fastest(lon, lat, a)
    tb, _ = index.fastest(lon, lat, b)
    clon = np.array([c.lon for c in index.centres])[ia]
    clat = np.array([c.lat for c in index.centres])[ia]
    tb_same = drive_s(b, clon, clat, lon, lat).astype(float)  # B's drive on A's pair
    ta = ta.astype(float)
    diff_min = (tb_same - ta) / 60
    moving = ta > 0
    ratio = float(np.median(tb_same[moving] / ta[moving])) if moving.any() else float("nan")
    rows = [
        ("quickest centre, median (min)", np.median(ta) / 60, np.median(tb) / 60),
        ("quickest centre, p90 (min)", np.quantile(ta, 0.9) / 60, np.quantile(tb, 0.9) / 60),
        (f"beyond {target_s // 60} min (reach)", float(np.mean(ta > target_s)), float(np.mean(tb > target_s))),
    ]
    out: list[dict[str, object]] = [{"pairs": f"{name} ({len(lon)})", "statistic": s, "A": x, "B": y, "B - A": y - x}
                                    for s, x, y in rows]
    for label, v in (("B - A on A's pairs, p10 (min)", np.quantile(diff_min, 0.1)),
                     ("B - A on A's pairs, median (min)", np.median(diff_min)),
                     ("B - A on A's pairs, p90 (min)", np.quantile(diff_min, 0.9)),
                     ("B / A on A's pairs, median", ratio)):
        out.append({"pairs": f"{name} ({len(lon)})", "statistic": label, "A": np.nan, "B": np.nan, "B - A": float(v)})
    return out


def compare_travel(ds: Dataset, a: Travel, b: Travel, plan: bool = False, day: int = 0, seed: int = 1,
                   pool: Executor | None = None, target_s: int = DEFAULT_RULES.dispatch_target_s) -> TravelComparison:
    """Drive-time differences over the dataset's pairs, and (``plan``) the day planned under each."""
    staffed_ids = {t.home_centre_id for t in on_duty(ds.technicians, None, 0)}
    index = CentreIndex(tuple(c for c in ds.network if c.id in staffed_ids))
    rows: list[dict[str, object]] = []
    for name, (lon, lat) in _pairs(ds).items():
        rows += _drive_rows(name, lon, lat, index, a, b, target_s)
    drives = pd.DataFrame(rows).set_index(["pairs", "statistic"])
    if not plan:
        return TravelComparison(drives, None, {})
    from dispatch.plan import PlanParams, make_plan  # the planner (OR-Tools): only with a plan

    results, cols = {}, {}
    for label, model in (("A", a), ("B", b)):
        t0 = time.perf_counter()
        res = make_plan(ds, PlanParams(day=day, seed=seed), pool=pool, travel=model)
        wall = time.perf_counter() - t0
        k = kpis(res.outcomes, res.workload)
        results[label] = res
        cols[label] = {**{key: k.get(key, np.nan) for key in PLAN_KPIS}, "plan time (s)": wall}
    plans = pd.DataFrame(cols)
    served = {label: r.stops.set_index("request_id")["technician_id"] for label, r in results.items()}
    both = served["A"].index.intersection(served["B"].index)
    techs = {t.id: t.home_centre_id for t in ds.technicians}
    tech_changed = float((served["A"][both] != served["B"][both]).mean()) if len(both) else float("nan")
    centre_changed = (float((served["A"][both].map(techs) != served["B"][both].map(techs)).mean())
                      if len(both) else float("nan"))
    only = len(served["A"].index.symmetric_difference(served["B"].index))
    return TravelComparison(drives, plans, {"another technician": tech_changed, "another centre": centre_changed,
                                            "routed under one model only": float(only)})
