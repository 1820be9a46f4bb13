"""A multi-province run split by province: each province's world simulated as one task of an
executor (a spawn process pool or a Dask cluster, ``dispatch.executor``: one code path), the
per-province outcomes merged into one run whose KPIs count every call once.

What a province's world holds: its centres (the tier-1 provincial centre, its prefecture centres
and county stations), the technicians based at them, and the calls whose nearest centre (the
world's station for the call, ``World.nearest``) is one of them. A device's escalation chain
ends at its province's tier-1 centre and the benches, couriers, overtime ledger and field fates
(drawn per call) are per centre, technician or call, so most of the world falls apart along
province borders by itself. What does not, and what the split therefore changes:

* **The optimiser's candidate areas** (``AreaFinder``): a call near a border may be taken by a
  neighbouring province's prefecture area (the nearest staffed centres within the rule book's
  maximum drive). Split, it sees only its own province's areas. This is the measured difference
  (``dispatch bench scaleout`` runs both: on the national day, seed 1, 634 of 33,273 calls were
  visited from another province, and the split moved the one-hour rate by -0.1 points). The
  baseline's dispatcher already sends only the technicians of the province of the call's
  station, so without contracts its split run is the unsplit one.
* **Contracted stations' territories** (``dispatch.contracts``): each province's book holds its
  own stations; a customer's territory is the nearest county station of his province.
* **Spare parts** are refused: the national warehouse's stock is one stock for every province,
  and splitting it would give each province the whole of it.

Provinces with technicians and no calls are simulated too: their idle field time counts in the
utilisation, as in the unsplit run. Every province runs the nation's calendar (``calendar``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from dispatch.dataset import Dataset
from dispatch.errors import InputError
from dispatch.network import Network
from dispatch.progress import Progress
from dispatch.simulate import SimParams, SimResult, calendar_of, simulate
from dispatch.simulate.world import OUTCOME_COLUMNS, WORKLOAD_COLUMNS
from dispatch.travel import DEFAULT_TRAVEL, Travel, travel_from_spec

SPLITS = ("none", "provinces")


@dataclass(frozen=True)
class Part:
    """One province's world: its dataset and the parameters it runs under (its contracts)."""

    province_adcode: str
    dataset: Dataset
    params: SimParams


def split_by_province(dataset: Dataset, params: SimParams) -> list[Part]:
    """The dataset cut along province borders (module docstring), largest province first (so a
    pool starts the longest tasks first)."""
    if dataset.parts is not None:
        raise InputError("a run split by province cannot have spare parts on: the national warehouse's stock is "
                         "shared by every province (run it unsplit, or with --no-parts)")
    net = dataset.network
    centres: dict[str, list] = defaultdict(list)
    for c in net:
        centres[c.province_adcode].append(c)
    province_of = {c.id: c.province_adcode for c in net}
    techs: dict[str, list] = defaultdict(list)
    for t in dataset.technicians:
        techs[province_of[t.home_centre_id]].append(t)
    calls: dict[str, list] = defaultdict(list)
    if dataset.requests:  # by the world's station for each call: its nearest centre (World.nearest)
        lon = np.array([r.lon for r in dataset.requests])
        lat = np.array([r.lat for r in dataset.requests])
        near = np.atleast_1d(net.nearest(lon, lat)[0])
        for r, j in zip(dataset.requests, near.tolist()):
            calls[net.centres[int(j)].province_adcode].append(r)
    parts = []
    for adcode, cs in centres.items():
        if not techs[adcode] and not calls[adcode]:
            continue  # nobody to send and nothing to serve: the province adds nothing to the run
        ids = {c.id for c in cs}
        book = params.contracts.without({k for k in params.contracts.contracts if k not in ids})
        parts.append(Part(adcode, replace(dataset, network=Network(tuple(cs)), technicians=tuple(techs[adcode]),
                                          requests=tuple(calls[adcode])),
                          replace(params, contracts=book)))
    return sorted(parts, key=lambda p: (-len(p.dataset.requests), p.province_adcode))


def simulate_part(part: Part, travel_spec: str, calendar: tuple[int, int]) -> SimResult:
    """One province's run: top-level, of picklable arguments, so that a process pool or Dask can
    send it (the travel model is rebuilt from its spec in the worker)."""
    return simulate(part.dataset, part.params, travel_from_spec(travel_spec), calendar=calendar)


def simulate_split(
    dataset: Dataset, params: SimParams = SimParams(),  # noqa: B008 (frozen: one shared default is safe)
    travel: Travel = DEFAULT_TRAVEL, pool: Executor | None = None, progress: Progress | None = None,
) -> SimResult:
    """``simulate`` split by province (module docstring): each province one task in ``pool`` (in
    this process, one after the other, without one), merged into one result."""
    if params.slots and params.policy != "optimiser":
        raise InputError(f"appointment slots are offered by the optimiser's rolling plan (policy {params.policy!r})")
    t_wall = time.perf_counter()
    parts = split_by_province(dataset, params)
    calendar = calendar_of(dataset)
    report = progress or (lambda stage, done, total: None)
    report("simulated provinces", 0, len(parts))
    results: dict[str, SimResult] = {}
    if pool is None:
        for n, part in enumerate(parts, start=1):
            results[part.province_adcode] = simulate(part.dataset, part.params, travel, calendar=calendar)
            report("simulated provinces", n, len(parts))
    else:
        futures = {pool.submit(simulate_part, part, travel.spec, calendar): part.province_adcode for part in parts}
        for n, fut in enumerate(as_completed(futures), start=1):
            results[futures[fut]] = fut.result()
            report("simulated provinces", n, len(parts))
    return merge(params.policy, [results[k] for k in sorted(results)], time.perf_counter() - t_wall)


def merge(policy: str, results: list[SimResult], wall_s: float) -> SimResult:
    """One run of the provinces' results: every call's outcome once (the KPIs are computed on the
    merged frames, never averaged over provinces), the event log in time order as ``simulate``
    sorts it, the workload by day."""
    if not results:
        return SimResult(policy, pd.DataFrame(columns=["request_id", "t_s", "event", "where", "detail"]),
                         pd.DataFrame(columns=list(OUTCOME_COLUMNS)), pd.DataFrame(columns=list(WORKLOAD_COLUMNS)),
                         pd.DataFrame(columns=["request_id", "reason"]), wall_s, 0)
    events = _concat([r.events for r in results]).sort_values(["t_s", "request_id"], kind="stable")
    outcomes = _concat([r.outcomes for r in results]).sort_values(["created_s", "request_id"], kind="stable")
    workload = _concat([r.workload for r in results]).sort_values(["day", "technician_id"], kind="stable")
    events, outcomes, workload = (f.reset_index(drop=True) for f in (events, outcomes, workload))
    still = outcomes.loc[outcomes["unassigned_reason"] != "", ["request_id", "unassigned_reason"]]
    return SimResult(policy, events, outcomes, workload,
                     still.rename(columns={"unassigned_reason": "reason"}).reset_index(drop=True),
                     wall_s, sum(r.calls for r in results))


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The frames one under the other; a province's empty frame (no calls, nobody at work) adds no
    rows and must not turn the others' columns to objects."""
    full = [f for f in frames if len(f)]
    return pd.concat(full, ignore_index=True) if full else frames[0]
