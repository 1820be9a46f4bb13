"""The monthly statement of each contracted station: its jobs, fees, penalties and quality.

One row per station and calendar month (China Standard Time, of the job's completion): jobs by
the level its fee paid (``jobs_l1`` .. ``jobs_l3``, ``handovers`` for devices passed up
unrepaired) and by channel, the fees earned, the SLA breaches and their penalties, what the maker
pays (fees - penalties), the repeat calls of its jobs seen in the month's log, and its quality:
the score of its record (``Contract.quality``) beside the month's observed repeat rate. As CSV
through ``dispatch.exports.csv_text`` (:func:`settlement_csv`).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dispatch.contracts.model import ContractBook
from dispatch.exports import csv_text

COLUMNS = ("station_id", "month", "jobs", "jobs_l1", "jobs_l2", "jobs_l3", "handovers", "onsite", "pickup",
           "walkin", "fees_cny", "dispatch_breaches", "turnaround_breaches", "penalties_cny", "payable_cny",
           "repeat_calls", "observed_repeat_rate", "quality_score")


def settlement(jobs: pd.DataFrame, outcomes: pd.DataFrame, book: ContractBook, epoch_date: str) -> pd.DataFrame:
    """The statements (module docstring) from ``contracts.costs.job_costs``' frame: completed jobs
    of contracted stations only; a station with no job in the run has no row."""
    done = jobs[(jobs["owner"] == "contracted") & jobs["completed"]].copy()
    if not len(done):
        return pd.DataFrame(columns=list(COLUMNS))
    epoch = dt.datetime.fromisoformat(epoch_date)
    done["month"] = [(epoch + dt.timedelta(seconds=float(s))).strftime("%Y-%m") for s in done["completion_s"]]
    repeats = set(outcomes["repeat_of"].dropna().astype(str)) - {""} if "repeat_of" in outcomes else set()
    done["repeated"] = done["request_id"].astype(str).isin(repeats)
    rows = []
    for (station, month), g in done.groupby(["centre_id", "month"], sort=True):
        level = g["fee_level"]
        fees, penalties = float(g["fee_cny"].sum()), float(g["penalty_cny"].sum())
        rows.append({
            "station_id": station, "month": month, "jobs": len(g),
            **{f"jobs_l{k}": int((level == k).sum()) for k in (1, 2, 3)}, "handovers": int(level.isna().sum()),
            **{ch: int((g["channel"] == ch).sum()) for ch in ("onsite", "pickup", "walkin")},
            "fees_cny": round(fees, 2), "dispatch_breaches": int(g["late_dispatch"].sum()),
            "turnaround_breaches": int(g["late_turnaround"].sum()), "penalties_cny": round(penalties, 2),
            "payable_cny": round(fees - penalties, 2), "repeat_calls": int(g["repeated"].sum()),
            "observed_repeat_rate": float(g["repeated"].mean()),
            "quality_score": round(book.contracts[station].quality, 4)})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def settlement_csv(statements: pd.DataFrame) -> str:
    """The statements as CSV for the stations' accountants (``exports.csv_text``)."""
    return csv_text(statements)
