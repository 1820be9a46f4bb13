"""The demand calendar: China's holidays and make-up working days, the weekday profile, the
post-holiday backlog, surges, and the flat calendar that reproduces the generator before it."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from dispatch.errors import InputError
from dispatch.geodata import county_demand_weights, load_geography
from dispatch.synthetic import (
    CallParams,
    DemandCalendar,
    GeneratorParams,
    Surge,
    calendar_from_options,
    china_day,
    demand_by_day,
    generate,
    generate_calls,
    surge_example,
    with_calendar,
)

D = dt.date


def test_spring_festival_2026_is_a_holiday_and_its_makeup_saturdays_are_workdays():
    """The official 2026 Spring Festival (15-23 Feb) is rest with the festival's factor; 14 and 28 Feb (Saturdays) are worked."""
    cal = DemandCalendar()
    days = {d.date: d for d in demand_by_day("2026-02-10", 25, cal)}
    rest = [d for d, x in days.items() if x.holiday == "Spring Festival"]
    assert rest == [D(2026, 2, 15) + dt.timedelta(days=i) for i in range(9)]  # 15..23 Feb
    new_year = days[D(2026, 2, 17)]  # 春节, 初一
    assert not new_year.workday and new_year.base == cal.spring_festival_factor
    assert new_year.multiplier < min(cal.weekday_factors)
    assert "Spring Festival (Tuesday) x0.30" in new_year.reasons
    for sat in (D(2026, 2, 14), D(2026, 2, 28)):  # 调休补班
        assert sat.weekday() == 5 and china_day(sat).makeup_workday and china_day(sat).workday
        assert days[sat].workday and days[sat].base == pytest.approx(cal.makeup_workday_factor)
    # The source is the library's official schedule, so no warning.
    assert all(not x.warnings for x in days.values())


def test_known_dates_and_the_fallback_beyond_chinese_calendars_data():
    """2026-10-01 is National Day, 2026-03-02 (Monday) a workday; 2027 comes from holidays.China with a warning."""
    national = china_day(D(2026, 10, 1))
    assert not national.workday and national.holiday == "National Day"
    assert national.source == "chinese-calendar" and national.warning is None
    monday = china_day(D(2026, 3, 2))
    assert monday.workday and monday.holiday is None and not monday.makeup_workday
    # Beyond chinese-calendar's last year: holidays.China, and the reasons say in-lieu days are unknown.
    later = demand_by_day("2027-10-01", 1)[0]
    assert later.holiday == "National Day" and later.base == DemandCalendar().holiday_factor
    assert later.warnings and "make-up working days (调休) are unknown" in later.warnings[0]
    assert any(r.startswith("warning: 2027 is outside chinese-calendar") for r in later.reasons)


def test_an_ordinary_week_averages_one():
    """The default week's factors average 1 (calls_per_day keeps its meaning); Monday is the busiest day."""
    week = demand_by_day("2026-03-02", 7)
    assert sum(d.multiplier for d in week) / 7 == pytest.approx(1.0, abs=1e-9)
    assert week[0].reasons == ("Monday x1.11",)
    assert max(week, key=lambda d: d.multiplier).date == D(2026, 3, 2)
    # A profile that does not average 1 is refused, saying what to do instead.
    with pytest.raises(InputError, match="average 1.0429; expected 1 .*scale calls_per_day_national"):
        DemandCalendar(weekday_factors=(1.3, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0))


def test_backlog_returns_the_suppressed_share_over_the_stated_working_days():
    """Dragon Boat 2026 (Fri 19 - Sun 21 Jun), by hand: 3 rest days x (1 - 0.5) x 0.5 = 0.75, +0.375 on Mon and Tue."""
    cal = DemandCalendar(weekday_factors=(1.0,) * 7, holiday_factor=0.5, backlog_share=0.5,
                         backlog_working_days=2)
    days = demand_by_day("2026-06-18", 7, cal)  # Thu 18 .. Wed 24 Jun
    got = {d.date: round(d.multiplier, 9) for d in days}
    assert got == {D(2026, 6, 18): 1.0, D(2026, 6, 19): 0.5, D(2026, 6, 20): 0.5, D(2026, 6, 21): 0.5,
                   D(2026, 6, 22): 1.375, D(2026, 6, 23): 1.375, D(2026, 6, 24): 1.0}
    assert sum(d.backlog for d in days) == pytest.approx(cal.backlog_share * 3 * (1 - 0.5))
    assert days[4].backlog_from == (D(2026, 6, 19), D(2026, 6, 20), D(2026, 6, 21))
    assert "post-holiday backlog +0.375 from 3 rest day(s) 2026-06-19..2026-06-21" in days[4].reasons
    # A holiday before day 0 still sends its backlog into the first days.
    late = demand_by_day("2026-06-23", 2, cal)
    assert [round(d.multiplier, 9) for d in late] == [1.375, 1.0]


@pytest.fixture(scope="module")
def zhejiang_counties():
    geo = load_geography()
    weights = county_demand_weights(geo)
    counties = geo.counties.merge(weights[["adcode", "weight"]], on="adcode")
    return counties[counties["province_adcode"] == "330000"].copy()


