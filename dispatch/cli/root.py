"""The `dispatch` click group and ``main(argv) -> int``. Commands live one module per family
(data, plan, simulate, serve, coverage, scenario, bench); they only parse options, call the
library and print."""

from __future__ import annotations

import click

from dispatch.cli import bench, contracts, coverage, data, plan, scenario, serve, simulate, staff, stock, travel
from dispatch.cli.options import EXIT_FAILED, EXIT_INVALID_INPUT, EXIT_OK
from dispatch.errors import DispatchError, InputError, ValidationError

EXIT_ABORTED = 130  # Ctrl-C, as a shell reports a SIGINT


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="repair-dispatch")
def cli() -> None:
    """Multi-tier repair-network dispatch planner."""


for family in (data, plan, simulate, serve, coverage, scenario, bench, staff, stock, travel, contracts):
    for command in family.COMMANDS:
        cli.add_command(command)


def main(argv: list[str] | None = None) -> int:
    """Run ``dispatch`` on ``argv`` (default ``sys.argv[1:]``) and return the exit code: 0 success,
    2 invalid input (click's usage errors, BadInput, the library's ValidationError and InputError),
    3 a run that could not complete (any other DispatchError, among them a plan store that cannot
    be opened, read or written: one sentence from ``dispatch.cli.storage``), 130 aborted; a command
    may exit with its own code (`dispatch bench vrptw` gives 1 when an instance is left unsolved)."""
    try:
        code = cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_ABORTED
    except click.ClickException as exc:
        exc.show()
        return EXIT_INVALID_INPUT
    except (ValidationError, InputError) as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_INVALID_INPUT
    except DispatchError as exc:
        click.echo(f"error: {exc}", err=True)
        return EXIT_FAILED
    return code if isinstance(code, int) else EXIT_OK
