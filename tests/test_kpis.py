"""KPI arithmetic checked by hand on a tiny case."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from dispatch.kpis import format_kpis, kpis, kpis_by, unassigned_by_reason

H = 3600
NAN = np.nan


def outcomes():
    # created, clock start, dispatched, completed (seconds); four travelling calls and one walk-in.
    rows = [
        # id, mode, level, prov, centre, created, clock, dispatch, completion, tier, reason
        ("a", "onsite", 1, "33", "S1", 10 * H, 10 * H, 10 * H + 1800, 12 * H, NAN, ""),  # 30 min, 2 h
        ("b", "onsite", 2, "33", "C1", 10 * H, 10 * H, 11 * H + 1800, 14 * H, NAN, ""),  # 90 min, 4 h
        ("c", "pickup", 1, "33", "S1", 23 * H, 33 * H, 33 * H + 600, 63 * H, 3, ""),  # after hours: 10 min
        ("d", "pickup", 3, "44", "P4", 9 * H, 9 * H, NAN, NAN, NAN, "capacity_full"),  # never dispatched
        ("e", "walkin", 2, "44", "C4", 9 * H, 9 * H, NAN, 9 * H + 20 * H, 2, ""),  # 20 h
    ]
    cols = ["request_id", "mode", "level", "province_adcode", "centre_id", "created_s", "clock_start_s",
            "dispatch_s", "completion_s", "repair_tier", "unassigned_reason"]
    return pd.DataFrame(rows, columns=cols)


def workload():
    return pd.DataFrame({
        "technician_id": ["T1", "T2"], "centre_id": ["S1", "C1"], "province_adcode": ["33", "33"],
        "available_s": [8 * H, 8 * H], "busy_s": [4 * H, 2 * H], "travel_s": [H, H],
        "distance_m": [30_000, 10_000], "overtime_s": [0, 1800], "jobs": [3, 1],
    })


def test_hand_checked_kpis():
    """Dispatch rate, wait and turnaround percentiles, bench shares, utilisation and travel equal a hand count."""
    k = kpis(outcomes(), workload())
    # travelling: a, b, c, d -> within 60 min: a (30), c (10) -> 2/4.
    assert k["dispatch_within_target_rate"] == 0.5
    # dispatched waits 30, 90, 10 min -> p50 30, p95 = 10 + (90-... ) numpy linear: 30 + 0.9*(90-30) = 84
    assert k["time_to_dispatch_p50_min"] == pytest.approx(30)
    assert k["time_to_dispatch_p95_min"] == pytest.approx(84)
    # served a 2 h, b 4 h, c 40 h, e 20 h -> mean 16.5, p50 12, <=24 h: 3/4, <=48 h: 4/4
    assert k["turnaround_mean_h"] == pytest.approx(16.5)
    assert k["turnaround_p50_h"] == pytest.approx(12)
    assert k["turnaround_within_24h_share"] == 0.75
    assert k["turnaround_within_48h_share"] == 1.0
    assert (k["bench_share_tier3"], k["bench_share_tier2"], k["bench_share_tier1"]) == (0.5, 0.5, 0.0)
    assert k["unassigned"] == 1
    assert k["utilisation"] == pytest.approx(6 / 16)
    assert k["travel_km_per_job"] == pytest.approx(10.0)
    assert k["overtime_h"] == 0.5


def test_reach_split_and_collected_share_by_hand():
    """Calls beyond an hour's reach are rated apart, and the collected share counts collected on-site calls."""
    out = outcomes()
    # a and c are 20 min from a centre, b and d 2 h; b was collected instead of repaired on site.
    out["reach_s"] = [1200, 2 * H, 1200, 2 * H, 0]
    out["visit_mode"] = ["onsite", "pickup", "pickup", "pickup", "walkin"]
    k = kpis(out)
    assert k["beyond_reach_share"] == 0.5  # b, d of a, b, c, d
    assert k["dispatch_in_reach_rate"] == 1.0  # a (30 min), c (10 min)
    assert k["dispatch_beyond_reach_rate"] == 0.0  # b (90 min), d (never)
    assert k["onsite_collected_share"] == 0.5  # b of the on-site calls a, b
    assert "dispatch_in_reach_rate" not in kpis(outcomes())  # only when the producer knows the reach


def test_grouping_and_reasons():
    """KPIs by province count each province's own calls and technicians; unassigned calls are counted by reason."""
    by = kpis_by(outcomes(), "province_adcode", workload())
    assert list(by["province_adcode"]) == ["33", "44"]
    assert by.loc[0, "dispatch_within_target_rate"] == pytest.approx(2 / 3)
    assert by.loc[1, "dispatch_within_target_rate"] == 0.0
    assert by.loc[0, "utilisation"] == pytest.approx(6 / 16)
    assert math.isnan(by.loc[1, "utilisation"])  # no technicians in that province
    assert unassigned_by_reason(outcomes()).to_dict() == {"capacity_full": 1}


def test_empty_population_is_nan_not_an_error():
    """A KPI with no call in its population is NaN, shown as '-', not an error."""
    k = kpis(outcomes().iloc[4:5])
    assert math.isnan(k["dispatch_within_target_rate"])
    text = format_kpis({"plan": k})
    assert "dispatched <= 60 min" in text and "-" in text


@pytest.mark.parametrize("empty", [
    pd.DataFrame(),  # a day with no calls, as a frame without columns
    outcomes().iloc[:0],
    outcomes().assign(reach_s=0, visit_mode="onsite").iloc[:0],
], ids=["no columns", "no rows", "no rows, with reach"])
def test_a_day_without_calls_counts_zero_and_rates_nothing(empty):
    """No call: every count is 0 and every rate, share, percentile and mean is NaN (stored as
    null, shown '-'), never 0 % and never an error (was: KeyError 'mode'). The technicians'
    time is a population of its own: idle, utilisation 0 %; travel per job has no job: NaN."""
    idle = workload().assign(busy_s=0, travel_s=0, distance_m=0, overtime_s=0, jobs=0)
    k = kpis(empty, idle)
    assert (k["requests"], k["travelling_requests"], k["served"], k["unassigned"]) == (0, 0, 0, 0)
    rates = [key for key in k if key.endswith(("_rate", "_share", "_min", "_h")) or key.startswith("bench_share")]
    rates.remove("overtime_h")  # a total, not a rate
    assert {"dispatch_within_target_rate", "served_share", "turnaround_mean_h", "bench_share_tier1"} <= set(rates)
    assert all(math.isnan(k[key]) for key in rates), {key: k[key] for key in rates}
    assert k["utilisation"] == 0.0 and k["overtime_h"] == 0.0
    assert math.isnan(k["travel_km_per_job"])
    text = format_kpis({"plan": k})
    assert "dispatched <= 60 min" in text
    assert [line.split()[-2:] for line in text.splitlines() if "%" in line] == [["0.0", "%"]]  # utilisation only
    assert unassigned_by_reason(empty).empty
    by = kpis_by(empty, "province_adcode")
    assert by.empty and "province_adcode" in by and "dispatch_within_target_rate" in by
