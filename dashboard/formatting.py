"""The dashboard's one formatting module: clock strings, KPI values and deltas, tiles, readable
tables and the labels users see. Text only: no solving, no Streamlit, no domain rule.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from dashboard.state import ALL
from dispatch.kpis import KPI_BY_KEY, KPI_LABELS
from dispatch.kpis import fmt as kpi_fmt
from dispatch.live import JobState
from dispatch.model import DAY_S, Priority, Tier
from dispatch.plan import Pin
from dispatch.rules import DEFAULT_RULES

TARGET_MIN = DEFAULT_RULES.dispatch_target_s // 60

# What the board calls each job state (dispatch.live.JobState) on the map, legend and tables.
STATE_LABELS: dict[JobState, str] = {
    JobState.DONE: "done", JobState.ON_SITE: "on site", JobState.DISPATCHED: "en route",
    JobState.PLANNED: "planned", JobState.UNASSIGNED: "unassigned",
}
# The board's SLA risk of a job, worst first (``jobs.job_table``).
RISKS = ("late dispatch", "at risk", "on time", "not routed")
COLOUR_BY_LABELS = {"state": "state", "risk": "SLA risk"}  # what the board map colours jobs by
TIER_LABELS = {int(t): t.name.lower() for t in Tier}
PRIORITY_LABELS = {int(p): p.name.lower() for p in Priority}


def clock(epoch_date: str, t_s: float) -> str:
    """Absolute seconds since the epoch -> 'Mon 09:30' local clock, for labels."""
    if t_s is None or (isinstance(t_s, float) and math.isnan(t_s)):
        return ""
    d = dt.datetime.fromisoformat(epoch_date) + dt.timedelta(seconds=int(t_s))
    return d.strftime("%a %H:%M")


def day_label(epoch_date: str, day: int) -> str:
    return f"day {day} ({clock(epoch_date, day * DAY_S)[:3]})"


def area_label(names: Mapping[str, str], adcode: str) -> str:
    """An adcode with its name; ``ALL`` is the whole province."""
    return "whole province" if adcode == ALL else f"{names.get(adcode, adcode)} ({adcode})"


# --------------------------------------------------------------------------------------------
# KPI values


def is_share(key: str) -> bool:
    """Whether a KPI (or a scenario comparison's ``plan_``/``coverage_`` row) is a share 0..1."""
    k = key.removeprefix("plan_")
    if k in KPI_BY_KEY:  # the KPI table says (dispatch.kpis.KPIS)
        return KPI_BY_KEY[k].kind == "share"
    return k.startswith("coverage_") or k.endswith(("_rate", "_share"))


def _missing(v: float | None) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def fmt_kpi(key: str, v: float | None) -> str:
    if _missing(v):
        return "-"
    if key in KPI_BY_KEY:  # shares, counts, 'never' as the CLI shows them, one decimal elsewhere
        return kpi_fmt(key, v) if KPI_BY_KEY[key].kind in ("share", "count") or math.isinf(v) else f"{v:.1f}"
    if is_share(key):
        return f"{100 * v:.1f} %"
    if key in ("requests", "unassigned", "served", "travelling_requests"):
        return f"{int(v)}"
    return f"{v:.1f}"


def fmt_delta(key: str, d: float, decimals: int) -> str:
    """A change: shares in percentage points, anything else signed with ``decimals``; none
    where a side is 'never' (an infinite percentile)."""
    if _missing(d) or math.isinf(d):
        return "-"
    return f"{100 * d:+.1f} pt" if is_share(key) else f"{d:+.{decimals}f}"


@dataclass(frozen=True)
class Tile:
    key: str
    label: str
    value: str
    help: str
    delta: str | None = None
    lower_is_better: bool = False  # the delta is coloured green when it goes down


TILE_KEYS = ("dispatch_within_target_rate", "time_to_dispatch_p50_min", "turnaround_mean_h",
             "utilisation", "unassigned")
LOWER_IS_BETTER = {"time_to_dispatch_p50_min", "turnaround_mean_h", "unassigned"}
TILE_HELP = {
    "dispatch_within_target_rate": "share of onsite/pickup calls whose technician sets off within "
                                   f"{TARGET_MIN} min of the clock start",
    "time_to_dispatch_p50_min": "median minutes from clock start to set-off (p95 in the table)",
    "turnaround_mean_h": "estimated mean hours from call to device back / repair done",
    "utilisation": "travel + service time over net shift time",
    "unassigned": "calls with no technician or repair today (see reasons)",
}


def kpi_tiles(values: Mapping[str, float], against: Mapping[str, float] | None = None) -> list[Tile]:
    tiles = []
    for k in TILE_KEYS:
        delta = None
        if against is not None and k in values and k in against:
            d = values[k] - against[k]
            if not math.isnan(d):
                delta = fmt_delta(k, d, 1)
        tiles.append(Tile(k, KPI_LABELS.get(k, k), fmt_kpi(k, values.get(k)), TILE_HELP[k], delta,
                          k in LOWER_IS_BETTER))
    return tiles


def coverage_tiles(shares: Mapping[str, float], tiers: Mapping[Tier, int], minutes: float) -> list[Tile]:
    """The network page's tiles: demand within ``minutes`` of each repair level (the shares of
    ``scenarios.coverage_shares``), centres by tier."""
    help_ = "demand-weighted share of county seats"
    tiles = [Tile(f"l{lv}", f"demand <= {minutes:.0f} min, level {lv}", fmt_kpi("x_share", shares.get(f"level{lv}")),
                  help_) for lv in (1, 2, 3)]
    counts = "/".join(str(tiers[t]) for t in (Tier.PROVINCE, Tier.CITY, Tier.COUNTY))
    return tiles + [Tile("centres", "centres (province/city/county)", counts, "centres in the area by tier")]


def upload_tiles(files: int, problems: int | None, datasets: int) -> list[Tile]:
    """The upload page's tiles: files received, problems of the last validation, datasets loaded."""
    return [
        Tile("files", "files received", str(files), "of centres, technicians, requests"),
        Tile("problems", "problems found", "-" if problems is None else str(problems), "in the last validation"),
        Tile("datasets", "datasets loaded", str(datasets), "usable from the sidebar"),
    ]


def kpi_table(columns: Mapping[str, Mapping[str, float]], delta: bool = True) -> pd.DataFrame:
    """KPIs side by side, formatted; with two columns and ``delta``, their difference."""
    names = list(columns)
    rows = []
    for key, label in KPI_LABELS.items():
        if not any(key in c for c in columns.values()):
            continue
        row = {"KPI": label}
        for n in names:  # n/a: that run does not measure it (dispatch.kpis: left out of its dict)
            row[n] = fmt_kpi(key, columns[n][key]) if key in columns[n] else "n/a"
        if delta and len(names) == 2:
            a, b = (columns[n].get(key, math.nan) for n in names)
            row["change"] = fmt_delta(key, b - a, 2)
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Scenario comparison


SCENARIO_LABELS = {
    "coverage_level1_60min": "demand <= 60 min of a level-1 centre",
    "coverage_level2_60min": "demand <= 60 min of a level-2 centre",
    "coverage_level3_60min": "demand <= 60 min of a level-3 centre",
    "est_turnaround_level2_h": "est. turnaround level 2 (h)",
    "est_turnaround_level3_h": "est. turnaround level 3 (h)",
    "centres": "centres", "technicians": "technicians", "cost_per_day": "cost per day (CNY)",
    **{f"plan_{k}": f"plan: {v}" for k, v in KPI_LABELS.items()},
}


def fmt_value(key: str, v: float) -> str:
    """Any compared figure: shares in %, large numbers with separators, small with 2 decimals."""
    if _missing(v):
        return "-"
    return f"{100 * v:.1f} %" if is_share(key) else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}")


