"""What a job costs the maker, in CNY: per job, per centre and for the network.

From a simulation's frames (``events``, ``outcomes``, ``workload``), its dataset and contract book,
at the rates of :class:`~dispatch.rules.CostRates` (the one table of default rates):

* **technician time**: the maker's own field technicians' paid (net shift) hours at their tier's
  wage, busy or idle (a roster that idles costs money), on the days calls arrive (a simulation
  keeps going after the last call day to finish the work; those days' shifts would be paid for by
  the next week's calls, not this week's); hours on a statutory holiday at 300 % (Labour Law
  art. 44);
* **overtime**: hours past the shift end at the wage times 150 % on a working day, 300 % on a
  statutory holiday (``CostRates.overtime_premium_*``; 200 % on a rest day does not arise: the
  simulation sends nobody on his rest day);
* **kilometres**: driven by own technicians, at their speed class's rate;
* **couriers**: parcel legs a device rode, a courier lane's at the price of the lane it rode
  (the outcomes' ``courier_lane_legs`` and ``courier_lane_cny``), a shuttle leg at
  ``courier_cny_per_leg`` (``CostRates.courier_cny``; another price per call plugs in as ``courier_cny``);
* **parts** at cost: ``parts_cny`` (request id -> CNY), the hook ``dispatch.parts`` fills; zero without;
* **contracted fees**: a contracted station's fee for each job it served (``Fees.job_cny``: the
  level it repaired, or a hand-over fee for a device it passed up; its channel; kilometres beyond
  its radius on site); its technicians' time, kilometres and overtime are the station's, not the
  maker's;
* **SLA penalties**, credited: a contracted job whose technician set off later than the clause
  allows after the acceptance, or that the station completed itself (on site or at its bench)
  later than its turnaround target after the call; deducted from what the maker pays.

A centre's technician time, overtime and kilometres are spread evenly over the jobs its
technicians served (a walk-in: the station it walked into); the network's cost per job is the
total over completed calls, as ``dispatch.kpis``' cost per job. Bench and counter staff are not
in the simulation's workload, so their wages are left out here as there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from dispatch.contracts.model import NO_CONTRACTS, ContractBook
from dispatch.dataset import Dataset
from dispatch.model import DAY_S, Mode
from dispatch.rules import DEFAULT_COST_RATES, CostRates
from dispatch.synthetic.calendar import china_day
from dispatch.travel import DEFAULT_TRAVEL, Travel

PARTS = ("labour_cny", "overtime_cny", "vehicle_cny", "courier_cny", "parts_cny", "fee_cny")
COST_COLUMNS = (*PARTS, "penalty_cny", "total_cny")  # total = the parts - the penalties credited
COURIER_COLUMNS = ("courier_legs", "courier_lane_legs", "courier_lane_cny")  # CostRates.courier_cny's arguments


def served_by(events: pd.DataFrame, outcomes: pd.DataFrame, dataset: Dataset) -> pd.Series:
    """Request id -> the centre that served it: the home of the technician who first set off
    toward it, else (a walk-in) the station it was brought to."""
    home = {t.id: t.home_centre_id for t in dataset.technicians}
    first = events[events["event"] == "dispatched"].drop_duplicates("request_id").set_index("request_id")["where"]
    by = outcomes.set_index("request_id")["centre_id"].astype(object)
    found = first.map(home).reindex(by.index)
    return found.fillna(by)


def _accepted_s(events: pd.DataFrame) -> pd.Series:
    acc = events[events["event"] == "offer_accepted"]
    return acc.drop_duplicates("request_id", keep="last").set_index("request_id")["t_s"]


def _premium_by_day(epoch_date: str, days: np.ndarray, rates: CostRates) -> dict[int, tuple[float, float]]:
    """Day index -> (factor on paid hours, factor on overtime hours)."""
    epoch = dt.date.fromisoformat(epoch_date)
    out = {}
    for d in sorted({int(x) for x in days}):
        holiday = china_day(epoch + dt.timedelta(days=d)).holiday is not None
        out[d] = ((rates.overtime_premium_holiday, rates.overtime_premium_holiday) if holiday
                  else (1.0, rates.overtime_premium_workday))
    return out


def _centre_labour(workload: pd.DataFrame, dataset: Dataset, book: ContractBook, rates: CostRates) -> pd.DataFrame:
    """Per centre: own technicians' time, overtime and kilometres (contracted stations: zero)."""
    cols = ["labour_cny", "overtime_cny", "vehicle_cny"]
    wl = workload[~workload["centre_id"].isin(set(book.contracts))]
    call_days = {r.created_s // DAY_S for r in dataset.requests}
    if not len(wl):
        return pd.DataFrame(columns=cols, dtype=float)
    tier = {c.id: int(c.tier) for c in dataset.network}
    speed = {t.id: t.speed_class for t in dataset.technicians}
    wage = wl["centre_id"].map(lambda c: rates.wage_cny_per_h(tier[c]))
    factor = _premium_by_day(dataset.epoch_date, wl["day"].to_numpy(), rates)
    paid_f = wl["day"].map(lambda d: factor[int(d)][0])
    over_f = wl["day"].map(lambda d: factor[int(d)][1])
    km_rate = wl["technician_id"].map(lambda t: rates.km_cny(speed.get(t, "car")))
    frame = pd.DataFrame({
        "centre_id": wl["centre_id"],
        "labour_cny": wl["available_s"].where(wl["day"].isin(call_days), 0) / 3600 * wage * paid_f,
        "overtime_cny": wl["overtime_s"] / 3600 * wage * over_f,
        "vehicle_cny": wl["distance_m"] / 1000 * km_rate})
    return frame.groupby("centre_id")[cols].sum()


def job_costs(events: pd.DataFrame, outcomes: pd.DataFrame, workload: pd.DataFrame, dataset: Dataset,
              book: ContractBook = NO_CONTRACTS, rates: CostRates = DEFAULT_COST_RATES,
              travel: Travel = DEFAULT_TRAVEL, parts_cny: Mapping[str, float] | None = None,
              courier_cny: Callable[[pd.Series], float] | None = None) -> pd.DataFrame:
    """One row per call: request_id, centre_id (who served it), owner (own | contracted),
    channel (how it was served), level, completed, the cost columns :data:`COST_COLUMNS` (module
    docstring), and for a contracted job fee_level (the level its fee paid; None: a hand-over),
    late_dispatch and late_turnaround (the SLA breaches), completion_s."""
    o = outcomes.set_index("request_id", drop=False)
    centre = served_by(events, outcomes, dataset)
    accepted = _accepted_s(events)
    req = {r.id: r for r in dataset.requests}
    net = dataset.network
    channel = o["visit_mode"] if "visit_mode" in o else o["mode"]
    rows = []
    for rid, row in o.iterrows():
        cid = centre.get(rid)
        c = book.get(cid) if isinstance(cid, str) else None
        done = not pd.isna(row["completion_s"])
        fee = penalty = 0.0
        level, late_dispatch, late_done = None, False, False
        if c is not None and done:
            station, r, ch = net[cid], req.get(rid), str(channel[rid])
            own_bench = row.get("repair_centre_id") == cid
            on_site = pd.isna(row["repair_tier"]) and ch == Mode.ONSITE
            level = int(row["level"]) if (own_bench or on_site) and int(row["level"]) in c.levels else None
            km = 0.0
            if ch == Mode.ONSITE and r is not None:
                km = float(np.atleast_1d(travel.legs(station.lon, station.lat, r.lon, r.lat, "car")[1])[0]) / 1000
            fee = c.fees.job_cny(level, ch, km)
            late_dispatch = (rid in accepted.index and not pd.isna(row["dispatch_s"])
                             and row["dispatch_s"] - accepted[rid] > c.sla.dispatch_s)
            late_done = (own_bench or on_site) and row["completion_s"] - row["created_s"] > c.sla.turnaround_s
            late_dispatch, late_done = bool(late_dispatch), bool(late_done)
            penalty = c.sla.penalty_cny(late_dispatch, late_done)
        courier = (courier_cny(row) if courier_cny is not None
                   else rates.courier_cny(*(float(row.get(c, 0) or 0) for c in COURIER_COLUMNS)))
        rows.append({"request_id": rid, "centre_id": cid, "owner": "contracted" if cid in book else "own",
                     "channel": channel[rid], "level": int(row["level"]), "completed": done,
                     "labour_cny": 0.0, "overtime_cny": 0.0, "vehicle_cny": 0.0, "courier_cny": courier,
                     "parts_cny": float((parts_cny or {}).get(rid, 0.0)), "fee_cny": fee, "penalty_cny": penalty,
                     "fee_level": level, "late_dispatch": late_dispatch, "late_turnaround": late_done,
                     "completion_s": row["completion_s"]})
    jobs = pd.DataFrame(rows, columns=["request_id", "centre_id", "owner", "channel", "level", "completed",
                                       *COST_COLUMNS[:-1], "fee_level", "late_dispatch", "late_turnaround",
                                       "completion_s"])
    labour = _centre_labour(workload, dataset, book, rates)
    served = jobs.groupby("centre_id")["request_id"].transform("size")
    for col in ("labour_cny", "overtime_cny", "vehicle_cny"):
        jobs[col] = jobs["centre_id"].map(labour[col]).fillna(0.0) / served
    jobs["total_cny"] = jobs[list(PARTS)].sum(axis=1) - jobs["penalty_cny"]
    return jobs


def centre_costs(jobs: pd.DataFrame, workload: pd.DataFrame, dataset: Dataset, book: ContractBook = NO_CONTRACTS,
                 rates: CostRates = DEFAULT_COST_RATES) -> pd.DataFrame:
    """Per centre: owner, jobs served, completed, the cost columns (technicians who served no
    job still count, at their centre) and the cost per completed job."""
    sums = jobs.groupby("centre_id")[list(COST_COLUMNS)].sum()
    labour = _centre_labour(workload, dataset, book, rates)
    sums = sums.reindex(sums.index.union(labour.index), fill_value=0.0)
    for col in labour.columns:  # the centre's whole labour, idle technicians' included
        sums[col] = labour[col].reindex(sums.index).fillna(0.0)
    sums["total_cny"] = sums[list(PARTS)].sum(axis=1) - sums["penalty_cny"]
    counts = jobs.groupby("centre_id").agg(jobs=("request_id", "size"), completed=("completed", "sum"))
    out = counts.reindex(sums.index, fill_value=0).join(sums)
    out.insert(0, "owner", ["contracted" if c in book else "own" for c in out.index])
    out.insert(1, "tier", [int(dataset.network[c].tier) for c in out.index])
    out["cost_per_job_cny"] = out["total_cny"] / out["completed"].where(out["completed"] > 0)
    return out.reset_index().rename(columns={"index": "centre_id"})


def network_costs(centres: pd.DataFrame) -> dict[str, float]:
    """The network's totals (CNY) and cost per completed job, from :func:`centre_costs`."""
    out = {col: float(centres[col].sum()) for col in COST_COLUMNS}
    done = float(centres["completed"].sum())
    out["completed"] = done
    out["cost_per_job_cny"] = out["total_cny"] / done if done else float("nan")
    for owner in ("own", "contracted"):
        part = centres[centres["owner"] == owner]
        out[f"{owner}_total_cny"] = float(part["total_cny"].sum())
    return out
