"""The rolling multi-day plan (issue 19): what a day cannot serve opens the next day's plan with
its promise clock still running; every call is counted once; a one-day run is the day plan."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from dispatch.hours import business_seconds
from dispatch.model import DAY_S
from dispatch.plan import PlanParams, make_plan
from dispatch.plan.rolling import CARRIED_REASONS, carried_request, make_rolling_plan
from dispatch.reasons import Reason
from dispatch.synthetic import generate


@pytest.fixture(scope="module")
def short_staffed():  # type: ignore[no-untyped-def]
    """The tiny network over two days with one technician per centre: day 0 cannot serve
    everything (three calls carried). With the city centre's whole staff kept, as under the flat
    model, the road model's faster trunk-road legs let day 0 serve every call: nothing to carry."""
    ds = generate("tiny", days=2, seed=1)
    return replace(ds, technicians=tuple(t for t in ds.technicians if t.id.endswith("-01")))


@pytest.fixture(scope="module")
def rolling(short_staffed):  # type: ignore[no-untyped-def]
    return make_rolling_plan(short_staffed, PlanParams(day=0, seed=1, deterministic=True), 2)


def test_what_day_0_could_not_serve_opens_day_1(rolling) -> None:  # type: ignore[no-untyped-def]
    day0, day1 = rolling.plans
    left = set(day0.unassigned.loc[day0.unassigned["reason_code"].isin(CARRIED_REASONS), "request_id"])
    assert left, "the short-staffed day 0 should leave work for day 1"
    assert set(rolling.carried_in[1]) == left and rolling.carried_in[0] == ()
    in_day1 = set(day1.outcomes["request_id"])
    assert left <= in_day1  # each is in day 1's plan: served, or unassigned again with its reason
    served = day1.stops[day1.stops["request_id"].isin(left)]
    assert len(served) and (served["departure_s"] >= DAY_S).all()
    # Offered day 1's customer hours, and planned within them.
    assert (served["window_start_s"] == DAY_S + 8 * 3600).all() and (served["start_s"] <= served["window_end_s"]).all()
    assert (rolling.plans[0].routing_stats["violations"] == 0).all()
    assert (rolling.plans[1].routing_stats["violations"] == 0).all()


def test_a_carried_call_waits_from_its_first_clock_and_is_counted_once(rolling, short_staffed) -> None:  # type: ignore[no-untyped-def]
    o = rolling.outcomes
    assert o["request_id"].is_unique
    first = rolling.plans[0].outcomes.set_index("request_id")
    carried = o[o["carried"] & o["dispatch_s"].notna()]
    assert len(carried)
    for _, row in carried.iterrows():
        clock0 = first.loc[row["request_id"], "clock_start_s"]
        assert row["clock_start_s"] == clock0 and row["first_day"] == 0 and row["plan_day"] == 1
        centre = short_staffed.network[row["centre_id"]]
        assert row["dispatch_wait_s"] == pytest.approx(business_seconds(centre, clock0, row["dispatch_s"]))
        assert row["dispatch_wait_s"] > 3600  # a day late: the promise was not kept, and it shows
    travelling = o[o["mode"].isin(("onsite", "pickup"))]  # a technician travels (no walk-in, no mail-in)
    first_day = (travelling["dispatch_s"].notna() & (travelling["plan_day"] == travelling["first_day"])).mean()
    assert rolling.kpis["served_on_first_day_rate"] == pytest.approx(first_day) and first_day < 1
    assert rolling.kpis["carried_requests"] == len(rolling.carried_in[1])
    # Every call whose clock started in the two days is in the population, served or not.
    days = pd.concat([p.outcomes["request_id"] for p in rolling.plans]).unique()
    assert set(o["request_id"]) == set(days)


def test_a_carried_call_keeps_its_creation_and_gets_the_next_customer_day() -> None:
    r = generate("tiny", days=1, seed=1).requests[0]
    c = carried_request(r, 3, (8 * 3600, 21 * 3600))
    assert c.created_s == r.created_s and c.id == r.id
    assert (c.window.start_s, c.window.end_s) == (3 * DAY_S + 8 * 3600, 3 * DAY_S + 21 * 3600)


def test_one_day_is_the_day_plan(short_staffed) -> None:  # type: ignore[no-untyped-def]
    params = PlanParams(day=0, seed=1, deterministic=True)
    one = make_rolling_plan(short_staffed, params, 1)
    plain = make_plan(short_staffed, params)
    cols = list(plain.outcomes.columns)
    pd.testing.assert_frame_equal(one.outcomes[cols].reset_index(drop=True), plain.outcomes.reset_index(drop=True))
    assert Reason.NEXT_DAY not in set(one.outcomes["unassigned_reason"])
