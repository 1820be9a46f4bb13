"""KPIs as pure functions of two frames, shared by plans and simulations.

``outcomes``: one row per request, columns
    request_id, mode, level, province_adcode, centre_id (the centre answering for it),
    created_s, clock_start_s (the call; or when the customer can first be visited, if later;
    never outside the centre's hours: ``hours.dispatch_clock_start``),
    dispatch_s (technician set off toward the customer; NaN if none), optionally dispatch_wait_s
    (opening-hours seconds from clock_start_s to dispatch_s; when absent, the plain difference
    is used), completion_s (device back
    with the customer / on-site repair done; NaN if not served), repair_tier (tier of the bench
    that repaired it; NaN for on-site work), unassigned_reason ("" when served); optionally
    visit_mode (how it is served: an on-site call may be collected for the bench, ``pickup``),
    reach_s (drive from the nearest centre with technicians: splits the dispatch rate into
    calls within the dispatch target's drive and those beyond the network's reach).
``workload``: one row per technician, columns
    technician_id, centre_id, province_adcode, available_s (net shift time), busy_s (travel +
    service), travel_s, distance_m, overtime_s, jobs.

Definitions (the two promises):
* one-hour dispatch rate = share of onsite/pickup requests waiting <= the rule book's target
  (``Rules.dispatch_target_s``, 3600 s) of opening hours
  from clock start to dispatch; requests never dispatched count as misses (the denominator is every onsite/pickup call);
* time to dispatch p50/p95 over dispatched requests, minutes;
* turnaround = completion_s - created_s over served requests, hours: mean, p50, p90, and the
  shares <= 24 h and <= 48 h (over served requests);
* on-site collected share = share of onsite calls served by collecting the device instead;
* escalation rate by tier = share of bench repairs done at each tier;
* utilisation = sum(busy_s) / sum(available_s); travel km per job = sum(distance_m)/1000/jobs.

A KPI over an empty population (a day with no calls, no travelling call, nothing served, no job)
is NaN: stored as null, shown as "-", never 0 % and never an error. Counts (requests, served,
unassigned) are 0. An empty ``outcomes`` frame may come without its columns.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from dispatch.model import Tier
from dispatch.rules import DEFAULT_RULES

TRAVELLING = ("onsite", "pickup")
_TARGET_MIN = DEFAULT_RULES.dispatch_target_s // 60
# The columns every KPI reads (see the module docstring for the optional ones).
REQUIRED_COLUMNS = ("request_id", "mode", "level", "province_adcode", "centre_id", "created_s", "clock_start_s",
                    "dispatch_s", "completion_s", "repair_tier", "unassigned_reason")


def _columned(outcomes: pd.DataFrame) -> pd.DataFrame:
    """``outcomes`` itself, or, when it has no rows, with the columns it lacks (a day with no
    calls may come as a frame without columns). A frame with rows is taken as it is."""
    if len(outcomes):
        return outcomes
    return outcomes.reindex(columns=[*outcomes.columns, *(c for c in REQUIRED_COLUMNS if c not in outcomes)])


def _pct(values: pd.Series, q: float) -> float:
    v = values.dropna().to_numpy(dtype=float)
    return float(np.percentile(v, q)) if len(v) else math.nan


def kpis(outcomes: pd.DataFrame, workload: pd.DataFrame | None = None,
         dispatch_target_s: int | None = None) -> dict[str, float]:
    """One dict of KPIs; NaN where a KPI has no population (e.g. no travelling calls). The
    target is the rule book's unless a scenario gives its own."""
    if dispatch_target_s is None:
        dispatch_target_s = DEFAULT_RULES.dispatch_target_s
    outcomes = _columned(outcomes)
    out: dict[str, float] = {"requests": float(len(outcomes))}
    trav = outcomes[outcomes["mode"].isin(TRAVELLING)]
    # Business seconds when the producer knows the centres' hours (the promise pauses overnight).
    wait_s = trav["dispatch_wait_s"] if "dispatch_wait_s" in trav else trav["dispatch_s"] - trav["clock_start_s"]
    out["travelling_requests"] = float(len(trav))
    out["dispatch_within_target_rate"] = (
        float((wait_s <= dispatch_target_s).sum() / len(trav)) if len(trav) else math.nan
    )
    if "reach_s" in trav:  # the network's reach: calls within an hour's drive of a technician's centre
        near, far = trav["reach_s"] <= dispatch_target_s, trav["reach_s"] > dispatch_target_s  # unknown: neither
        out["beyond_reach_share"] = float(far.mean()) if len(trav) else math.nan
        out["dispatch_in_reach_rate"] = (
            float((wait_s[near] <= dispatch_target_s).mean()) if near.any() else math.nan)
        out["dispatch_beyond_reach_rate"] = (
            float((wait_s[far] <= dispatch_target_s).mean()) if far.any() else math.nan)
    out["time_to_dispatch_p50_min"] = _pct(wait_s, 50) / 60
    out["time_to_dispatch_p95_min"] = _pct(wait_s, 95) / 60
    served = outcomes[outcomes["completion_s"].notna()]
    ta_h = (served["completion_s"] - served["created_s"]) / 3600
    out["served"] = float(len(served))
    # Turnaround figures are over served requests; this says how many that is.
    out["served_share"] = float(len(served) / len(outcomes)) if len(outcomes) else math.nan
    out["turnaround_mean_h"] = float(ta_h.mean()) if len(ta_h) else math.nan
    out["turnaround_p50_h"] = _pct(ta_h, 50)
    out["turnaround_p90_h"] = _pct(ta_h, 90)
    out["turnaround_within_24h_share"] = float((ta_h <= 24).mean()) if len(ta_h) else math.nan
    out["turnaround_within_48h_share"] = float((ta_h <= 48).mean()) if len(ta_h) else math.nan
    if "visit_mode" in outcomes:  # on-site calls collected for the bench instead (assignment rule 7)
        onsite = outcomes[outcomes["mode"] == "onsite"]
        collected = (onsite["visit_mode"] == "pickup") & (onsite["unassigned_reason"] == "")
        out["onsite_collected_share"] = float(collected.mean()) if len(onsite) else math.nan
    bench = outcomes["repair_tier"].dropna()
    for tier in Tier:
        out[f"bench_share_tier{tier}"] = float((bench == tier).mean()) if len(bench) else math.nan
    out["unassigned"] = float((outcomes["unassigned_reason"] != "").sum())
    if workload is not None and len(workload):
        avail = float(workload["available_s"].sum())
        jobs = float(workload["jobs"].sum())
        out["utilisation"] = float(workload["busy_s"].sum()) / avail if avail else math.nan
        out["travel_km_per_job"] = float(workload["distance_m"].sum()) / 1000 / jobs if jobs else math.nan
        out["overtime_h"] = float(workload["overtime_s"].sum()) / 3600
    return out


