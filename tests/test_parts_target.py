"""Sizing for a within-24 h share (dispatch.parts.target) and what stands in the way
(dispatch.parts.obstacles), on hand-built cases computed by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from dispatch.parts.obstacles import obstacles, steps
from dispatch.parts.sizing import Echelon
from dispatch.parts.target import Calibration, calibrate, loaner_levels, size_for_24h

H, D = 3600, 86_400


def outcomes(rows):
    cols = ["request_id", "created_s", "completion_s", "part_id", "part_source", "part_tier", "centre_id", "sanbao_rule",
            "part_wait_s", "swapped"]
    return pd.DataFrame(rows, columns=cols)


def test_calibration_counts_every_call_and_splits_by_first_pick():
    """County (tier 3): 2 first-pick calls, one within 24 h; 2 that waited, none within. A call
    with no part, within 24 h, and one never completed (a miss)."""
    o = outcomes([
        ("a", 0, 10 * H, "P", "stock", 3, "S", "", 0, False), ("b", 0, 30 * H, "P", "van", 3, "S", "", 0, False),
        ("c", 0, 40 * H, "P", "order", 3, "S", "", 9 * H, False), ("d", 0, 50 * H, "P", "lateral", 3, "S", "", 5 * H, False),
        ("e", 0, 5 * H, "", "", math.nan, "S", "", 0, False), ("f", 0, math.nan, "", "", math.nan, "S", "", 0, False)])
    cal = calibrate(o)
    assert cal.p_hit == {3: 0.5} and cal.p_miss == {3: 0.0}
    assert cal.phi == pytest.approx(4 / 6) and cal.share_other == pytest.approx(0.5)


def test_sizing_for_24h_takes_the_least_level_that_reaches_the_target():
    """One county key: demand 1 a day, lead-time demand Poisson(0.5), 100 CNY a unit; within
    24 h 90 % with the part at first pick, 10 % without; every call needs a part. The share is
    0.1 + 0.8 f(S), f(S) = P(Poisson(0.5) <= S - 1): f(1) = e^-0.5 = 0.607 (58.5 %), f(2) = 0.910
    (82.8 %): a 70 % target takes S = 2, 200 CNY; 90 % is above the ceiling (90 %) less 0.1 pt and
    stops there."""
    key = ("S", "P")
    problem = Echelon({key: 1.0}, {key: 0.5}, {key: 0.5}, {key: 100.0}, {"P": 3}, {"P": 1.0}, 5.0)
    cal = Calibration({3: 0.9}, {3: 0.1}, 1.0, 0.0, pd.DataFrame())
    got = size_for_24h(problem, {"S": 3}, cal, 0.70)
    assert got.reached and got.level == {key: 2} and got.value_cny == 200.0
    assert got.estimate == pytest.approx(0.1 + 0.8 * math.exp(-0.5) * 1.5)
    assert got.ceiling == pytest.approx(0.9)
    far = size_for_24h(problem, {"S": 3}, cal, 0.95, checkpoints=(0.5, 0.8))
    assert not far.reached and far.estimate >= 0.9 - 0.001 and far.estimate < 0.9
    assert [lv[key] for _, _, lv in far.checkpoints] == [1, 2]


def test_loaners_cover_the_loans_out_at_the_station():
    """Station S: 7 calls over 7 days each 72 h long, a 24 h threshold: 1 a day, loans of 2 days:
    Poisson(2) loans out; P(N <= S - 1) >= 90 % first at S = 5 (P(N <= 3) = 0.857, P(N <= 4) = 0.947)."""
    from scipy.stats import poisson
    o = outcomes([(f"r{i}", i * D, i * D + 72 * H, "P", "order", 3, "S", "", 0, False) for i in range(7)])
    assert next(s for s in range(20) if poisson.cdf(s - 1, 2.0) >= 0.9) == 5
    assert loaner_levels(o, 24 * H).levels == {("S", "LOANER"): 5}


def test_steps_and_what_stands_in_the_way_add_up_by_hand():
    """A pickup at 10:00: at the station 14:00, quoted and accepted 16:00, up the chain at 18:00
    (the part waited 10 h there), at the city centre 06:00 the next day, repaired 08:00, back
    with the customer at 20:00: 34 h = 4 + 2 + 2 (station to courier) + 10 (part) + 2 + 2 + 12.
    Without its part wait it is within 24 h; without its quote it is not."""
    o = outcomes([("a", 10 * H, D + 20 * H, "P", "order", 2, "S", "out_of_warranty", 10 * H, False)])
    ev = pd.DataFrame([("a", 10 * H, "called"), ("a", 14 * H, "at_station"), ("a", 14 * H, "sanbao"),
                       ("a", 16 * H, "quote_accepted"), ("a", 16 * H, "at_station"), ("a", 18 * H, "courier_up"),
                       ("a", D + 6 * H, "at_repair_centre"), ("a", D + 8 * H, "repaired"), ("a", D + 20 * H, "returned")],
                      columns=["request_id", "t_s", "event"])
    s = steps(o, ev).loc["a"]
    assert (s["turnaround"], s["to_station"], s["quote"], s["part_wait"], s["courier_up"], s["return"]) == (34, 4, 2, 10, 2, 12)
    assert s["bench"] == pytest.approx(34 - 4 - 2 - 10 - 2 - 12)
    ob = obstacles(o, ev).set_index("step")
    assert ob.loc["part_wait", "calls past 24 h it alone keeps there"] == 1
    assert ob.loc["quote", "calls past 24 h it alone keeps there"] == 0
    assert ob.loc["part_wait", "within 24 h if it took no time"] == 1.0