def comparison_table(table: pd.DataFrame) -> pd.DataFrame:
    """``dispatch.scenarios.compare``'s table (KPI x runs and deltas) as readable text rows."""
    rows = []
    for key, label in SCENARIO_LABELS.items():
        if key not in table.index:
            continue
        row = {"KPI": label}
        for col in table.columns:
            v = float(table.loc[key, col])
            txt = fmt_value(key, v)
            if col.startswith("Δ") and txt.endswith("%"):
                txt = f"{100 * v:+.1f} pt"
            elif col.startswith("Δ") and txt != "-" and not txt.startswith("-"):
                txt = "+" + txt
            row[col] = txt
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Simulation


DAILY_KPIS = {
    "calls": "calls",
    **{k: KPI_LABELS[k] for k in ("dispatch_within_target_rate", "dispatch_within_target_wall_rate",
                                  "time_to_dispatch_p50_min", "turnaround_mean_h", "turnaround_within_48h_share")},
    "unassigned": "still open / unassigned",
}


def daily_table(daily: pd.DataFrame) -> pd.DataFrame:
    """The daily KPIs (``simulation.daily_kpis``) as readable text: one row per day, one column
    per KPI and policy (policies in the order they come)."""
    if daily.empty:
        return pd.DataFrame(columns=["day"])
    d = daily.copy()
    d["text"] = [f"{int(v)}" if k == "calls" else fmt_kpi(k, v) for k, v in zip(d["kpi"], d["value"])]
    wide = d.pivot_table(index="day", columns=["label", "policy"], values="text", aggfunc="first")
    policies = list(dict.fromkeys(daily["policy"]))
    order = [(lab, p) for lab in DAILY_KPIS.values() for p in policies if (lab, p) in wide.columns]
    wide = wide[order]
    wide.columns = [f"{lab} · {p}" for lab, p in order]
    return wide.reset_index()


def network_label(name: str) -> str:
    """The simulation's network choice: the base or a saved scenario."""
    return "base (as loaded)" if name == "base" else f"scenario: {name}"


# --------------------------------------------------------------------------------------------
# The board


def legend_html(palette: Mapping[str, list[int]], counts: Mapping[str, int]) -> str:
    """The board map's legend: a coloured dot and a count per job state or risk, then the tiers."""
    return (" · ".join(f"<span style='color:rgb({c[0]},{c[1]},{c[2]})'>●</span> {k} ({counts.get(k, 0)})"
                       for k, c in palette.items())
            + " · centres: ● province ● city ● county (red, orange, blue)")


def pins_table(pins: Iterable[Pin], epoch_date: str) -> list[dict[str, str]]:
    return [{"job": p.request_id, "technician": p.technician_id,
             "start": clock(epoch_date, p.start_s) if p.start_s is not None else "any"} for p in pins]


def plan_ready_message(wall_s: float, areas: int, processes: int, visits: int) -> str:
    procs = f", {processes} processes" if processes > 1 else ""
    return f"Plan ready in {wall_s:.1f} s ({areas} routing area(s){procs}, {visits} routed visits)."
