"""`dispatch serve`: the call-intake HTTP API."""

from __future__ import annotations

import click

from dispatch.cli.options import db_option
from dispatch.cli.storage import SERVICE_LOG, open_store


@click.command()
@click.argument("source", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--preset", default="zhejiang", show_default=True, help="Generate the network and roster when no SOURCE.")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--day", default=0, show_default=True, type=click.IntRange(0, None), help="Day index served.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@db_option
@click.option("--tokens-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="'token:role' per line (roles: dispatcher, viewer); also read from DISPATCH_TOKENS.")
@click.option("--rate-limit", default=300.0, show_default=True, type=click.FloatRange(0.1, None),
              help="Requests per second per token.")
@click.option("--cors-origin", multiple=True, help="Allow this browser origin (default: none).")
def serve(source: str | None, preset: str, seed: int, day: int, host: str, port: int, db: str | None,
          tokens_file: str | None, rate_limit: float, cors_origin: tuple[str, ...]) -> None:
    """Serve the call-intake HTTP API (dispatch decisions for calls as they come)."""
    from dispatch.service import ServiceConfig, load_tokens, run  # FastAPI/uvicorn: slow to import

    # The service logs every call to the store before it answers: a store it cannot write is
    # said here, in one sentence, before the server starts (not as a traceback from its startup).
    open_store(db, write=SERVICE_LOG).close()
    config = ServiceConfig(source=source, preset=preset, seed=seed, day=day, db=db, tokens=load_tokens(tokens_file),
                           rate_per_s=rate_limit, burst=max(1, int(2 * rate_limit)), cors_origins=tuple(cors_origin))
    run(config, host, port)


COMMANDS = (serve,)
