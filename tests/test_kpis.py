"""KPI arithmetic checked by hand on a tiny log that holds every kind of call a population must
count: a next-day call, a call never dispatched (open at the horizon), a device still out at the
horizon (censored), walk-ins, one back after more than 6 days."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dispatch.kpis import (
    KPI_BY_KEY,
    KPI_LABELS,
    KPIS,
    format_breakdown,
    format_kpis,
    format_waterfall,
    kpi_breakdown,
    kpi_markdown,
    kpis,
    kpis_by,
    unassigned_by_reason,
    waterfall,
)
from dispatch.rules import CostRates

H = 3600
D = 24 * H
NAN = np.nan
README = Path(__file__).resolve().parents[1] / "README.md"
COLS = ["request_id", "mode", "visit_mode", "level", "priority", "province_adcode", "centre_id", "created_s",
        "clock_start_s", "dispatch_s", "dispatch_wait_s", "arrival_s", "completion_s", "repair_tier",
        "unassigned_reason", "courier_legs", "fixed_first_time"]


def log() -> pd.DataFrame:
    """Seven calls; times in seconds from day 0's midnight (comments: business wait, wall wait,
    arrival after the clock start, turnaround)."""
    rows = [
        # a: on-site, 30 min (business and wall), at the door after 50 min, repaired in 2 h.
        ("a", "onsite", "onsite", 1, 1, "33", "S1", 10 * H, 10 * H, 10.5 * H, 1800, 10 * H + 50 * 60, 12 * H,
         NAN, "", 0, True),
        # b: on-site, set off after 90 min (a miss on both clocks), at the door after 2 h, done in 4 h,
        # not fixed first time.
        ("b", "onsite", "onsite", 2, 2, "33", "C1", 10 * H, 10 * H, 11.5 * H, 5400, 12 * H, 14 * H,
         NAN, "", 0, False),
        # c: next-day pickup: called at 17:30, clock from 09:00 the next day, set off at 09:10: 10 min
        # of business clock, 15 h 40 min of wall clock; at the door 09:30; back 40 h after the call.
        ("c", "pickup", "pickup", 1, 1, "33", "S1", 17.5 * H, D + 9 * H, D + 9 * H + 600, 600, D + 9.5 * H,
         17.5 * H + 40 * H, 3, "", 0, True),
        # d: pickup nobody set off for: open at the horizon, never dispatched.
        ("d", "pickup", "pickup", 3, 3, "44", "P4", 9 * H, 9 * H, NAN, NAN, NAN, NAN, NAN, "open_at_horizon", 0, NAN),
        # e: pickup collected after 20 min (45 min to the door); its device is still out at the
        # horizon (censored), one courier leg up so far.
        ("e", "pickup", "pickup", 2, 2, "44", "C4", 9 * H, 9 * H, 9 * H + 1200, 1200, 9 * H + 45 * 60, NAN, NAN,
         "open_at_horizon", 1, NAN),
        # f: walk-in repaired at the city (two courier legs), back in 20 h.
        ("f", "walkin", "walkin", 2, 1, "44", "C4", 9 * H, 9 * H, NAN, NAN, NAN, 29 * H, 2, "", 2, True),
        # g: walk-in repaired at the province (four legs), back after 7 days.
        ("g", "walkin", "walkin", 3, 3, "33", "S1", 10 * H, 10 * H, NAN, NAN, NAN, 10 * H + 7 * D, 1, "", 4, True),
    ]
    return pd.DataFrame(rows, columns=COLS)


def workload() -> pd.DataFrame:
    return pd.DataFrame({
        "technician_id": ["T1", "T2"], "centre_id": ["S1", "C1"], "province_adcode": ["33", "33"],
        "available_s": [8 * H, 8 * H], "busy_s": [4 * H, 2 * H], "travel_s": [H, H],
        "distance_m": [30_000, 10_000], "overtime_s": [0, 1800], "jobs": [3, 1],
    })


def test_dispatch_counts_every_travelling_call_on_both_clocks():
    """Travelling: a, b, c, d, e. Business clock within 60: a (30), c (10), e (20) = 3/5; wall
    clock: a, e = 2/5 (c waited overnight); d, never dispatched, is a miss on both."""
    k = kpis(log(), workload())
    assert (k["requests"], k["travelling_requests"], k["next_day_requests"], k["never_dispatched"]) == (7, 5, 1, 1)
    assert k["dispatch_within_target_rate"] == pytest.approx(3 / 5)
    assert k["dispatch_within_target_wall_rate"] == pytest.approx(2 / 5)
    # Waits 10, 20, 30, 90 min and d never: p50 is the 3rd of 5 = 30 min; p95 falls between 90 and never.
    assert k["time_to_dispatch_p50_min"] == pytest.approx(30)
    assert k["time_to_dispatch_p95_min"] == math.inf
    assert "never" in format_kpis({"run": k})


def test_time_to_arrival_from_the_clock_start():
    """At the door after 50, 120, 30, (never), 45 min: p50 = 50, p95/p99 fall on d: never.
    Without d: 30, 45, 50, 120 -> p95 = 50 + 0.85 x 70 = 109.5, p99 = 50 + 0.97 x 70 = 117.9."""
    k = kpis(log())
    assert k["time_to_arrival_p50_min"] == pytest.approx(50)
    assert k["time_to_arrival_p95_min"] == math.inf and k["time_to_arrival_p99_min"] == math.inf
    k = kpis(log()[log()["request_id"] != "d"])
    assert k["time_to_arrival_p95_min"] == pytest.approx(109.5)
    assert k["time_to_arrival_p99_min"] == pytest.approx(117.9)
    # A producer without arrival_s does not measure it: left out, shown n/a beside one that does.
    no_arrival = kpis(log().drop(columns="arrival_s"))
    assert "time_to_arrival_p50_min" not in no_arrival
    rows = {line.rsplit(maxsplit=2)[0].strip(): line.split()[-2:] for line in
            format_kpis({"with": k, "without": no_arrival}).splitlines()}
    assert rows["time to arrival p95 (min)"] == ["109.50", "n/a"]


def test_turnaround_over_every_call_with_censored_ones_counted():
    """Completed: a 2 h, b 4 h, c 40 h, f 20 h, g 168 h; d and e are censored. Mean and
    percentiles over the five (mean 46.8, p50 20, p90 40 + 0.6 x 128, p95 40 + 0.8 x 128); the
    shares over all seven: <= 24 h a, b, f; <= 48 h and c; > 6 days g, d, e."""
    k = kpis(log())
    assert (k["served"], k["turnaround_censored"], k["unassigned"]) == (5, 2, 2)
    assert k["served_share"] == pytest.approx(5 / 7)
    assert k["turnaround_mean_h"] == pytest.approx(46.8)
    assert k["turnaround_p50_h"] == pytest.approx(20)
    assert k["turnaround_p90_h"] == pytest.approx(116.8)
    assert k["turnaround_p95_h"] == pytest.approx(142.4)
    assert k["turnaround_within_24h_share"] == pytest.approx(3 / 7)
    assert k["turnaround_within_48h_share"] == pytest.approx(4 / 7)
    assert k["turnaround_over_6d_share"] == pytest.approx(3 / 7)
    assert (k["bench_share_tier3"], k["bench_share_tier2"], k["bench_share_tier1"]) == pytest.approx((1 / 3,) * 3)


def test_cost_per_job_in_cny():
    """Default rates: 16 paid h x 47 = 752, 40 km x 1.2 = 48, 0.5 h overtime x 70 = 35, 7 courier
    legs x 15 = 105; 940 CNY over 5 completed calls = 188 per job. Own rates: 160 + 40 + 10 + 35."""
    k = kpis(log(), workload())
    assert k["utilisation"] == pytest.approx(6 / 16)
    assert k["travel_km_per_job"] == pytest.approx(10.0) and k["overtime_h"] == 0.5
    assert k["cost_technician_per_job_cny"] == pytest.approx(752 / 5)
    assert k["cost_travel_per_job_cny"] == pytest.approx(48 / 5)
    assert k["cost_overtime_per_job_cny"] == pytest.approx(35 / 5)
    assert k["cost_courier_per_job_cny"] == pytest.approx(105 / 5)
    assert k["cost_per_job_cny"] == pytest.approx(188)
    own = kpis(log(), workload(), rates=CostRates(10, 20, 1, 5))
    assert own["cost_per_job_cny"] == pytest.approx((160 + 40 + 10 + 35) / 5)
    # Without courier legs the total is not measured (n/a), the parts that are stay.
    partial = kpis(log().drop(columns="courier_legs"), workload())
    assert "cost_per_job_cny" not in partial and "cost_courier_per_job_cny" not in partial
    assert partial["cost_technician_per_job_cny"] == pytest.approx(752 / 5)
    with pytest.raises(Exception, match="cost rates must be >= 0"):
        CostRates(technician_cny_per_h=-1)


def test_courier_legs_that_rode_a_lane_cost_the_lanes_price():
    """f's two legs rode same-city lanes (25 + 25 CNY), g's four a same-day and a next-morning lane
    each way (30 + 23 + 23 + 30); e's one leg rode the shuttle (15): 171 CNY over 5 completed calls."""
    lanes = log().assign(courier_lane_legs=[0, 0, 0, 0, 0, 2, 4], courier_lane_cny=[0, 0, 0, 0, 0, 50.0, 106.0])
    k = kpis(lanes, workload())
    assert k["cost_courier_per_job_cny"] == pytest.approx(171 / 5)
    assert k["cost_per_job_cny"] == pytest.approx((752 + 48 + 35 + 171) / 5)
    assert CostRates().courier_cny(7, 6, 156.0) == 171.0


