"""Simulation: hand-computed two-call day, conservation, a clock that never goes back, seeds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dispatch.dataset import Dataset
from dispatch.fieldwork import FieldworkParams
from dispatch.kpis import kpis
from dispatch.model import Mode
from dispatch.rules import DEFAULT_RULES
from dispatch.simulate import SimParams, simulate
from dispatch.synthetic import generate
from tests.builders import HANGZHOU_PEAK, NETWORK, TECHS, req, road_by_hand

H = 3600
# The hand computations assume work goes to plan (nominal service, the level known at the call,
# the customer in, every repair holding): fates are off there. tests/test_fieldwork.py checks
# the fates; the tiny runs below keep them on (the default).
NOMINAL = FieldworkParams.none()


def _two_calls():
    a = req("A", 1, Mode.ONSITE, created_h=10)  # at (119.971, 30.541), next to S1
    b = req("B", 1, Mode.PICKUP, created_h=10 + 5 / 60, lon=119.99, lat=30.55)
    return Dataset(NETWORK, TECHS, (a, b), "2026-03-02"), a, b


def _times(result, rid):
    ev = result.events[result.events["request_id"] == rid]
    return dict(zip(ev["event"], ev["t_s"]))


def test_optimiser_two_calls_by_hand():
    """The optimiser's two-call day: every event time of both calls equals a hand computation."""
    ds, a, b = _two_calls()
    res = simulate(ds, SimParams(policy="optimiser", fieldwork=NOMINAL))
    s1 = NETWORK["S1"]
    # The road model's drives by its formula (tests/builders.py): all in Deqing, which has no rush
    # hour, so the hour they are priced at changes nothing: 212 m to A, 335 s; 2,933 m on to B, 780 s.
    t_a = road_by_hand(s1.lon, s1.lat, a.lon, a.lat)[0]
    t_ab = road_by_hand(a.lon, a.lat, b.lon, b.lat)[0]
    t_b_home = road_by_hand(b.lon, b.lat, s1.lon, s1.lat)[0]
    assert (t_a, t_ab) == (335, 780)
    # A: T1 (at S1, nearest) sets off at 10:00, repairs on site for 30 min.
    ta = _times(res, "A")
    assert ta["dispatched"] == 10 * H and ta["on_site"] == 10 * H + t_a
    assert ta["returned"] == 10 * H + t_a + 1800
    # B (10:05): T1 can still set off within the hour, straight from A, and adds the least
    # driving; the device reaches S1 when he is home, is repaired on S1's bench (30 min), and
    # is back with the customer 4 h later.
    end_a = 10 * H + t_a + 1800
    tb = _times(res, "B")
    assert tb["dispatched"] == end_a
    assert tb["picked_up"] == end_a + t_ab + 1800
    home = end_a + t_ab + 1800 + t_b_home + 2700  # his break (from 11:00) falls on the drive home
    assert tb["at_station"] == home
    assert tb["repaired"] == home + 1800
    assert tb["returned"] == home + 1800 + 4 * H
    out = res.outcomes.set_index("request_id")
    assert out.loc["B", "repair_tier"] == 3 and out.loc["B", "centre_id"] == "S1"
    assert out.loc["B", "dispatch_wait_s"] == end_a - b.created_s


def test_baseline_two_calls_by_hand():
    """The baseline sends the nearest free technician at once; the device reaches his centre when he is back there."""
    ds, _, b = _two_calls()
    res = simulate(ds, SimParams(policy="baseline", fieldwork=NOMINAL))
    p1 = NETWORK["P1"]
    # A as above; B: T1 is busy, the nearest FREE technician is T3 at P1 (35 km), who sets off at
    # once, hands the device over in 30 min and drives it back to P1 (his break comes later, when
    # he is idle), where it is repaired (level 1, 30 min) and sent back (4 h), as in the optimiser's world.
    # Each drive priced by the road model's formula at the hour he sets off: P1 lies in Hangzhou's
    # rush-hour circle (x 1.35), B does not; at 10:05 and again on the way back (about 11:28) a
    # fifth of the peak on the first 20 km: 34.71 km crow-flies x 1.1887 = 41,259 m, 0.77395 h
    # + 0.47565 h x 0.035 = 0.79060 h = 2,847 s rounded up, + 300 = 3,147 s (off-peak 3,087 s).
    t_b = road_by_hand(p1.lon, p1.lat, b.lon, b.lat, depart_h=10, peaks=(HANGZHOU_PEAK, 1.0))[0]
    assert t_b == 3147 == road_by_hand(b.lon, b.lat, p1.lon, p1.lat, depart_h=11, peaks=(1.0, HANGZHOU_PEAK))[0]
    tb = _times(res, "B")
    assert tb["dispatched"] == b.created_s
    assert tb["on_site"] == b.created_s + t_b
    assert tb["picked_up"] == tb["on_site"] + b.service_s
    assert tb["at_station"] == tb["picked_up"] + t_b  # was his shift's end (17:00) before the same physics
    assert tb["repaired"] == tb["at_station"] + 1800
    assert tb["returned"] == tb["repaired"] + 4 * H


