"""The OR-Tools adapter: the ONLY module that imports OR-Tools routing.

Input is a :class:`RoutingProblem` for one area (technicians with home node, shift, break, skills,
speed class; visits with node, service, time window, level/skill, priority, dispatch deadline; int
second/metre matrices). Output is a :class:`RoutingResult`: routes as plain data and every visit
that is not served with a reason. Solver indices never leave this module.

Model (all integer seconds / metres):

* one solver node per distinct depot node and one per visit; each technician starts and ends at
  his own node (multiple depots);
* dimension ``time``: cumul = start of service; transit(i, j) = service(i) + travel(i, j) of the
  technician's speed class (one ``RegisterTransitMatrix`` per speed class); slack = waiting and
  break; hard windows on the start of service; start in the shift; end at the latest at
  ``shift_end + max_overtime_s`` with a soft bound at ``shift_end`` (overtime cost);
* one break per technician as an OR-Tools break interval (``SetBreakIntervalsOfVehicle``) whose
  start lies in [earliest, latest]; it never overlaps a service;
* skills and levels: ``VehicleVar(index).SetValues([-1, *allowed])``;
* every visit is optional (``AddDisjunction``) with a penalty by priority, so a plan always
  comes back;
* the dispatch deadline bounds the DEPARTURE toward a visit, i.e. the end of service at the
  previous node (the technician leaves as soon as he is done and waits, if he must, on arrival;
  never before the visit's ``release_s``). That time depends on the predecessor, which no single
  dimension can express; dimension ``departure`` carries it: transit(i, j) = service(i) and, per
  node, ``D(i) + slack_D(i) == T(i)``, so ``D(j) = T(i) + service(i)`` exactly for the
  predecessor i of j. The deadline is a hard upper bound on ``D(j)``. In "soft" mode (default) a
  visit has two alternative solver nodes in one disjunction: "on time" with that bound, and
  "late" without it but with a fixed penalty on every arc into it. (A per-second soft bound on
  ``D`` was tried first: its cost is invisible to OR-Tools' local-search filters because it
  depends on the cross-dimension link, and the search stalled, ~1000x slower, on 12 visits.)

Objective, lexicographic in spirit (see :class:`RoutingParams` for the numbers): a dropped visit
costs ``drop_penalty_unit * priority_weight`` (1e8 per normal visit, x10 high, x100 urgent), far
above anything a route can cost in a day (a day of driving is < 1e5 s); a visit set off toward
after its deadline costs ``dispatch_late_penalty`` = 1e5 (28 h of driving: the solver drives a
lot further before breaking the one-hour promise, but never drops a visit to keep it; the count
of late dispatches is what the one-hour KPI measures); a second of travel costs 1 and a second of
overtime ``overtime_cost_per_s`` = 2.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from dispatch.errors import DispatchError
from dispatch.reasons import DROPPED_FOR_PRIORITY, Reason
from dispatch.routing.precheck import precheck, reachable_alone
from dispatch.routing.problem import (
    Route,
    RoutingParams,
    RoutingProblem,
    RoutingResult,
    RoutingVisit,
    Stop,
    Unserved,
)
from dispatch.routing.timeline import timeline


def solve_ortools(problem: RoutingProblem, params: RoutingParams) -> RoutingResult:
    t0 = time.perf_counter()
    eligible, unserved = precheck(problem, params)
    model = _OrToolsModel(problem, params, eligible)
    solution, status = model.solve()
    stats: dict[str, Any] = {"build_s": model.build_s, "first_solution": params.first_solution,
                             "metaheuristic": params.metaheuristic}
    if solution is None:
        # Every visit is optional, so this only happens when pins contradict each other.
        for vid in eligible:
            unserved.append(Unserved(vid, Reason.PIN_INFEASIBLE, "the solver found no plan that keeps all pins; "
                                                          "check pinned starts and sequences"))
        stats["wall_s"] = time.perf_counter() - t0
        return RoutingResult((), tuple(unserved), "no_solution", 0, "ortools", stats)
    routes, dropped = model.read(solution)
    objective = int(solution.ObjectiveValue())
    if params.route_elimination > 0 and len(routes) > 1:
        routes, dropped, objective = model.eliminate_routes(solution, routes, dropped, objective)
    for vid in dropped:
        unserved.append(Unserved(vid, Reason.CAPACITY, DROPPED_FOR_PRIORITY))
    stats["wall_s"] = time.perf_counter() - t0
    stats.update(model.stats)
    return RoutingResult(tuple(routes), tuple(unserved), status, objective, "ortools", stats)


class _OrToolsModel:
    """Builds the OR-Tools model and translates its solution back into plain data."""

    def __init__(self, problem: RoutingProblem, params: RoutingParams, eligible: dict[str, list[int]]):
        from ortools.constraint_solver import pywrapcp

        t0 = time.perf_counter()
        self.pywrapcp = pywrapcp
        self.problem, self.params = problem, params
        self.stats: dict[str, Any] = {}
        techs = problem.technicians
        self.visits = [v for v in problem.visits if v.id in eligible]
        # Solver nodes: the distinct depot nodes first, then one to two per visit. A visit with a
        # soft dispatch deadline gets two alternative copies in one disjunction: "on time" (hard
        # deadline on the departure) and "late" (no deadline, a fixed penalty on entering it).
        # Each copy's cost is then exact for the local-search filters, which a per-second soft
        # bound on the departure cannot be (its value depends on the predecessor).
        copies: list[tuple[RoutingVisit, str]] = []
        for v in self.visits:
            copies += [(v, kind) for kind in self._kinds(problem, v, eligible[v.id])]
        self.copies = copies
        depot_nodes = sorted({k.start_node for k in techs} | {k.end_node for k in techs})
        depot_pos = {n: i for i, n in enumerate(depot_nodes)}
        self.pnode = np.array(depot_nodes + [v.node for v, _ in copies], dtype=np.int64)
        n_solver = len(self.pnode)
        self.service = np.array([0] * len(depot_nodes) + [v.service_s for v, _ in copies], dtype=np.int64)
        late_extra = np.array([0] * len(depot_nodes) + [params.dispatch_late_penalty if kind == "late" else 0
                                                       for _, kind in copies], dtype=np.int64)
        n_veh = len(techs)
        self.manager = pywrapcp.RoutingIndexManager(
            n_solver, n_veh, [depot_pos[k.start_node] for k in techs], [depot_pos[k.end_node] for k in techs])
        m = self.manager
        self.routing = routing = pywrapcp.RoutingModel(m)
        solver = routing.solver()
        self.copy_index = [m.NodeToIndex(len(depot_nodes) + j) for j in range(len(copies))]
        self.indices: dict[str, list[int]] = {}
        for (v, _), idx in zip(copies, self.copy_index):
            self.indices.setdefault(v.id, []).append(idx)
        # The copy a warm start uses: the last one (late, when there is one) never breaks a deadline.
        self.visit_index = {vid: idxs[-1] for vid, idxs in self.indices.items()}
        self.visit_of_index = {idx: v for (v, _), idx in zip(copies, self.copy_index)}
        self.kind_of_index = {idx: kind for (_, kind), idx in zip(copies, self.copy_index)}

        # Transit = service at the origin + travel, one matrix per speed class in use.
        sub = np.ix_(self.pnode, self.pnode)
        time_cb: dict[int, int] = {}
        cost_cb: dict[int, int] = {}
        if params.km_cost_s and len(params.km_cost_s) != problem.travel_s.shape[0]:
            raise DispatchError(f"km_cost_s has {len(params.km_cost_s)} values; expected one per speed class "
                                f"({problem.travel_s.shape[0]})")
        for sc in sorted({k.speed_class for k in techs}):
            travel = problem.travel_s[sc][sub]
            time_cb[sc] = routing.RegisterTransitMatrix((self.service[:, None] + travel).tolist())
            if params.arc_cost == "time":
                money = 0
                if params.km_cost_s:  # kilometres at their cost, as seconds (RoutingParams.km_cost_s)
                    money = np.rint(problem.distance_m[sub] * (params.km_cost_s[sc] / 1000)).astype(np.int64)
                cost_cb[sc] = routing.RegisterTransitMatrix((travel + money + late_extra[None, :]).tolist())
        if params.arc_cost == "distance":
            dist_cb = routing.RegisterTransitMatrix((problem.distance_m[sub] + late_extra[None, :]).tolist())
        elif params.arc_cost != "time":
            raise DispatchError(f"arc_cost {params.arc_cost!r}; expected 'time' or 'distance'")
        for v, k in enumerate(techs):
            routing.SetArcCostEvaluatorOfVehicle(cost_cb[k.speed_class] if params.arc_cost == "time" else dist_cb, v)
            if k.fixed_cost:
                routing.SetFixedCostOfVehicle(int(k.fixed_cost), v)

        horizon = max([k.shift_end_s + k.max_overtime_s for k in techs] + [v.window_end_s for v in self.visits] + [0])
        self.horizon = horizon + 1
        routing.AddDimensionWithVehicleTransits(
            [time_cb[k.speed_class] for k in techs], self.horizon, self.horizon, False, "time")
        self.time = tdim = routing.GetDimensionOrDie("time")
        for (v, _), idx in zip(copies, self.copy_index):
            tdim.CumulVar(idx).SetRange(v.window_start_s, v.window_end_s)
            if v.pinned_start_s is not None:
                tdim.CumulVar(idx).SetRange(v.pinned_start_s, v.pinned_start_s)
        for vi, k in enumerate(techs):
            s, e = routing.Start(vi), routing.End(vi)
            tdim.CumulVar(s).SetRange(k.shift_start_s, k.shift_end_s)
            tdim.CumulVar(e).SetRange(k.shift_start_s, k.shift_end_s + k.max_overtime_s)
            if k.max_overtime_s and k.break_window is None:
                # With a break interval on the vehicle, OR-Tools 9.15 finds no plan at all once
                # the end has a soft bound (measured: 0 of 3 to 0 of 15 morning calls routed on
                # Zhejiang areas whose technicians all break; 3 of 3 without the soft bound). So
                # a technician who breaks may work into his allowed overtime at no cost in the
                # model (the shift's hard end still holds); the PyVRP start costs it.
                tdim.SetCumulVarSoftUpperBound(e, k.shift_end_s, params.overtime_cost_per_s)
            routing.AddVariableMinimizedByFinalizer(tdim.CumulVar(e))

        # Breaks: a non-optional interval per technician; OR-Tools keeps it off every service.
        self.breaks: dict[int, Any] = {}
        if any(k.break_window is not None for k in techs):
            visit_transit = [int(self.service[m.IndexToNode(i)]) if not routing.IsEnd(i) else 0
                             for i in range(routing.Size())]
            for vi, k in enumerate(techs):
                b = k.break_window
                if b is None:
                    continue
                iv = solver.FixedDurationIntervalVar(b.earliest_start_s, b.latest_start_s, b.duration_s, False,
                                                     f"break_{vi}")
                tdim.SetBreakIntervalsOfVehicle([iv], vi, visit_transit)
                self.breaks[vi] = iv

        # Dispatch deadline on the departure toward a visit (see module docstring).
        on_time = [(v, idx) for (v, kind), idx in zip(copies, self.copy_index) if kind == "on_time"]
        if on_time:
            dep_cb = routing.RegisterUnaryTransitVector(self.service.tolist())
            routing.AddDimension(dep_cb, self.horizon, self.horizon, False, "departure")
            ddim = routing.GetDimensionOrDie("departure")
            for i in range(routing.Size()):
                solver.Add(ddim.CumulVar(i) + ddim.SlackVar(i) == tdim.CumulVar(i))
            for v, idx in on_time:
                ddim.CumulVar(idx).SetMax(v.dispatch_deadline_s)

        # Release (nobody sets off toward a call before it exists): exactly, the arrival must be
        # at least release + the drive from the actual predecessor, which depends on the route.
        # An Element over NextVar states that but makes OR-Tools' insertion heuristics insert
        # nothing at all (measured: 0 of 100 visits routed). So the model gets the necessary
        # bound release + the shortest drive in, and ``solve`` re-times every route exactly
        # (dispatch.routing.timeline), giving up the rare visit the exact times cannot keep.
        released = [(v, idx) for (v, _), idx in zip(copies, self.copy_index) if v.release_s > 0]
        if released:
            speed_classes = sorted({k.speed_class for k in techs})
            shortest_in = problem.travel_s[speed_classes][:, self.pnode, :].min(axis=0)
            for v, idx in released:
                others = np.delete(shortest_in[:, v.node], np.flatnonzero(self.pnode == v.node))
                floor = v.release_s + (int(others.min()) if len(others) else 0)
                cumul = tdim.CumulVar(idx)
                if floor <= cumul.Max():
                    cumul.SetMin(max(int(cumul.Min()), floor))

        # Capacity.
        if any(v.demand for v in self.visits) or any(k.capacity is not None for k in techs):
            demand = [0] * len(depot_nodes) + [v.demand for v, _ in copies]
            cap_cb = routing.RegisterUnaryTransitVector(demand)
            big = sum(demand) + 1
            routing.AddDimensionWithVehicleCapacity(
                cap_cb, 0, [k.capacity if k.capacity is not None else big for k in techs], True, "load")

        # Skills, pins and drop penalties.
        weights = params.priority_weights
        tech_pos = {k.id: i for i, k in enumerate(techs)}
        for v in self.visits:
            idxs = self.indices[v.id]
            allowed = eligible[v.id]
            if len(allowed) < n_veh:
                for idx in idxs:
                    routing.VehicleVar(idx).SetValues([-1, *allowed])
            penalty = params.drop_penalty_unit * weights[v.priority - 1]
            if v.pinned_technician is not None:
                penalty *= params.pin_penalty_factor
            routing.AddDisjunction(idxs, int(penalty), 1)  # at most one copy is served
        pinned: dict[str, list[RoutingVisit]] = {}
        for v in self.visits:
            if v.pinned_technician is not None and v.pinned_sequence is not None:
                pinned.setdefault(v.pinned_technician, []).append(v)
        self.pinned_order = {t: sorted(vs, key=lambda v: v.pinned_sequence) for t, vs in pinned.items()}
        for seq in self.pinned_order.values():
            for a, b in zip(seq, seq[1:]):
                ia, ib = self.visit_index[a.id], self.visit_index[b.id]
                # Only binding when both are served: a dropped pin must not block the other.
                both = routing.ActiveVar(ia) * routing.ActiveVar(ib)
                solver.Add(both * (tdim.CumulVar(ia) + a.service_s - tdim.CumulVar(ib)) <= 0)
        self.tech_pos = tech_pos
        self.build_s = round(time.perf_counter() - t0, 3)

    def _kinds(self, problem: RoutingProblem, v: RoutingVisit, eligible: list[int]) -> list[str]:
        mode = self.params.dispatch_deadline
        if v.dispatch_deadline_s is None or mode == "ignore" or v.pinned_technician is not None:
            return ["plain"]  # pinned visits are usually under way: the deadline is history
        if mode == "hard":
            return ["on_time"]
        techs = problem.technicians
        if any(reachable_alone(problem, techs[i], v, v.dispatch_deadline_s) for i in eligible):
            return ["on_time", "late"]
        return ["late"]

    # -- search ---------------------------------------------------------------------------------

    def search_parameters(self, time_limit_s: float) -> Any:
        from ortools.constraint_solver import routing_enums_pb2

        p = self.pywrapcp.DefaultRoutingSearchParameters()
        try:
            p.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, self.params.first_solution)
            p.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic,
                                                   self.params.metaheuristic)
        except AttributeError as exc:
            raise DispatchError(f"unknown OR-Tools strategy: {exc}") from None
        # On the CPU clock the wall limit is only a guard (the CPU limit is a search monitor),
        # wide enough for a machine shared ten ways.
        wall_s = time_limit_s if self.params.clock != "cpu" else 20 * time_limit_s + 5
        p.time_limit.FromMilliseconds(max(1, int(wall_s * 1000)))
        if self.params.solution_limit is not None:
            p.solution_limit = int(self.params.solution_limit)
        if self.params.lns_time_limit_s is not None:
            p.lns_time_limit.FromMilliseconds(max(1, int(self.params.lns_time_limit_s * 1000)))
        p.log_search = self.params.log_search
        return p

    def initial_assignment(self) -> Any | None:
        """Routes from ``params.initial_routes`` plus the pinned order, as a start for the search.
        A visit goes in as its "on time" copy when the exact timeline has him set off in time;
        a route the model refuses is left out (its visits start unperformed)."""
        routes: list[list[int]] = [[] for _ in self.problem.technicians]
        used: set[str] = set()
        visits = {v.id: v for v in self.visits}
        for tid, vids in self.params.initial_routes:
            if tid not in self.tech_pos:
                continue
            ids = [vid for vid in vids if vid in self.visit_index and vid not in used]
            on_time = set()
            if any(len(self.indices[vid]) > 1 for vid in ids):
                k = self.problem.technicians[self.tech_pos[tid]]
                on_time = {s.visit_id for s in timeline(self.problem, k, ids, visits).stops if not s.dispatch_late_s}
            routes[self.tech_pos[tid]] = [self.indices[vid][0] if vid in on_time else self.visit_index[vid]
                                          for vid in ids]
            used.update(ids)
        for tid, seq in self.pinned_order.items():
            pos = self.tech_pos[tid]
            for v in seq:
                if v.id not in used:
                    routes[pos].append(self.visit_index[v.id])
                    used.add(v.id)
        if not used:
            return None
        self.routing.CloseModelWithParameters(self.search_parameters(self.params.time_limit_s))
        start = self.routing.ReadAssignmentFromRoutes(routes, True)
        if start is not None or self.pinned_order:
            return start
        # Some route breaks a rule the start did not know (OR-Tools' break or release model):
        # keep the routes it accepts one by one.
        kept: list[list[int]] = [[] for _ in routes]
        for pos, r in enumerate(routes):
            if r:
                kept[pos] = r
                if self.routing.ReadAssignmentFromRoutes(kept, True) is None:
                    kept[pos] = []
        self.stats["start_routes_refused"] = sum(1 for a, b in zip(routes, kept) if a and not b)
        return self.routing.ReadAssignmentFromRoutes(kept, True) if any(kept) else None

    def solve(self) -> tuple[Any | None, str]:
        params = self.params
        limit = params.time_limit_s * (1.0 - params.route_elimination)
        sp = self.search_parameters(limit)
        if params.clock == "cpu":
            self.cpu_limit(limit)
        start = self.initial_assignment() if (params.initial_routes or self.pinned_order) else None
        if start is not None:
            solution = self.routing.SolveFromAssignmentWithParameters(start, sp)
        else:
            solution = self.routing.SolveWithParameters(sp)
        if solution is None and start is not None:  # a warm start that violates pins: start cold
            solution = self.routing.SolveWithParameters(sp)
        # RoutingSearchStatus: a solution found at the time limit counts as "feasible".
        status = {1: "local_optimum", 2: "feasible", 7: "optimal"}.get(self.routing.status(), "feasible")
        return solution, ("no_solution" if solution is None else status)

    def cpu_limit(self, seconds: float) -> None:
        """Stop the search after ``seconds`` of this process's CPU time (OR-Tools only has wall
        limits; on a shared machine CPU time is the fair measure of effort)."""
        self.cpu_end = time.process_time() + seconds
        if getattr(self, "_cpu_monitor", None) is not None:
            return
        calls = [0]

        def over() -> bool:
            calls[0] += 1  # the clock read costs more than the check: every 64th call
            return calls[0] % 64 == 0 and time.process_time() >= self.cpu_end

        self._cpu_monitor = self.routing.solver().CustomLimit(over)
        self.routing.AddSearchMonitor(self._cpu_monitor)

    def eliminate_routes(self, solution: Any, routes: list[Route], dropped: list[str],
                         objective: int) -> tuple[list[Route], list[str], int]:
        """Vehicle minimisation: forbid the technician of the shortest route and re-solve from the
        current routes minus that one; keep the result only if nobody is dropped. Repeats while
        time remains (the fleet size comes first in the VRPTW convention)."""
        clock = time.process_time if self.params.clock == "cpu" else time.perf_counter
        deadline = clock() + self.params.time_limit_s * self.params.route_elimination
        removed = 0
        while clock() < deadline - 0.05 and len(routes) > 1:
            victim = min(routes, key=lambda r: (len(r.stops), r.distance_m))
            vpos = self.tech_pos[victim.technician_id]
            seq = [[self.used_index[s.visit_id] for s in r.stops] if r is not None and r is not victim else []
                   for r in self._all_routes(routes)]
            # Forbid the victim's technician for good (a root-level domain change); his visits
            # start unperformed and the search re-inserts them where they fit.
            self.routing.NextVar(self.routing.Start(vpos)).SetValue(self.routing.End(vpos))
            start = self.routing.ReadAssignmentFromRoutes(seq, True)
            if start is None:
                break
            left = deadline - clock()
            if left <= 0.05:
                break
            if self.params.clock == "cpu":
                self.cpu_limit(left)
            new = self.routing.SolveFromAssignmentWithParameters(start, self.search_parameters(left))
            if new is None:
                break
            new_routes, new_dropped = self.read(new)
            if len(new_dropped) > len(dropped):
                break
            routes, dropped, objective = new_routes, new_dropped, int(new.ObjectiveValue())
            removed += 1
        self.stats["routes_eliminated"] = removed
        return routes, dropped, objective

    def _all_routes(self, routes: list[Route]) -> list[Route | None]:
        by = {r.technician_id: r for r in routes}
        return [by.get(k.id) for k in self.problem.technicians]

    # -- read back --------------------------------------------------------------------------------

    def read(self, solution: Any) -> tuple[list[Route], list[str]]:
        routing, tdim = self.routing, self.time
        problem = self.problem
        break_start: dict[int, int] = {}
        if self.breaks:
            ivs = solution.IntervalVarContainer()
            by_name = {iv.Name(): vi for vi, iv in self.breaks.items()}
            for i in range(ivs.Size()):
                e = ivs.Element(i)
                name = e.Var().Name()
                if name in by_name and e.PerformedValue():
                    break_start[by_name[name]] = int(e.StartValue())
        routes: list[Route] = []
        served: set[str] = set()
        self.used_index: dict[str, int] = {}
        for vi, k in enumerate(problem.technicians):
            idx = routing.Start(vi)
            if routing.IsEnd(solution.Value(routing.NextVar(idx))):
                continue
            tt = problem.travel_s[k.speed_class]
            t_prev = int(solution.Value(tdim.CumulVar(idx)))
            start_s = t_prev
            done_prev = t_prev  # end of service at the previous node = departure toward the next
            node_prev = k.start_node
            brk = break_start.get(vi)
            if brk is not None:
                brk_dur = k.break_window.duration_s if k.break_window else 0
            stops: list[Stop] = []
            travel_sum = dist_sum = 0
            while True:
                idx = solution.Value(routing.NextVar(idx))
                if routing.IsEnd(idx):
                    break
                v = self.visit_of_index[idx]
                self.used_index[v.id] = idx
                start = int(solution.Value(tdim.CumulVar(idx)))
                leg = int(tt[node_prev, v.node])
                done_prev = max(done_prev, v.release_s)  # waits where he is until the call exists
                arrival = done_prev + leg
                if brk is not None and done_prev <= brk < arrival:
                    arrival += brk_dur  # the break interrupts the drive
                late = 0
                if v.dispatch_deadline_s is not None:
                    late = max(0, done_prev - v.dispatch_deadline_s)
                dist = int(problem.distance_m[node_prev, v.node])
                stops.append(Stop(v.id, done_prev, arrival, start, start + v.service_s, leg, dist, late))
                served.add(v.id)
                travel_sum += leg
                dist_sum += dist
                done_prev, node_prev = start + v.service_s, v.node
            end_s = int(solution.Value(tdim.CumulVar(idx)))
            travel_sum += int(tt[node_prev, k.end_node])
            dist_sum += int(problem.distance_m[node_prev, k.end_node])
            routes.append(Route(k.id, tuple(stops), start_s, end_s, travel_sum, dist_sum, brk,
                                max(0, end_s - k.shift_end_s)))
        dropped = [v.id for v in self.visits if v.id not in served]
        return routes, dropped

