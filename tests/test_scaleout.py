"""Scale-out: a run split by province (dispatch.simulate.split) is the unsplit run where no call
can cross a border, its KPIs count every call once, and a Dask cluster gives what the process
pool gives, for the split simulation and for a scenario sweep."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from dispatch.dataset import Dataset
from dispatch.errors import InputError
from dispatch.fieldwork import FieldworkParams
from dispatch.kpis import kpis
from dispatch.model import Mode, Tier
from dispatch.network import Network
from dispatch.simulate import SimParams, simulate
from dispatch.simulate.split import simulate_split, split_by_province
from tests.builders import EPOCH, NETWORK, centre, req, tech

# Zhejiang's chain (P1 > C1 > S1, Deqing) and Sichuan's (P2 > C2 > S2, near Chengdu): 1,500 km
# apart, so no call of one is within any technician's reach of the other. Hunan's P3 has a
# technician and no calls: his idle day counts in the utilisation, split or not.
SC = dict(province="510000", prefecture="510100")
NET = Network((*NETWORK.centres,
               centre("P2", Tier.PROVINCE, None, 104.07, 30.67, {1, 2, 3}, 4, 9, 21, 0, **SC),
               centre("C2", Tier.CITY, "P2", 104.40, 31.12, {1, 2}, 8, 9, 19, 14, **SC),
               centre("S2", Tier.COUNTY, "C2", 104.10, 30.90, {1}, 1, 9, 18, 5, **SC, county="510114"),
               centre("P3", Tier.PROVINCE, None, 112.98, 28.20, {1, 2, 3}, 4, 9, 21, 0, "430000", "430100")))
STAFF = (tech("T1", "S1"), tech("U1", "S2"), tech("V1", "P3"))
S2_AT = dict(lon=104.101, lat=30.901, county="510114")


def _two_provinces() -> Dataset:
    """Deqing: three on-site calls at 10:00, 90 min of work each, for T1 alone; Chengdu: one for U1;
    and the next day's pickup in each, so that devices ride the couriers too."""
    zj = tuple(req(f"Z{k}", 1, Mode.ONSITE, created_h=10, service_min=90, window_h=8) for k in range(3))
    sc = (req("C0", 1, Mode.ONSITE, created_h=10, service_min=90, window_h=8, **S2_AT),)
    later = (req("Z9", 2, Mode.PICKUP, created_h=34), req("C9", 2, Mode.PICKUP, created_h=35, **S2_AT))
    return Dataset(NET, STAFF, zj + sc + later, EPOCH)


def _sorted(res) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return (res.outcomes.sort_values("request_id").reset_index(drop=True), res.events,
            res.workload.sort_values(["day", "technician_id"]).reset_index(drop=True))


def _same(a, b) -> None:
    for x, y in zip(_sorted(a), _sorted(b)):
        pd.testing.assert_frame_equal(x, y)


def test_each_province_holds_its_centres_staff_and_the_calls_of_its_stations():
    parts = {p.province_adcode: p.dataset for p in split_by_province(_two_provinces(), SimParams())}
    assert sorted(parts) == ["330000", "430000", "510000"]
    assert [r.id for r in parts["330000"].requests] == ["Z0", "Z1", "Z2", "Z9"]
    assert [r.id for r in parts["510000"].requests] == ["C0", "C9"]
    assert parts["430000"].requests == () and [t.id for t in parts["430000"].technicians] == ["V1"]
    assert {c.id for c in parts["510000"].network} == {"P2", "C2", "S2"}


@pytest.mark.parametrize("policy", ["optimiser", "baseline"])
def test_split_run_is_the_unsplit_run_when_no_call_can_cross_a_border(policy):
    """Field fates on: the same events, outcomes and workload (idle Hunan included)."""
    ds, params = _two_provinces(), SimParams(policy=policy, seed=2)
    _same(simulate_split(ds, params), simulate(ds, params))


