"""The fast insertion search (bounds before timelines, areas searched together for the winner
alone) chooses what the full search chooses, and what it chooses the checker accepts."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch.live import AreaFinder, LiveArea, offer_key, rank_key
from dispatch.live.calls import Untimed
from dispatch.live.decision import Dispatched, decide
from dispatch.live.insertion import best_offer
from dispatch.model import Mode
from dispatch.network import CentreIndex
from dispatch.routing.checker import check
from dispatch.rules import DEFAULT_RULES
from dispatch.travel import DEFAULT_TRAVEL
from tests.builders import centre, live_area, new_call

H = 3600


def _areas() -> dict[str, LiveArea]:
    """Two areas side by side (technician ids unique across them, as in a roster)."""
    a, b = live_area(n_techs=3), live_area(n_techs=2)
    techs = tuple(replace(k, id=f"U{k.id[1:]}") for k in b.problem.technicians)
    b = LiveArea(replace(b.problem, technicians=techs), {}, b.clock_s, b.travel, b.lon, b.lat)
    return {"A": a, "B": b}


def _call(n: int, a: float, b: float, clock: int, rng: np.random.Generator):
    return new_call(f"C{n}", 120.05 + 0.3 * a, 30.80 + 0.15 * b, clock, level=int(rng.choice([1, 1, 2])),
                    service_min=int(rng.integers(10, 150)), later_h=float(rng.choice([0, 0, 1.5, 3])),
                    priority=int(rng.choice([1, 1, 3])))


def _exhaustive(area: LiveArea, v, policy: str) -> list:
    """Every technician's best insertion with every position timed (no bound skips any)."""
    rank = rank_key(policy)
    candidates, state = area._candidates(v)
    best = {}
    for _, added, tid, pos, late, eta in candidates:
        opt = area._timed(v, state, tid, pos, added)
        if opt is None:
            continue
        # The bound never ranks after what the timeline gives (what makes skipping safe).
        assert rank(Untimed(tid, late, eta, added)) <= rank(opt)
        if tid not in best or (rank(opt), pos) < (rank(best[tid]), best[tid].position):
            best[tid] = opt
    return sorted(best.values(), key=lambda o: (*rank(o), o.technician_id))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["call", "call", "advance"]), st.floats(0, 1), st.floats(0, 1)),
                min_size=3, max_size=14),
       st.integers(0, 2**16))
def test_the_fast_search_chooses_what_the_full_search_chooses_and_the_checker_accepts_it(events, seed):
    """Random calls into two areas: each area's options equal an exhaustive search's; the best
    offer over both areas equals the first of every area's full list; ``decide`` without
    alternatives dispatches as with them; and after the insertion the checker finds nothing new."""
    rng = np.random.default_rng(seed)
    lives = _areas()
    clock, n = 8 * H, 0
    for kind, a, b in events:
        if kind == "advance":
            clock += int(a * 2 * H)
            for area in lives.values():
                area.advance(clock)
            continue
        n += 1
        call = _call(n, a, b, clock, rng)
        policy = DEFAULT_RULES.ranking(call.priority)
        key = offer_key(policy, lambda o: 0 if o.technician_id in {"T2", "U1"} else 1)
        full = []
        for name, area in lives.items():
            with area._probing(call) as v:
                assert area._options_for(v, policy=policy) == _exhaustive(area, v, policy)
            full += [(key(o), name, o) for o in area.urgent_options(call, policy=policy)]
        full.sort(key=lambda x: (x[0], x[2].technician_id))
        fast = best_offer([(name, area, call) for name, area in lives.items()], policy, key)
        assert fast == (full[0] if full else None)

        twin = copy.deepcopy(lives)
        kw = dict(mode=Mode.ONSITE, device_level=call.required_level, may_collect=True)
        slow_d = decide(call, twin, list(twin), clock, DEFAULT_RULES, lambda t, lv: lv == 1, **kw)
        before = {name: set(check(area.checked_problem(), area.result())) for name, area in lives.items()}
        fast_d = decide(call, lives, list(lives), clock, DEFAULT_RULES, lambda t, lv: lv == 1, alternatives=False,
                        **kw)
        assert type(fast_d) is type(slow_d)
        if isinstance(fast_d, Dispatched):
            assert (fast_d.area, fast_d.option, fast_d.visit_mode) == (slow_d.area, slow_d.option, slow_d.visit_mode)
            assert fast_d.alternatives == slow_d.alternatives[:1]
        for name, area in lives.items():
            assert set(check(area.checked_problem(), area.result())) <= before[name]
            assert area.routes == twin[name].routes


