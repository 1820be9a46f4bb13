"""The assignment's solve of one group of calls (a province in practice): a greedy warm start,
then a CP-SAT model choosing one option per call (``dispatch.assignment`` builds the options and
the rules they follow). Its inputs are plain values: a group may be solved in another process."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple


class SolveOption(NamedTuple):
    """What a solve needs of an option (``dispatch.assignment``'s carries its rule and
    timings too): a plain tuple, which a pool pickles several times faster than the option."""

    visit: str | None
    repair: str | None
    day: int | None
    tech_load_s: int
    bench_s: int
    turnaround_s: int
    cost_min: int

    @property
    def score_s(self) -> int:
        """What the solve ranks an option by: its turnaround, its cost in minutes of it (rule 8)."""
        return self.turnaround_s + 60 * self.cost_min


def solve_options(options: Sequence[Any]) -> list[SolveOption]:
    """A request's options as a solve needs them."""
    return [SolveOption(o.visit, o.repair, o.day, o.tech_load_s, o.bench_s, o.turnaround_s, o.cost_min)
            for o in options]


def greedy_choice(rids, options, tech_cap, bench_cap) -> dict[str, int]:
    """Calls in order, each to its best option with room left; when every option's technicians
    are over their estimated hours, the best one whose bench has room (the warm start)."""
    tech_left = dict(tech_cap)
    bench_left: dict[tuple[str, int], int] = {}
    choice = {}
    for rid in rids:
        fallback = None
        for k in sorted(range(len(options[rid])), key=lambda k: options[rid][k].score_s):
            o = options[rid][k]
            key = (o.repair, o.day) if o.repair is not None else None
            if key is not None and bench_left.get(key, bench_cap[o.repair]) < o.bench_s:
                continue
            if o.visit is not None and tech_left.get(o.visit, 0) < o.tech_load_s:
                fallback = k if fallback is None else fallback
                continue
            choice[rid] = k
            break
        if rid not in choice:
            if fallback is None:
                continue
            choice[rid] = fallback
        o = options[rid][choice[rid]]
        if o.visit is not None:
            tech_left[o.visit] = tech_left.get(o.visit, 0) - o.tech_load_s
        if o.repair is not None:
            key = (o.repair, o.day)
            bench_left[key] = bench_left.get(key, bench_cap[o.repair]) - o.bench_s
    return choice


@dataclass(frozen=True)
class SolverParams:
    """What a group's solve needs of ``AssignmentParams`` (plain values: it goes to other processes)."""

    overload_cost: int
    time_limit_s: float
    relative_gap: float
    seed: int
    deterministic: bool = False


def solve_group(rids, options, tech_cap, bench_cap, params: SolverParams) -> tuple[dict[str, int], str]:
    from ortools.sat.python import cp_model

    greedy = greedy_choice(rids, options, tech_cap, bench_cap)
    load: dict[str, int] = defaultdict(int)
    for rid, k in greedy.items():
        if options[rid][k].visit is not None:
            load[options[rid][k].visit] += options[rid][k].tech_load_s
    if len(greedy) == len(rids) and all(load[c] <= tech_cap.get(c, 0) for c in load) and all(
        options[rid][greedy[rid]].score_s == min(o.score_s for o in options[rid])
        for rid in rids
    ):
        return greedy, "OPTIMAL"  # every request got its best option: nothing to trade off
    model, x = group_model(rids, options, tech_cap, bench_cap, greedy, params.overload_cost)
    solver = cp_model.CpSolver()
    if params.deterministic:
        solver.parameters.max_deterministic_time = params.time_limit_s
        solver.parameters.max_time_in_seconds = 600.0  # a guard only
    else:
        solver.parameters.max_time_in_seconds = params.time_limit_s
    solver.parameters.relative_gap_limit = params.relative_gap
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = params.seed
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return greedy, "GREEDY"
    choice = {}
    for (rid, k), v in x.items():
        if solver.boolean_value(v):
            choice[rid] = k
    return choice, "OPTIMAL" if status == cp_model.OPTIMAL else "FEASIBLE"


def group_model(rids, options, tech_cap, bench_cap, greedy, overload_cost: int):  # type: ignore[no-untyped-def]
    """The group's CP-SAT model: exactly one option (or the skip) per request, soft technician
    hours per centre, hard bench minutes per centre-day; minimise turnaround minutes. Built as
    weighted sums over plain lists (no expression object per option: 360,000 options on a
    national day), with the greedy choice as the hint. Returns the model and the option
    literals by (request, option). Variables, constraints and hints are made in the same order
    as before this was vectorised, so the model (and its answer) is the same."""
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    # Minutes keep the objective small; unserved costs more than any realistic turnaround.
    unserved_cost = 60 * 24 * 30
    x: dict[tuple[str, int], object] = {}
    cost_vars: list = []
    cost_coeffs: list[int] = []
    hint_vars: list = []
    hint_values: list[int] = []
    tech_vars: dict[str, list] = defaultdict(list)
    tech_coeffs: dict[str, list[int]] = defaultdict(list)
    tech_most: dict[str, int] = defaultdict(int)  # minutes if every option at the centre were taken
    bench_vars: dict[tuple[str, int], list] = defaultdict(list)
    bench_coeffs: dict[tuple[str, int], list[int]] = defaultdict(list)
    for rid in rids:
        opts = options[rid]
        mine = []
        g = greedy.get(rid)
        for k, o in enumerate(opts):
            v = x[rid, k] = model.new_bool_var(f"x_{rid}_{k}")
            mine.append(v)
            cost_vars.append(v)
            cost_coeffs.append(o.turnaround_s // 60 + o.cost_min)
            if o.visit is not None:
                tech_vars[o.visit].append(v)
                tech_coeffs[o.visit].append(o.tech_load_s // 60)
                tech_most[o.visit] += o.tech_load_s // 60
            if o.repair is not None:
                bench_vars[o.repair, o.day].append(v)
                bench_coeffs[o.repair, o.day].append(o.bench_s // 60)
            hint_vars.append(v)
            hint_values.append(int(g == k))
        skip = model.new_bool_var(f"skip_{rid}")
        hint_vars.append(skip)
        hint_values.append(int(rid not in greedy))
        cost_vars.append(skip)
        cost_coeffs.append(unserved_cost)
        model.add_exactly_one(mine + [skip])
    for cid, vs in tech_vars.items():
        # Soft (rule 6): minutes over the estimate cost ``overload_cost`` minutes each.
        over = model.new_int_var(0, tech_most[cid], f"over_{cid}")
        model.add(cp_model.LinearExpr.weighted_sum(vs + [over], tech_coeffs[cid] + [-1]) <= tech_cap.get(cid, 0) // 60)
        cost_vars.append(over)
        cost_coeffs.append(overload_cost)
    for key, vs in bench_vars.items():
        model.add(cp_model.LinearExpr.weighted_sum(vs, bench_coeffs[key]) <= bench_cap[key[0]] // 60)
    model.minimize(cp_model.LinearExpr.weighted_sum(cost_vars, cost_coeffs))
    hint = model.proto.solution_hint
    hint.vars.extend([v.index for v in hint_vars])
    hint.values.extend(hint_values)
    return model, x