def test_split_kpis_count_every_call_once():
    """Deqing's technician takes one of its three 10:00 calls within the hour (90 min of work
    each), Chengdu's its one: 2 of 4 travelling calls, 50 %, not the provinces' mean (1/3 + 1) / 2."""
    ds = replace(_two_provinces(), requests=_two_provinces().requests[:4])
    res = simulate_split(ds, SimParams(seed=2, fieldwork=FieldworkParams.none()))
    o = res.outcomes
    assert sorted(o["request_id"]) == ["C0", "Z0", "Z1", "Z2"] and res.calls == 4
    on_time = (o["dispatch_s"] - o["clock_start_s"]) <= 3600
    assert on_time.groupby(o["province_adcode"]).sum().to_dict() == {"330000": 1, "510000": 1}
    k = kpis(o, res.workload)
    assert k["requests"] == 4 and k["dispatch_within_target_rate"] == pytest.approx(2 / 4)
    # Kilometres per job: the two technicians' whole distance over the four jobs, not a mean of means.
    wl = res.workload
    assert k["travel_km_per_job"] == pytest.approx(wl["distance_m"].sum() / 1000 / 4)
    assert set(wl["technician_id"]) == {"T1", "U1", "V1"}  # V1 idle in Hunan, in the utilisation


def test_a_split_run_refuses_parts():
    from dispatch.parts.enable import with_parts

    with pytest.raises(InputError, match="national warehouse"):
        simulate_split(with_parts(_two_provinces(), seed=1), SimParams())


@pytest.mark.parametrize("argv, message", [
    (["--split", "none", "--workers", "2"], "--workers and --scheduler run a split simulation"),
    (["--workers", "2", "--parts"], "the national warehouse's stock is shared by every province"),
])
def test_simulate_says_which_split_options_do_not_go_together(capsys, argv, message):
    """Refused before anything is generated or simulated, in one sentence."""
    from dispatch.cli import main

    assert main(["simulate", "--preset", "tiny", "--days", "1", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


# --------------------------------------------------------------------------------------------
# Through a Dask cluster: what the process pool gives


@pytest.fixture(scope="module")
def executors():
    """A spawn process pool of 2 workers and a local Dask cluster of 2 worker processes, started
    once for the module (each worker imports the package once)."""
    distributed = pytest.importorskip("distributed")
    from dispatch.executor import executor

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with executor(workers=2) as pool, executor(scheduler=cluster.scheduler_address) as dask:
            yield pool, dask


def test_split_simulation_through_dask_is_the_process_pools(executors):
    pool, dask = executors
    ds, params = _two_provinces(), SimParams(seed=2)
    pooled = simulate_split(ds, params, pool=pool)
    _same(pooled, simulate_split(ds, params, pool=dask))
    _same(pooled, simulate(ds, params))


def test_scenario_sweep_through_dask_is_the_process_pools(executors):
    from dispatch.scenarios import CompareOptions, Scenario, compare

    pool, dask = executors
    reqs = tuple(req(f"R{k}", 1 + k % 2, mode, created_h=9 + k)
                 for k, mode in enumerate([Mode.ONSITE, Mode.PICKUP, Mode.WALKIN, Mode.ONSITE]))
    base = Dataset(NETWORK, (tech("T1", "S1"), tech("T2", "C1", 2)), reqs, EPOCH)
    scs = [Scenario.from_dict({"name": "close S1", "close": ["S1"]}),
           Scenario.from_dict({"name": "two more", "add": [{"centre_id": "C1", "count": 2}]})]
    opts = CompareOptions(plan=True, deterministic=True, routing_max_s=1.0)
    pooled = compare(base, scs, opts, pool=pool, parallel=True)
    pd.testing.assert_frame_equal(pooled.table, compare(base, scs, opts, pool=dask, parallel=True).table)
    assert pooled.table.at["plan_requests", "base"] == 4
