"""`dispatch bench vrptw|coverage|national|province|hindsight|realtime|simulate|scaleout|serve`: the benchmark
commands. The runners live in dispatch/bench (parameters in, dicts and tables out); these commands
parse options, pass a progress callback, print the tables and write the JSON document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dispatch.bench.common import write_json
from dispatch.cli.options import (
    ProgressBar,
    load_population,
    load_travel,
    parts_option,
    travel_option,
)
from dispatch.errors import DispatchError

json_option = click.option("--json", "json_path", default=None, type=click.Path(dir_okay=False))


def _echo_err(line: str) -> None:
    click.echo(line, err=True)


@click.group()
def bench() -> None:
    """Benchmarks: print a table and write JSON comparable run to run."""


@bench.command("vrptw")
@click.option("--set", "set_name", default="solomon", show_default=True,
              help="solomon | homberger-200 | homberger-400 | a folder of Solomon-format files (+ bks.csv).")
@click.option("--time-limit", default=5.0, show_default=True, help="CPU seconds per instance and engine.")
@click.option("--instances", default=None, help="Comma-separated names or globs, e.g. 'R1*,C101'.")
@click.option("--engine", "engines", default="ortools", show_default=True,
              help="Comma-separated engines run side by side (or all): ortools (the day plan's: OR-Tools "
                   "from PyVRP's routes), ortools-cold (OR-Tools alone), pyvrp, auto.")
@click.option("--workers", default=1, show_default=True, help="OR-Tools: portfolio searches in parallel processes.")
@click.option("--seed", default=0, show_default=True)
@click.option("--route-elimination", default=0.3, show_default=True,
              help="Share of the time limit, at the end, spent trying one vehicle fewer than the fleet "
                   "search found, then on distance at that fleet (PyVRP; OR-Tools cold: emptying routes).")
@click.option("--breaks", is_flag=True, help="Field-service variant: every vehicle takes a break (5 %% of the horizon, "
              "starting at 40-50 %%); pyvrp cannot run it, the gap is to the plain instance's best known.")
@click.option("--benchmarks-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with solomon/ and homberger/ (default: ../shared/benchmarks/vrptw or "
                   "$DISPATCH_SHARED_DIR/benchmarks/vrptw).")
@json_option
def vrptw(set_name: str, time_limit: float, instances: str | None, engines: str, workers: int, seed: int,
          route_elimination: float, breaks: bool, benchmarks_dir: Path | None, json_path: str | None) -> None:
    """Solve VRPTW benchmark instances with each engine; print vehicles, distance, gap to BKS,
    CPU and wall time, and the engines' summaries side by side."""
    from dispatch.bench import vrptw as runner  # the routing engines: slow to import

    def progress(done: int, total: int, row: dict[str, Any]) -> None:
        _echo_err(runner.format_progress(done, total, row))

    all_rows, summaries = [], {}
    for engine in runner.parse_engines(engines):
        rows, summaries[engine] = runner.run_benchmark(set_name, time_limit, instances, benchmarks_dir, engine,
                                                       workers, seed, progress, route_elimination, breaks)
        all_rows += rows
    click.echo(runner.format_table(all_rows))
    for engine, summary in summaries.items():
        click.echo(runner.format_summary(set_name, time_limit, engine, summary))
    click.echo(runner.format_side_by_side(summaries))
    write_json(json_path, {"benchmark": "vrptw", "set": set_name, "time_limit_s": time_limit,
                           "engines": list(summaries), "workers": workers, "seed": seed,
                           "route_elimination": route_elimination, "breaks": breaks, "scale": runner.SCALE,
                           "summaries": summaries, "instances": all_rows})
    if any(s["solved"] < s["instances"] for s in summaries.values()):
        click.get_current_context().exit(1)


@bench.command("coverage")
@click.option("--p", "ps", default="400,1000,1600", show_default=True, help="Comma-separated site counts.")
@click.option("--minutes", default=60.0, show_default=True)
@click.option("--time-limit", default=30.0, show_default=True, help="Seconds per exact solve.")
@click.option("--fine-points", default="8", show_default=True,
              help="Comma-separated demand points per county for the fine sets (0: skip).")
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(1, 20),
              help="Runs per measurement; medians are reported (the machine may be shared).")
@click.option("--probe/--no-probe", default=True, show_default=True,
              help="Measure time to the first solution with growing time limits.")