@pytest.fixture(scope="module")
def tiny_runs():
    ds = generate("tiny", days=2, seed=4)
    return ds, {p: simulate(ds, SimParams(policy=p)) for p in ("optimiser", "baseline")}


def test_every_call_ends_done_or_open_with_a_reason(tiny_runs):
    """Every simulated call ends once, done or open with a reason, and nobody sets off before its
    clock starts; the only calls beyond the dataset's are repeats of calls it holds."""
    ds, runs = tiny_runs
    ids = {r.id for r in ds.requests}
    for res in runs.values():
        out = res.outcomes
        first = out[out["repeat_of"] == ""]
        assert set(first["request_id"]) == ids and len(first) == len(ids) and out["request_id"].is_unique
        assert set(out.loc[out["repeat_of"] != "", "repeat_of"]) <= set(out["request_id"])
        done = out["completion_s"].notna()
        reason = out["unassigned_reason"] != ""
        assert (done ^ reason).all()  # exactly one of the two
        assert set(res.open_requests["request_id"]) == set(out.loc[reason, "request_id"])
        travelling = out[out["mode"].isin(["onsite", "pickup"]) & done]
        assert (travelling["dispatch_s"] >= travelling["clock_start_s"]).all()


def test_the_clock_never_goes_back_for_any_request(tiny_runs):
    """The event log is in time order, and each call's events come in their natural order (a
    visit to an absent customer starts the order again)."""
    _, runs = tiny_runs
    rank = {e: i for i, e in enumerate(["called", "dispatched", "on_site", "picked_up", "at_station", "repaired",
                                        "returned"])}
    for res in runs.values():
        ev = res.events
        assert (np.diff(ev["t_s"].to_numpy()) >= 0).all()  # the log is in time order
        for rid, g in ev.groupby("request_id", sort=False):
            last = 0
            for e in g["event"]:
                if e == "absent":
                    last = rank["called"]
                elif e in rank:
                    assert rank[e] >= last, (rid, list(g["event"]))
                    last = rank[e]


def test_same_seed_same_run_and_the_optimiser_beats_the_baseline(tiny_runs):
    """The same seed gives the same log; the optimiser's mean turnaround beats the baseline's."""
    ds, runs = tiny_runs
    again = simulate(ds, SimParams(policy="optimiser"))
    assert again.events.equals(runs["optimiser"].events)
    k_opt = kpis(runs["optimiser"].outcomes, runs["optimiser"].workload)
    k_base = kpis(runs["baseline"].outcomes, runs["baseline"].workload)
    assert k_opt["turnaround_mean_h"] < k_base["turnaround_mean_h"]


def test_unknown_policy_is_a_clear_error():
    """An unknown policy is a DispatchError listing the valid ones."""
    from dispatch.errors import DispatchError

    with pytest.raises(DispatchError, match="unknown policy 'magic'; expected one of optimiser, baseline"):
        simulate(_two_calls()[0], SimParams(policy="magic"))


def test_cli_simulate_stores_the_log_and_prints_both_columns(tmp_path):
    """'dispatch simulate' stores both policies' runs with their event logs and prints both KPI columns."""
    from click.testing import CliRunner

    from dispatch.cli import cli
    from dispatch.store import Store

    db = f"sqlite:///{tmp_path}/runs.sqlite"
    got = CliRunner().invoke(cli, ["simulate", "--preset", "tiny", "--days", "1", "--seed", "2", "--db", db])
    assert got.exit_code == 0, got.output
    assert "optimiser" in got.output and "baseline" in got.output and "dispatched <= 60 min" in got.output
    runs = Store(db).list(kind="simulation")
    assert len(runs) == 2
    stored = Store(db).load(runs["name"].iloc[0])
    assert {"events", "outcomes", "workload", "open"} <= set(stored.frames)
    assert len(stored.frames["events"]) > len(stored.frames["outcomes"])


def test_a_centre_without_bench_hours_sends_devices_up_not_into_a_crash():
    """A station without bench hours sends its repairs up the chain, under both policies."""
    from dataclasses import replace as dc_replace

    from dispatch.network import Network

    net = Network(tuple(dc_replace(c, bench_hours_per_day=0.0) if c.id == "S1" else c for c in NETWORK))
    ds = Dataset(net, TECHS, (req("W", 1, Mode.WALKIN),), "2026-03-02")
    for policy in ("optimiser", "baseline"):
        out = simulate(ds, SimParams(policy=policy, fieldwork=NOMINAL)).outcomes.set_index("request_id")
        assert out.loc["W", "repair_centre_id"] in ("C1", "P1")


