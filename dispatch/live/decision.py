"""The one decision for a call: who goes, from which area, and how it is served.

The day plan (every call after the morning batch), the simulation, the call-intake service and
the dashboard's board all place a call with :func:`decide`; none has a copy. Given the live
areas near the call, it:

1. moves each area it searches to ``now_s`` (work begun by then is frozen); with the waiting
   strategy (``Rules.replan_hold_s``) a call that is not urgent is planned to be set off toward
   no sooner than the hold (``Rules.hold_until_s``), so the day's re-optimisation may still move it;
2. ranks every technician's best insertion by :func:`~dispatch.live.calls.offer_key`: the
   promise kept first, then (for a device bound for a bench) a technician whose own centre can
   repair it (the device skips the courier), then the call's ranking (an urgent call by the
   earliest arrival, others by overtime and the least added driving; ``Rules.ranking``). With a
   ``home`` area that already holds the call (the day plan), that area is searched first and the
   neighbours only when its best option (by the call's ranking) misses the promise or asks
   overtime; ties go to the home
   area, then to the technician id;
3. when nobody able to repair it on site can set off within the hour and the call may be
   collected (rule 7, ``Rules.may_collect``), the best technician (by the same ranking) who can
   set off within the hour collects the device for the bench instead;
4. inserts the call with the winner, or keeps it unassigned with the reason.

It returns a typed :data:`Decision`: :class:`Dispatched` (with whom, when, on site or collected)
or :class:`NotServed` (the reason code and its sentence).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from dispatch.live.area import LiveArea
from dispatch.live.calls import InsertionOption, NewCall, collection, offer_key
from dispatch.live.insertion import best_offer, prefetch_legs
from dispatch.model import Mode, Technician
from dispatch.network import Network
from dispatch.reasons import Reason
from dispatch.routing import Unserved
from dispatch.rules import Rules


class Offer(NamedTuple):
    """A technician's best insertion in an area (a named pair: one is made per technician weighed)."""

    area: str
    option: InsertionOption


@dataclass(frozen=True)
class Dispatched:
    area: str
    option: InsertionOption  # as placed: the technician, his set-off and arrival
    visit_mode: Mode  # onsite or pickup; an on-site call collected for the bench is a pickup
    call: NewCall  # the call as inserted (a collection has level 1 and the hand-over's time)
    alternatives: tuple[Offer, ...] = ()  # the on-site offers considered, best first

    @property
    def technician_id(self) -> str:
        return self.option.technician_id

    @property
    def on_time(self) -> bool:
        return self.option.late_s == 0


@dataclass(frozen=True)
class NotServed:
    reason: Reason
    sentence: str
    area: str | None = None  # the area that lists it as unassigned (None: no area holds it)
    alternatives: tuple[Offer, ...] = ()
    call: NewCall | None = None  # the call as the area holds it (a collection that found no room)


Decision = Dispatched | NotServed


class RepairsAtHome:
    """Whether a technician's own centre can repair a device of a level (it then skips the courier)."""

    def __init__(self, network: Network, technicians: Sequence[Technician]) -> None:
        self._centre = {t.id: network[t.home_centre_id] for t in technicians}

    def __call__(self, technician_id: str, level: int) -> bool:
        return self._centre[technician_id].can_repair(level)