def test_first_time_fix_and_repeat_visits():
    """Fixed first time: a, c, f, g of the five with an attempt (b was not) = 0.8; NaN without
    the column. Repeats: x is called again 10 days after completion (within 30), y after 40
    (not): 1 of the 4 completed calls."""
    assert kpis(log())["first_time_fix_rate"] == pytest.approx(0.8)
    assert math.isnan(kpis(log().drop(columns="fixed_first_time"))["first_time_fix_rate"])
    assert math.isnan(kpis(log())["repeat_visit_rate_30d"])  # no repeat_of column
    base = log().iloc[:1]
    calls = pd.concat([base.assign(request_id=i, created_s=c, completion_s=c + H, repeat_of=r) for i, c, r in
                       (("x", 0, ""), ("y", 0, ""), ("z", H + 10 * D, "x"), ("w", H + 40 * D, "y"))],
                      ignore_index=True)
    assert kpis(calls)["repeat_visit_rate_30d"] == pytest.approx(1 / 4)


@pytest.mark.parametrize(("by", "groups"), [
    ("priority", {"normal": 3, "high": 2, "urgent": 2}),
    ("channel", {"on-site": 2, "pickup": 3, "walk-in": 2}),
    ("tier", {"1 province": 1, "2 city": 1, "3 county": 1, "no bench (on site, or not repaired)": 4}),
])
def test_breakdowns_add_up_to_the_whole(by, groups):
    """Each breakdown's groups hold every call once; counts add up and the rates, weighted by
    their populations, give the whole's."""
    whole = kpis(log())
    part = kpi_breakdown(log(), by)
    assert dict(zip(part[by], part["requests"])) == groups
    assert part["requests"].sum() == whole["requests"]
    assert part["travelling_requests"].sum() == whole["travelling_requests"]
    assert part["turnaround_censored"].sum() == whole["turnaround_censored"]
    hit = (part["dispatch_within_target_rate"].fillna(0) * part["travelling_requests"]).sum()
    assert hit == pytest.approx(whole["dispatch_within_target_rate"] * whole["travelling_requests"])
    within = (part["turnaround_within_24h_share"] * part["requests"]).sum()
    assert within == pytest.approx(whole["turnaround_within_24h_share"] * whole["requests"])
    assert "utilisation" not in part  # a workload figure belongs to no single call
    assert "urgent" in format_breakdown({"run": kpi_breakdown(log(), "priority")}, "priority")


