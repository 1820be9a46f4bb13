"""The parts' KPIs, computed from the outcome columns a parts run adds (``dispatch.parts.sim``:
part_id, part_source, part_tier, part_wait_s, swapped) and its daily stock values; the
definitions live in ``dispatch.kpis.KPIS`` with every other KPI. Without the columns (parts off)
each is None: left out, shown n/a."""

from __future__ import annotations

import math

import pandas as pd

from dispatch.model import DAY_S

FIRST_PICK = ("van", "stock")  # the part was where the job first asked for it


def _jobs(o: pd.DataFrame) -> pd.DataFrame | None:
    if "part_id" not in o:
        return None
    return o[o["part_id"].fillna("").astype(str) != ""]


def fill_rate(o: pd.DataFrame, tier: int | None = None) -> float | None:
    """Share of the calls needing a part that found it where they first asked (the technician's
    van or the repairing centre's shelf); ``tier``: of the centre that asked."""
    jobs = _jobs(o)
    if jobs is None:
        return None
    if tier is not None:
        jobs = jobs[jobs["part_tier"] == tier]
    return float(jobs["part_source"].isin(FIRST_PICK).mean()) if len(jobs) else math.nan


def count(o: pd.DataFrame, sources: tuple[str, ...] | None = None, per_day: bool = False) -> float | None:
    """Calls needing a part (from ``sources``), in all or per day of calls."""
    jobs = _jobs(o)
    if jobs is None:
        return None
    n = float(len(jobs) if sources is None else jobs["part_source"].isin(sources).sum())
    if not per_day:
        return n
    days = o["created_s"].floordiv(DAY_S).nunique()
    return n / days if days else math.nan


def waited(o: pd.DataFrame) -> float | None:
    return None if "part_wait_s" not in o else float((o["part_wait_s"].fillna(0) > 0).sum())


def wait_share(o: pd.DataFrame) -> float | None:
    """Hours waiting for parts over hours of turnaround, both summed over completed calls."""
    if "part_wait_s" not in o:
        return None
    done = o[o["completion_s"].notna()]
    total = float((done["completion_s"] - done["created_s"]).sum())
    return float(done["part_wait_s"].fillna(0).sum()) / total if total else math.nan


def swaps(o: pd.DataFrame) -> float | None:
    return None if "swapped" not in o else float(o["swapped"].fillna(False).astype(bool).sum())


def stock_value(stock: pd.DataFrame | None, tier: str) -> float | None:
    """Mean over the run's days of the stock value (CNY, at cost) held at ``tier``'s locations."""
    if stock is None or not len(stock):
        return None
    return float(stock[tier].mean()) if tier in stock else 0.0
