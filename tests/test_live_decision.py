"""The one decision for a call (dispatch.live.decision): its typed answers, and the same decision
from the day plan, the simulation, the service and the dashboard's board."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from dashboard import console
from dispatch.dataset import Dataset
from dispatch.live import NewCall
from dispatch.live.decision import Dispatched, NotServed, decide
from dispatch.model import Mode, Priority, Tier
from dispatch.network import Network
from dispatch.plan import PlanParams, make_plan
from dispatch.reasons import Reason
from dispatch.rules import DEFAULT_RULES
from dispatch.service import LiveService, ServiceConfig
from dispatch.service.clock import ManualClock
from dispatch.simulate import SimParams, simulate
from dispatch.tables import write_dataset
from tests.builders import EPOCH, NETWORK, H, centre, live_area, req, tech

# Deqing's station and Huzhou's centre (one area), and far away in Urumqi a provincial centre
# whose call shares nothing with them: it only makes the day start before the call we watch.
FAR = centre("P65", Tier.PROVINCE, None, 87.62, 43.83, {1, 2, 3}, 8, 9, 18, 0, "650000", "650100")
WORLD = Network((*NETWORK.centres, FAR))
TECHS = (tech("T1", "S1", 1), tech("T2", "C1", 2), tech("T9", "P65", 3))
EARLY = req("A", 1, Mode.ONSITE, created_h=9, lon=87.63, lat=43.82, county="650102")
# The call each entry point decides: urgent, on site, next to Deqing at 10:30, 45 minutes' work,
# the customer free until 21:00.
WATCHED = req("B", 1, Mode.ONSITE, created_h=10.5, lon=119.99, lat=30.56, service_min=45, window_h=10.5,
              priority=Priority.URGENT)


def _by_plan() -> tuple[str, int, int]:
    plan = make_plan(Dataset(WORLD, TECHS, (EARLY, WATCHED), EPOCH), PlanParams(deterministic=True))
    row = plan.stops.set_index("request_id").loc["B"]
    return str(row["technician_id"]), int(row["departure_s"]), int(row["arrival_s"])


def _by_simulation() -> tuple[str, int, int]:
    res = simulate(Dataset(WORLD, TECHS, (EARLY, WATCHED), EPOCH), SimParams(drain_days=1))
    ev = res.events[res.events["request_id"] == "B"].set_index("event")
    return str(ev.loc["dispatched", "where"]), int(ev.loc["dispatched", "t_s"]), int(ev.loc["on_site", "t_s"])


def _by_service(tmp: Path) -> tuple[str, int, int]:
    write_dataset(Dataset(WORLD, TECHS, (), EPOCH), tmp / "data")
    clock = ManualClock(0)  # the server's clock: at each call as it comes
    svc = LiveService(ServiceConfig(source=str(tmp / "data"), db=f"sqlite:///{tmp / 'svc.sqlite'}"), clock=clock)
    cst = dt.timezone(dt.timedelta(hours=8))
    at = lambda h: dt.datetime.fromisoformat(EPOCH).replace(tzinfo=cst) + dt.timedelta(hours=h)  # noqa: E731
    for r in (EARLY, WATCHED):
        body = {"id": r.id, "lon": r.lon, "lat": r.lat, "level": r.level, "mode": r.mode.value,
                "priority": int(r.priority), "at": at(r.created_s / H), "window_start": at(r.window.start_s / H),
                "window_end": at(r.window.end_s / H), "service_min": r.service_s // 60}
        clock.set(r.created_s)
        answer, _ = svc.post_call(body)
    return str(answer["technician_id"]), int(answer["departure_s"]), int(answer["arrival_s"])


def _by_board(tmp: Path) -> tuple[str, int, int]:
    """The board (dashboard.console): its day plan posted to a service, the urgent call sent to it."""
    from fastapi.testclient import TestClient

    from dashboard.service_link import ServiceLink
    from dispatch.model import DAY_S
    from dispatch.service import create_app, token_digest
    from dispatch.service.clock import ClockRule

    ds = Dataset(WORLD, TECHS, (EARLY,), EPOCH)
    write_dataset(Dataset(WORLD, TECHS, (), EPOCH), tmp / "board-data")
    config = ServiceConfig(source=str(tmp / "board-data"), db=f"sqlite:///{tmp / 'board.sqlite'}",
                           tokens=((token_digest("board-token-0123456789"), "dispatcher"),),
                           clock_rule=ClockRule(DAY_S, DAY_S))
    svc = LiveService(config, clock=ManualClock(WATCHED.created_s))
    try:
        link = ServiceLink("http://testserver", "board-token-0123456789", client=TestClient(create_app(config, svc)))
        b = console.RemoteBoard(make_plan(ds, PlanParams(deterministic=True)), ds, link, "board:decision")
        d = b.urgent("B", WATCHED.lon, WATCHED.lat, 1, int(Priority.URGENT), 45, WATCHED.created_s)
    finally:
        svc.close()
    assert d["status"] == "planned", d
    return str(d["technician_id"]), int(d["departure_s"]), int(d["arrival_s"])


def test_plan_simulation_service_and_board_take_the_same_decision(tmp_path: Path):
    """Fed the same state (an empty Huzhou area at 10:30), the day plan, the simulation, the
    call-intake service and the board send the same technician, setting off and arriving at the
    same second."""
    got = {"plan": _by_plan(), "simulation": _by_simulation(), "service": _by_service(tmp_path),
           "board": _by_board(tmp_path)}
    assert len(set(got.values())) == 1, pd.DataFrame(got, index=["technician", "sets off", "arrives"])
    tech_id, departure, _ = got["plan"]
    assert departure == WATCHED.created_s, "an idle technician sets off at once"
    assert tech_id in {"T1", "T2"}


def _call(cid: str = "N1", level: int = 1, priority: int = 1, release: int = 9 * H) -> NewCall:
    return NewCall(cid, 120.12, 30.87, 1800, release, release + 4 * H, level, None, priority, release,
                   release + H)


def test_a_call_with_no_area_in_reach_is_not_served_with_the_reason():
    """With no candidate area, the decision is NotServed(no_technician_in_reach), held by no area."""
    d = decide(_call(), {}, [], 9 * H, DEFAULT_RULES, lambda t, lv: True, mode=Mode.ONSITE, device_level=1,
               may_collect=False)
    assert isinstance(d, NotServed) and d.reason == Reason.NO_TECHNICIAN_IN_REACH and d.area is None
    assert d.sentence == Reason.NO_TECHNICIAN_IN_REACH.sentence


def _level_one_only():  # type: ignore[no-untyped-def]
    """An area at 09:00 whose only level-2 technician (T1) has dropped out: T2 and T3 do level 1."""
    area = live_area(n_techs=3, clock_s=9 * H)
    area.drop_out("T1", 9 * H)
    return area


@pytest.mark.parametrize("hold", [True, False])
def test_a_call_nobody_can_take_is_listed_only_when_asked(hold: bool):
    """A level-2 on-site call nobody in the area can repair, with collection off, is NotServed;
    with ``hold_unserved`` the first area searched lists it as unassigned with its reason (the
    service), otherwise no area holds it (the simulation re-books it)."""
    area = _level_one_only()
    d = decide(_call(level=2), {"A": area}, ["A"], 9 * H, DEFAULT_RULES, lambda t, lv: True, mode=Mode.ONSITE,
               device_level=2, may_collect=False, hold_unserved=hold)
    assert isinstance(d, NotServed)
    assert area.holds("N1") is hold
    if hold:
        assert d.area == "A" and d.reason == Reason.NO_SKILL and "N1" in area.unassigned
    else:
        assert d.area is None and d.reason == Reason.CAPACITY


def test_an_onsite_call_nobody_can_repair_within_the_hour_is_collected():
    """A level-2 on-site call that only level-1 technicians can reach is collected for the bench
    by one of them (rule 7): Dispatched as a pickup, inserted as a level-1 hand-over of the rule
    book's collection time, setting off within the hour; the on-site offers (none) stay listed."""
    area = _level_one_only()
    rules = DEFAULT_RULES
    d = decide(_call("N2", level=2), {"A": area}, ["A"], 9 * H, rules, lambda t, lv: False, mode=Mode.ONSITE,
               device_level=2, may_collect=rules.may_collect(Mode.ONSITE, 2))
    assert isinstance(d, Dispatched) and d.visit_mode == Mode.PICKUP
    assert d.technician_id in {"T2", "T3"} and d.on_time and d.alternatives == ()
    assert d.call.required_level == 1 and d.call.service_s == rules.collect_service_s
    assert area.routes[d.technician_id] == ["N2"]


