"""The board's jobs: each call's state and SLA risk at a moment, the technicians' timeline
segments, the unassigned table, the dispatcher's pins and the plan's exports."""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from dashboard import i18n
from dashboard.catalogue import EXPORT_HEADERS
from dashboard.formatting import RISKS, clock
from dispatch.dataset import Dataset
from dispatch.exports import export_plan
from dispatch.live import JobState
from dispatch.model import DAY_S, Mode
from dispatch.plan import Plan
from dispatch.rules import DEFAULT_RULES, Rules

LATE, AT_RISK, ON_TIME, NOT_ROUTED = RISKS
# Dashboard only: a set-off less than this before the dispatch deadline is shown as at risk.
AT_RISK_SLACK_S = 15 * 60


def job_table(plan: Plan, ds: Dataset, now_s: int, rules: Rules = DEFAULT_RULES) -> pd.DataFrame:
    """One row per call of the plan's day: where it is, its state at ``now_s`` (absolute
    seconds; ``STATE_LABELS`` of ``dispatch.live.JobState``) and its SLA risk: the slack of the
    set-off against the dispatch deadline (``Rules.dispatch_deadline``, in the answering
    centre's opening hours)."""
    return at_clock(job_frame(plan, ds, rules), now_s)


def job_frame(plan: Plan, ds: Dataset, rules: Rules = DEFAULT_RULES) -> pd.DataFrame:
    """``job_table`` without the states: what does not depend on the clock (the plan's times,
    deadlines and risk), built once per version of the live plan; ``at_clock`` adds the states."""
    out = plan.outcomes[["request_id", "mode", "level", "priority", "centre_id", "clock_start_s",
                         "dispatch_s", "completion_s", "unassigned_reason"]].copy()
    # Where each call is: the dataset's calls, and those the live board took (their own columns).
    pos = {r.id: (r.lon, r.lat) for r in ds.requests}
    if "lon" in plan.outcomes.columns:
        pos |= {i: (x, y) for i, x, y in zip(plan.outcomes["request_id"], plan.outcomes["lon"], plan.outcomes["lat"])
                if i not in pos}
    out["lon"] = out["request_id"].map(lambda i: pos[i][0])
    out["lat"] = out["request_id"].map(lambda i: pos[i][1])
    st_cols = ["request_id", "technician_id", "sequence", "departure_s", "arrival_s", "start_s", "end_s"]
    stops = plan.stops[st_cols] if len(plan.stops) else pd.DataFrame(columns=st_cols)
    out = out.merge(stops, on="request_id", how="left")
    routed = out["technician_id"].notna().to_numpy()
    dep = out["departure_s"].to_numpy(float)
    deadline = np.full(len(out), np.nan)
    for i in np.flatnonzero(routed):
        deadline[i] = rules.dispatch_deadline(ds.network[out["centre_id"].iat[i]], int(out["clock_start_s"].iat[i]))
    slack = deadline - dep
    risk = np.full(len(out), NOT_ROUTED, dtype=object)
    risk[routed] = ON_TIME
    risk[routed & (slack < AT_RISK_SLACK_S)] = AT_RISK
    risk[routed & (slack < 0)] = LATE
    out.insert(out.columns.get_loc("end_s") + 1, "state", JobState.PLANNED.value)
    out["risk"] = risk
    out["slack_min"] = np.round(slack / 60, 1)
    out["deadline_s"] = deadline
    return out