@click.option("--population", type=click.Path(exists=True, dir_okay=False), default=None)
@json_option
def coverage(ps: str, minutes: float, time_limit: float, fine_points: str, repeat: int, probe: bool,
             population: str | None, json_path: str | None) -> None:
    """National MCLP at county level (and fine demand sets): exact vs greedy, plus the national
    coverage metrics."""
    from dispatch.bench import coverage as runner  # SciPy and HiGHS: slow to import

    doc = runner.run_coverage_bench([int(x) for x in ps.split(",")], minutes, time_limit,
                                    [int(x) for x in str(fine_points).split(",")], repeat, probe,
                                    load_population(population), progress=_echo_err)
    click.echo(runner.format_report(doc))
    write_json(json_path, doc)


def _plan_command(default_preset: str, help_text: str) -> click.Command:
    @click.command(help=help_text)
    @click.option("--preset", default=default_preset, show_default=True)
    @click.option("--seed", default=1, show_default=True, type=int)
    @click.option("--calls", default=None,
                  help="Comma-separated national calls per day to run in turn, e.g. 10000,30000,60000 "
                       "(default: the generator's 30,000).")
    @click.option("--workers", default=None, type=click.IntRange(1, 64))
    @click.option("--scheduler", default=None, envvar="DASK_SCHEDULER_ADDRESS")
    @click.option("--time-limit", default=None, type=click.FloatRange(0.1, None),
                  help="Maximum routing seconds per area.")
    @travel_option
    @parts_option
    @json_option
    def command(preset: str, seed: int, calls: str | None, workers: int | None, scheduler: str | None,
                time_limit: float | None, travel_spec: str | None, parts: bool | None, json_path: str | None) -> None:
        from dispatch.bench import plan as runner  # the planner (OR-Tools): slow to import

        volumes: list[float | None] = [float(c) for c in calls.split(",")] if calls else [None]
        travel = load_travel(travel_spec)  # plans and baseline; the day is generated with the default
        runs = []
        for volume in volumes:
            with ProgressBar() as bar:
                doc = runner.run_plan_bench(preset, seed, volume, workers, scheduler, time_limit, bar, travel, parts)
            click.echo(runner.format_run(doc))
            runs.append(doc)
        if len(runs) > 1:
            click.echo(runner.format_scaling(runs))
        write_json(json_path, {"benchmark": "plan", "runs": runs})

    return command


national = _plan_command("national", "Plan a national day (~30,000 calls); time stages; plan vs baseline KPIs.")
province = _plan_command("zhejiang", "Plan a province's day (default Zhejiang); time stages; plan vs baseline KPIs.")
bench.add_command(national, name="national")
bench.add_command(province, name="province")


@bench.command("hindsight")
@click.option("--preset", default="zhejiang", show_default=True, help="zhejiang, national, ... (the generator's presets).")
@click.option("--seed", default=1, show_default=True)
@click.option("--calls", default=None, type=float, help="National calls per day (default: the generator's).")
@click.option("--time-limit", default=20.0, show_default=True, type=click.FloatRange(0.1, None),
              help="Offline CPU seconds per area.")
@click.option("--areas", default=None, type=click.IntRange(1, None), help="Only the N areas with most calls.")
@click.option("--workers", default=None, type=click.IntRange(1, 64))
@click.option("--reoptimise-every", "reoptimise_every_s", default=None, type=click.IntRange(60, None),
              help="Online policy: re-solve each area's movable work every N seconds (default: off, as the product).")
@click.option("--reoptimise-engine", type=click.Choice(["ortools", "lns"]), default="ortools", show_default=True,
              help="Online policy: the engine of that re-solve (lns: exact ruin-and-recreate).")
@click.option("--warm-start", type=click.Choice(["pyvrp", "none"]), default="pyvrp", show_default=True,
              help="Online plan: the morning batch's start (PyVRP's routes, or OR-Tools alone).")
@click.option("--count-return", is_flag=True,
              help="Online policy: a later call's added driving includes the change of the technician's way "
                   "home (cheapest insertion; default: the drive to the call and on to his next one only).")
@click.option("--reoptimise-budget", "reoptimise_time_limit_s", default=None, type=click.FloatRange(0.01, None),
              help="Online policy: CPU seconds of each area's re-solve (default: the plan's).")
@click.option("--reoptimise-steps", "reoptimise_steps_per_visit", default=None, type=click.IntRange(1, None),
              help="Online policy: the lns re-solve stops after this many steps per movable call (within "
                   "its budget; default: the plan's).")