def decide(
    call: NewCall, lives: Mapping[str, LiveArea], candidates: Sequence[str] | Callable[[], Sequence[str]],
    now_s: int, rules: Rules,
    repairs_at_home: Callable[[str, int], bool], *, mode: Mode, device_level: int, may_collect: bool,
    home: str | None = None, hold_unserved: bool = False,
    allow: Callable[[str], bool] | None = None, probe: bool = False, has_part: Callable[[str], bool] | None = None,
    alternatives: bool = True,
) -> Decision:
    """Place ``call`` with the best technician of ``home`` and the ``candidates`` areas (nearest
    first; a callable is asked only when the areas beyond ``home`` are searched) and apply it to
    ``lives``.

    ``mode`` is how the call is to be served (onsite, or pickup: the device goes to a bench) and
    ``device_level`` the repair it needs; ``may_collect`` whether rule 7 may turn the call into a
    collection (the caller knows whether a bench of its chain can repair it). ``home``: the area that already holds the call
    as a visit (the day plan). ``hold_unserved``: a call nobody takes is kept, unassigned with
    its reason, in the first area searched (the service lists it); otherwise no area holds it
    (the simulation offers the customer another day).

    ``allow``: whether a technician may be given the call at all (a contracted station that
    refused it, is full or is not authorised; ``dispatch.contracts``). ``probe``: rank and
    return the winner without placing the call anywhere (an offer the station must accept first).
    ``has_part``: whether a technician has the call's spare part on his van or at his centre
    (``dispatch.parts``): among offers that keep the promise, those come first.
    ``alternatives``: False when only the winner matters (the simulation, with no contracted
    station to offer the next best to): without ``home``, the areas are searched together for
    the best offer alone (``best_offer``), the same winner, and the decision lists no other."""
    policy = rules.ranking(call.priority)
    to_bench = mode == Mode.PICKUP

    preferred: dict[tuple[str, bool], int] = {}  # nothing it reads changes while the call is decided

    def prefer(technician_id: str, bench: bool) -> int:
        got = preferred.get((technician_id, bench))
        if got is None:
            part = 0 if has_part is None or has_part(technician_id) else 2
            got = preferred[technician_id, bench] = part + (
                0 if not bench or repairs_at_home(technician_id, device_level) else 1)
        return got

    rank = offer_key(policy, lambda o: prefer(o.technician_id, to_bench))
    held = home is not None and lives[home].holds(call.id)
    hold = rules.hold_until_s(call.priority, call.release_s, call.dispatch_deadline_s)
    if hold != call.release_s and not probe:
        # The waiting strategy (Rules.replan_hold_s): planned to set off no sooner than the hold,
        # so the call stays movable for the re-optimisation a while; the promise is unchanged.
        call = replace(call, release_s=hold)
        if held:
            lives[home].hold(call.id, hold)  # type: ignore[index]
    offers: list[tuple[tuple, str, InsertionOption]] = []
    searched: list[str] = []

    def search(name: str) -> None:
        live = lives[name]
        live.advance(max(live.clock_s, now_s))
        searched.append(name)
        if name == home and held:
            # Only the best home option matters here (and whether it settles the call), so the
            # search may stop at the first insertion that keeps the promise without overtime.
            found = live.options(call.id, policy, lambda t: prefer(t, to_bench),
                                 settle_first=policy == "travel" and allow is None)
        else:
            found = live.urgent_options(call, policy=policy)
        offers.extend((rank(o), name, o) for o in found if allow is None or allow(o.technician_id))

    settled = False
    best_only = home is None and not alternatives
    if home is None and not callable(candidates):  # every one is searched: their legs in one ask
        prefetch_legs(call, [lives[name] for name in candidates])
    if best_only:
        for name in candidates() if callable(candidates) else candidates:
            lives[name].advance(max(lives[name].clock_s, now_s))
            searched.append(name)
        best = best_offer([(name, lives[name], call) for name in searched], policy, rank, allow)
        offers.extend([] if best is None else [best])
    if home is not None:
        search(home)
        # The home area's best by the call's ranking keeps the promise without overtime: no
        # neighbour is asked (an urgent call's earliest arrival asking overtime is not settled).
        settled = bool(offers) and offers[0][2].late_s == 0 and offers[0][2].overtime_s == 0
    if not settled and not best_only and (home is None or call.pinned_technician is None):
        for name in candidates() if callable(candidates) else candidates:
            if name != home:
                search(name)
    offers.sort(key=lambda x: (x[0], x[1] != home, x[2].technician_id))
    alternatives = tuple(Offer(a, o) for _, a, o in offers)
    on_time = bool(offers) and offers[0][2].late_s == 0

    if not on_time and may_collect and call.pinned_technician is None:
        collect = collection(call, rules.collect_service_s)
        collected = [c for c in collect_offers(collect, [(a, lives[a]) for a in searched], policy,
                                               offer_key(policy, lambda o: prefer(o.technician_id, True)),
                                               best_only, allow)
                     if allow is None or allow(c[2].technician_id)]
        if collected:
            _, area, option = collected[0]
            if probe:
                return Dispatched(area, option, Mode.PICKUP, collect, alternatives)
            if held and area == home:
                lives[area].collect_instead(call.id, rules.collect_service_s)
                got = lives[area].place(call.id, option, policy=policy)
            else:
                if held:
                    lives[home].hand_over(call.id)  # type: ignore[index]
                got = lives[area].insert(collect, option, policy=policy)
            return _outcome(got, area, Mode.PICKUP, collect, alternatives)

    if offers:
        _, area, option = offers[0]
        if probe:
            return Dispatched(area, option, mode, call, alternatives)
        if held and area != home:
            lives[home].hand_over(call.id)  # type: ignore[index]
            got = lives[area].insert(call, option, policy=policy)
        elif held:
            got = lives[area].place(call.id, option, policy=policy)
        else:
            got = lives[area].insert(call, option, policy=policy)
        return _outcome(got, area, mode, call, alternatives)
    if held and not probe:
        if allow is not None:  # nobody allowed can take it: it waits, unassigned (place would ask anyone)
            lives[home].unassigned[call.id] = Unserved(call.id, Reason.CAPACITY, Reason.CAPACITY.sentence)  # type: ignore[index]
            return NotServed(Reason.CAPACITY, Reason.CAPACITY.sentence, home, alternatives, call)
        return _outcome(lives[home].place(call.id, None, policy=policy), home, mode, call, alternatives)  # type: ignore[index,arg-type]
    if not searched:
        return NotServed(Reason.NO_TECHNICIAN_IN_REACH, Reason.NO_TECHNICIAN_IN_REACH.sentence)
    if hold_unserved and not probe:
        got = lives[searched[0]].insert_with(call, None, policy)
        return _outcome(got, searched[0], mode, call, alternatives)
    return NotServed(Reason.CAPACITY, Reason.CAPACITY.sentence, None, alternatives)


