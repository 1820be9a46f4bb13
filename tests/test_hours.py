"""The business-hours calendar (dispatch.hours), hand-worked on the three-tier chain's hours:
S1 Deqing station is open 09:00-18:00, C1 Huzhou 09:00-19:00, P1 Hangzhou 09:00-21:00.

Times are seconds since the epoch's midnight; ``h(33)`` is 09:00 on the next day."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dispatch.errors import DispatchError
from dispatch.hours import business_deadline, business_seconds, dispatch_clock_start, opening_start
from dispatch.model import Mode, TimeWindow
from tests.builders import centre, req


def h(hours: float) -> int:
    return int(hours * 3600)


# ---- opening_start ----------------------------------------------------------------------------

@pytest.mark.parametrize("at_h, expected_h", [
    (8, 9),  # before hours: that day's opening
    (9, 9),  # the opening instant is open
    (10.25, 10.25),  # inside hours: at once
    (17.99, 17.99),
    (18, 33),  # the closing instant is closed: the next day's opening
    (19.5, 33),  # after hours: the next day's opening
    (24 + 24 + 7, 24 + 24 + 9),  # before hours on a later day: that day's opening
])
def test_opening_start_is_the_first_open_moment_at_or_after_the_time(network, at_h, expected_h):
    """The first open moment of S1 (09-18): the time itself inside hours, 09:00 before them, 09:00 next day from 18:00."""
    assert opening_start(network["S1"], h(at_h)) == h(expected_h)


def test_opening_start_follows_each_centres_own_hours(network):
    """At 19:30 S1 and C1 have closed (next opening 09:00 tomorrow) while P1 is open until 21:00."""
    at = h(19.5)
    assert [opening_start(network[c], at) for c in ("S1", "C1", "P1")] == [h(33), h(33), h(19.5)]


# ---- dispatch_clock_start ---------------------------------------------------------------------

def test_the_clock_of_a_call_inside_opening_hours_starts_at_the_call(network, calls):
    """An on-site call at 10:00 at S1 (open) starts its one-hour clock at 10:00."""
    assert dispatch_clock_start(network["S1"], calls["onsite"]) == h(10)


def test_the_clock_of_an_evening_call_starts_at_the_next_opening(network, calls):
    """A pickup at 19:30 starts its clock at 09:00 next day at S1 (closed at 18:00), at once at P1 (open to 21:00)."""
    evening = calls["after_hours"]
    assert evening.created_s == h(19.5)
    assert dispatch_clock_start(network["S1"], evening) == h(33)
    assert dispatch_clock_start(network["P1"], evening) == h(19.5)


def test_the_clock_waits_for_the_customers_window_but_a_walkin_does_not(network):
    """A call whose customer is free only tomorrow at 10:00 starts its clock then; a walk-in starts at the opening."""
    later = TimeWindow(h(34), h(38))
    booked = replace(req("B", 1, Mode.PICKUP, created_h=17), window=later)
    assert dispatch_clock_start(network["S1"], booked) == h(34)
    walkin = replace(req("W", 1, Mode.WALKIN, created_h=8), window=later)
    assert dispatch_clock_start(network["S1"], walkin) == h(9)
    onsite = replace(req("O", 1, Mode.ONSITE, created_h=8), window=later)
    assert dispatch_clock_start(network["S1"], onsite) == h(34)



def test_every_clock_starts_at_an_open_moment_no_earlier_than_the_call(dataset):
    """Whatever the call, its clock starts no earlier than the call and at a moment its station is open."""
    s1 = dataset.network["S1"]
    for r in dataset.requests:
        start = dispatch_clock_start(s1, r)
        assert start >= r.created_s and opening_start(s1, start) == start, r.id


# ---- business_deadline ------------------------------------------------------------------------

@pytest.mark.parametrize("start_h, seconds, expected_h", [
    (10, 3600, 11),  # inside hours: plain addition
    (17, 3600, 18),  # ends exactly at closing: still today
    (17.5, 3600, 33.5),  # 30 min today, 30 min after the next opening
    (20, 3600, 34),  # after hours: counted from the next opening
    (19.5, 0, 33),  # nothing to count: the next open moment
    (9, 10 * 3600, 34),  # 9 h today, the 10th hour tomorrow
    (17.5, 20 * 3600, 3 * 24 + 10.5),  # 0.5 h + 9 h + 9 h over two nights, 1.5 h on the third day
])
def test_business_deadline_counts_only_opening_hours(network, start_h, seconds, expected_h):
    """A deadline counts only S1's opening hours: an hour from 17:30 is due at 09:30 next morning."""
    assert business_deadline(network["S1"], h(start_h), seconds) == h(expected_h)


def test_business_deadline_across_a_closing_depends_on_the_centre(network):
    """An hour from 17:30 is 09:30 next morning at S1 (closes 18:00) and 18:30 at C1 (closes 19:00)."""
    assert business_deadline(network["S1"], h(17.5), 3600) == h(33.5)
    assert business_deadline(network["C1"], h(17.5), 3600) == h(18.5)


def test_a_centre_never_open_has_no_deadline_and_says_which_centre():
    """A centre with an empty opening window (09:00-09:00) gives a DispatchError naming it, not an endless loop."""
    closed = centre("S9", open_h=9, close_h=9)
    with pytest.raises(DispatchError, match="centre S9 has no opening hours"):
        business_deadline(closed, h(10), 3600)


# ---- business_seconds -------------------------------------------------------------------------

@pytest.mark.parametrize("start_h, end_h, expected_s", [
    (10, 11.5, 5400),  # inside one day's hours
    (8, 10, 3600),  # the hour before opening does not count
    (17, 34, 7200),  # over a night: 17:00-18:00 and 09:00-10:00
    (19, 32, 0),  # 19:00 to 08:00 next morning: all of it closed
    (17, 24 + 24 + 10, 11 * 3600),  # over two nights: 1 h + 9 h + 1 h
    (11, 10, 0),  # an end before the start counts nothing
])
def test_business_seconds_count_the_opening_hours_between_two_moments(network, start_h, end_h, expected_s):
    """Only S1's opening hours count between two moments: 17:00 to 10:00 next morning is two hours, not seventeen."""
    assert business_seconds(network["S1"], h(start_h), h(end_h)) == expected_s


@pytest.mark.parametrize("start_h", [8, 10, 17.5, 19.5, 23])
@pytest.mark.parametrize("seconds", [0, 600, 3600, 9 * 3600, 20 * 3600])
def test_business_seconds_up_to_the_deadline_are_the_seconds_counted(network, start_h, seconds):
    """From any start, business_seconds up to business_deadline(start, n) is n: the promise and the KPI agree."""
    s1 = network["S1"]
    assert business_seconds(s1, h(start_h), business_deadline(s1, h(start_h), seconds)) == seconds
