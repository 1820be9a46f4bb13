"""The dashboard's one formatting module: clock strings, KPI values and deltas, tiles, readable
tables and the labels users see. Text only: no solving, no Streamlit, no domain rule.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from dashboard import i18n
from dashboard.i18n import t
from dashboard.state import ALL
from dispatch.kpis import KPI_BY_KEY, KPI_LABELS
from dispatch.kpis import fmt as kpi_fmt
from dispatch.live import JobState
from dispatch.model import DAY_S, Tier
from dispatch.rules import DEFAULT_RULES

TARGET_MIN = DEFAULT_RULES.dispatch_target_s // 60

# The job states the board shows (codes of dispatch.live.JobState; ``i18n.state`` names them).
STATES = (JobState.DONE.value, JobState.ON_SITE.value, JobState.DISPATCHED.value, JobState.PLANNED.value,
          JobState.UNASSIGNED.value)
# The board's SLA risk of a job, worst first (``jobs.job_table``; ``i18n.risk`` names them).
RISKS = ("late", "at_risk", "on_time", "not_routed")
COLOUR_BY = ("state", "risk")  # what the board map colours jobs by


def clock(epoch_date: str, t_s: float | None, weekday: bool = True) -> str:
    """Absolute seconds since the epoch -> '周一 09:30' / 'Mon 09:30' local clock, for labels."""
    if t_s is None or (isinstance(t_s, float) and math.isnan(t_s)):
        return ""
    d = dt.datetime.fromisoformat(epoch_date) + dt.timedelta(seconds=int(t_s))
    return f"{i18n.weekday(d.weekday())} {d:%H:%M}" if weekday else f"{d:%H:%M}"


def window(epoch_date: str, span: tuple[int, int] | None, weekday: bool = True) -> str:
    """A (start_s, end_s) window as 'Mon 09:00–Mon 12:00' (or '09:00–12:00'); '-' when there is none."""
    return "–".join(clock(epoch_date, s, weekday) for s in span) if span else "-"


def day_label(epoch_date: str, day: int) -> str:
    d = dt.datetime.fromisoformat(epoch_date) + dt.timedelta(days=day)
    return t("side.day_label", day=day, weekday=i18n.weekday(d.weekday()))


def area_label(places: Mapping[str, tuple[str, str]], adcode: str) -> str:
    """An adcode with its name; ``ALL`` is the whole province."""
    return t("side.whole_province") if adcode == ALL else f"{i18n.place(places, adcode)} ({adcode})"


def frame_columns(frame: pd.DataFrame, keys: Mapping[str, str]) -> pd.DataFrame:
    """A table with its columns named in the user's language (``keys``: column -> message key)."""
    return frame.rename(columns={c: t(k) for c, k in keys.items() if c in frame.columns})


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


def kpi_tiles(values: Mapping[str, float], against: Mapping[str, float] | None = None) -> list[Tile]:
    tiles = []
    for k in TILE_KEYS:
        delta = None
        if against is not None and k in values and k in against:
            d = values[k] - against[k]
            if not math.isnan(d):
                delta = fmt_delta(k, d, 1)
        tiles.append(Tile(k, i18n.kpi_label(k), fmt_kpi(k, values.get(k)), t(f"tile.help.{k}"), delta,
                          k in LOWER_IS_BETTER))
    return tiles


def preview_tiles(calls: int, technicians: int, centres: int) -> list[Tile]:
    """The board's tiles while its live plan is made ready: what the area holds (the progress
    bar under the map says which stage the preparation is at)."""
    return [Tile("calls", t("tile.calls"), str(calls), t("tile.calls_help")),
            Tile("technicians", t("tile.technicians"), str(technicians), t("tile.technicians_help")),
            Tile("centres", t("tile.area_centres"), str(centres), t("tile.centres_help")),
            Tile("live", t("tile.live"), t("prepare.short"), t("tile.live_help"))]


def coverage_tiles(shares: Mapping[str, float], tiers: Mapping[Tier, int], minutes: float) -> list[Tile]:
    """The network page's tiles: demand within ``minutes`` of each repair level (the shares of
    ``scenarios.coverage_shares``), centres by tier."""
    tiles = [Tile(f"l{lv}", t("tile.coverage", minutes=minutes, level=lv),
                  fmt_kpi("x_share", shares.get(f"level{lv}")), t("tile.coverage_help")) for lv in (1, 2, 3)]
    counts = "/".join(str(tiers[x]) for x in (Tier.PROVINCE, Tier.CITY, Tier.COUNTY))
    return tiles + [Tile("centres", t("tile.centres"), counts, t("tile.centres_help"))]


