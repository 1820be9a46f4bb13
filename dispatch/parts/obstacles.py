"""What stands between a simulated run and a within-24 h promise: each call's turnaround split
into the steps its event log shows, and, per step, how many calls it alone keeps past 24 h.

Steps (hours, from the log of ``dispatch.simulate`` with parts on):

* ``to_station``: from the call to the phone's first arrival at a station (the pickup round, or
  the walk-in's wait for the opening);
* ``quote``: from the station's quote to the customer's acceptance (``quote_accepted``);
* ``part_wait``: waiting for the part (``part_wait_s``: at the bench, or a visit booked for it);
* ``courier_up``: the courier legs up the chain, less the part wait they overlap;
* ``bench``: the bench queue and work (and a booked or on-site visit's own time);
* ``return``: the courier legs down, the station's hours and the hand-back.

An on-site repair has only ``part_wait`` and ``bench`` (the visit). A call whose turnaround ended
at a loaner swap counts as a loaner. ``obstacles`` counts, for each step, the calls past 24 h that
would be within it if that step alone took no time, and the share within 24 h if that step took
no time for every call: arithmetic on the simulated calls, with every other call's queues as
they were, so a bound on what removing the step could buy, not a simulation of it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WITHIN_H = 24.0
STEPS = ("to_station", "quote", "part_wait", "courier_up", "bench", "return")


def steps(outcomes: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Per completed call: its turnaround and its steps (hours; module docstring)."""
    o = outcomes[outcomes["completion_s"].notna()].set_index("request_id")
    ev = events[events["request_id"].isin(o.index)]

    def first(kind: str) -> pd.Series:
        return ev[ev["event"] == kind].groupby("request_id")["t_s"].min()

    def last(kind: str) -> pd.Series:
        return ev[ev["event"] == kind].groupby("request_id")["t_s"].max()

    at_station, done = first("at_station"), last("repaired").combine_first(last("nff"))
    quoted, accepted = first("sanbao"), first("quote_accepted")
    up, at_centre = last("courier_up"), last("at_repair_centre")
    created = o["created_s"].astype(float)
    end = o["completion_s"].astype(float)
    wait = o["part_wait_s"].fillna(0.0).astype(float) if "part_wait_s" in o else pd.Series(0.0, index=o.index)
    out = pd.DataFrame(index=o.index)
    out["turnaround"] = (end - created) / 3600
    bench_path = at_station.reindex(o.index).notna() & done.reindex(o.index).notna()
    st = at_station.reindex(o.index)
    out["to_station"] = np.where(bench_path, (st - created) / 3600, 0.0)
    q = (accepted.reindex(o.index) - quoted.reindex(o.index)).fillna(0.0) / 3600
    out["quote"] = np.where(bench_path, q, 0.0)
    out["part_wait"] = wait / 3600
    leg = ((at_centre.reindex(o.index) - up.reindex(o.index)) / 3600).fillna(0.0)
    out["courier_up"] = np.where(bench_path, (leg - out["part_wait"]).clip(lower=0.0), 0.0)
    after_station = (done.reindex(o.index) - st) / 3600 - out["quote"] - out["courier_up"] - out["part_wait"]
    out["bench"] = np.where(bench_path, after_station.clip(lower=0.0), (out["turnaround"] - out["part_wait"]).clip(lower=0.0))
    out["return"] = np.where(bench_path, ((end - done.reindex(o.index)) / 3600).clip(lower=0.0), 0.0)
    swapped = o["swapped"].fillna(False).astype(bool) if "swapped" in o else pd.Series(False, index=o.index)
    out["loaner"] = swapped
    return out


def obstacles(outcomes: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Per step: the calls past 24 h it alone keeps there, its mean hours over those calls, and
    the share within 24 h if it took no time for every call (population: every call, a call not
    completed counting as past 24 h)."""
    s = steps(outcomes, events)
    n = len(outcomes)
    late = s[(s["turnaround"] > WITHIN_H) & ~s["loaner"]]
    rows = [{"step": "(as simulated)", "calls past 24 h it alone keeps there": len(late),
             "mean h over the calls past 24 h": float(late["turnaround"].mean()) if len(late) else 0.0,
             "within 24 h if it took no time": float((s["turnaround"] <= WITHIN_H).sum()) / n if n else np.nan}]
    for step in STEPS:
        rows.append({"step": step,
                     "calls past 24 h it alone keeps there": int((late["turnaround"] - late[step] <= WITHIN_H).sum()),
                     "mean h over the calls past 24 h": float(late[step].mean()) if len(late) else 0.0,
                     "within 24 h if it took no time": float((s["turnaround"] - s[step] <= WITHIN_H).sum()) / n
                     if n else np.nan})
    both = s["turnaround"] - s["part_wait"] - s["quote"]
    rows.append({"step": "part_wait + quote", "calls past 24 h it alone keeps there":
                 int((late["turnaround"] - late["part_wait"] - late["quote"] <= WITHIN_H).sum()),
                 "mean h over the calls past 24 h": float((late["part_wait"] + late["quote"]).mean()) if len(late) else 0.0,
                 "within 24 h if it took no time": float((both <= WITHIN_H).sum()) / n if n else np.nan})
    return pd.DataFrame(rows)
