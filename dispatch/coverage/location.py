"""Coverage metrics and facility-location models (LSCP, MCLP, p-median, p-center).

Models are built ``from_cost_matrix`` (demand x candidate sites, integer seconds) with a thin
``from_geodataframe`` adapter that checks the CRS; they run on OR-Tools' bundled MIP solvers
(HiGHS by default, SCIP as a fallback), so nothing extra is installed. Existing stations can be
locked open or closed; sites may have capacities (p-median). A greedy MCLP gives an instant answer
and its gap to the exact model's bound says how good it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse

from dispatch.errors import DispatchError
from dispatch.travel import DEFAULT_TRAVEL, Travel, drive_s


def seat_cost_s(d_lon: np.ndarray, d_lat: np.ndarray, s_lon: np.ndarray, s_lat: np.ndarray,
                travel: Travel = DEFAULT_TRAVEL) -> np.ndarray:
    """Demand x site travel seconds as int32 (a national 23k x 2.9k matrix is 260 MB in int32);
    built in row chunks so the float temporaries stay small."""
    cost = np.empty((len(d_lon), len(s_lon)), dtype=np.int32)
    for a in range(0, len(d_lon), 2000):
        b = min(len(d_lon), a + 2000)
        cost[a:b] = drive_s(travel, d_lon[a:b, None], d_lat[a:b, None], s_lon[None, :], s_lat[None, :])
    return cost


@dataclass(frozen=True)
class LocationProblem:
    """Demand points x candidate sites, with a travel cost in integer seconds."""

    cost_s: np.ndarray  # (n_demand, n_sites)
    weights: np.ndarray  # (n_demand,)
    site_ids: tuple[str, ...]
    demand_ids: tuple[str, ...]
    locked_open: frozenset[int] = frozenset()
    locked_closed: frozenset[int] = frozenset()
    capacities: np.ndarray | None = None  # per site, in demand-weight units

    def __post_init__(self) -> None:
        n, m = self.cost_s.shape
        if self.weights.shape != (n,) or len(self.site_ids) != m or len(self.demand_ids) != n:
            raise DispatchError("location problem: cost matrix, weights and ids do not match in size")
        if (self.weights < 0).any():
            raise DispatchError("location problem: demand weights must be >= 0")
        both = self.locked_open & self.locked_closed
        if both:
            raise DispatchError(
                f"sites {sorted(self.site_ids[i] for i in both)} are locked both open and closed"
            )

    @classmethod
    def from_cost_matrix(
        cls, cost_s, weights, site_ids=None, demand_ids=None, locked_open=(), locked_closed=(),
        capacities=None,
    ) -> LocationProblem:
        cost = np.asarray(cost_s)
        n, m = cost.shape
        sites = tuple(site_ids) if site_ids is not None else tuple(str(j) for j in range(m))
        index = {s: j for j, s in enumerate(sites)}

        def positions(items) -> frozenset[int]:
            out = set()
            for s in items:
                if isinstance(s, (int, np.integer)):
                    out.add(int(s))
                elif s in index:
                    out.add(index[s])
                else:
                    raise DispatchError(f"unknown site id {s!r}; expected one of the candidate sites")
            return frozenset(out)

        return cls(
            cost, np.asarray(weights, dtype=float), sites,
            tuple(demand_ids) if demand_ids is not None else tuple(str(i) for i in range(n)),
            positions(locked_open), positions(locked_closed),
            None if capacities is None else np.asarray(capacities, dtype=float),
        )

    @classmethod
    def from_geodataframe(
        cls, demand, sites, weight_column: str = "weight", site_id_column: str = "id",
        demand_id_column: str | None = None, travel: Travel = DEFAULT_TRAVEL, **kw,
    ) -> LocationProblem:
        """Points in EPSG:4326 (checked); travel seconds by the travel model."""
        for name, gdf in (("demand", demand), ("sites", sites)):
            if gdf.crs is None or gdf.crs.to_epsg() != 4326:
                raise DispatchError(
                    f"{name} GeoDataFrame has CRS {gdf.crs}; expected EPSG:4326 (WGS84 lon/lat): "
                    "use gdf.to_crs(4326)"
                )
        dpt = demand.geometry.representative_point()
        spt = sites.geometry.representative_point()
        cost = drive_s(travel, dpt.x.to_numpy()[:, None], dpt.y.to_numpy()[:, None],
                       spt.x.to_numpy()[None, :], spt.y.to_numpy()[None, :])
        demand_ids = demand[demand_id_column] if demand_id_column else demand.index.astype(str)
        return cls.from_cost_matrix(cost, demand[weight_column].to_numpy(float),
                                    sites[site_id_column].astype(str), demand_ids, **kw)

    def coverage_matrix(self, max_cost_s: float) -> sparse.csr_matrix:
        return sparse.csr_matrix(self.cost_s <= max_cost_s)


@dataclass(frozen=True)
class LocationResult:
    model: str
    chosen: tuple[str, ...]
    allocation: tuple[str | None, ...]  # site per demand point (None: not covered / allocated)
    objective: float
    bound: float
    gap: float  # relative, 0 when proven optimal
    # OPTIMAL | FEASIBLE | INFEASIBLE | HEURISTIC | NOT_SOLVED | PARTIAL (set cover: the best cover
    # of the demand that can be covered, some demand being beyond every candidate's reach)
    status: str
    solve_s: float
    first_solution_s: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _solver(name: str, time_limit_s: float):
    from ortools.linear_solver import pywraplp

    for candidate in (name, "SCIP", "CBC"):
        s = pywraplp.Solver.CreateSolver(candidate)
        if s is not None:
            s.SuppressOutput()
            if candidate == "HIGHS":
                # SuppressOutput does not reach HiGHS's banner on stdout, which would break
                # the CLI's tables; the option does (the call reports False but applies it).
                # HiGHS stops at a 0.01 % relative gap by default and still says OPTIMAL (on the
                # national p = 1,600 MCLP that left 1,842 people uncovered against PuLP/CBC);
                # a zero gap makes OPTIMAL mean proven optimal, at little cost here.
                s.SetSolverSpecificParametersAsString("output_flag=false\nmip_rel_gap=0")
            s.SetTimeLimit(int(time_limit_s * 1000))
            return s
    raise DispatchError("no MIP solver available in this OR-Tools build")


def _status(solver, code) -> str:
    from ortools.linear_solver import pywraplp

    return {pywraplp.Solver.OPTIMAL: "OPTIMAL", pywraplp.Solver.FEASIBLE: "FEASIBLE",
            pywraplp.Solver.INFEASIBLE: "INFEASIBLE"}.get(code, "NOT_SOLVED")


def _lock(solver, y, problem: LocationProblem) -> None:
    for j in problem.locked_open:
        y[j].SetLb(1)
    for j in problem.locked_closed:
        y[j].SetUb(0)


def _gap(obj: float, bound: float, maximise: bool) -> float:
    if obj == 0 and bound == 0:
        return 0.0
    return abs(bound - obj) / max(abs(obj), 1e-9)


def mclp(problem: LocationProblem, p: int, max_cost_s: float, time_limit_s: float = 30.0,
         solver: str = "HIGHS") -> LocationResult:
    """Maximal covering: open exactly ``p`` sites to maximise the demand weight within reach.

    The model is reduced before it is built: demand points reached by the same set of sites
    become one point (their weights summed), which on a fine demand grid (many points around
    each seat) removes most rows; points no open-able site reaches are dropped. The optimum is
    unchanged. HiGHS reports no incumbent before it stops, so ``first_solution_s`` is the time to
    the returned solution; if the time limit strikes first, the greedy answer comes back instead."""
    _check_p(problem, p)
    t0 = time.perf_counter()
    cover = problem.coverage_matrix(max_cost_s)
    groups = _coverage_classes(cover, problem.weights, problem.locked_closed)
    s = _solver(solver, time_limit_s)
    m = len(problem.site_ids)
    y = [s.BoolVar(f"y{j}") for j in range(m)]
    _lock(s, y, problem)
    terms = []
    for k, (cols, w) in enumerate(groups):
        if len(cols) == 1:  # covered iff its one site opens: no z variable needed
            terms.append(w * y[cols[0]])
            continue
        z = s.NumVar(0, 1, f"z{k}")  # integral at the optimum given integral y
        s.Add(z <= sum(y[j] for j in cols))
        terms.append(w * z)
    s.Add(sum(y) == p)
    s.Maximize(sum(terms))
    build_s = time.perf_counter() - t0
    code = s.Solve()
    status = _status(s, code)
    notes = (f"model: {len(groups)} demand classes from {len(problem.demand_ids)} points; "
             f"build {build_s:.2f} s, solve {time.perf_counter() - t0 - build_s:.2f} s",)
    if status not in ("OPTIMAL", "FEASIBLE"):
        # HiGHS (through pywraplp or MathOpt alike) hands back no incumbent when the time limit
        # strikes before its first solution, which on these models comes right after the root
        # LP; the greedy answer is then the best we have, labelled as such, with no bound.
        g = greedy_mclp(problem, p, max_cost_s)
        return replace(g, model="mclp", status="FEASIBLE" if status == "NOT_SOLVED" else status,
                       solve_s=time.perf_counter() - t0,
                       notes=notes + (f"exact solve stopped at {time_limit_s:g} s without a solution "
                                      "(status " + status + "); greedy answer returned, bound unknown",))
    chosen = [j for j in range(m) if y[j].solution_value() > 0.5]
    obj = _covered_weight(problem, cover, chosen)
    bound = s.Objective().BestBound() if status != "OPTIMAL" else obj
    return LocationResult("mclp", tuple(problem.site_ids[j] for j in chosen),
                          _allocate_nearest(problem, chosen, max_cost_s), obj, bound,
                          0.0 if status == "OPTIMAL" else _gap(obj, bound, True), status,
                          time.perf_counter() - t0, first_solution_s=time.perf_counter() - t0, notes=notes)


def _coverage_classes(cover: sparse.csr_matrix, weights: np.ndarray,
                      closed: frozenset[int] = frozenset()) -> list[tuple[tuple[int, ...], float]]:
    """(open-able sites reaching a point, total weight) per distinct set of sites, weight > 0."""
    classes: dict[tuple[int, ...], float] = {}
    indptr, indices = cover.indptr, cover.indices
    for i in np.flatnonzero((np.diff(indptr) > 0) & (weights > 0)):
        cols = indices[indptr[i]:indptr[i + 1]]
        key = tuple(int(j) for j in cols if j not in closed) if closed else tuple(cols.tolist())
        if key:
            classes[key] = classes.get(key, 0.0) + float(weights[i])
    return list(classes.items())


def _check_p(problem: LocationProblem, p: int) -> None:
    m = len(problem.site_ids)
    if not 0 <= p <= m:
        raise DispatchError(f"p = {p} sites requested; expected 0..{m} (the number of candidate sites)")
    if len(problem.locked_open) > p:
        raise DispatchError(f"{len(problem.locked_open)} sites are locked open but p = {p}")
    if m - len(problem.locked_closed) < p:
        raise DispatchError(f"p = {p} but only {m - len(problem.locked_closed)} sites are not locked closed")


def _covered_weight(problem: LocationProblem, cover: sparse.csr_matrix, chosen) -> float:
    if not len(chosen):
        return 0.0
    hit = np.asarray(cover[:, chosen].sum(axis=1)).ravel() > 0
    return float(problem.weights[hit].sum())


def _allocate_nearest(problem: LocationProblem, chosen, max_cost_s: float | None = None):
    if not len(chosen):
        return (None,) * len(problem.demand_ids)
    chosen = np.asarray(chosen)
    sub = problem.cost_s[:, chosen]
    best = np.argmin(sub, axis=1)
    ids = np.array(problem.site_ids, dtype=object)[chosen[best]]
    if max_cost_s is not None:  # beyond reach: not allocated
        ids[sub[np.arange(len(best)), best] > max_cost_s] = None
    return tuple(ids.tolist())


def greedy_mclp(problem: LocationProblem, p: int, max_cost_s: float) -> LocationResult:
    """Greedy maximal covering (locked sites first): instant, with a (1 - 1/e) guarantee.

    Gains are kept up to date incrementally: when a site opens, only the sites that also reach
    its newly covered points lose gain, so the whole run touches each nonzero of the coverage
    matrix about once instead of recomputing every gain per pick."""
    _check_p(problem, p)
    t0 = time.perf_counter()
    csr = problem.coverage_matrix(max_cost_s)
    csc = csr.tocsc()
    w = problem.weights.astype(float)
    uncovered = w.copy()
    gain = np.asarray(csc.T @ w, dtype=float).ravel()
    allowed = np.ones(len(problem.site_ids), bool)
    allowed[list(problem.locked_closed)] = False

    def open_site(j: int) -> None:
        rows = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
        rows = rows[uncovered[rows] > 0]
        if len(rows):
            starts, ends = csr.indptr[rows], csr.indptr[rows + 1]
            lengths = ends - starts
            # All sites reaching the newly covered rows, each losing that row's weight.
            idx = np.repeat(starts - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(lengths.sum())
            np.subtract.at(gain, csr.indices[idx], np.repeat(uncovered[rows], lengths))
            uncovered[rows] = 0
        allowed[j] = False

    chosen = sorted(problem.locked_open)
    for j in chosen:
        open_site(j)
    while len(chosen) < p:
        j = int(np.argmax(np.where(allowed, gain, -1.0)))
        chosen.append(j)
        open_site(j)
    obj = float(w.sum() - uncovered.sum())
    return LocationResult("mclp-greedy", tuple(problem.site_ids[j] for j in chosen),
                          _allocate_nearest(problem, chosen, max_cost_s), obj, float("nan"), float("nan"),
                          "HEURISTIC", time.perf_counter() - t0)


def lscp(problem: LocationProblem, max_cost_s: float, time_limit_s: float = 30.0,
         solver: str = "HIGHS") -> LocationResult:
    """Set cover: the fewest sites so that every coverable demand point is within reach."""
    t0 = time.perf_counter()
    cover = problem.coverage_matrix(max_cost_s)
    s = _solver(solver, time_limit_s)
    m = len(problem.site_ids)
    y = [s.BoolVar(f"y{j}") for j in range(m)]
    _lock(s, y, problem)
    notes = []
    uncoverable: list[int] = []
    for i in range(len(problem.demand_ids)):
        cols = [j for j in cover.indices[cover.indptr[i]:cover.indptr[i + 1]] if j not in problem.locked_closed]
        if not cols:
            uncoverable.append(i)
            continue
        s.Add(sum(y[j] for j in cols) >= 1)
    if uncoverable:
        total = float(problem.weights.sum())
        left = float(problem.weights[uncoverable].sum())
        share = f"{100 * left / total:.1f} % of demand" if total else "no demand"
        notes.append(f"{len(uncoverable)} demand point(s), {share}, cannot be covered by any open-able site within "
                     f"{max_cost_s / 60:g} min: the sites cover the rest")
    s.Minimize(sum(y))
    status = _status(s, s.Solve())
    if status not in ("OPTIMAL", "FEASIBLE"):
        return LocationResult("lscp", (), (None,) * len(problem.demand_ids), float("nan"), float("nan"),
                              float("nan"), status, time.perf_counter() - t0, notes=tuple(notes))
    chosen = [j for j in range(m) if y[j].solution_value() > 0.5]
    obj = float(len(chosen))
    bound = obj if status == "OPTIMAL" else s.Objective().BestBound()
    if uncoverable:
        status = "PARTIAL"  # a cover of what can be covered, not a set cover of the demand
    return LocationResult("lscp", tuple(problem.site_ids[j] for j in chosen),
                          _allocate_nearest(problem, chosen, max_cost_s), obj, bound,
                          _gap(obj, bound, False), status, time.perf_counter() - t0, notes=tuple(notes))


def pmedian(problem: LocationProblem, p: int, time_limit_s: float = 30.0, solver: str = "HIGHS",
            candidates_per_demand: int | None = None) -> LocationResult:
    """Open ``p`` sites minimising demand-weighted travel time, optionally with capacities.

    ``candidates_per_demand`` restricts each demand point to its nearest sites (to scale);
    the result then says so in ``notes`` because optimality is only within that restriction."""
    _check_p(problem, p)
    t0 = time.perf_counter()
    n, m = problem.cost_s.shape
    s = _solver(solver, time_limit_s)
    y = [s.BoolVar(f"y{j}") for j in range(m)]
    _lock(s, y, problem)
    k = m if candidates_per_demand is None else min(m, candidates_per_demand)
    near = np.argsort(problem.cost_s, axis=1, kind="stable")[:, :k]
    x: dict[tuple[int, int], object] = {}
    load: dict[int, list] = {}
    for i in range(n):
        row = []
        for j in near[i]:
            j = int(j)
            if j in problem.locked_closed:
                continue
            # Single sourcing when capacities bind; otherwise x is integral at the optimum anyway.
            v = s.BoolVar(f"x{i}_{j}") if problem.capacities is not None else s.NumVar(0, 1, f"x{i}_{j}")
            x[i, j] = v
            row.append(v)
            s.Add(v <= y[j])
            load.setdefault(j, []).append(problem.weights[i] * v)
        s.Add(sum(row) == 1)
    if problem.capacities is not None:
        for j, terms in load.items():
            s.Add(sum(terms) <= problem.capacities[j] * y[j])
    s.Add(sum(y) == p)
    s.Minimize(sum(problem.weights[i] * float(problem.cost_s[i, j]) * v for (i, j), v in x.items()))
    status = _status(s, s.Solve())
    notes = () if k == m else (f"allocation restricted to the {k} nearest sites of each demand point",)
    if status not in ("OPTIMAL", "FEASIBLE"):
        return LocationResult("pmedian", (), (None,) * n, float("nan"), float("nan"), float("nan"),
                              status, time.perf_counter() - t0, notes=notes)
    chosen = [j for j in range(m) if y[j].solution_value() > 0.5]
    # One pass over x (not one per demand point: that was O(n * |x|), minutes nationally).
    best_of: dict[int, tuple[float, int]] = {}
    for (i, j), v in x.items():
        val = v.solution_value()
        if val > best_of.get(i, (1e-6, -1))[0]:
            best_of[i] = (val, j)
    alloc = [problem.site_ids[best_of[i][1]] if i in best_of else None for i in range(n)]
    obj = s.Objective().Value()
    bound = obj if status == "OPTIMAL" else s.Objective().BestBound()
    return LocationResult("pmedian", tuple(problem.site_ids[j] for j in chosen), tuple(alloc), obj, bound,
                          _gap(obj, bound, False), status, time.perf_counter() - t0, notes=notes)


def pcenter(problem: LocationProblem, p: int, time_limit_s: float = 30.0, solver: str = "HIGHS") -> LocationResult:
    """Open ``p`` sites minimising the worst travel time of any (positive-weight) demand point.

    A binary search over candidate radii, each a set-cover feasibility check, narrowed first:
    every point needs its nearest open-able site (a lower bound), and a farthest-point greedy
    gives a feasible radius (an upper bound) and an answer even if no check finishes in time.
    A check that times out stops the search; the result is then FEASIBLE with the proven bound."""
    _check_p(problem, p)
    t0 = time.perf_counter()
    active = problem.weights > 0
    if p == 0 and active.any():
        return LocationResult("pcenter", (), (None,) * len(problem.demand_ids), float("nan"), float("nan"),
                              float("nan"), "INFEASIBLE", time.perf_counter() - t0,
                              notes=(f"p = 0 sites cannot serve the {int(active.sum())} demand point(s) of positive "
                                     f"weight",))
    if not active.any():
        chosen0 = sorted(problem.locked_open)
        return LocationResult("pcenter", tuple(problem.site_ids[j] for j in chosen0),
                              _allocate_nearest(problem, chosen0), 0.0, 0.0, 0.0, "OPTIMAL",
                              time.perf_counter() - t0)
    cost = problem.cost_s[active]
    allowed = np.ones(cost.shape[1], bool)
    allowed[list(problem.locked_closed)] = False
    lower = float(cost[:, allowed].min(axis=1).max())
    greedy, upper = _pcenter_greedy(cost, p, allowed, sorted(problem.locked_open))
    radii = np.unique(cost[(cost >= lower) & (cost < upper)])
    best: tuple[float, list[int]] = (upper, greedy)
    lo, hi = 0, len(radii) - 1
    deadline = t0 + time_limit_s
    timed_out = False
    while lo <= hi:
        left = deadline - time.perf_counter()
        if left <= 0:
            timed_out = True
            break
        mid = (lo + hi) // 2
        status, chosen = _cover_within(problem, float(radii[mid]), p, active, left, solver)
        if chosen is not None:
            best = (float(radii[mid]), chosen)
            hi = mid - 1
        elif status == "INFEASIBLE":
            lo = mid + 1
        else:  # no verdict in time
            timed_out = True
            break
    r, chosen = best
    if not timed_out:
        bound = r  # every smaller candidate radius was proven infeasible
    else:
        bound = max(lower, float(radii[lo]) if lo < len(radii) else r)
        bound = min(bound, r)
    proven = bound >= r
    return LocationResult("pcenter", tuple(problem.site_ids[j] for j in chosen),
                          _allocate_nearest(problem, chosen), r, bound,
                          0.0 if proven else _gap(r, bound, False), "OPTIMAL" if proven else "FEASIBLE",
                          time.perf_counter() - t0)


def _pcenter_greedy(cost: np.ndarray, p: int, allowed: np.ndarray, locked: list[int]) -> tuple[list[int], float]:
    """Farthest-point heuristic: open the open-able site nearest to the worst-served point."""
    chosen = list(locked)
    free = allowed.copy()
    free[chosen] = False
    d = cost[:, chosen].min(axis=1).astype(float) if chosen else np.full(cost.shape[0], np.inf)
    while len(chosen) < p and free.any():
        i = int(np.argmax(d))
        # Float with inf, not an int sentinel: NumPy 2 would cast a huge int into the int32 row.
        j = int(np.argmin(np.where(free, cost[i].astype(float), np.inf)))
        chosen.append(j)
        free[j] = False
        d = np.minimum(d, cost[:, j])
    return sorted(chosen), float(d.max())


def _cover_within(problem, radius, p, active, time_limit_s, solver) -> tuple[str, list[int] | None]:
    cover = problem.coverage_matrix(radius)
    s = _solver(solver, time_limit_s)
    m = len(problem.site_ids)
    y = [s.BoolVar(f"y{j}") for j in range(m)]
    rows = cover[np.flatnonzero(active)]
    # A point no open-able site reaches makes the radius infeasible outright.
    reach = np.asarray(rows[:, np.setdiff1d(np.arange(m), list(problem.locked_closed))].sum(axis=1)).ravel()
    if (reach == 0).any():
        return "INFEASIBLE", None
    _lock(s, y, problem)
    # Points reached by the same sites need one constraint between them.
    for cols, _w in _coverage_classes(rows, np.ones(rows.shape[0]), problem.locked_closed):
        s.Add(sum(y[j] for j in cols) >= 1)
    s.Add(sum(y) <= p)
    s.Minimize(sum(y))
    status = _status(s, s.Solve())
    if status not in ("OPTIMAL", "FEASIBLE"):
        return status, None
    chosen = [j for j in range(m) if y[j].solution_value() > 0.5]
    # Fill up to p with unused sites so the answer has exactly p sites (they cannot hurt).
    for j in range(m):
        if len(chosen) >= p:
            break
        if j not in chosen and j not in problem.locked_closed:
            chosen.append(j)
    return status, sorted(chosen)