def test_a_surge_of_one_kind_raises_that_kind_and_leaves_days_before_it_alone(zhejiang_counties):
    """A bad batch doubles phone level-2 calls within 5 sigma; the other calls keep their mean; days before it are unchanged."""
    n, days, epoch = 4000.0, 3, "2026-03-08"  # Sun 8 Mar, then the surge's Mon 9 and Tue 10
    batch = surge_example("bad-batch-camera")
    assert (batch.product_line, batch.level, batch.factor, batch.start) == ("phone", 2, 2.0, "2026-03-09")
    plain = CallParams()
    surged = CallParams(calendar=DemandCalendar(surges=(batch,)))

    def run(params):
        return generate_calls(zhejiang_counties, days, n, np.random.default_rng(3), params,
                              epoch_date=epoch)

    before, after = run(plain), run(surged)
    assert [r for r in after if r.created_s < 86_400] == [r for r in before if r.created_s < 86_400]
    mult = sum(d.multiplier for d in demand_by_day(epoch, days)[1:])  # the surge's two days
    share = plain.product_mix["phone"] / sum(plain.product_mix.values()) * plain.level_mix[1]

    def kind(reqs):
        on = [r for r in reqs if r.created_s >= 86_400]
        hit = sum(r.product_line == "phone" and r.level == 2 for r in on)
        return hit, len(on) - hit

    hit, other = kind(after)
    expect_hit, expect_other = n * mult * share * batch.factor, n * mult * (1 - share)
    assert abs(hit - expect_hit) < 5 * np.sqrt(expect_hit)
    assert abs(other - expect_other) < 5 * np.sqrt(expect_other)
    assert kind(before)[0] < expect_hit - 10 * np.sqrt(expect_hit)  # the test has power
    # A surge of every call multiplies the day; one of a product the mix does not have is refused.
    launch = Surge("all-up", start="2026-03-09", days=1, factor=1.3)
    assert demand_by_day("2026-03-09", 1, DemandCalendar(surges=(launch,)))[0].multiplier == pytest.approx(1.11 * 1.3)
    with pytest.raises(InputError, match="product_line 'laptop' is not in the product mix"):
        generate_calls(zhejiang_counties, 1, n, np.random.default_rng(3),
                       CallParams(calendar=DemandCalendar(surges=(Surge("x", "2026-03-09", 1, 2.0, "laptop"),))),
                       epoch_date=epoch)


def _digest(reqs) -> str:
    h = hashlib.sha256()
    for r in reqs:
        h.update(f"{r.id},{r.created_s},{r.lon:.6f},{r.lat:.6f},{r.level},{r.mode.value},{int(r.priority)},"
                 f"{r.window.start_s},{r.window.end_s},{r.service_s},{r.product_line},{r.county_adcode}\n".encode())
    return h.hexdigest()


def test_the_flat_calendar_reproduces_the_generator_before_the_calendar():
    """Flat and no mail-in give the requests main's HEAD (f130137, before the calendar and the
    generated mail-in calls) generated, digest for digest; the default differs."""
    # Digests of generate("tiny", days=3, seed=5).requests computed on f130137; a flat day draws
    # exactly the random numbers it drew then, so any change to the stream shows here. Mail-in
    # draws from a stream of its own: a share of 0 draws nothing that shows.
    flat = with_calendar(GeneratorParams(), DemandCalendar.flat())
    flat = replace(flat, calls=replace(flat.calls, mailin_share=0.0))
    ds = generate("tiny", days=3, seed=5, params=flat)
    assert len(ds.requests) == 236
    assert _digest(ds.requests) == "4d245535b3ba38a2728e453c3901a72f9df691932f1bcd061944b48c539aea87"
    assert ds.meta_dict["demand_calendar"] == "flat (every day alike)"
    default = generate("tiny", days=3, seed=5)
    assert default.requests != ds.requests
    assert default.meta_dict["demand_calendar"].startswith("weekday 1.11/1.02/")
    # A flat calendar needs no date; any other one does.
    counties = load_geography().counties.head(3).assign(weight=1.0)
    with pytest.raises(InputError, match="generate_calls needs epoch_date"):
        generate_calls(counties, 1, 10.0, np.random.default_rng(1))


def test_the_generator_follows_the_calendar_day_by_day():
    """Over a Spring Festival fortnight, each day's count is Poisson around calls_per_day x its multiplier."""
    params = GeneratorParams(start_date="2026-02-12")  # a Thursday; the holiday is days 3-11
    ds = generate("zhejiang", days=14, seed=2, params=params)
    per_day = Counter(r.created_s // 86_400 for r in ds.requests)
    weights = county_demand_weights(load_geography())
    share = weights.loc[weights["adcode"].str.startswith("33"), "weight"].sum() / weights["weight"].sum()
    for d in demand_by_day("2026-02-12", 14):
        mean = params.calls.calls_per_day_national * share * d.multiplier
        assert abs(per_day[d.day] - mean) < 5 * np.sqrt(mean), (d.date, d.reasons)
    assert per_day[5] < 0.5 * per_day[1]  # 初一 against the Friday before the holiday
    assert per_day[12] > 1.5 * per_day[1]  # the backlog's first day


def test_named_examples_and_options():
    """Example surges are found by name (and moved), the CLI's options map to calendars, mistakes name what is valid."""
    assert surge_example("new-model-launch", "2026-09-14").start == "2026-09-14"
    with pytest.raises(InputError, match=r"unknown surge 'recall'; expected one of \['bad-batch-camera', 'new-model-launch'\]"):
        surge_example("recall")
    assert calendar_from_options("flat").is_flat
    cal = calendar_from_options("china", ["bad-batch-camera@2026-04-06"])
    assert cal.surges[0].start == "2026-04-06" and cal.holidays
    with pytest.raises(InputError, match="unknown demand calendar 'lunar'"):
        calendar_from_options("lunar")
    with pytest.raises(InputError, match="a surge of one kind adds calls"):
        Surge("dip", start="2026-03-09", days=3, factor=0.5, level=2)
    with pytest.raises(InputError, match="start '9 March' is not an ISO date"):
        Surge("x", start="9 March", days=3, factor=1.2)