def test_an_onsite_call_nobody_can_repair_on_site_is_collected_for_the_bench():
    """An on-site call nobody can repair on site is collected within the hour for C1's bench; switched off, it stays open."""
    # Only T2/T3 do level 2, and only phones: T1 (level 1, any product) collects the wearable
    # within the hour, with a 10-minute hand-over; it is repaired on C1's level-2 bench.
    call = req("W", 2, Mode.ONSITE, created_h=10, product="wearable")
    ds = Dataset(NETWORK, TECHS, (call,), "2026-03-02")
    res = simulate(ds, SimParams(policy="optimiser", fieldwork=NOMINAL))
    t = _times(res, "W")
    assert t["dispatched"] == 10 * H and t["picked_up"] - t["on_site"] == 600
    assert "returned" in t and t["returned"] > t["repaired"] > t["at_station"]
    out = res.outcomes.set_index("request_id")
    assert out.loc["W", "visit_mode"] == "pickup" and out.loc["W", "repair_centre_id"] == "C1"
    assert kpis(res.outcomes)["onsite_collected_share"] == 1.0
    strict = simulate(ds, SimParams(policy="optimiser", rules=replace(DEFAULT_RULES, collect_onsite=False), drain_days=1,
                                    fieldwork=NOMINAL)).outcomes
    assert strict["dispatch_s"].isna().all() and (strict["unassigned_reason"] != "").all()


@pytest.mark.parametrize("policy", ["optimiser", "baseline"])
def test_a_week_without_calls_is_an_empty_simulation(policy):
    """No call: empty outcomes with their columns and KPIs over an empty population (was a KeyError)."""
    res = simulate(Dataset(NETWORK, TECHS, (), "2026-03-02"), SimParams(policy=policy))
    assert res.calls == 0 and res.outcomes.empty and "unassigned_reason" in res.outcomes.columns
    k = kpis(res.outcomes, res.workload)
    assert k["requests"] == 0


@pytest.mark.parametrize("policy", ["optimiser", "baseline"])
def test_only_field_staff_go_out_and_count_in_utilisation(policy):
    """A bench technician at Deqing never goes to the customer next door, under either policy
    (the same roster for both), and his day is not field time."""
    from dataclasses import replace as dc_replace

    from tests.builders import tech

    bench = dc_replace(tech("B1", "S1", 3), role="bench")
    ds = Dataset(NETWORK, (*TECHS, bench), (req("W", 2, Mode.ONSITE, created_h=10),), "2026-03-02")
    res = simulate(ds, SimParams(policy=policy, fieldwork=NOMINAL))
    sent = res.events.loc[res.events["event"] == "dispatched", "where"]
    assert len(sent) == 1 and sent.iloc[0] in ("T2", "T3") and "B1" not in set(res.workload["technician_id"])


@pytest.mark.parametrize("cap_h, b_day", [(36, 1), (2, 2)])
def test_the_monthly_overtime_cap_carries_over_day_by_day(cap_h, b_day):
    """Labour Law art. 41 through the ledger: T1 alone, a 2 h repair at 16:00 on day 0 and on
    day 1 (shift ends 17:00, up to 2 h overtime a day). Day 0 takes 1 h + the drive both ways
    of overtime (about 71 min). Under the legal 36 h a month, day 1's call is done the same
    evening; under a 2 h month, the 49 min left cannot cover it, and the customer is served at
    day 2's opening, within his shift."""
    rules = replace(DEFAULT_RULES, max_overtime_s=2 * H, max_overtime_month_s=cap_h * H)
    a = req("A", 1, Mode.ONSITE, created_h=16, service_min=120)
    b = req("B", 1, Mode.ONSITE, created_h=24 + 16, service_min=120)
    ds = Dataset(NETWORK, TECHS[:1], (a, b), "2026-03-02")
    s1 = NETWORK["S1"]
    res = simulate(ds, SimParams(policy="optimiser", fieldwork=NOMINAL, rules=rules))
    out = res.outcomes.set_index("request_id")
    assert out.loc["A", "dispatch_s"] == 16 * H
    assert out.loc["B", "dispatch_s"] == (16 * H + 24 * H if b_day == 1 else 2 * 24 * H + 9 * H)
    overtime = res.workload.groupby("day")["overtime_s"].sum()
    assert overtime[0] == H + 2 * road_by_hand(s1.lon, s1.lat, a.lon, a.lat)[0]  # 2 x 335 s: 71 min in all
    assert overtime.sum() <= cap_h * H
    # Day 2 (B's morning under the 2 h cap) is a drain day: its own calls are not simulated, so
    # its roster is not in the workload (its idle hours would deflate the utilisation).
    assert set(res.workload["day"]) == {0, 1}
