"""Insertion search and moves on a live area (a part of :class:`dispatch.live.LiveArea`).

A new call, or a visit the area holds, goes to the technician and position that keep every
promise: the visit's window, every other visit's window and the dispatch deadlines they met, the
shift (plus allowed overtime) and the break, timed by the exact timeline
(``dispatch.routing.timeline``). Pure Python over the area's travel matrices, which grow by
doubling as calls arrive. :meth:`Insertion.move` gives a visit to a chosen technician from a
chosen time on, or changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace

import numpy as np

from dispatch.errors import DispatchError
from dispatch.live.calls import (
    InsertionOption,
    JobState,
    NewCall,
    Untimed,
    call_depart_s,
    first_shift_s,
    rank_key,
    visit_of,
)
from dispatch.live.legbook import LegBook
from dispatch.reasons import Reason
from dispatch.routing import (
    RoutingProblem,
    RoutingTechnician,
    RoutingVisit,
    Stop,
    Unserved,
    qualified,
)
from dispatch.routing.timeline import Timeline, earliest_reach, timeline
from dispatch.travel import Travel, legs_per_class

# A position ``_candidates`` found: (preference, added driving as ranked (with the cost of
# leaving home, ``leave_home_s``), technician, position, least lateness, earliest arrival); and
# a technician's route as it stands: [technician, visit ids, visits on time (filled when first
# needed), timeline].
Candidate = tuple[int, int, str, int, int, int]
_Before = list
# A position of a route (``Insertion._positions``): position, node before, node after, free at,
# latest at the node after, the leg replaced, whether a visit follows (else the way home).
_Position = tuple[int, int, int, int, int, int, bool]



class Insertion:
    """The insertion methods of ``LiveArea`` (which holds the attributes they read)."""

    # Declared for the type checker: ``LiveArea`` (a dataclass) holds and sets them.
    problem: RoutingProblem
    routes: dict[str, list[str]]
    clock_s: int
    travel: Travel
    lon: np.ndarray
    lat: np.ndarray
    release_s: dict[str, int]
    reserve_share: float
    count_return: bool
    leave_home_s: int
    frozen: dict[str, Stop]
    unavailable: dict[str, int]
    unassigned: dict[str, Unserved]
    gone: set[str]
    reported: dict[str, tuple[JobState, int]]
    version: int
    _visit: dict[str, RoutingVisit]
    _tech: dict[str, RoutingTechnician]
    _shape: dict[str, tuple[Timeline, RoutingTechnician, list[_Position]]]
    _cap: int
    _first_shift: tuple[tuple[RoutingTechnician, ...] | None, int | None]
    _row: tuple[float, float, int, int] | None  # the key of the legs priced in row and column len(lon)
    _legbook: LegBook | None  # the day's call legs priced in bulk (a simulation), else None
    _time_buf: np.ndarray
    _dist_buf: np.ndarray
    _lon_buf: np.ndarray
    _lat_buf: np.ndarray
    schedule: Callable[..., Timeline]
    _schedule: Callable[[RoutingTechnician, list[str]], Timeline]
    _release: Callable[[RoutingVisit], int]
    _changed: Callable[..., None]

    def _add_visit(self, call: NewCall) -> RoutingVisit:
        if call.id in self._visit:
            raise DispatchError(f"visit id {call.id!r} already exists in this area")
        n = len(self.lon)
        key = self._open_row(call)
        if self._row != key:  # not priced yet (a probe, or prefetch_legs, leaves its row priced)
            self._price_rows([(self, key)])
        lon, lat = self._lon_buf[: n + 1], self._lat_buf[: n + 1]
        v = visit_of(call, n)
        # Views into buffers that grow by doubling: a call costs O(n), not a copy of the tables.
        self.problem = replace(self.problem, travel_s=self._time_buf[:, : n + 1, : n + 1],
                               distance_m=self._dist_buf[: n + 1, : n + 1],
                               visits=self.problem.visits + (v,), node_names=self.problem.node_names + (call.id,))
        self.lon, self.lat = lon, lat
        self._visit[v.id] = v
        self.release_s[v.id] = call.release_s
        self.version += 1  # existing routes are untouched: their timelines stay valid
        return v

    def _open_row(self, call: NewCall) -> tuple[float, float, int, int]:
        """Room for the call as node ``n`` (the next row of the buffers), its point written there;
        the key of its legs: the point, the departure that prices them, and ``n``. The nodes before
        ``n`` never move, so a row priced for the same key holds the same legs."""
        n = len(self.lon)
        self._grow(n + 1)
        self._lon_buf[n], self._lat_buf[n] = call.lon, call.lat
        techs = self.problem.technicians
        if self._first_shift[0] is not techs:  # the area's first shift start, per roster
            self._first_shift = techs, first_shift_s(techs)
        return call.lon, call.lat, call_depart_s(call, (), self._first_shift[1]), n

    @staticmethod
    def _price_rows(rows: list[tuple[Insertion, tuple[float, float, int, int]]]) -> None:
        """Price each (area, key)'s row and column ``n``: the legs between the call and every node,
        both ways (roads need not be symmetric), in one ask per travel model and departure for all
        the areas and classes together (a model pays per ask)."""
        groups: dict[tuple[int, int], list[tuple[Insertion, tuple[float, float, int, int]]]] = {}
        for area, key in rows:
            n = key[3]
            booked = None if area._legbook is None else \
                area._legbook.legs(key[:3], area._lon_buf[: n + 1], area._lat_buf[: n + 1])
            if booked is not None:  # priced in bulk before the day (dispatch.live.legbook)
                t_from, t_to, d_from, d_to = booked
                area._time_buf[:, n, : n + 1], area._time_buf[:, : n + 1, n] = t_from, t_to
                area._dist_buf[n, : n + 1], area._dist_buf[: n + 1, n] = d_from, d_to
                area._row = key
                continue
            groups.setdefault((id(area.travel), key[2]), []).append((area, key))
        for group in groups.values():
            ends: tuple[list[np.ndarray], ...] = ([], [], [], [])  # from (lon, lat), to (lon, lat)
            for area, (_, _, _, n) in group:
                lon, lat = area._lon_buf[: n + 1], area._lat_buf[: n + 1]
                here_lon, here_lat = np.full(n + 1, lon[n]), np.full(n + 1, lat[n])
                for e, x in zip(ends, ((here_lon, lon), (here_lat, lat), (lon, here_lon), (lat, here_lat))):
                    e.extend(x)  # from the call to every node, then from every node to the call
            travel = group[0][0].travel
            lon_a, lat_a, lon_b, lat_b = (np.concatenate(e) for e in ends)
            legs = legs_per_class(travel, lon_a, lat_a, lon_b, lat_b, travel.speed_classes, group[0][1][2])
            at = 0
            for area, key in group:
                n = key[3]
                for c, (tt, dd) in enumerate(legs):
                    tt, dd = tt[at: at + 2 * (n + 1)], dd[at: at + 2 * (n + 1)]
                    area._time_buf[c, n, : n + 1], area._dist_buf[n, : n + 1] = tt[: n + 1], dd[: n + 1]
                    area._time_buf[c, : n + 1, n], area._dist_buf[: n + 1, n] = tt[n + 1:], dd[n + 1:]
                area._row = key
                at += 2 * (n + 1)

    def expect_calls(self, keys: Sequence[tuple[float, float, int]]) -> None:
        """The calls (point, departure second of the day that prices their legs: ``call_depart_s``)
        that will be offered to the area, known ahead (a simulated day): their legs to and from
        every node the area may then hold are priced now, in bulk (``LegBook``); a call or node
        not among them is priced when it comes, as without."""
        self._legbook = LegBook(self.travel, zip(self.lon.tolist(), self.lat.tolist()), keys)

    def _grow(self, size: int) -> None:
        cap = self._cap
        if size <= cap:
            return
        n = len(self.lon)
        new_cap = max(2 * cap, size, 16)
        time_buf = np.zeros((self.problem.travel_s.shape[0], new_cap, new_cap), dtype=np.int64)
        time_buf[:, :n, :n] = self.problem.travel_s
        dist_buf = np.zeros((new_cap, new_cap), dtype=np.int64)
        dist_buf[:n, :n] = self.problem.distance_m
        lon_buf, lat_buf = np.zeros(new_cap), np.zeros(new_cap)
        lon_buf[:n], lat_buf[:n] = self.lon, self.lat
        self._time_buf, self._dist_buf, self._lon_buf, self._lat_buf = time_buf, dist_buf, lon_buf, lat_buf
        self._cap = new_cap
        self._row = None  # the new buffers hold no row beyond the nodes
        self.problem = replace(self.problem, travel_s=time_buf[:, :n, :n], distance_m=dist_buf[:n, :n])
        self.lon, self.lat = lon_buf[:n], lat_buf[:n]

    def _candidates(self, v: RoutingVisit, only: str | None = None,
                    prefer: Callable[[str], int] | None = None) -> tuple[list[Candidate], dict[str, _Before]]:
        """Every position of every technician able to take ``v`` (or only ``only``) that may keep
        its window and the next visit's, with bounds that need no timeline: the least it can be
        late and the earliest arrival (``earliest_reach``), and the added driving (exact). Also
        each technician's route as it stands, for ``_timed``."""
        earliest = max(self._release(v), self.clock_s)
        deadline = v.dispatch_deadline_s
        candidates: list[Candidate] = []
        state: dict[str, _Before] = {}
        # Every leg to and from the visit, per speed class, as Python ints (read once, not per position).
        to_v = self.problem.travel_s[:, :, v.node].tolist()
        from_v = self.problem.travel_s[:, v.node, :].tolist()
        for tid, k in self._tech.items():
            if (only is not None and tid != only) or tid in self.unavailable or not qualified(k, v):
                continue
            if v.pinned_technician is not None and v.pinned_technician != tid:
                continue
            before = self.schedule(tid)
            if not before.feasible and self.routes[tid]:
                continue
            ids = self.routes[tid]
            shape = self._shape.get(tid)
            if shape is None or shape[0] is not before or shape[1] is not k:
                shape = self._shape[tid] = (before, k, self._positions(k, ids, before))
            to, fro = to_v[k.speed_class], from_v[k.speed_class]
            state[tid] = [k, ids, None, before]
            first = 0 if prefer is None else prefer(tid)
            count_return = self.count_return
            leave = 0 if ids else self.leave_home_s  # nobody sets off from home for free (Rules.leave_home_s)
            for pos, prev, nxt, free_s, limit, base_s, inner in shape[2]:
                on = fro[nxt]
                reach = earliest_reach(free_s, earliest, to[prev], v, on, limit)
                if reach is None:
                    continue  # cannot keep its window or the next one's, whatever the break
                # Only the legs around the new visit change (the drive home is not a stop's).
                added = to[prev] + leave
                if inner or count_return:
                    added += on - base_s
                late = 0 if deadline is None else max(0, reach[0] - deadline)
                candidates.append((first, added, tid, pos, late, reach[1]))
        return candidates, state

    def _positions(self, k: RoutingTechnician, ids: list[str], before: Timeline) -> list[_Position]:
        """Where a visit may go in ``k``'s route as ``before`` times it (after his frozen stops):
        (position, the node before, the node after, when he is free there, the latest he may
        be at the node after: its window's end, or home by the shift's end and allowed
        overtime, the leg the visit would replace, and whether a visit follows)."""
        nodes = [k.start_node] + [self._visit[x].node for x in ids]
        tt = self.problem.travel_s[k.speed_class]
        out = []
        for pos in range(sum(1 for x in ids if x in self.frozen), len(ids) + 1):
            prev = nodes[pos]
            if pos < len(ids):  # the next visit's window, or his way home by the shift's end
                nxt, limit = nodes[pos + 1], self._visit[ids[pos]].window_end_s
            else:
                nxt, limit = k.end_node, k.shift_end_s + k.max_overtime_s
            out.append((pos, prev, nxt, before.stops[pos - 1].end_s if pos else k.shift_start_s, limit,
                        int(tt[prev, nxt]), pos < len(ids)))
        return out

    def _timed(self, v: RoutingVisit, state: dict[str, _Before], tid: str, pos: int,
               added: int) -> InsertionOption | None:
        """``v`` at ``pos`` of ``tid``'s route, timed by the exact timeline, or None when it breaks
        a window, the shift, the break or a kept promise, sets off in the past, or eats the
        share of the shift kept for urgent work."""
        k, ids, was_on_time, before = state[tid]
        if was_on_time is None:
            was_on_time = state[tid][2] = {s.visit_id for s in before.stops if s.dispatch_late_s == 0}
        after = self._schedule(k, ids[:pos] + [v.id] + ids[pos:])
        if not after.feasible or any(s.dispatch_late_s > 0 for s in after.stops
                                     if s.visit_id != v.id and s.visit_id in was_on_time):
            return None  # a window, shift or break broken, or a kept promise lost
        st = after.stops[pos]
        if st.departure_toward_s < self.clock_s:
            return None  # cannot set off in the past
        if v.priority == 1 and self.reserve_share > 0:
            busy = sum(s.end_s - s.start_s + s.travel_s for s in after.stops)
            if busy > (1 - self.reserve_share) * (k.shift_end_s - k.shift_start_s):
                return None
        leave = 0 if ids else self.leave_home_s  # ``added`` holds it (see ``_candidates``)
        return InsertionOption(
            tid, pos, st.departure_toward_s, st.arrival_s, st.start_s, st.dispatch_late_s == 0,
            st.dispatch_late_s, added - leave, after.end_s, max(0, after.end_s - k.shift_end_s), leave)

    def _options_for(self, v: RoutingVisit, only: str | None = None, policy: str = "eta",
                     prefer: Callable[[str], int] | None = None, settle_first: bool = False) -> list[InsertionOption]:
        """Each technician's best feasible insertion (or only ``only``'s), ranked by
        :func:`rank_key` (among equal ranks, his earliest position).

        Positions are timed best bound first (``_candidates``, ``Untimed``), and one whose bound
        already ranks after his best timed option is not timed: it could not be chosen.

        With ``settle_first`` (the ``travel`` policy only), insertions are tried in the order of
        (``prefer(technician id)``, added driving), which needs no timeline; once one keeps the
        promise without overtime, no insertion later in that order can rank before it under
        :func:`offer_key`, so the search stops there. The best option is the same as a full
        search's; the list then holds only the technicians tried."""
        if settle_first and policy != "travel":
            raise DispatchError("settle_first needs the 'travel' policy (ranking by added driving)")
        rank = rank_key(policy)
        candidates, state = self._candidates(v, only, prefer)
        bounds = [rank(Untimed(c[2], c[4], c[5], c[1])) for c in candidates]
        order = sorted(range(len(candidates)), key=(lambda i: candidates[i]) if settle_first
                       else (lambda i: (bounds[i], candidates[i][3])))
        best: dict[str, InsertionOption] = {}
        settled: tuple[int, int] | None = None
        for i in order:
            first, added, tid, pos, _, _ = candidates[i]
            if settled is not None and (first, added) > settled:
                break
            got = best.get(tid)
            if got is not None and bounds[i] > rank(got):
                continue  # it ranks after his best, whatever its timeline
            opt = self._timed(v, state, tid, pos, added)
            if opt is None:
                continue
            if got is None or (rank(opt), pos) < (rank(got), got.position):
                best[tid] = opt
            if settle_first and opt.late_s == 0 and opt.overtime_s == 0 and settled is None:
                settled = (first, added)
        out = list(best.values())
        out.sort(key=lambda o: (*rank(o), o.technician_id))
        return out

    def options(self, visit_id: str, policy: str = "eta", prefer: Callable[[str], int] | None = None,
                settle_first: bool = False) -> list[InsertionOption]:
        """Every technician's best insertion of a visit the area already holds, best first (see
        ``_options_for`` for ``prefer`` and ``settle_first``)."""
        return self._options_for(self._visit[visit_id], policy=policy, prefer=prefer, settle_first=settle_first)

    @contextmanager
    def _probing(self, call: NewCall) -> Iterator[RoutingVisit]:
        """The call as a visit of the area while the block runs; afterwards the area as it was."""
        if call.id in self._visit:
            raise DispatchError(f"visit id {call.id!r} already exists in this area")
        saved = (self.problem, self.lon, self.lat, self.version)
        try:
            yield self._add_visit(call)
        finally:
            # The probe's row in the buffers is left priced (``_row``) for an insert that follows.
            self.problem, self.lon, self.lat, self.version = saved
            self._visit.pop(call.id, None)
            self.release_s.pop(call.id, None)

    def urgent_options(self, call: NewCall, policy: str = "eta", settle_first: bool = False) -> list[InsertionOption]:
        """Every technician who can take the call without breaking a promise, ranked by
        ``policy`` (default: best ETA first, those meeting the dispatch deadline before those
        who cannot); ``settle_first`` as in ``_options_for``. Adds nothing."""
        with self._probing(call) as v:
            return self._options_for(v, policy=policy, settle_first=settle_first)

    def insert(self, call: NewCall, option: InsertionOption | None = None,
               policy: str = "eta") -> InsertionOption | Unserved:
        """Add the call and give it to ``option`` (default: the best by ``policy``). When nobody
        can take it, it is kept as unassigned with the reason, and that reason is returned."""
        v = self._add_visit(call)
        return self.place(v.id, option, policy)

    def place(self, visit_id: str, option: InsertionOption | None = None,
              policy: str = "eta") -> InsertionOption | Unserved:
        """Route a visit the area already knows but nobody serves yet."""
        # A chosen technician is re-timed alone (the plan may have moved since he was ranked).
        return self._place(self._visit[visit_id], None if option is None else option.technician_id, policy)

    def insert_with(self, call: NewCall, technician_id: str | None, policy: str) -> InsertionOption | Unserved:
        """Add the call and give it to ``technician_id`` at his best position, or keep it
        unassigned with the reason when he cannot take it or is None (a decision replayed)."""
        v = self._add_visit(call)
        if technician_id is None:
            u = self._why_not(v)
            self.unassigned[v.id] = u
            return u
        return self._place(v, technician_id, policy)

    def _place(self, v: RoutingVisit, only: str | None, policy: str) -> InsertionOption | Unserved:
        self.unassigned.pop(v.id, None)
        options = self._options_for(v, only=only, policy=policy)
        if not options:
            u = self._why_not(v)
            self.unassigned[v.id] = u
            return u
        best = options[0]
        self.routes[best.technician_id].insert(best.position, v.id)
        self._changed(best.technician_id)
        return best

    def repair(self, policy: str = "travel") -> list[str]:
        """Make every route feasible by the exact timeline and the technician's qualification: a
        visit it cannot keep, or its technician may not do, is taken out and placed again
        (elsewhere, or later, or listed unassigned). Returns the visits moved."""
        moved = []
        for tid in list(self.routes):
            k = self._tech[tid]
            # A start from an engine may give a job to someone not able or not allowed to do it.
            unfit = [x for x in self.routes[tid] if x not in self.frozen and not self._may_do(k, self._visit[x])]
            if unfit:
                self.routes[tid] = [x for x in self.routes[tid] if x not in unfit]
                self._changed()
                moved += unfit
            while self.routes[tid] and not self.schedule(tid).feasible:
                bad = self.schedule(tid).bad_visit
                if bad is None or bad in self.frozen:
                    movable = [x for x in self.routes[tid] if x not in self.frozen]
                    if not movable:
                        break
                    bad = movable[-1]
                self.routes[tid].remove(bad)
                self._changed()
                moved.append(bad)
        for vid in moved:
            self.place(vid, policy=policy)
        return moved

    @staticmethod
    def _may_do(k: RoutingTechnician, v: RoutingVisit) -> bool:
        return qualified(k, v) and v.pinned_technician in (None, k.id)

    def _why_not(self, v: RoutingVisit) -> Unserved:
        able = [k for k in self._tech.values() if qualified(k, v) and k.id not in self.unavailable]
        if not able:
            return Unserved(v.id, Reason.NO_SKILL, f"no available technician in the area can do level "
                            f"{v.required_level} ({v.required_skill or 'any product'})")
        # Could anyone do it with an empty day from now on? If not, it is out of reach today,
        # whatever the others' work: too far, or too late, for the window and the shifts.
        alone = [timeline(self.problem, replace(k, break_window=None), [v.id], self._visit,
                          self.release_s, self.clock_s) for k in able]
        if not any(t.feasible for t in alone):
            return Unserved(v.id, Reason.OUT_OF_REACH_TODAY, Reason.OUT_OF_REACH_TODAY.sentence)
        return Unserved(v.id, Reason.CAPACITY, Reason.CAPACITY.sentence)

    def move(self, visit_id: str, tech_id: str, not_before_s: int | None = None) -> InsertionOption | None:
        """Give a visit to ``tech_id`` at his best position, starting no earlier than
        ``not_before_s`` (absolute seconds; None: as early as the customer's window allows).
        Every promise is kept as by any insertion; the visit's own dispatch deadline may be
        missed (the answer says so). None, and nothing changed, when he cannot take it, when the
        chosen start leaves no room in the customer's window, or when the visit is under way,
        done, cancelled or no longer the area's."""
        if visit_id in self.frozen or visit_id in self.gone or visit_id not in self._visit \
                or self.reported.get(visit_id, (None,))[0] == JobState.CANCELLED:
            return None
        was = self._visit[visit_id]
        wanted = was if not_before_s is None or not_before_s <= was.window_start_s \
            else replace(was, window_start_s=int(not_before_s))
        if wanted.window_start_s >= wanted.window_end_s:
            return None
        holder = next((k for k, ids in self.routes.items() if visit_id in ids), None)
        kept = (list(self.routes[holder]) if holder else None, self.unassigned.get(visit_id))
        if holder is not None:
            self.routes[holder].remove(visit_id)
            self._changed(holder)
        self.unassigned.pop(visit_id, None)
        self._set_visit(wanted)
        options = self._options_for(wanted, only=tech_id)
        if not options:  # back as it was: his route, or the unassigned list, and the window
            self._set_visit(was)
            if holder is not None and kept[0] is not None:
                self.routes[holder] = kept[0]
                self._changed(holder)
            if kept[1] is not None:
                self.unassigned[visit_id] = kept[1]
            return None
        best = options[0]
        self.routes[tech_id].insert(best.position, visit_id)
        self._changed(tech_id)
        return best

    def _set_visit(self, v: RoutingVisit) -> None:
        """Replace a visit the area holds by ``v`` (same id and node): its window or work changed."""
        self.problem = replace(self.problem, visits=tuple(v if x.id == v.id else x for x in self.problem.visits))
        self._visit[v.id] = v
        self._changed()


