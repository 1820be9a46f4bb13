"""Contracted stations: the contract table, offers and re-offers, fees, penalties, the cost
weight's break-even, settlement (dispatch.contracts)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from dispatch.contracts import (
    Contract,
    ContractBook,
    Fees,
    OfferRates,
    Sla,
    contracts_frame,
    parse_contracts,
    quality_score,
    read_contracts,
)
from dispatch.contracts.costs import job_costs
from dispatch.contracts.offers import Choice, OfferDesk, weigh
from dispatch.contracts.settlement import settlement
from dispatch.contracts.table import SCHEMA, schema_markdown
from dispatch.dataset import Dataset
from dispatch.errors import ValidationError
from dispatch.fieldwork import FieldworkParams
from dispatch.live import NewCall
from dispatch.model import Mode
from dispatch.network import Network
from dispatch.rules import DEFAULT_COST_RATES, DEFAULT_RULES
from dispatch.simulate import SimParams, simulate
from dispatch.travel import DEFAULT_TRAVEL
from tests.builders import EPOCH, NETWORK, TECHS, H, centre, req, tech

REFUSES = OfferRates(accept=0.0, refuse=1.0, response_s=600, timeout_s=900)
ACCEPTS = OfferRates(accept=1.0, refuse=0.0, response_s=300, timeout_s=900)


def book(rates: OfferRates = REFUSES, **kw: object) -> ContractBook:
    return ContractBook({"S1": Contract("S1", offers=rates, **kw)})  # type: ignore[arg-type]


# ---- fees, penalties, quality -----------------------------------------------------------------

def test_fee_and_penalty_by_hand() -> None:
    fees = Fees((40.0, 80.0, 150.0), onsite_extra_cny=30.0, pickup_extra_cny=15.0, handover_cny=10.0,
                km_cny=1.5, free_radius_km=15.0)
    # A level-2 repair on site 27 km from the station: 80 + 30 + 1.5 x (27 - 15) = 128.
    assert fees.job_cny(2, "onsite", 27.0) == pytest.approx(128.0)
    assert fees.job_cny(2, "onsite", 10.0) == pytest.approx(110.0)  # inside the radius: no km
    assert fees.job_cny(1, "pickup") == pytest.approx(55.0)
    assert fees.job_cny(None, "walkin") == pytest.approx(10.0)  # passed up unrepaired
    sla = Sla(dispatch_penalty_cny=20.0, turnaround_penalty_cny=50.0)
    assert sla.penalty_cny(True, False) == 20.0 and sla.penalty_cny(True, True) == 70.0
    assert quality_score(0.05, 0.02) == pytest.approx(0.95 * 0.98)


def test_job_cost_fee_and_penalty_of_a_late_contracted_job() -> None:
    """A level-1 on-site job at S1's customer 4.7 km away, accepted at 10:05, set off 11:10 (65
    min after: the 60-min clause is broken), done 11:50: fee 40 + 30, penalty 20, nothing else."""
    r = req("R1", 1, Mode.ONSITE, created_h=10)
    ds = Dataset(NETWORK, TECHS, (r,), EPOCH)
    events = pd.DataFrame([("R1", 10 * H + 300, "offer_accepted", "S1", ""), ("R1", 11 * H + 600, "dispatched", "T1", "")],
                          columns=["request_id", "t_s", "event", "where", "detail"])
    outcomes = pd.DataFrame([{"request_id": "R1", "mode": "onsite", "visit_mode": "onsite", "level": 1,
                              "centre_id": "S1", "created_s": 10 * H, "clock_start_s": 10 * H,
                              "dispatch_s": 11 * H + 600, "completion_s": 11 * H + 3000, "repair_tier": float("nan"),
                              "repair_centre_id": None, "courier_legs": 0, "unassigned_reason": ""}])
    workload = pd.DataFrame(columns=["technician_id", "day", "centre_id", "available_s", "overtime_s", "distance_m"])
    km = DEFAULT_TRAVEL.legs(NETWORK["S1"].lon, NETWORK["S1"].lat, r.lon, r.lat)[1] / 1000
    assert km < 15  # inside the radius
    jobs = job_costs(events, outcomes, workload, ds, book(ACCEPTS))
    row = jobs.iloc[0]
    assert (row["owner"], row["fee_cny"], row["penalty_cny"]) == ("contracted", 70.0, 20.0)
    assert row["late_dispatch"] and not row["late_turnaround"]
    assert row["total_cny"] == pytest.approx(50.0)  # fee - penalty; a contracted technician's time is the station's
    st = settlement(jobs, outcomes, book(ACCEPTS), EPOCH)
    assert st[["station_id", "month", "jobs", "jobs_l1", "onsite", "fees_cny", "penalties_cny", "payable_cny"]].values.tolist() \
        == [["S1", "2026-03", 1, 1, 1, 70.0, 20.0, 50.0]]


# ---- the cost weight's break-even ------------------------------------------------------------

def test_cost_weight_moves_the_decision_exactly_at_the_break_even() -> None:
    """T1 (contracted S1) arrives 2 h after T2 (own, Huzhou): the decision takes the faster T2
    unless an hour of turnaround is worth less than (cost T2 - cost T1) / 2 h."""
    r = req("R1", 1, Mode.ONSITE)
    call = NewCall("R1", r.lon, r.lat, 1800, r.window.start_s, r.window.end_s, release_s=r.created_s)
    desk: OfferDesk = OfferDesk(book(ACCEPTS), NETWORK, TECHS, DEFAULT_TRAVEL, lambda *a: None)
    faster, cheaper = Choice("T2", 11 * H, added_travel_s=2 * H), Choice("T1", 13 * H, added_travel_s=1200)
    cost = {c.technician_id: desk.cost_cny(c, r, call) for c in (faster, cheaper)}
    # By hand: T2 is a city technician (54 CNY/h) driving 2 h at 40 km/h (80 km x 1.2) plus 30 min
    # of work; T1 costs S1's fee over its quality (40 + 30) / 0.931.
    assert cost["T2"] == pytest.approx(54 * 2.5 + 80 * 1.2)
    assert cost["T1"] == pytest.approx(70 / quality_score(0.05, 0.02))
    break_even = (cost["T2"] - cost["T1"]) / 2  # CNY per hour of turnaround
    pick = lambda w: weigh([faster, cheaper], desk.is_contracted, lambda c: cost[c.technician_id], w).technician_id
    assert pick(break_even) == "T2"  # a tie keeps the decision's own best
    assert pick(break_even * (1 - 1e-9)) == "T1"
    assert pick(break_even * (1 + 1e-9)) == "T2"
    assert pick(0.0) == "T1" and pick(DEFAULT_COST_RATES.turnaround_cny_per_h * 100) == "T2"
    late = faster._replace(late_s=60)  # nobody on time: the decision's order stands
    assert weigh([late, cheaper], desk.is_contracted, lambda c: cost[c.technician_id], 0.0) == late


# ---- offers: refusal -> re-offer keeping the deadline -------------------------------------------

@pytest.mark.parametrize("policy", ["optimiser", "baseline"])
def test_refusal_reoffers_with_the_one_hour_clock_running(policy: str) -> None:
    """S1 refuses every offer: the call at 10:00 is offered to S1, refused after 5-15 min, and
    re-offered to the next best, an own technician of Hangzhou or Huzhou; the dispatch clock
    still starts at 10:00."""
    r = req("R1", 1, Mode.ONSITE, created_h=10, window_h=8)
    ds = Dataset(NETWORK, TECHS, (r,), EPOCH)
    res = simulate(ds, SimParams(policy=policy, fieldwork=FieldworkParams.none(), contracts=book()))
    ev = res.events.set_index("event")
    assert ev.loc["offered", "where"] == "S1" and ev.loc["offered", "t_s"] == 10 * H
    refused_s = int(ev.loc["offer_refused", "t_s"])
    assert 10 * H + 300 <= refused_s <= 10 * H + 900
    assert ev.loc["dispatched", "where"] in {"T2", "T3"}
    o = res.outcomes.iloc[0]
    assert o["clock_start_s"] == 10 * H and o["dispatch_s"] >= refused_s
    assert o["dispatch_wait_s"] == o["dispatch_s"] - 10 * H  # the time lost to the refusal counts
    # Without the contract the station's own T1 goes at once.
    plain = simulate(ds, SimParams(policy=policy, fieldwork=FieldworkParams.none()))
    assert plain.events.set_index("event").loc["dispatched", "where"] == "T1"
    assert not plain.events["event"].str.startswith("offer").any()


def test_acceptance_waits_for_the_answer_and_counts_capacity() -> None:
    r1, r2 = req("R1", 1, Mode.ONSITE, created_h=10, window_h=8), req("R2", 1, Mode.ONSITE, created_h=10.1, window_h=8)
    ds = Dataset(NETWORK, TECHS, (r1, r2), EPOCH)
    res = simulate(ds, SimParams(fieldwork=FieldworkParams.none(), contracts=book(ACCEPTS, daily_jobs=1)))
    ev = res.events
    accepted = ev[(ev["event"] == "offer_accepted")]
    assert accepted["request_id"].tolist() == ["R1"]  # S1 takes one job a day: R2 is not offered to it
    by = ev[ev["event"] == "dispatched"].set_index("request_id")["where"]
    assert by["R1"] == "T1" and by["R2"] != "T1"
    assert res.outcomes.set_index("request_id").loc["R1", "dispatch_s"] >= accepted["t_s"].iloc[0]


def test_an_unauthorised_or_foreign_job_is_not_offered() -> None:
    desk: OfferDesk = OfferDesk(book(ACCEPTS, levels=frozenset({1})), NETWORK, TECHS, DEFAULT_TRAVEL, lambda *a: None)
    c = desk.book.contracts["S1"]
    r = req("R1", 1, Mode.ONSITE)
    call = NewCall("R1", r.lon, r.lat, 1800, r.window.start_s, r.window.end_s, required_level=2, release_s=10 * H)
    assert not desk.may_offer(c, r.county_adcode, call, 10 * H)  # level 2 not authorised
    ok = NewCall("R1", r.lon, r.lat, 1800, r.window.start_s, r.window.end_s, release_s=10 * H)
    assert desk.may_offer(c, r.county_adcode, ok, 10 * H)
    assert not desk.may_offer(c, r.county_adcode, ok, 20 * H)  # after its own closing (18:00)
    # Its territory: its county, and customers it is the nearest county station to. With S2 near
    # Shaoxing, a customer there (another county) is S2's, one in a county without a station near
    # Deqing is S1's.
    net = Network((*NETWORK.centres, centre("S2", lon=120.58, lat=30.0, county="330602")))
    two: OfferDesk = OfferDesk(desk.book, net, TECHS, DEFAULT_TRAVEL, lambda *a: None)
    near_s2 = replace(ok, id="R2", lon=120.57, lat=30.01)
    assert not two.may_offer(c, "330602", near_s2, 10 * H)
    assert two.may_offer(c, "330599", replace(ok, id="R3"), 10 * H)  # S1 is the nearest station
    assert not two.may_offer(replace(c, roam="county"), "330602", near_s2, 10 * H)
    assert two.may_offer(replace(c, roam="prefecture"), "330602", near_s2, 10 * H) is False  # 3306 is not 3305
    assert two.may_offer(replace(c, roam="any"), "330602", near_s2, 10 * H)


# ---- the table -------------------------------------------------------------------------------

def test_contracts_table_round_trip_and_absent_file(tmp_path: Path) -> None:
    assert len(read_contracts(tmp_path)) == 0  # no contracts.csv: every centre own
    b = book(ACCEPTS, levels=frozenset({1}), daily_jobs=7)
    frame = contracts_frame(b).astype(str)
    assert parse_contracts(frame, "contracts.csv", NETWORK) == b


def test_contracts_table_errors_name_file_row_column_value() -> None:
    frame = pd.DataFrame([{"centre_id": "S1", "accept_rate": "1.4", "levels": "1"},
                          {"centre_id": "S9", "accept_rate": "", "levels": ""},
                          {"centre_id": "S1", "accept_rate": "", "levels": "1;2"}])
    with pytest.raises(ValidationError) as err:
        parse_contracts(frame, "contracts.csv", NETWORK)
    text = str(err.value)
    assert "contracts.csv, row 2, column 'accept_rate': is not valid; expected a share between 0 and 1 (value 1.4)" in text
    assert "contracts.csv, row 3, column 'centre_id': is not a centre of the network" in text
    assert "row 4, column 'levels': authorises levels the station cannot repair" in text


def test_a_row_with_a_bad_cell_is_checked_for_an_unknown_station_in_the_same_pass(tmp_path: Path) -> None:
    """S9 is no centre and its daily_jobs no number (a bad cell), S8 no centre with an
    accept_rate that is no share (a bad value): each row's two problems are reported at once,
    reading the file; an invalid id is reported once, as an invalid id."""
    (tmp_path / "contracts.csv").write_text("centre_id,daily_jobs,accept_rate\nS9,abc,\nS8,,1.4\nS 1,,\n",
                                            encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        read_contracts(tmp_path, NETWORK)
    text = str(err.value)
    assert "contracts.csv, row 2, column 'daily_jobs': is not valid; expected a whole number (value 'abc')" in text
    assert "contracts.csv, row 2, column 'centre_id': is not a centre of the network (centres.csv) (value 'S9')" in text
    assert "contracts.csv, row 3, column 'centre_id': is not a centre of the network (centres.csv) (value 'S8')" in text
    assert "contracts.csv, row 3, column 'accept_rate': is not valid; expected a share between 0 and 1 (value 1.4)" in text
    assert text.count("row 4, column 'centre_id'") == 1 and "row 4, column 'centre_id': is not a centre" not in text
    assert len(err.value.problems) == 5


def test_readme_lists_the_contracts_schema() -> None:
    readme = (Path(__file__).resolve().parents[1] / "data" / "README.md").read_text(encoding="utf-8")
    assert schema_markdown() in readme
    assert len(SCHEMA) == len({c.name for c in SCHEMA})


def test_default_rules_untouched_by_contracts() -> None:
    assert DEFAULT_RULES.dispatch_target_s == 3600 and DEFAULT_COST_RATES.wage_cny_per_h(3) == 47.0


def test_generated_book_contracts_most_county_stations_and_reads_back(tmp_path: Path) -> None:
    from dispatch.contracts import generate_contracts
    from dispatch.io import read_dataset
    from dispatch.model import Tier

    ds = read_dataset(Path(__file__).resolve().parents[1] / "data" / "sample-zhejiang")
    county = {c.id for c in ds.network.by_tier(Tier.COUNTY)}
    b = generate_contracts(ds.network, ds.technicians, seed=3)
    assert set(b.contracts) <= county and len(b) == len(county) - round(0.1 * len(county))
    assert b == generate_contracts(ds.network, ds.technicians, seed=3)  # seeded
    # Authorised for its bench's levels and for those its field technicians repair on site.
    trained = {c: max(t.max_level for t in ds.technicians if t.home_centre_id == c and t.role == "field") for c in b.contracts}
    assert all(c.levels == ds.network[c.centre_id].levels | set(range(1, trained[c.centre_id] + 1)) for c in b)
    (tmp_path / "contracts.csv").write_text(contracts_frame(b).to_csv(index=False), encoding="utf-8")
    assert read_contracts(tmp_path, ds.network, ds.technicians) == b
    if any(c.levels - ds.network[c.centre_id].levels for c in b):  # on-site levels need the technicians
        with pytest.raises(ValidationError, match="technicians' levels"):
            read_contracts(tmp_path, ds.network)


# ---- the planner's offer policy: reservations, re-offers to neighbours ---------------------------

def test_an_offer_reserves_the_technician_until_the_answer() -> None:
    """Two hour-long jobs at 10:00 for S1's only technician: the first is offered to S1 and T1's
    slot is held for it; the second's decision sees T1 taken (he could not set off for it within
    the hour) and sends an own technician at once, rather than offering S1 a job it cannot keep."""
    r1 = req("R1", 1, Mode.ONSITE, created_h=10, window_h=8, service_min=60)
    r2 = req("R2", 1, Mode.ONSITE, created_h=10, window_h=8, service_min=60, lon=119.975, lat=30.545)
    ds = Dataset(NETWORK, TECHS, (r1, r2), EPOCH)
    res = simulate(ds, SimParams(fieldwork=FieldworkParams.none(), contracts=book(ACCEPTS)))
    ev = res.events
    assert ev[ev["event"] == "offered"]["request_id"].tolist() == ["R1"]
    by = ev[ev["event"] == "dispatched"].set_index("request_id")["where"]
    assert by["R1"] == "T1" and by["R2"] in {"T2", "T3"}  # own staff of Huzhou or Hangzhou
    o = res.outcomes.set_index("request_id")
    assert (o["dispatch_wait_s"] <= H).all()
    assert not ev["request_id"].str.contains("#offer").any()  # the stand-in never shows


def test_a_refused_call_is_reoffered_to_a_neighbouring_station() -> None:
    """S1 refuses; S2 (another county of the prefecture) gets the second offer under the book's
    reoffer_roam, and not under "county" (the territory only: own staff then)."""
    net = Network((*NETWORK.centres, centre("S2", lon=120.05, lat=30.6, province="330000", prefecture="330500",
                                            county="330522")))
    techs = (*TECHS, tech("T4", "S2", 1))
    r = req("R1", 1, Mode.ONSITE, created_h=10, window_h=8)
    ds = Dataset(net, techs, (r,), EPOCH)
    contracts = {"S1": Contract("S1", offers=REFUSES), "S2": Contract("S2", offers=ACCEPTS)}
    for roam, second in (("prefecture", {"T4"}), ("county", {"T2", "T3"})):
        res = simulate(ds, SimParams(fieldwork=FieldworkParams.none(),
                                     contracts=ContractBook(contracts, reoffer_roam=roam)))
        ev = res.events
        assert ev[ev["event"] == "offered"]["where"].tolist() == (["S1", "S2"] if roam == "prefecture" else ["S1"])
        assert ev.set_index("event").loc["dispatched", "where"] in second
    # S1 takes no jobs today (its capacity is used up): nobody the territory allows can keep the
    # promise, so S2 is offered it at once rather than after a refusal.
    full = {"S1": Contract("S1", offers=ACCEPTS, daily_jobs=0), "S2": Contract("S2", offers=ACCEPTS)}
    res = simulate(ds, SimParams(fieldwork=FieldworkParams.none(), contracts=ContractBook(full)))
    ev = res.events
    assert ev[ev["event"] == "offered"]["where"].tolist() == ["S2"]
    assert ev.set_index("event").loc["dispatched", "where"] == "T4"
    with pytest.raises(ValueError, match="reoffer_roam"):
        ContractBook(contracts, reoffer_roam="province")


def test_the_day_plan_offers_its_contracted_jobs_and_its_simulation_draws_the_answers() -> None:
    """A plan with contracts: S1's job is on T1's morning route in the plan, but its simulated
    day offers it to S1 first; S1 refuses, and an own technician takes it, the clock running."""
    from dispatch.assignment import AssignmentParams
    from dispatch.plan import PlanParams, make_plan
    from dispatch.plan.simulated import offers_line, simulate_plan

    r = req("R1", 1, Mode.ONSITE, created_h=10, window_h=8)
    ds = Dataset(NETWORK, TECHS, (r,), EPOCH)
    params = PlanParams(assignment=AssignmentParams(contracts=book(), cost=DEFAULT_COST_RATES))
    plan = make_plan(ds, params)
    assert plan.stops.set_index("request_id").loc["R1", "technician_id"] == "T1"
    assert plan.params.routing_km_cost_s  # money on the arcs too, at the same weight
    sim = simulate_plan(ds, plan, fieldwork=FieldworkParams.none())
    ev = sim.result.events.set_index("event")
    assert ev.loc["offered", "where"] == "S1" and "offer_refused" in ev.index
    assert ev.loc["dispatched", "where"] in {"T2", "T3"}
    assert "1 made to contracted stations, 0 accepted, 1 refused" in offers_line(sim.result.events)


def test_the_one_hour_misses_by_cause_add_up_to_the_rate() -> None:
    from dispatch.contracts.week import miss_causes

    outcomes = pd.DataFrame({"request_id": ["A", "B", "C", "D", "E", "W"],
                             "mode": ["onsite"] * 5 + ["walkin"],
                             "dispatch_wait_s": [600, 5000, 4000, None, 3700, None]})
    ev = [("B", "offered"), ("B", "offer_refused"), ("B", "offered"), ("B", "offer_accepted"),
          ("C", "offered"), ("C", "offer_accepted"), ("D", "carried_over"), ("E", "called")]
    events = pd.DataFrame([(rid, 0, e, "", "") for rid, e in ev],
                          columns=["request_id", "t_s", "event", "where", "detail"])
    got = miss_causes(events, outcomes)
    assert got == {"miss_after_failed_offer": 0.2, "miss_accepted_late": 0.2, "miss_carried_over": 0.2,
                   "miss_other": 0.2}
    assert sum(got.values()) == pytest.approx(1 - 1 / 5)  # the one-hour rate: A alone of 5 travelling calls


def test_validate_checks_the_contracts_file_and_names_its_cells(tmp_path: Path, capsys) -> None:
    """``dispatch validate`` reads contracts.csv as the runs do: a bad cell is exit 2 with file,
    row, column and value, not "valid"."""
    import shutil

    from dispatch.cli import main

    folder = tmp_path / "ds"
    shutil.copytree(Path(__file__).resolve().parents[1] / "data" / "sample-zhejiang", folder)
    (folder / "contracts.csv").write_text("centre_id,daily_jobs\nNOPE,abc\n", encoding="utf-8")
    code = main(["validate", str(folder)])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert "contracts.csv, row 2, column 'daily_jobs'" in err and "'abc'" in err
    assert "contracts.csv, row 2, column 'centre_id': is not a centre of the network" in err  # the same pass
    assert "valid (" not in out


def test_validate_lists_the_contracts_problems_beside_another_files(tmp_path: Path, capsys) -> None:
    """While technicians.csv has a bad cell, the contracts file's bad cell is listed in the same
    run (not only after the first file is fixed)."""
    import shutil

    from dispatch.cli import main

    folder = tmp_path / "ds"
    shutil.copytree(Path(__file__).resolve().parents[1] / "data" / "sample-zhejiang", folder)
    techs = (folder / "technicians.csv").read_text(encoding="utf-8").splitlines()
    header = techs[0].split(",")
    row = techs[1].split(",")
    row[header.index("max_level")] = "9"
    (folder / "technicians.csv").write_text("\n".join([techs[0], ",".join(row), *techs[2:]]) + "\n", encoding="utf-8")
    (folder / "contracts.csv").write_text("centre_id,daily_jobs\nNOPE,abc\n", encoding="utf-8")
    code = main(["validate", str(folder)])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert "technicians.csv, row 2, column 'max_level'" in err and "'9'" in err
    assert "contracts.csv, row 2, column 'daily_jobs'" in err and "'abc'" in err