def at_clock(frame: pd.DataFrame, now_s: int) -> pd.DataFrame:
    """``job_frame`` with each call's state at ``now_s`` (a new frame; ``frame`` is kept as it
    is): the plan's own times read at the clock, nothing re-timed."""
    routed = frame["technician_id"].notna().to_numpy()
    dep, start, end = (frame[c].to_numpy(float) for c in ("departure_s", "start_s", "end_s"))
    state = np.full(len(frame), JobState.PLANNED, dtype=object)
    state[routed & (dep <= now_s)] = JobState.DISPATCHED
    state[routed & (start <= now_s)] = JobState.ON_SITE
    state[routed & (end <= now_s)] = JobState.DONE
    walkin = frame["mode"].isin((Mode.WALKIN, Mode.MAILIN)).to_numpy()  # no technician: done when the phone is back
    state[walkin & (frame["completion_s"].to_numpy(float) <= now_s)] = JobState.DONE
    state[(frame["unassigned_reason"] != "").to_numpy()] = JobState.UNASSIGNED
    out = frame.copy()
    out["state"] = [JobState(s).value for s in state]
    return out


def remaining_jobs(plan: Plan, now_s: int) -> dict[str, int]:
    """Technician id -> routed jobs not finished at ``now_s`` (what a drop-out would move)."""
    if plan.stops.empty:
        return {}
    left = plan.stops[plan.stops["end_s"] > now_s]
    return left.groupby("technician_id").size().astype(int).to_dict()


SEGMENT_KINDS = ("travel", "work", "break", "idle")


def gantt_segments(plan: Plan, ds: Dataset) -> pd.DataFrame:
    """Per technician with work: travel, work, break and idle intervals (absolute seconds)
    from leaving home to coming back. Break time is cut out of idle time it overlaps."""
    rows: list[dict] = []
    if plan.routes.empty:
        return pd.DataFrame(columns=["technician_id", "kind", "start_s", "end_s", "request_id"])
    brk = {t.id: t.break_s for t in ds.technicians}
    by_tech = {}
    if len(plan.stops):  # an empty frame may come without columns
        stops = plan.stops.sort_values(["technician_id", "sequence"])
        by_tech = dict(tuple(stops.groupby("technician_id", sort=False)))
    for r in plan.routes.itertuples(index=False):
        tid = r.technician_id
        segs: list[tuple[str, int, int, str]] = []
        cur = int(r.start_s)
        for s in by_tech.get(tid, pd.DataFrame()).itertuples(index=False):
            if s.departure_s > cur:
                segs.append(("idle", cur, int(s.departure_s), ""))
            segs.append(("travel", int(s.departure_s), int(s.arrival_s), s.request_id))
            if s.start_s > s.arrival_s:
                segs.append(("idle", int(s.arrival_s), int(s.start_s), s.request_id))
            segs.append(("work", int(s.start_s), int(s.end_s), s.request_id))
            cur = int(s.end_s)
        if int(r.end_s) > cur:
            segs.append(("travel", cur, int(r.end_s), "return"))
        b0 = r.break_start_s
        if b0 is not None and not (isinstance(b0, float) and math.isnan(b0)) and brk.get(tid, 0) > 0:
            b0, b1 = int(b0), int(b0) + brk[tid]
            cut = []
            for kind, a, b, req in segs:
                if kind == "idle" and a < b1 and b > b0:
                    if a < b0:
                        cut.append((kind, a, b0, req))
                    if b > b1:
                        cut.append((kind, b1, b, req))
                else:
                    cut.append((kind, a, b, req))
            segs = cut + [("break", b0, b1, "")]
        rows += [{"technician_id": tid, "kind": k, "start_s": a, "end_s": b, "request_id": q}
                 for k, a, b, q in segs if b > a]
    return pd.DataFrame(rows).sort_values(["technician_id", "start_s"]).reset_index(drop=True)


def customer_windows(ds: Dataset, calls: dict[str, dict]) -> dict[str, tuple[int, int]]:
    """Job -> its customer's window (absolute seconds): the dataset's calls, and the urgent calls
    the live board took (``calls``: the service's call bodies, by id)."""
    out = {k: (int(c["window_start_s"]), int(c["window_end_s"])) for k, c in calls.items()
           if c.get("window_start_s") is not None and c.get("window_end_s") is not None}
    return out | {r.id: (int(r.window.start_s), int(r.window.end_s)) for r in ds.requests}