def test_breakdown_by_priority_by_hand():
    """Normal: a, c dispatched in time (2/2); high: b late, e in time (1/2); urgent: d never (0/1)."""
    p = kpi_breakdown(log(), "priority").set_index("priority")
    assert p["dispatch_within_target_rate"].to_dict() == pytest.approx({"normal": 1.0, "high": 0.5, "urgent": 0.0})
    assert math.isnan(kpi_breakdown(log(), "channel").set_index("channel").loc["walk-in",
                                                                                  "dispatch_within_target_rate"])


def test_reach_split_and_collected_share_by_hand():
    """Calls beyond an hour's reach are rated apart, and the collected share counts collected on-site calls."""
    out = log()
    # a, c and e are 20 min from a centre, b and d 2 h; b was collected instead of repaired on site.
    out["reach_s"] = [1200, 2 * H, 1200, 2 * H, 1200, 0, 0]
    out.loc[out["request_id"] == "b", "visit_mode"] = "pickup"
    k = kpis(out)
    assert k["beyond_reach_share"] == pytest.approx(2 / 5)  # b, d of a..e
    assert k["dispatch_in_reach_rate"] == 1.0  # a (30 min), c (10 min), e (20 min)
    assert k["dispatch_beyond_reach_rate"] == 0.0  # b (90 min), d (never)
    assert k["onsite_collected_share"] == 0.5  # b of the on-site calls a, b
    assert "dispatch_in_reach_rate" not in kpis(log())  # only when the producer knows the reach