def test_the_finder_asked_for_many_points_at_once_gives_what_it_gives_each_alone():
    """``AreaFinder.many`` (a simulated day's calls in one ask) equals asking point by point,
    near and far from the centres, with areas of one and of several centres."""
    rng = np.random.default_rng(5)
    spots = list(zip(rng.uniform(119.5, 121.5, 8).tolist(), rng.uniform(29.5, 31.0, 8).tolist()))
    staffed = CentreIndex(tuple(centre(f"S{i}", lon=x, lat=y) for i, (x, y) in enumerate(spots)))
    finder = AreaFinder(staffed, {f"S{i}": f"A{i // 2}" for i in range(len(spots))}, DEFAULT_TRAVEL,
                        DEFAULT_RULES.max_visit_travel_s, limit=3)
    lon, lat = rng.uniform(117.5, 123.0, 200), rng.uniform(28.5, 32.0, 200)
    alone = [finder(x, y) for x, y in zip(lon.tolist(), lat.tolist())]
    assert finder.many(lon, lat) == alone
    assert {len(a) for a in alone} == {0, 1, 2, 3}  # out of reach, one area, more, as many as allowed


class _Counting:
    """A travel model that counts the asks made of it."""

    def __init__(self, travel):  # type: ignore[no-untyped-def]
        self.travel, self.asks = travel, 0

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.travel, name)

    def legs_classes(self, *args):  # type: ignore[no-untyped-def]
        self.asks += 1
        return self.travel.legs_classes(*args)


def test_legs_priced_in_bulk_for_the_expected_calls_are_the_legs_each_call_would_ask():
    """An area told a day's calls ahead (``expect_calls``) holds, after they are inserted, the
    same travel matrices and routes as one that asks each call's legs when it comes, over several
    hours (rush hour included), an island across the sea and calls at one point; a call it was
    not told of is asked."""
    from dispatch.live.calls import call_depart_s

    rng = np.random.default_rng(3)
    plain, booked = live_area(n_techs=3), live_area(n_techs=3)
    booked.travel = counting = _Counting(booked.travel)
    calls = [_call(i, *rng.uniform(0, 1, 2).tolist(), 8 * H + i * 2700, rng) for i in range(12)]
    calls[4] = replace(calls[4], lon=122.207, lat=30.0)  # Zhoushan: its legs cross the sea
    for i, j in ((9, 2), (10, 3)):  # calls at the point of another: more nodes than points
        calls[i] = replace(calls[i], lon=calls[j].lon, lat=calls[j].lat)
    told = calls[:-1]  # the last call is not told of
    booked.expect_calls([(c.lon, c.lat, call_depart_s(c, booked.problem.technicians)) for c in told])
    asks = counting.asks
    for c in calls:
        plain.advance(c.release_s)
        booked.advance(c.release_s)
        assert plain.insert(c, policy="travel") == booked.insert(c, policy="travel")
    assert counting.asks - asks == 1  # the call it was not told of, and no other
    assert np.array_equal(plain.problem.travel_s, booked.problem.travel_s)
    assert np.array_equal(plain.problem.distance_m, booked.problem.distance_m)
    assert plain.routes == booked.routes
