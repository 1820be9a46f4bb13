"""The ``dispatch`` command line: ``main(argv) -> int``."""

from dispatch.cli.root import cli, main

__all__ = ["cli", "main"]