def test_every_kpi_is_defined_once_and_documented():
    """Every KPI the function returns has one definition (key, label, population, line), and
    with every optional column present every definition is measured."""
    keys = [k.key for k in KPIS]
    assert len(keys) == len(set(keys)) and len(set(KPI_LABELS.values())) == len(keys)
    parts = {"part_id": "", "part_source": "", "part_tier": NAN, "part_wait_s": 0.0, "swapped": False, "part_ship_cny": 0.0}
    booking = {"offered_day": NAN, "booked_window_start_s": NAN, "booked_window_end_s": NAN, "booked_day": NAN}
    full = kpis(log().assign(reach_s=0, repeat_of="", **parts, **booking), workload(),
                stock=pd.DataFrame({"day": [0]}))
    assert set(full) == set(KPI_BY_KEY)
    assert all(k.population and k.definition and k.kind in ("share", "count", "per_day", "min", "h", "km", "cny")
               for k in KPIS)


def test_readme_lists_every_kpi_as_the_table_defines_it():
    """The README's KPI subsection is the definition table's text (kpi_markdown), every label in it."""
    text = README.read_text(encoding="utf-8")
    section = re.search(r"<!-- kpis:begin -->\n(.*?)<!-- kpis:end -->", text, re.S)
    assert section, "README lacks the KPI list between <!-- kpis:begin --> and <!-- kpis:end -->"
    assert section.group(1) == kpi_markdown(), "regenerate it: python -c 'from dispatch.kpis import kpi_markdown; print(kpi_markdown())'"
    assert all(f"**{label.strip()}**" in section.group(1) for label in KPI_LABELS.values())


def test_waterfall_steps_add_up():
    """Old world -> dispatcher -> optimiser: the two steps add up to the whole change."""
    old = {"turnaround_mean_h": 144.0, "turnaround_within_24h_share": 0.0, "dispatch_within_target_rate": 0.0}
    disp = {"turnaround_mean_h": 24.0, "turnaround_within_24h_share": 0.6, "dispatch_within_target_rate": 0.9}
    opt = {"turnaround_mean_h": 20.0, "turnaround_within_24h_share": 0.7, "dispatch_within_target_rate": 0.95}
    w = waterfall(old, disp, opt).set_index("kpi")
    assert w.loc["turnaround_mean_h", ["network_logistics", "dispatching", "total"]].tolist() == [-120, -4, -124]
    assert w.loc["dispatch_within_target_rate", "dispatching"] == pytest.approx(0.05)
    text = format_waterfall(waterfall(old, disp, opt))
    assert "+60.0 pt" in text and "-120.00" in text


def test_grouping_and_reasons():
    """KPIs by province count each province's own calls and technicians; unassigned calls are counted by reason."""
    by = kpis_by(log(), "province_adcode", workload())
    assert list(by["province_adcode"]) == ["33", "44"]
    assert by.loc[0, "dispatch_within_target_rate"] == pytest.approx(2 / 3)  # a, c of a, b, c
    assert by.loc[1, "dispatch_within_target_rate"] == pytest.approx(1 / 2)  # e of d, e
    assert by.loc[0, "utilisation"] == pytest.approx(6 / 16)
    assert math.isnan(by.loc[1, "utilisation"])  # no technicians in that province
    assert unassigned_by_reason(log()).to_dict() == {"open_at_horizon": 2}


