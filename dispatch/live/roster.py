"""The live network of a day: the roster as the routing engine sees it, one empty live area per
routing area, the nearest areas for a call, and whose own centre repairs what.

The simulation and the call-intake service start each day from :meth:`LiveNetwork.start_day`;
the day plan builds the same technicians and finder for its areas.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from dispatch.live.area import LiveArea
from dispatch.live.calls import NewCall, visit_of
from dispatch.live.decision import RepairsAtHome
from dispatch.live.finder import AreaFinder
from dispatch.model import DAY_S, Technician
from dispatch.network import CentreIndex, Network, area_of_centre
from dispatch.routing import ALL_SKILLS, BreakRule, RoutingProblem, RoutingTechnician
from dispatch.rules import Rules
from dispatch.staffing import on_duty
from dispatch.travel import Travel


def matrix_depart_s(techs: Sequence[Technician]) -> int | None:
    """The departure (seconds of the day) at which an area's day matrices are priced: the first
    shift start among its technicians (None: nobody at work, the model's off-peak default).

    A routing problem holds one matrix per speed class, and OR-Tools has no time-dependent
    transit, so the whole day's legs of an area share one departure hour. The morning batch is
    where most of the day's calls are routed and it sets off at the first shift start, so that
    hour prices the matrix: in a big city whose shifts start in the morning peak, the plan's legs
    take the rush-hour time (pessimistic for the off-peak legs later in the day: promises err on
    the safe side). Legs to a call inserted later are priced at its own time
    (``LiveArea._add_visit``)."""
    return min((t.shift.start_s for t in techs), default=None)


def routing_technicians(
    techs: Sequence[Technician], node_of: dict[str, int], day: int, classes: tuple[str, ...],
    max_overtime_s: int = 0, overtime_left_s: Callable[[str], int] | None = None,
) -> list[RoutingTechnician]:
    """The technicians as the routing engine sees them on ``day`` (absolute times), each allowed
    up to ``max_overtime_s`` past his shift end (paid overtime, counted in the KPIs), and no more
    than ``overtime_left_s(technician id)`` when given: what the month's cap still leaves him
    (``dispatch.staffing.OvertimeLedger``, Labour Law art. 41)."""
    base = day * DAY_S
    out = []
    for t in techs:
        br = None
        if t.break_window is not None and t.break_s > 0:
            br = BreakRule(base + t.break_window.start_s, base + t.break_window.end_s, t.break_s)
        out.append(RoutingTechnician(
            id=t.id, start_node=node_of[t.home_centre_id], end_node=node_of[t.home_centre_id],
            shift_start_s=base + t.shift.start_s, shift_end_s=base + t.shift.end_s,
            max_level=t.max_level, skills=t.product_lines or frozenset({ALL_SKILLS}), break_window=br,
            speed_class=classes.index(t.speed_class),
            max_overtime_s=max_overtime_s if overtime_left_s is None else min(max_overtime_s, overtime_left_s(t.id)),
        ))
    return out


class LiveNetwork:
    """A network and roster under one rule book, ready to go live day by day."""

    def __init__(self, network: Network, technicians: Sequence[Technician], rules: Rules,
                 travel: Travel, epoch_date: str | None = None) -> None:
        """``epoch_date`` (the dataset's, ISO) places each day in the week, for the rest days;
        without it nobody rests. Only field staff go out: bench and counter staff stay at their
        centres (``dispatch.staffing``)."""
        self.network, self.rules, self.travel = network, rules, travel
        self.epoch_date = epoch_date
        self.area_of = area_of_centre(network)  # centre id -> routing area
        self.staff: dict[str, list[Technician]] = defaultdict(list)
        for t in on_duty(technicians, None, 0):  # the field staff, whatever the day
            self.staff[t.home_centre_id].append(t)
        self.repairs_at_home = RepairsAtHome(network, technicians)
        staffed = tuple(c for c in network if self.staff.get(c.id))
        self.find_areas = AreaFinder(CentreIndex(staffed) if staffed else None, self.area_of, travel,
                                     rules.max_visit_travel_s, rules.candidate_areas)

    def start_day(self, day: int, overtime_left_s: Callable[[str], int] | None = None,
                  routes: Mapping[str, Sequence[NewCall]] | None = None) -> dict[str, LiveArea]:
        """One live area per routing area with field staff, its clock at ``day``'s midnight; its
        technicians are those at work on ``day`` (not on their rest weekday), each allowed the
        rule book's daily overtime, or what ``overtime_left_s`` leaves him of it. Empty, or with
        ``routes`` (technician id -> his calls in order: a day plan's morning routes) as its
        first plan; a visit the area cannot keep is placed again or listed unassigned."""
        routes = routes or {}
        by_area: dict[str, list[Technician]] = defaultdict(list)
        for cid, techs in self.staff.items():
            by_area[self.area_of[cid]].extend(techs)
        areas = {}
        for key, staff in sorted(by_area.items()):
            # The area's centres whoever rests, so that the finder's areas all exist (an area whose
            # staff all rest today is there, with nobody to send).
            centre_ids = sorted({t.home_centre_id for t in staff})
            techs = on_duty(staff, self.epoch_date, day)
            calls = [c for t in techs for c in routes.get(t.id, ())]
            node_of = {c: i for i, c in enumerate(centre_ids)}
            lon = np.array([self.network[c].lon for c in centre_ids] + [c.lon for c in calls])
            lat = np.array([self.network[c].lat for c in centre_ids] + [c.lat for c in calls])
            tt, dd = self.travel.matrices(lon, lat, depart_s=matrix_depart_s(techs))
            techs_day = routing_technicians(techs, node_of, day, self.travel.speed_classes, self.rules.max_overtime_s,
                                            overtime_left_s)
            visits = tuple(visit_of(c, len(centre_ids) + i) for i, c in enumerate(calls))
            problem = RoutingProblem(tt, dd, tuple(techs_day), visits, tuple(centre_ids) + tuple(c.id for c in calls))
            areas[key] = area = LiveArea(problem, {t.id: [c.id for c in routes.get(t.id, ())] for t in techs},
                                         day * DAY_S, self.travel, lon, lat, {c.id: c.release_s for c in calls},
                                         leave_home_s=self.rules.leave_home_s)
            if calls:
                area.repair("travel")
        return areas