@pytest.mark.parametrize("priority, leaves_h", [(Priority.NORMAL, 9 + 1 / 3), (Priority.URGENT, 9)])
def test_a_held_call_is_planned_to_set_off_after_the_hold_inside_its_promise(priority: int, leaves_h: float):
    """With the waiting strategy (Rules.replan_hold_s = 20 min) an idle technician is planned to
    set off toward a normal call at 09:00 at 09:20, within its hour, so it stays movable (not
    frozen at 09:10); an urgent call is set off toward at once. Both in the home area that holds
    the call (the day plan) and as a new call."""
    rules = replace(DEFAULT_RULES, replan_hold_s=1200)
    for in_plan in (False, True):
        area = live_area(n_techs=2, clock_s=9 * H)
        call = _call("N1", priority=priority)
        if in_plan:
            area.insert_with(call, None, "travel")  # the day plan's area holds it, unrouted
        d = decide(call, {"A": area}, ["A"], 9 * H, rules, lambda t, lv: True, mode=Mode.ONSITE, device_level=1,
                   may_collect=False, home="A" if in_plan else None)
        assert isinstance(d, Dispatched) and d.on_time
        assert d.option.departure_s == int(leaves_h * H) <= call.dispatch_deadline_s  # type: ignore[operator]
        area.advance(9 * H + 600)
        assert ("N1" in area.frozen) is (priority == Priority.URGENT)