def test_empty_population_is_nan_not_an_error():
    """A KPI with no call in its population is NaN, shown as '-', not an error."""
    k = kpis(log().iloc[5:6])  # one walk-in
    assert math.isnan(k["dispatch_within_target_rate"]) and math.isnan(k["time_to_arrival_p50_min"])
    text = format_kpis({"plan": k})
    assert "dispatched <= 60 min" in text and "-" in text


@pytest.mark.parametrize("empty", [
    pd.DataFrame(),  # a day with no calls, as a frame without columns
    log().iloc[:0],
    log().assign(reach_s=0).iloc[:0],
], ids=["no columns", "no rows", "no rows, with reach"])
def test_a_day_without_calls_counts_zero_and_rates_nothing(empty):
    """No call: every count is 0 and every rate, share, percentile and mean is NaN (stored as
    null, shown '-'), never 0 % and never an error (was: KeyError 'mode'). The technicians'
    time is a population of its own: idle, utilisation 0 %; travel per job has no job: NaN."""
    idle = workload().assign(busy_s=0, travel_s=0, distance_m=0, overtime_s=0, jobs=0)
    k = kpis(empty, idle)
    counts = [key for key in k if KPI_BY_KEY[key].kind == "count"]
    assert all(k[key] == 0 for key in counts) and {"requests", "served", "turnaround_censored"} <= set(counts)
    rates = [key for key in k if KPI_BY_KEY[key].kind != "count" and key not in ("utilisation", "overtime_h")]
    assert {"dispatch_within_target_rate", "served_share", "turnaround_mean_h", "bench_share_tier1",
            "turnaround_over_6d_share", "cost_technician_per_job_cny"} <= set(rates)
    assert all(math.isnan(k[key]) for key in rates), {key: k[key] for key in rates}
    assert k["utilisation"] == 0.0 and k["overtime_h"] == 0.0
    text = format_kpis({"plan": k})
    assert "dispatched <= 60 min" in text
    assert [line.split()[-2:] for line in text.splitlines() if "%" in line] == [["0.0", "%"]]  # utilisation only
    assert unassigned_by_reason(empty).empty
    by = kpis_by(empty, "province_adcode")
    assert by.empty and "province_adcode" in by and "dispatch_within_target_rate" in by
    assert kpi_breakdown(empty, "channel").empty


def test_cli_simulate_all_prints_three_worlds_the_waterfall_and_breakdowns(tmp_path):
    """'dispatch simulate --policy all': the old world, the same-physics dispatcher and the
    optimiser side by side on the same calls, the waterfall between them, each run stored."""
    from click.testing import CliRunner

    from dispatch.cli import cli
    from dispatch.store import Store

    db = f"sqlite:///{tmp_path}/runs.sqlite"
    got = CliRunner().invoke(cli, ["simulate", "--preset", "tiny", "--days", "1", "--policy", "all", "--db", db])
    assert got.exit_code == 0, got.output
    header = next(line for line in got.output.splitlines() if line.strip().startswith("KPI old world"))
    assert header.split()[1:] == ["old", "world", "same-physics", "dispatcher", "optimiser"]
    assert "Waterfall, old world -> same-physics dispatcher -> optimiser:" in got.output
    assert "network + logistics = old world -> same-physics dispatcher" in got.output
    assert all(f"By {by}:" in got.output for by in ("priority", "channel", "tier"))
    table = {line.rsplit(maxsplit=3)[0].strip(): line.split()[-3:] for line in got.output.splitlines()
             if line.strip().startswith("requests")}
    assert len(set(table["requests"])) == 1  # the same calls in all three
    assert sorted(Store(db).list(kind="simulation")["name"]) == [
        "tiny-sim-baseline-seed1-1d", "tiny-sim-oldworld-seed1-1d", "tiny-sim-optimiser-seed1-1d"]