@click.option("--hold", "hold_s", default=0, show_default=True, type=click.IntRange(0, 3600),
              help="Online policy (waiting strategy): a non-urgent call is set off toward no sooner than this "
                   "many seconds after it came in (inside its promise), so the re-optimisation can still move it.")
@click.option("--leave-home", "leave_home_s", default=None, type=click.IntRange(0, 4 * 3600),
              help="Online policy: a technician not yet out weighs as this many seconds more driving "
                   "(Rules.leave_home_s; default: the rule book's).")
@click.option("--offline-start", type=click.Choice(["own", "online"]), default="own", show_default=True,
              help="Offline search's start: its own construction (a reference independent of the online "
                   "policy) or the online routes (the better of the two: it moves with the policy).")
@click.option("--reference", "reference", default=None, type=click.Path(dir_okay=False),
              help="Hindsight routes per area kept in this JSON file: an area with the same calls is not "
                   "solved again (one reference for the policies compared).")
@json_option
def hindsight(preset: str, seed: int, calls: float | None, time_limit: float, areas: int | None,
              workers: int | None, reoptimise_every_s: int | None, reoptimise_engine: str, warm_start: str,
              count_return: bool, reoptimise_time_limit_s: float | None, hold_s: int, leave_home_s: int | None,
              offline_start: str, reference: str | None, reoptimise_steps_per_visit: int | None,
              json_path: str | None) -> None:
    """The online day plan against hindsight (every call known): travel, overtime, one-hour rate."""
    from dispatch.bench import hindsight as runner  # the planner (OR-Tools): slow to import

    doc = runner.run_hindsight(preset, seed, time_limit, calls, areas, workers, reoptimise_every_s, _echo_err,
                               reoptimise_engine, warm_start, count_return, hold_s, reoptimise_time_limit_s,
                               leave_home_s, offline_start, reference, reoptimise_steps_per_visit)
    click.echo(runner.format_report(doc))
    write_json(json_path, doc)


@bench.command("realtime")
@click.option("--sizes", default="10,30,60", show_default=True, help="Technicians per area.")
@click.option("--jobs-per-tech", default=5.0, show_default=True, help="Open jobs per technician (30 -> 150).")
@click.option("--calls", default=200, show_default=True, help="Urgent calls ranked per area size.")
@click.option("--seed", default=1, show_default=True)
@click.option("--slot-calls", default=100, show_default=True, type=click.IntRange(0, None),
              help="Calls offered appointment slots over a 3-day plan of 450 jobs for 30 technicians (0: skip).")
@json_option
def realtime(sizes: str, jobs_per_tech: float, calls: int, seed: int, slot_calls: int, json_path: str | None) -> None:
    """Urgent-call ranking latency (p50/p95/p99) on areas of 10, 30, 60 technicians, and
    slot-offer latency over a rolling 3-day plan."""
    from dispatch.bench import realtime as runner  # the live search and routing: slow to import
    from dispatch.bench import slots  # (same)

    doc = runner.run_realtime_bench([int(x) for x in sizes.split(",")], jobs_per_tech, calls, seed,
                                    progress=_echo_err)
    click.echo(runner.format_rows(doc["rows"]))
    if slot_calls:
        _echo_err("slot offers over a 3-day plan ...")
        doc["slot_offer"] = slots.measure_slots(30, 450, 3, slot_calls, seed)
        doc["target_slot_offer_p95_ms"] = 200
        click.echo(slots.format_slots(doc["slot_offer"]))
    write_json(json_path, doc)


@bench.command("simulate")
@click.option("--cases", default="zhejiang:7,national:1", show_default=True,
              help="Comma-separated preset:days pairs.")
@click.option("--seed", default=1, show_default=True)
@travel_option
@json_option
def simulate(cases: str, seed: int, travel_spec: str | None, json_path: str | None) -> None:
    """Simulation speed (province-week, national-day) with the optimiser and the baseline."""
    # The simulator (OR-Tools routing): slow to import.
    from dispatch.bench import simulate as runner

    pairs = [(preset, int(days or 1)) for preset, _, days in (case.partition(":") for case in cases.split(","))]
    doc = runner.run_simulate_bench(pairs, seed, progress=_echo_err, travel=load_travel(travel_spec))
    click.echo(runner.format_rows(doc["rows"]))
    write_json(json_path, doc)


