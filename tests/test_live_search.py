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