def prefetch_legs(call: NewCall, areas: Sequence[Insertion]) -> None:
    """Price ``call``'s legs in each of ``areas`` that does not hold it yet, in one ask for all
    of them (``Insertion._price_rows``): the areas a call is offered to are all searched, and a
    model's ask costs far more than its legs. The areas' plans do not change."""
    rows = []
    for area in areas:
        if call.id in area._visit:
            continue
        key = area._open_row(call)
        if area._row != key:
            rows.append((area, key))
    if rows:
        Insertion._price_rows(rows)


def best_offer(calls: Sequence[tuple[str, Insertion, NewCall]], policy: str,
               key: Callable[[InsertionOption | Untimed], tuple],
               allow: Callable[[str], bool] | None = None) -> tuple[tuple, str, InsertionOption] | None:
    """The best (key, area, option) over every technician of the areas, each offered its call
    (area name, area, call), by ``key`` (an :func:`offer_key`), then the technician id, then
    his earliest position: the first of what ``urgent_options`` of every area, ranked by ``key``,
    would list, without timing insertions that cannot be it. Every position's bound
    (``Untimed``) is ranked; they are timed best bound first, until the next bound ranks after
    the best found. ``allow``: whether a technician may be given it. Adds nothing."""
    with ExitStack() as stack:
        found = []
        for name, area, call in calls:
            v = stack.enter_context(area._probing(call))
            candidates, state = area._candidates(v)
            found += [(key(Untimed(c[2], c[4], c[5], c[1])), c[2], c[3], c[1], name, area, v, state)
                      for c in candidates if allow is None or allow(c[2])]
        found.sort(key=lambda f: f[:3])
        best: tuple[tuple, str, int, str, InsertionOption] | None = None
        for bound, tid, pos, added, name, area, v, state in found:
            if best is not None and (bound, tid) > best[:2]:
                break  # this bound and every later one rank after the best
            opt = area._timed(v, state, tid, pos, added)
            if opt is not None and (best is None or (key(opt), tid, pos) < best[:3]):
                best = (key(opt), tid, pos, name, opt)
    return None if best is None else (best[0], best[3], best[4])