@bench.command("scaleout")
@click.option("--preset", default="national", show_default=True, help="The simulated calls (a generator preset).")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 60), help="Days of calls simulated.")
@click.option("--seed", default=1, show_default=True)
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Process-pool workers, and the local Dask cluster's worker processes.")
@click.option("--scheduler", default=None, envvar="DASK_SCHEDULER_ADDRESS",
              help="A running Dask scheduler (tcp://host:8786); default: a local cluster this bench starts.")
@click.option("--repeat", default=1, show_default=True, type=click.IntRange(1, 20),
              help="Runs per executor; medians are reported (the executors take turns to go first).")
@click.option("--policy", default="optimiser", show_default=True, type=click.Choice(["optimiser", "baseline"]))
@click.option("--sweep-preset", default="zhejiang", show_default=True, help="The sweep's base (a generator preset).")
@click.option("--scenarios", default=16, show_default=True, type=click.IntRange(1, 200))
@click.option("--sweep-plan/--no-sweep-plan", default=True, show_default=True,
              help="Each scenario plans a day (deterministic routing) as well as its coverage.")
@click.option("--unsplit/--no-unsplit", default=True, show_default=True,
              help="Also simulate unsplit in this process: what splitting by province changes in the KPIs.")
@click.option("--only", type=click.Choice(["both", "simulation", "sweep"]), default="both", show_default=True)
@travel_option
@json_option
def scaleout(preset: str, days: int, seed: int, workers: int, scheduler: str | None, repeat: int, policy: str,
             sweep_preset: str, scenarios: int, sweep_plan: bool, unsplit: bool, only: str, travel_spec: str | None,
             json_path: str | None) -> None:
    """A simulation split by province and a sweep of scenarios, through a process pool and through
    Dask in the same run: wall, CPU, the Dask overhead, and whether both give identical KPIs."""
    from dispatch.bench import scaleout as runner  # the simulator, the planner and Dask: slow to import

    doc = runner.run_scaleout(preset, days, seed, workers, scheduler, repeat, sweep_preset, scenarios, sweep_plan,
                              unsplit, policy, load_travel(travel_spec), _echo_err,
                              simulation=only != "sweep", sweep=only != "simulation")
    click.echo(runner.format_report(doc))
    write_json(json_path, doc)
    if not all(doc[case]["identical"] for case in ("simulation", "sweep") if case in doc):
        raise DispatchError("the process pool and Dask gave different results (see the table)")


@bench.command("serve")
@click.option("--rate", default=100.0, show_default=True, type=click.FloatRange(0.1, 2000), help="Calls per second.")
@click.option("--seconds", default=60.0, show_default=True, type=click.FloatRange(1, 3600))
@click.option("--crash-at", default=None, type=click.FloatRange(0.5, None),
              help="Kill the server with SIGKILL this many seconds in, then restart it.")
@click.option("--preset", default="zhejiang", show_default=True)
@click.option("--seed", default=1, show_default=True)
@click.option("--day", default=0, show_default=True)
@click.option("--inflight", default=64, show_default=True, type=click.IntRange(1, 512),
              help="Most requests open at once (the generator's bound).")
@click.option("--workdir", default=None, type=click.Path(file_okay=False), help="Database and server log (default: a temp folder).")
@click.option("--db", default=None, help="Store URL to load (an empty one: its service log is checked afterwards); "
              "default a SQLite file in the workdir.")
@json_option
def serve(rate: float, seconds: float, crash_at: float | None, preset: str, seed: int, day: int, inflight: int,
          workdir: str | None, db: str | None, json_path: str | None) -> None:
    """Load and crash test of `dispatch serve` on loopback (p50/p95/p99 decision latency)."""
    from dispatch.bench import serve as runner  # the service (FastAPI) and httpx: slow to import

    _echo_err(runner.describe_run(rate, seconds, crash_at, preset))
    res = runner.run_bench(rate, seconds, crash_at, preset, seed, day, inflight, workdir, db=db)
    click.echo(runner.format_result(res))
    write_json(json_path, {"benchmark": "serve",
                           "targets": {"rate": 100, "seconds": 60, "p95_ms": runner.P95_TARGET_MS}, **res})
    if not res["verdict"]["ok"]:  # a missed latency target fails the run, as a lost call does
        raise DispatchError("the serve benchmark failed: " + "; ".join(
            [f.removeprefix("FAIL: ") for f in res["verdict"]["failures"]] + res["check"]["violation_examples"]))


COMMANDS = (bench,)
