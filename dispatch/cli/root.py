"""`dispatch ...` commands. Commands only parse options, call the library and print."""

from __future__ import annotations

import sys

import click

from dispatch.errors import DispatchError, InputError, ValidationError

# Exit codes scripts can rely on.
EXIT_OK = 0
EXIT_INVALID_INPUT = 2  # the input files failed validation (also click's usage errors)
EXIT_FAILED = 3  # a run could not complete (solver/system problem)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="repair-dispatch")
def cli() -> None:
    """Multi-tier repair-network dispatch planner."""


class _Bar:
    """A tqdm progress bar per stage, fed by the library's (stage, done, total) callbacks."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.bars: dict[str, object] = {}

    def __call__(self, stage: str, done: int, total: int, note: str = "") -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=stage, leave=False, file=sys.stderr)
        bar.total = total  # type: ignore[attr-defined]
        bar.n = done  # type: ignore[attr-defined]
        if note:  # a running KPI, e.g. the share dispatched within the hour so far
            bar.set_postfix_str(note, refresh=False)  # type: ignore[attr-defined]
        bar.refresh()  # type: ignore[attr-defined]
        if done >= total:
            bar.close()  # type: ignore[attr-defined]

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()  # type: ignore[attr-defined]


def _load_population(path: str | None):  # type: ignore[no-untyped-def]
    if path is None:
        return None
    from dispatch.geodata import read_population_table

    return read_population_table(path)


_population_option = click.option(
    "--population",
    type=click.Path(exists=True, dir_okay=False),
    envvar="DISPATCH_POPULATION",
    help="Table of population or installed base per county (columns code/adcode and "
    "population/pop_total/installed_base); default: the documented proxy.",
)


@cli.command()
@click.option("--preset", default="national", show_default=True,
              help="national, tiny, zhejiang (or another province alias), province:<adcode|pinyin>")
@click.option("--days", default=1, show_default=True, type=click.IntRange(0, 365))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--format", "fmt", default="csv", show_default=True, type=click.Choice(["csv", "parquet", "geojson"]))
@_population_option
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
def generate(preset: str, days: int, seed: int, fmt: str, population: str | None, out: str) -> None:
    """Generate a network, a roster and DAYS days of calls into OUT."""
    from dispatch.io import write_dataset
    from dispatch.synthetic import generate as run

    bar = _Bar()
    try:
        dataset = run(preset, days=days, seed=seed, population=_load_population(population), progress=bar)
    finally:
        bar.close()
    write_dataset(dataset, out, fmt)
    _print_info(dataset)
    click.echo(f"written to {out}")


@cli.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def validate(folder: str) -> None:
    """Validate a dataset folder; list every problem (exit code 2 if any)."""
    from dispatch.io import read_dataset

    ds = read_dataset(folder)
    click.echo(
        f"{folder}: valid ({len(ds.network)} centres, {len(ds.technicians)} technicians, "
        f"{len(ds.requests)} requests)"
    )


@cli.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def info(folder: str) -> None:
    """Counts by tier, technicians, calls by mode/level and demand by province."""
    from dispatch.io import read_dataset

    _print_info(read_dataset(folder))


def _print_info(ds) -> None:  # type: ignore[no-untyped-def]
    from dispatch.summary import dataset_summary

    click.echo(dataset_summary(ds))


def _dataset(source: str | None, preset: str | None, seed: int, days: int, population: str | None):  # type: ignore[no-untyped-def]
    if source:
        from dispatch.io import read_dataset

        return read_dataset(source)
    from dispatch.synthetic import generate as run

    bar = _Bar()
    try:
        return run(preset or "zhejiang", days=days, seed=seed, population=_load_population(population), progress=bar)
    finally:
        bar.close()


_db_option = click.option("--db", default=None, envvar="DISPATCH_DB",
                          help="Database URL (default sqlite:///dispatch.sqlite); e.g. postgresql://user@host/db")


@cli.command()
@click.argument("source", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--preset", default=None, help="Generate the input instead of reading SOURCE (default zhejiang).")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--day", default=0, show_default=True, type=click.IntRange(0, None), help="Day index to plan.")
@click.option("--time-limit", default=None, type=click.FloatRange(0.1, None),
              help="Maximum routing seconds per area (default: scaled by area size, 0.5-10 s).")
@click.option("--workers", default=None, type=click.IntRange(1, 64), help="Worker processes (default: CPUs).")
@click.option("--scheduler", default=None, envvar="DASK_SCHEDULER_ADDRESS",
              help="Dask scheduler address, e.g. tcp://host:8786 (default: local process pool).")
@_db_option
@_population_option
@click.option("--name", default=None, help="Name of the plan in the store (default: derived from the input).")
@click.option("--out", default="out/plan", show_default=True, type=click.Path(file_okay=False),
              help="Folder for route sheets, GeoJSON and the unassigned list.")
def plan(source, preset, seed, day, time_limit, workers, scheduler, db, population, name, out) -> None:  # type: ignore[no-untyped-def]
    """Plan a day: tier assignment, routes for every area, KPIs; store and export it."""
    from dataclasses import replace

    from dispatch.executor import executor
    from dispatch.exports import export_plan
    from dispatch.kpis import format_kpis, kpis
    from dispatch.plan import PlanParams, make_plan
    from dispatch.store import Store

    ds = _dataset(source, preset, seed, max(1, day + 1), population)
    params = PlanParams(day=day, seed=seed)
    if time_limit is not None:
        params = replace(params, routing_max_s=time_limit, routing_min_s=min(params.routing_min_s, time_limit))
    bar = _Bar()
    try:
        with executor(workers, scheduler) as pool:
            result = make_plan(ds, params, pool=pool, progress=bar)
    finally:
        bar.close()
    k = kpis(result.outcomes, result.workload)
    plan_name = name or f"{source or preset or 'zhejiang'}-seed{seed}-day{day}"
    store = Store(db)
    frames = {"stops": result.stops, "routes": result.routes, "outcomes": result.outcomes,
              "workload": result.workload, "bench": result.bench, "unassigned": result.unassigned,
              "routing_stats": result.routing_stats}
    store.save(plan_name, frames, params, {**k, "epoch_date": ds.epoch_date, "timings_s": result.timings_s},
               result.dataset_fingerprint)
    homes = {t.id: t.home_centre_id for t in ds.technicians}
    export_plan(frames, ds.epoch_date, out, f"Route sheets - {plan_name}", ds.network, homes)
    click.echo(format_kpis({"plan": k}))
    if len(result.unassigned):
        click.echo("\nunassigned by reason:\n" + result.unassigned["reason_code"].value_counts().sort_index().to_string())
    click.echo("\ntimings: " + ", ".join(f"{k2} {v:.1f} s" for k2, v in result.timings_s.items()))
    click.echo(f"stored as {plan_name!r} in {store.url}; exports in {out}")


@cli.group()
def plans() -> None:
    """Stored plans: list, show, export."""


@plans.command("list")
@_db_option
def plans_list(db) -> None:  # type: ignore[no-untyped-def]
    import json

    from dispatch.store import Store

    frame = Store(db).list()
    if frame.empty:
        click.echo("no plans stored")
        return
    frame["dispatch<=60min"] = [
        f"{100 * (json.loads(k).get('dispatch_within_target_rate') or 0):.1f} %" for k in frame["kpis_json"]
    ]
    click.echo(frame.drop(columns=["kpis_json", "dataset_fingerprint"]).to_string(index=False))


@plans.command("show")
@click.argument("name")
@_db_option
def plans_show(name, db) -> None:  # type: ignore[no-untyped-def]
    from dispatch.kpis import format_kpis
    from dispatch.store import Store

    p = Store(db).load(name)
    click.echo(f"plan {p.name!r} (id {p.id}, {p.created_at}, inputs {p.dataset_fingerprint[:12]})")
    click.echo(format_kpis({"plan": {k: v for k, v in p.kpis.items() if isinstance(v, (int, float))}}))
    if "unassigned" in p.frames and len(p.frames["unassigned"]):
        click.echo("\nunassigned by reason:\n" + p.frames["unassigned"]["reason_code"].value_counts().sort_index().to_string())


@plans.command("export")
@click.argument("name")
@_db_option
@click.option("--out", required=True, type=click.Path(file_okay=False))
def plans_export(name, db, out) -> None:  # type: ignore[no-untyped-def]
    from dispatch.exports import export_plan
    from dispatch.store import Store

    p = Store(db).load(name)
    paths = export_plan(p.frames, p.kpis.get("epoch_date", "2026-03-02"), out, f"Route sheets - {p.name}")
    click.echo("\n".join(str(x) for x in paths))


@cli.command()
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--out", default="out/demo", show_default=True, type=click.Path(file_okay=False))
@_db_option
def demo(seed: int, out: str, db) -> None:  # type: ignore[no-untyped-def]
    """The main job on the embedded demo: plan a day of the Zhejiang network."""
    ctx = click.get_current_context()
    ctx.invoke(plan, source=None, preset="zhejiang", seed=seed, day=0, time_limit=None, workers=None,
               scheduler=None, db=db or f"sqlite:///{out}/plans.sqlite", population=None,
               name="demo", out=out)


@cli.command()
@click.argument("source", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--preset", default=None, help="Generate the calls instead of reading SOURCE (default zhejiang).")
@click.option("--province", default=None, help="Shortcut for --preset province:<adcode or pinyin>.")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 60), help="Days of calls.")
@click.option("--policy", default="both", show_default=True, type=click.Choice(["optimiser", "baseline", "both"]))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--reoptimise-min", default=None, type=click.IntRange(10, 600),
              help="Optimiser: re-solve each area's movable work every N minutes (default: never).")
@_db_option
@_population_option
@click.option("--name", default=None, help="Name of the run in the store (default: derived from the input).")
@click.option("--log-csv", default=None, type=click.Path(dir_okay=False), help="Also write the event log here.")
def simulate(source, preset, province, days, policy, seed, reoptimise_min, db, population, name, log_csv) -> None:  # type: ignore[no-untyped-def]
    """Simulate DAYS of calls under a dispatch policy; KPIs side by side; the log is stored."""
    from dispatch.kpis import format_kpis, kpis
    from dispatch.simulate import SimParams
    from dispatch.simulate import simulate as run
    from dispatch.store import Store

    if province:
        preset = f"province:{province}"
    ds = _dataset(source, preset, seed, days, population)
    policies = ["optimiser", "baseline"] if policy == "both" else [policy]
    store = Store(db)
    columns, runs = {}, {}
    for pol in policies:
        params = SimParams(policy=pol, seed=seed,
                           reoptimise_every_s=None if reoptimise_min is None else 60 * reoptimise_min)
        bar = _Bar()
        try:
            result = run(ds, params, progress=bar)
        finally:
            bar.close()
        runs[pol] = result
        columns[pol] = kpis(result.outcomes, result.workload)
        run_name = f"{name or (source or preset or 'zhejiang')}-sim-{pol}-seed{seed}-{days}d"
        store.save(run_name, {"events": result.events, "outcomes": result.outcomes,
                              "workload": result.workload, "open": result.open_requests},
                   params, {**columns[pol], "epoch_date": ds.epoch_date, "wall_s": result.wall_s},
                   _fingerprint(ds), kind="simulation")
        click.echo(f"{pol}: {result.calls} calls simulated in {result.wall_s:.1f} s "
                   f"({result.calls / max(result.wall_s, 1e-9):.0f} calls/s); stored as {run_name!r} in {store.url}")
        if log_csv:
            out = log_csv if len(policies) == 1 else log_csv.replace(".csv", f"-{pol}.csv")
            result.events.to_csv(out, index=False)
    click.echo(format_kpis(columns))
    for pol, result in runs.items():
        if len(result.open_requests):
            counts = result.open_requests["reason"].value_counts().sort_index()
            click.echo(f"{pol}: open at the horizon or unserved: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _fingerprint(ds) -> str:  # type: ignore[no-untyped-def]
    from dispatch.io import dataset_fingerprint

    return dataset_fingerprint(ds)


@cli.group()
def bench() -> None:
    """Benchmarks: print a table and write JSON comparable run to run."""


@cli.command()
@click.argument("source", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--preset", default="zhejiang", show_default=True, help="Generate the network and roster when no SOURCE.")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--day", default=0, show_default=True, type=click.IntRange(0, None), help="Day index served.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@_db_option
@click.option("--tokens-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="'token:role' per line (roles: dispatcher, viewer); also read from DISPATCH_TOKENS.")
@click.option("--rate-limit", default=300.0, show_default=True, type=click.FloatRange(0.1, None),
              help="Requests per second per token.")
@click.option("--cors-origin", multiple=True, help="Allow this browser origin (default: none).")
def serve(source, preset, seed, day, host, port, db, tokens_file, rate_limit, cors_origin) -> None:  # type: ignore[no-untyped-def]
    """Serve the call-intake HTTP API (dispatch decisions for calls as they come)."""
    from dispatch.service import ServiceConfig, load_tokens, run

    config = ServiceConfig(source=source, preset=preset, seed=seed, day=day, db=db, tokens=load_tokens(tokens_file),
                           rate_per_s=rate_limit, burst=max(1, int(2 * rate_limit)), cors_origins=tuple(cors_origin))
    run(config, host, port)


def _register_benchmarks() -> None:
    from dispatch.bench.coverage import coverage_command
    from dispatch.bench.plan import national_command, province_command
    from dispatch.bench.realtime import realtime_command
    from dispatch.bench.serve import serve_command
    from dispatch.bench.simulate import simulate_command
    from dispatch.bench.vrptw import vrptw_command

    bench.add_command(vrptw_command, name="vrptw")
    bench.add_command(coverage_command, name="coverage")
    bench.add_command(national_command, name="national")
    bench.add_command(province_command, name="province")
    bench.add_command(realtime_command, name="realtime")
    bench.add_command(simulate_command, name="simulate")
    bench.add_command(serve_command, name="serve")


def _register_coverage() -> None:
    from dispatch.cli.coverage import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


def main() -> None:
    _register_coverage()
    _register_benchmarks()
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_INVALID_INPUT)
    except (ValidationError, InputError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID_INPUT)
    except DispatchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
