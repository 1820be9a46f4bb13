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


@cli.group()
def bench() -> None:
    """Benchmarks: print a table and write JSON comparable run to run."""


def _register_benchmarks() -> None:
    from dispatch.bench.vrptw import vrptw_command

    bench.add_command(vrptw_command, name="vrptw")


def main() -> None:
    _register_benchmarks()
    try:
        cli.main(standalone_mode=False)
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


if __name__ == "__main__":
    main()
