"""Staffing from workload: Erlang C on a hand-computed case, the opening backlog, rest days,
roles, who is on duty, the overtime ledger, and the technicians file's new columns."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from click.testing import CliRunner

from dispatch.cli import cli
from dispatch.dataset import Dataset
from dispatch.errors import DispatchError, ModelError, ValidationError
from dispatch.io import read_dataset
from dispatch.live.roster import LiveNetwork
from dispatch.model import DAY_S, Technician, TimeWindow
from dispatch.rules import DEFAULT_RULES, Rules
from dispatch.staffing import (
    CentreLoad,
    OvertimeLedger,
    PoolLoad,
    StaffingParams,
    Workload,
    erlang_c_on_duty,
    erlang_c_service_level,
    heads_for,
    on_duty,
    opening_on_duty,
    recommend,
    stagger_rest,
    workload_from_dataset,
)
from dispatch.tables import technicians_frame, write_dataset
from dispatch.travel import DEFAULT_TRAVEL
from tests.builders import NETWORK, tech

H = 3600


def person(tid: str, home: str, **kw: object) -> Technician:
    return replace(tech(tid, home), **kw)  # type: ignore[arg-type]


def test_erlang_c_on_a_hand_computed_case():
    """6 calls an hour, 20 min each: A = 2 erlangs. With c = 3, Erlang C's waiting probability is
    (A^c/c! * c/(c-A)) / (sum_{k<c} A^k/k! + A^c/c! * c/(c-A)) = (8/6*3) / (1+2+2+4) = 4/9, and
    P(wait <= 20 min) = 1 - 4/9 * exp(-(3-2) * 20/20) = 0.83650. With c = 4: C = (16/24*2) /
    (1+2+2+8/6+16/24*2) = 4/23, and 1 - 4/23 * exp(-2) = 0.97646. So 80 % within 20 min takes 3
    people, 85 % takes 4."""
    assert erlang_c_service_level(6, 20 * 60, 20 * 60, 3) == pytest.approx(1 - 4 / 9 * math.exp(-1), abs=1e-9)
    assert erlang_c_service_level(6, 20 * 60, 20 * 60, 4) == pytest.approx(1 - 4 / 23 * math.exp(-2), abs=1e-9)
    assert erlang_c_on_duty(6, 20 * 60, 20 * 60, 0.80) == (3, pytest.approx(0.83650, abs=1e-5))
    assert erlang_c_on_duty(6, 20 * 60, 20 * 60, 0.85) == (4, pytest.approx(0.97646, abs=1e-5))
    assert erlang_c_service_level(6, 20 * 60, 20 * 60, 2) == 0.0  # 2 people cannot keep up with 2 erlangs
    assert erlang_c_on_duty(0, 20 * 60, 3600, 0.95) == (0, 1.0)


def test_opening_backlog_needs_its_departures_within_the_target():
    """A backlog of 10 a morning (Poisson: 15 on 95 % of days), 20 min drive + 20 min work: each
    technician sets off 1 + 60/40 = 2.5 times in the hour, so 15 / 2.5 = 6 technicians."""
    assert opening_on_duty(10, 20 * 60, 20 * 60, 3600, 0.95) == 6
    assert opening_on_duty(0, 20 * 60, 20 * 60, 3600, 0.95) == 0


def test_rest_days_are_staggered_to_cover_every_weekday():
    """Each person rests one weekday; H = max(max N_d, ceil(sum N_d / 6)) covers the week."""
    assert heads_for([1] * 7) == 2  # a one-person post open seven days takes two people
    assert heads_for([6] * 7) == 7 and heads_for([12] * 7) == 14 and heads_for([13] * 7) == 16
    assert heads_for([0] * 7) == 0
    need = (5, 4, 4, 4, 4, 3, 3)  # a busy Monday
    heads = heads_for(need)
    assert heads == 5
    rests = stagger_rest(heads, need)
    assert len(rests) == heads
    for d in range(7):
        assert heads - rests.count(d) >= need[d]
    assert rests.count(0) == 0  # nobody rests on the busiest day
    two = stagger_rest(2, [1] * 7)
    assert two[0] != two[1]  # a two-person station's people rest on different days
    with pytest.raises(DispatchError, match="cannot rest"):
        stagger_rest(4, [4] * 7)


def _workload(bench_h: float = 10.0, walkins: float = 6.0) -> Workload:
    pool = PoolLoad("330500", travelling_per_day=40.0, drive_s=20 * 60, work_s=25 * 60)
    c = CentreLoad("S1", "330500", 40.0, walkins, bench_h * H)
    return Workload((c,), (pool,), backlog_share=0.4, busy_hour_share=0.1)


def test_recommend_sizes_field_bench_and_counter():
    """One station: field from the larger of the busy hour's Erlang C and the opening backlog;
    bench and counter from their hours (a person gives 8.25 h x 0.85 = 7.01 h)."""
    plan = recommend(_workload())
    (p,), (c,) = plan.pools, plan.centres
    service_s = 2 * 20 * 60 + 25 * 60
    assert p.service_s == service_s
    assert p.stream_on_duty == erlang_c_on_duty(4.0, service_s, 3600, 0.95)[0]
    assert p.opening_on_duty == opening_on_duty(16.0, 20 * 60, 25 * 60, 3600, 0.95)
    need = max(p.stream_on_duty, p.opening_on_duty)
    assert p.on_duty_by_weekday == (need,) * 7 and p.heads == heads_for([need] * 7)
    assert c.field == p.heads
    # Counter 6 x 20 min = 2 h, bench 10 h: 12 h = 2 people a day, one of them at the counter.
    assert (c.counter_work_h_per_day, c.bench_work_h_per_day) == (2.0, 10.0)
    assert c.dual == 2 and c.bench == 2 and c.counter == 0  # each post doubled for the rest days
    per_person_h = (9 * H - 45 * 60) * 0.85 / H
    assert c.bench_h_per_day == round(4 * 6 / 7 * per_person_h - 2.0, 1)
    assert p.utilisation == pytest.approx(40 * service_s / (p.heads * 6 / 7 * (9 * H - 45 * 60)))
    roster = plan.roster()["S1"]
    assert sorted(r for r, _ in roster) == ["bench", "bench", "bench+counter", "bench+counter"] + ["field"] * p.heads
    for d in range(7):  # someone at the counter every day
        assert any(r == "bench+counter" and rest != d for r, rest in roster)
    # A stricter target takes more people.
    assert recommend(_workload(), StaffingParams(service_level=0.99)).pools[0].heads >= p.heads


def test_a_quiet_station_has_one_person_for_bench_and_counter():
    plan = recommend(_workload(bench_h=2.0, walkins=3.0))
    c = plan.centres[0]
    assert (c.dual, c.bench, c.counter) == (2, 0, 0)


def test_on_duty_leaves_out_rest_days_and_stationary_roles():
    """2026-03-02 is a Monday: on day 0 the Monday rester is off, on day 1 (Tuesday) at work;
    bench and counter staff are never sent out; without an epoch date nobody rests."""
    mon = person("T1", "S1", rest_weekday=0)
    tue = person("T2", "S1", rest_weekday=1)
    bench = person("T3", "S1", role="bench")
    free = person("T4", "S1")
    team = [mon, tue, bench, free]
    assert [t.id for t in on_duty(team, "2026-03-02", 0)] == ["T2", "T4"]
    assert [t.id for t in on_duty(team, "2026-03-02", 1)] == ["T1", "T4"]
    assert [t.id for t in on_duty(team, "2026-03-02", 7)] == ["T2", "T4"]  # Monday again
    assert [t.id for t in on_duty(team, "2026-03-02", 0, roles=None)] == ["T2", "T3", "T4"]
    assert [t.id for t in on_duty(team, None, 0)] == ["T1", "T2", "T4"]


def test_live_network_sends_out_only_field_staff_at_work():
    net = NETWORK
    team = [person("T1", "S1", rest_weekday=0), person("T2", "S1", role="bench+counter"), person("T3", "S1")]
    live = LiveNetwork(net, team, DEFAULT_RULES, DEFAULT_TRAVEL, epoch_date="2026-03-02")
    monday = live.start_day(0)
    assert [k.id for a in monday.values() for k in a.problem.technicians] == ["T3"]
    tuesday = live.start_day(1)
    assert sorted(k.id for a in tuesday.values() for k in a.problem.technicians) == ["T1", "T3"]
    alone = LiveNetwork(net, team[:1], DEFAULT_RULES, DEFAULT_TRAVEL, epoch_date="2026-03-02")
    assert [len(a.problem.technicians) for a in alone.start_day(0).values()] == [0]  # area kept, nobody in it


def test_overtime_ledger_keeps_the_monthly_cap():
    """Art. 41: 1 h a day, 36 h a month; the ledger is per technician and calendar month."""
    ledger = OvertimeLedger("2026-03-02")
    assert ledger.allowance_s("T1", 0) == 3600
    ledger.record("T1", 0, 35 * H)
    assert ledger.allowance_s("T1", 5) == 3600  # 1 h left of the 36
    ledger.record("T1", 5, int(0.5 * H))
    assert ledger.allowance_s("T1", 6) == int(0.5 * H)
    ledger.record("T1", 6, 2 * H)
    assert ledger.allowance_s("T1", 7) == 0 and ledger.over_cap() == [("T1", "2026-03", int(1.5 * H))]
    assert ledger.allowance_s("T1", 30) == 3600  # 2026-04-01: a new month
    assert Rules(max_overtime_month_s=0).overtime_allowance_s(0) == 0
    with pytest.raises(DispatchError, match="max_overtime_month_s"):
        Rules(max_overtime_month_s=-1)


def test_technician_role_and_rest_day_are_validated():
    with pytest.raises(ModelError, match="role"):
        person("T1", "S1", role="driver")
    with pytest.raises(ModelError, match="rest_weekday"):
        person("T1", "S1", rest_weekday=7)


def test_technicians_file_carries_role_and_rest_day(tmp_path, dataset):
    """Written when a roster uses them and read back; a file without them reads as field staff
    without a rest day; a wrong value names the row, the column and what is valid."""
    old = dataset
    assert "role" not in technicians_frame(old.technicians)
    techs = tuple(t if i else replace(t, role="bench", rest_weekday=6) for i, t in enumerate(old.technicians))
    ds = Dataset(old.network, techs, old.requests, old.epoch_date, old.meta)
    write_dataset(ds, tmp_path / "new")
    back = read_dataset(tmp_path / "new")
    assert (back.technicians[0].role, back.technicians[0].rest_weekday) == ("bench", 6)
    assert {(t.role, t.rest_weekday) for t in back.technicians[1:]} == {("field", None)}
    path = tmp_path / "new" / "technicians.csv"
    text = path.read_text().splitlines()
    text[1] = text[1].replace(",bench,6", ",driver,8")
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(ValidationError) as err:
        read_dataset(tmp_path / "new")
    messages = [str(p) for p in err.value.problems]
    assert any("row 2, column 'role'" in m and "field, bench, counter, bench+counter" in m for m in messages)
    assert any("row 2, column 'rest_weekday'" in m and "0, 1, 2, 3, 4, 5, 6" in m for m in messages)


def test_workload_from_a_dataset_and_the_staff_command(dataset, tmp_path):
    w = workload_from_dataset(dataset)
    trav = sum(r.mode != "walkin" for r in dataset.requests)
    days = len({r.created_s // DAY_S for r in dataset.requests})
    assert sum(p.travelling_per_day for p in w.pools) == pytest.approx(trav / days)
    assert 0 <= w.backlog_share < 1 and 0 < w.busy_hour_share <= 1
    write_dataset(dataset, tmp_path / "ds")
    out = CliRunner().invoke(cli, ["staff", str(tmp_path / "ds"), "--service-level", "0.9"])
    assert out.exit_code == 0, out.output
    assert "90.0 % of travelling calls set off within 60 min" in out.output and "total" in out.output
    bad = CliRunner().invoke(cli, ["staff", str(tmp_path / "ds"), "--service-level", "1.5"])
    assert bad.exit_code == 2


def test_staffing_params_are_checked():
    with pytest.raises(DispatchError, match="service_level"):
        StaffingParams(service_level=1.0)
    assert StaffingParams(target_s=1800).target(DEFAULT_RULES) == 1800
    assert TimeWindow(0, 1).duration_s == 1
