"""`dispatch ...` commands. Commands only parse options, call the library and print."""

from __future__ import annotations

import sys

import click

from dispatch.errors import DispatchError, ValidationError

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

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(total=total, desc=stage, leave=False, file=sys.stderr)
        bar.total = total  # type: ignore[attr-defined]
        bar.n = done  # type: ignore[attr-defined]
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


@cli.command()
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--out", default="out/demo", show_default=True, type=click.Path(file_okay=False))
def demo(seed: int, out: str) -> None:
    """The main job on the embedded demo: generate the Zhejiang network and a day of calls."""
    ctx = click.get_current_context()
    ctx.invoke(generate, preset="zhejiang", days=1, seed=seed, fmt="csv", population=None, out=out)


@cli.group()
def bench() -> None:
    """Benchmarks: print a table and write JSON comparable run to run."""


def _register_benchmarks() -> None:
    from dispatch.bench.vrptw import vrptw_command

    bench.add_command(vrptw_command, name="vrptw")


def main() -> None:
    _register_benchmarks()
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_INVALID_INPUT)
    except ValidationError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID_INPUT)
    except DispatchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
