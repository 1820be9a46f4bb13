"""The day plan: every request exactly once, routes pass the checker, pool and Dask agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dispatch.model import DAY_S, Mode
from dispatch.plan import PlanParams, make_plan
from dispatch.synthetic import generate


@pytest.fixture(scope="module")
def tiny():
    return generate("tiny", days=1, seed=3)


@pytest.fixture(scope="module")
def tiny_plan(tiny):
    return make_plan(tiny, PlanParams(seed=3, deterministic=True))


def test_every_request_appears_exactly_once(tiny, tiny_plan):
    p = tiny_plan
    ids = [r.id for r in tiny.requests]
    outcome_ids = list(p.outcomes["request_id"])
    assert len(outcome_ids) == len(set(outcome_ids))
    next_day = set(p.unassigned.loc[p.unassigned["reason_code"] == "next_day", "request_id"])
    assert set(outcome_ids) | next_day == set(ids) and not (set(outcome_ids) & next_day)
    routed = list(p.stops["request_id"])
    assert len(routed) == len(set(routed))
    unassigned = set(p.unassigned["request_id"])
    assert (p.unassigned["reason"].str.len() > 10).all()  # a sentence, not just a code
    by_id = {r.id: r for r in tiny.requests}
    for row in p.outcomes.itertuples():
        r = by_id[row.request_id]
        served = not np.isnan(row.completion_s)
        # Served (routed or on a bench) or listed with a reason: never both, never neither.
        assert served != (row.request_id in unassigned), row.request_id
        if served and r.mode != Mode.WALKIN:
            assert row.request_id in set(routed)
            assert row.dispatch_s >= row.clock_start_s  # nobody sets off before the call
        if served:
            assert row.completion_s > r.created_s


def test_routes_pass_the_independent_checker(tiny_plan):
    stats = tiny_plan.routing_stats
    assert len(stats) >= 1
    assert stats["violations"].sum() == 0, stats["first_violation"].tolist()
    # Stops are consistent with their technician's shift and the customer's window.
    s = tiny_plan.stops
    assert (s["start_s"] >= s["window_start_s"]).all() and (s["start_s"] <= s["window_end_s"]).all()
    assert (s["arrival_s"] >= s["departure_s"]).all() and (s["end_s"] >= s["start_s"]).all()


def test_plan_is_for_the_day_asked(tiny):
    p = make_plan(tiny, PlanParams(day=0, seed=3, deterministic=True))
    assert (p.outcomes["clock_start_s"] // DAY_S == 0).all() or (p.outcomes["mode"] == "walkin").any()


def _essence(plan) -> pd.DataFrame:
    return plan.stops[["technician_id", "sequence", "request_id", "start_s"]].sort_values(
        ["technician_id", "sequence"]).reset_index(drop=True)


def test_dask_cluster_gives_the_same_plan_as_the_process_pool(tiny, tiny_plan):
    distributed = pytest.importorskip("distributed")
    from dispatch.executor import executor

    params = PlanParams(seed=3, deterministic=True)
    with executor(workers=2) as pool:
        pooled = make_plan(tiny, params, pool=pool)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with executor(scheduler=cluster.scheduler_address) as pool:
            dasked = make_plan(tiny, params, pool=pool)
    pd.testing.assert_frame_equal(_essence(pooled), _essence(dasked))
    pd.testing.assert_frame_equal(_essence(pooled), _essence(tiny_plan))