def unassigned_table(plan: Plan, centre_names: dict[str, str]) -> pd.DataFrame:
    """The day's calls nobody serves, with the reason in the user's language (the calls booked
    for a later day are not among them: they have no outcome on this day)."""
    u = plan.unassigned.merge(plan.outcomes[["request_id", "mode", "level", "priority", "centre_id"]],
                              on="request_id", how="inner")
    return pd.DataFrame({
        "request_id": u["request_id"], "reason_code": u["reason_code"],
        "reason": [i18n.reason(c, r) for c, r in zip(u["reason_code"], u["reason"])],
        "mode": [i18n.mode(m) for m in u["mode"]], "level": u["level"].astype(int),
        "priority": [i18n.priority(p) for p in u["priority"]],
        "centre": [centre_names.get(c, c) for c in u["centre_id"]],
    })


# --------------------------------------------------------------------------------------------
# Pins


# The states of a job a dispatcher may still pin or move (nobody has set off toward it).
MOVABLE_STATES = (JobState.PLANNED.value, JobState.UNASSIGNED.value)


def pinnable(jobs: pd.DataFrame) -> list[str]:
    """The jobs a dispatcher may pin to a technician: every call a technician travels for that
    is not under way yet."""
    travelling = jobs["mode"].astype(str).isin((Mode.ONSITE.value, Mode.PICKUP.value))
    movable = jobs["state"].isin(MOVABLE_STATES)
    return list(jobs.loc[travelling & movable, "request_id"])


def quarter_hour(seconds_of_day: int) -> dt.time:
    """A time of day rounded down to the quarter hour (a form's default), within the day."""
    q = min(max(int(seconds_of_day), 0), DAY_S - 1) // 900 * 900
    return dt.time(q // 3600, q % 3600 // 60)


# The field reports the job panel sends (``POST /jobs/{id}/status``), in the order work goes.
REPORTS = ("dispatched", "on_site", "done", "cancelled")


def pin_outcome(got, job: str, technician: str, area_of: dict[str, str | None],  # type: ignore[no-untyped-def]
                epoch_date: str) -> tuple[str, str]:
    """(kind, message) of a pin on the live plan: where the job now stands, or that it stays."""
    if got is not None:
        return ("success", i18n.t("pin.kept", job=job, tech=technician, seq=got.position + 1,
                                  start=clock(epoch_date, got.start_s)))
    where = i18n.t("pin.where", area=area_of.get(technician)) if area_of.get(technician) else ""
    return ("warning", i18n.t("pin.refused", job=job, tech=technician, why=i18n.t("pin.why_not"), where=where))


# --------------------------------------------------------------------------------------------
# Exports


EXPORT_MIME = {".csv": "text/csv", ".html": "text/html", ".geojson": "application/geo+json"}


def export_files(plan: Plan, ds: Dataset, title: str) -> dict[str, bytes]:
    """The plan's exports (route sheets CSV/HTML, GeoJSON, unassigned CSV) as downloadable bytes,
    written by ``dispatch.exports`` into a temporary folder, in the user's language (headings,
    section titles, the unassigned calls' reasons)."""
    unassigned = plan.unassigned.copy()
    unassigned["reason"] = [i18n.reason(c, r) for c, r in zip(unassigned["reason_code"], unassigned["reason"])]
    frames = {"stops": plan.stops, "routes": plan.routes, "unassigned": unassigned}
    homes = {t.id: t.home_centre_id for t in ds.technicians}
    headers = {k: i18n.pick(v) for k, v in EXPORT_HEADERS.items()}
    with tempfile.TemporaryDirectory() as tmp:
        paths = export_plan(frames, ds.epoch_date, tmp, title, ds.network, homes, headers,
                            i18n.t("export.section", technician="{technician}", jobs="{jobs}"))
        return {p.name: p.read_bytes() for p in paths}


def export_mime(name: str) -> str:
    return EXPORT_MIME.get(Path(name).suffix, "text/plain")