def _outcome(got: InsertionOption | Unserved, area: str, mode: Mode, call: NewCall,
             alternatives: tuple[Offer, ...]) -> Decision:
    if isinstance(got, InsertionOption):
        return Dispatched(area, got, mode, call, alternatives)
    return NotServed(Reason(got.reason_code), got.reason, area, alternatives, call)


def collect_offers(call: NewCall, areas: Sequence[tuple[str, LiveArea]], policy: str,
                   rank: Callable[[InsertionOption], tuple], best_only: bool = False,
                   allow: Callable[[str], bool] | None = None) -> list[tuple[tuple, str, InsertionOption]]:
    """(rank, area, option) of every technician in ``areas`` who can set off within the hour
    toward ``call`` (a :func:`~dispatch.live.calls.collection`), best first, or with
    ``best_only`` only the first of those ``allow``ed; adds nothing. An area that already holds
    the call (as an on-site visit) is probed under another id."""
    probes = [(name, live, replace(call, id=f"{call.id}#collect") if live.holds(call.id) else call)
              for name, live in areas]
    if best_only:
        # The best by rank is on time if any offer is (rank puts lateness first).
        best = best_offer(probes, policy, rank, allow)
        return [best] if best is not None and best[2].late_s == 0 else []
    offers = []
    for name, live, probe in probes:
        offers += [(rank(o), name, o) for o in live.urgent_options(probe, policy=policy) if o.late_s == 0]
    return sorted(offers, key=lambda x: (x[0], x[2].technician_id))