def unassigned_by_reason(outcomes: pd.DataFrame) -> pd.Series:
    outcomes = _columned(outcomes)
    u = outcomes.loc[outcomes["unassigned_reason"] != "", "unassigned_reason"]
    return u.value_counts().sort_index()


def kpis_by(outcomes: pd.DataFrame, key: str, workload: pd.DataFrame | None = None) -> pd.DataFrame:
    """The same KPIs per province (``province_adcode``) or per centre (``centre_id``)."""
    rows = []
    for value, group in _columned(outcomes).groupby(key, sort=True):
        wl = workload[workload[key] == value] if workload is not None and key in workload else None
        rows.append({key: value, **kpis(group, wl)})
    return pd.DataFrame(rows, columns=None if rows else [key, *kpis(outcomes.iloc[:0])])


KPI_LABELS = {
    "requests": "requests",
    "dispatch_within_target_rate": f"dispatched <= {_TARGET_MIN} min",
    "dispatch_in_reach_rate": f"dispatched <= {_TARGET_MIN} min, <= {_TARGET_MIN} min drive away",
    "dispatch_beyond_reach_rate": f"dispatched <= {_TARGET_MIN} min, farther",
    "beyond_reach_share": f"calls > {_TARGET_MIN} min drive from a centre",
    "time_to_dispatch_p50_min": "time to dispatch p50 (min)",
    "time_to_dispatch_p95_min": "time to dispatch p95 (min)",
    "served_share": "served (repaired or returned)",
    "turnaround_mean_h": "turnaround mean (h, served)",
    "turnaround_p50_h": "turnaround p50 (h)",
    "turnaround_p90_h": "turnaround p90 (h)",
    "turnaround_within_24h_share": "turnaround <= 24 h",
    "turnaround_within_48h_share": "turnaround <= 48 h",
    "onsite_collected_share": "on-site calls collected instead",
    "bench_share_tier3": "bench repairs at county",
    "bench_share_tier2": "bench repairs at city",
    "bench_share_tier1": "bench repairs at province",
    "utilisation": "technician utilisation",
    "travel_km_per_job": "travel km per job",
    "overtime_h": "overtime (h)",
    "unassigned": "unassigned",
}


def format_kpis(columns: Mapping[str, Mapping[str, float | None]]) -> str:
    """Side-by-side table (e.g. {'plan': {...}, 'baseline': {...}}); shares shown as %."""
    rows = []
    for key, label in KPI_LABELS.items():
        if not any(key in col for col in columns.values()):
            continue
        row = {"KPI": label}
        for name, col in columns.items():
            v = col.get(key, math.nan)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                row[name] = "-"
            elif key.endswith(("_rate", "_share")) or key.startswith("bench_share") or key == "utilisation":
                row[name] = f"{100 * v:.1f} %"
            elif key in ("requests", "unassigned"):
                row[name] = f"{int(v)}"
            else:
                row[name] = f"{v:.2f}"
        rows.append(row)
    return pd.DataFrame(rows).to_string(index=False)
