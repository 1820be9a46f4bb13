"""Technician routing for one area: problem types, the engines behind one ``solve``, the exact
timeline and the independent checker.

* ``problem``: the data (technicians, visits, int second/metre matrices, routes, reasons);
* ``precheck``: the visits nobody can serve, found without a solver;
* ``engine``: ``solve(problem, params)``, choosing the OR-Tools or the PyVRP adapter;
* ``ortools`` / ``pyvrp``: the adapters (the only modules that import the solvers);
* ``timeline``: a route's exact times by the checker's semantics (what real time uses);
* ``checker``: an independent check of any route against the problem.
"""

from dispatch.routing.checker import check
from dispatch.routing.engine import pyvrp_can_express, solve
from dispatch.routing.precheck import precheck
from dispatch.routing.problem import (
    ALL_SKILLS,
    BreakRule,
    Route,
    RoutingParams,
    RoutingProblem,
    RoutingResult,
    RoutingTechnician,
    RoutingVisit,
    Stop,
    Unserved,
    qualified,
)
from dispatch.routing.timeline import Timeline, timeline

__all__ = [
    "ALL_SKILLS", "BreakRule", "Route", "RoutingParams", "RoutingProblem", "RoutingResult", "RoutingTechnician",
    "RoutingVisit", "Stop", "Timeline", "Unserved", "check", "precheck", "pyvrp_can_express", "qualified", "solve",
    "timeline",
]