def upload_tiles(files: int, problems: int | None, datasets: int) -> list[Tile]:
    """The upload page's tiles: files received, problems of the last validation, datasets loaded."""
    return [
        Tile("files", t("tile.files"), str(files), t("tile.files_help")),
        Tile("problems", t("tile.problems"), "-" if problems is None else str(problems), t("tile.problems_help")),
        Tile("datasets", t("tile.datasets"), str(datasets), t("tile.datasets_help")),
    ]


def kpi_table(columns: Mapping[str, Mapping[str, float]], delta: bool = True) -> pd.DataFrame:
    """KPIs side by side, formatted; with two columns and ``delta``, their difference."""
    names = list(columns)
    rows = []
    for key in KPI_LABELS:
        if not any(key in c for c in columns.values()):
            continue
        row = {t("table.kpi"): i18n.kpi_label(key)}
        for n in names:  # n/a: that run does not measure it (dispatch.kpis: left out of its dict)
            row[n] = fmt_kpi(key, columns[n][key]) if key in columns[n] else t("table.na")
        if delta and len(names) == 2:
            a, b = (columns[n].get(key, math.nan) for n in names)
            row[t("table.change")] = fmt_delta(key, b - a, 2)
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Scenario comparison


SCENARIO_ROWS = ("coverage_level1_60min", "coverage_level2_60min", "coverage_level3_60min",
                 "est_turnaround_level2_h", "est_turnaround_level3_h", "centres", "technicians", "cost_per_day",
                 "turnaround_value_cny", "cost_and_turnaround_cny", *(f"plan_{k}" for k in KPI_LABELS))


def fmt_value(key: str, v: float) -> str:
    """Any compared figure: shares in %, large numbers with separators, small with 2 decimals."""
    if _missing(v):
        return "-"
    return f"{100 * v:.1f} %" if is_share(key) else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}")


def comparison_table(table: pd.DataFrame) -> pd.DataFrame:
    """``dispatch.scenarios.compare``'s table (KPI x runs and deltas) as readable text rows."""
    rows = []
    for key in SCENARIO_ROWS:
        if key not in table.index:
            continue
        row = {t("table.kpi"): i18n.kpi_label(key)}
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


DAILY_KPIS = ("calls", "dispatch_within_target_rate", "dispatch_within_target_wall_rate", "time_to_dispatch_p50_min",
              "turnaround_mean_h", "turnaround_within_48h_share", "unassigned")


def daily_table(daily: pd.DataFrame) -> pd.DataFrame:
    """The daily KPIs (``simulation.daily_kpis``) as readable text: one row per day, one column
    per KPI and policy (policies in the order they come)."""
    if daily.empty:
        return pd.DataFrame(columns=["day"])
    d = daily.copy()
    d["text"] = [f"{int(v)}" if k == "calls" else fmt_kpi(k, v) for k, v in zip(d["kpi"], d["value"])]
    wide = d.pivot_table(index="day", columns=["label", "policy"], values="text", aggfunc="first")
    policies = list(dict.fromkeys(daily["policy"]))
    labels = list(dict.fromkeys(daily["label"]))
    order = [(lab, p) for lab in labels for p in policies if (lab, p) in wide.columns]
    wide = wide[order]
    wide.columns = [f"{lab} · {p}" for lab, p in order]
    return wide.reset_index().rename(columns={"day": t("col.day")})


def network_label(name: str) -> str:
    """The simulation's network choice: the base or a saved scenario."""
    return t("sim.base") if name == "base" else t("sim.scenario", name=name)


# --------------------------------------------------------------------------------------------
# The board


def pins_table(pins: Iterable[tuple[int, str, str, int]], epoch_date: str) -> pd.DataFrame:
    """The pins in force: (event seq, job, technician, when) rows as the board lists them."""
    rows = [{"#": seq, t("col.request_id"): job, t("col.technician"): tech, t("col.at"): clock(epoch_date, at)}
            for seq, job, tech, at in pins]
    return pd.DataFrame(rows, columns=["#", t("col.request_id"), t("col.technician"), t("col.at")])


def plan_ready_message(wall_s: float, areas: int, processes: int, visits: int) -> str:
    procs = t("board.procs", n=processes) if processes > 1 else ""
    return t("board.plan_ready", wall=wall_s, areas=areas, procs=procs, visits=visits)


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
