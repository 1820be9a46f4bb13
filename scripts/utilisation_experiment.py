"""Issue 16, item 5: why field utilisation and the one-hour promise pull apart on the Zhejiang
week, measured by simulation (the optimiser, field work on), medians over seeds.

Every variant starts from the generated Zhejiang week and its workload roster and changes one
thing; the same calls and fates for each (the seed decides both):

* ``roster``: the workload roster as generated (the opening backlog binds in every prefecture);
* ``stream``: per prefecture only the field staff Erlang C needs at the busiest later hour (the
  opening-backlog surplus dropped; rest days dealt again over those kept);
* ``wave``: the ``stream`` staff on full shifts, and the surplus kept as a morning wave on a
  4-hour shift from the opening (09:00-13:00, no break): paid for the backlog only;
* ``slots``: the ``stream`` roster, and every call that would start its clock at the opening
  given an appointment slot instead (its window opens at a slot spread evenly over 09:00-16:00
  by its id's hash): the backlog spread over the day (issue 19's appointment slots);
* ``slots_roster``: the workload roster as generated, with those slots;
* ``slots_sized``: the slots, and per prefecture the field staff the day's work needs at 85 %
  occupancy (expected calls x the away time of a job, over the net shift x 0.85, per weekday).

Run: ``.venv/bin/python scripts/utilisation_experiment.py --seeds 1 2 3`` (about a minute and a
half per variant and seed on 2 cores). Prints one line per run and the medians.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import statistics
from collections import defaultdict
from dataclasses import replace

from dispatch.cli.options import load_dataset
from dispatch.dataset import Dataset
from dispatch.hours import dispatch_clock_start
from dispatch.kpis import kpis
from dispatch.model import DAY_S, FIELD_ROLE, Mode, TimeWindow
from dispatch.network import area_of_centre
from dispatch.simulate import SimParams, simulate
from dispatch.staffing import (
    StaffingParams,
    heads_for,
    recommend,
    stagger_rest,
    workload_from_dataset,
)

VARIANTS = ("roster", "stream", "wave", "slots", "slots_roster", "slots_sized")
KEYS = ("dispatch_within_target_rate", "dispatch_within_target_wall_rate", "time_to_dispatch_p95_min",
        "turnaround_mean_h", "turnaround_within_24h_share", "utilisation", "overtime_h", "cost_per_job_cny")


def stream_roster(ds: Dataset, wave_h: float | None, occupancy: float | None = None) -> Dataset:
    """The field staff Erlang C needs per prefecture (or, with ``occupancy``, the day's work at
    that occupancy); the surplus dropped, or (``wave_h``) kept on a short shift from the opening."""
    plan = recommend(workload_from_dataset(ds))
    net_s = StaffingParams().net_shift_s
    area = area_of_centre(ds.network)
    field = defaultdict(list)
    for t in ds.technicians:
        if t.role == FIELD_ROLE:
            field[area[t.home_centre_id]].append(t)
    week = plan.workload.weekday_factors
    keep: dict[str, object] = {}
    for p in plan.pools:
        people = sorted(field.get(p.key, []), key=lambda t: t.id)
        if occupancy is None:
            need = [math.ceil(p.stream_on_duty * f / max(week)) for f in week]
        else:
            need = [math.ceil(p.travelling_per_day * f * p.service_s / (net_s * occupancy)) for f in week]
        n = min(len(people), heads_for(need))
        for t, rest in zip(people[:n], stagger_rest(n, need) if n else []):
            keep[t.id] = replace(t, rest_weekday=rest)
        for t in people[n:]:
            if wave_h is not None:
                opening = ds.network[t.home_centre_id].opening.start_s
                keep[t.id] = replace(t, shift=TimeWindow(opening, opening + int(wave_h * 3600)), break_window=None,
                                    break_s=0)
    techs = tuple(keep.get(t.id, t) if t.role == FIELD_ROLE else t for t in ds.technicians
                  if t.role != FIELD_ROLE or t.id in keep)
    return Dataset(ds.network, techs, ds.requests, ds.epoch_date, ds.meta)


def with_slots(ds: Dataset, first_h: float = 9.0, last_h: float = 16.0) -> Dataset:
    """Calls whose clock would start at the opening get an appointment slot the same day."""
    import numpy as np  # only here: the slots need the nearest centre of each call

    idx, _ = ds.network.nearest(np.array([r.lon for r in ds.requests]), np.array([r.lat for r in ds.requests]))
    out = []
    for r, j in zip(ds.requests, np.atleast_1d(idx)):
        c = ds.network.centres[int(j)]
        clock = dispatch_clock_start(c, r)
        if r.mode != Mode.WALKIN and clock % DAY_S == c.opening.start_s and clock > r.created_s:
            u = int.from_bytes(hashlib.blake2b(r.id.encode(), digest_size=4).digest(), "little") / 2**32
            slot = clock // DAY_S * DAY_S + int((first_h + u * (last_h - first_h)) * 3600)
            length = r.window.end_s - r.window.start_s
            r = replace(r, window=TimeWindow(slot, slot + max(length, 3600)))
        out.append(r)
    return Dataset(ds.network, ds.technicians, tuple(out), ds.epoch_date, ds.meta)


def variant(ds: Dataset, name: str) -> Dataset:
    if name == "roster":
        return ds
    if name == "stream":
        return stream_roster(ds, None)
    if name == "wave":
        return stream_roster(ds, 4.0)
    if name == "slots_roster":
        return with_slots(ds)
    if name == "slots_sized":
        return with_slots(stream_roster(ds, None, occupancy=0.85))
    return with_slots(stream_roster(ds, None))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--days", type=int, default=7)
    args = ap.parse_args()
    results: dict[str, list[dict]] = defaultdict(list)
    for seed in args.seeds:
        base = load_dataset(None, "zhejiang", seed, args.days, None)
        for name in args.variants:
            ds = variant(base, name)
            res = simulate(ds, SimParams(policy="optimiser", seed=seed))
            k = kpis(res.outcomes, res.workload)
            field = sum(1 for t in ds.technicians if t.role == FIELD_ROLE)
            k["field_heads"] = field
            results[name].append(k)
            print(name, seed, f"field {field}", " ".join(f"{key}={k[key]:.3f}" for key in KEYS), flush=True)
    print("\nmedians over seeds", args.seeds)
    for name, rows in results.items():
        print(name, f"field {statistics.median(r['field_heads'] for r in rows):.0f}",
              " ".join(f"{key}={statistics.median(r[key] for r in rows):.3f}" for key in KEYS))


if __name__ == "__main__":
    main()
