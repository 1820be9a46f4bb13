"""`dispatch serve`: the call-intake HTTP API."""

from __future__ import annotations

import datetime as dt

import click

from dispatch.cli.options import db_option, load_travel, travel_option
from dispatch.cli.storage import SERVICE_LOG, open_store
from dispatch.model import DAY_S


@click.command()
@click.argument("source", required=False, type=click.Path(exists=True, file_okay=False))
@click.option("--preset", default="zhejiang", show_default=True, help="Generate the network and roster when no SOURCE.")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--day", default=0, show_default=True, type=click.IntRange(0, None), help="Day index served.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@db_option
@travel_option
@click.option("--tokens-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="'token:role' per line (roles: dispatcher, viewer); also read from DISPATCH_TOKENS.")
@click.option("--rate-limit", default=300.0, show_default=True, type=click.FloatRange(0.1, None),
              help="Requests per second per token.")
@click.option("--cors-origin", multiple=True, help="Allow this browser origin (default: none).")
@click.option("--clock-start", default=None, metavar="HH:MM",
              help="Run the server's clock from this time of the served day (default: China's time of day now).")
@click.option("--clock-speed", default=1.0, show_default=True, type=click.FloatRange(0, None, min_open=True),
              help="With --clock-start: seconds of the served day per real second (a recorded day replayed fast).")
@click.option("--webhook-url", default=None, envvar="DISPATCH_WEBHOOK_URL",
              help="POST each ETA notice of a booked job here (JSON; retried with back-off; also DISPATCH_WEBHOOK_URL).")
@click.option("--clock-anchor", default=None, metavar="TIME",
              help="With --clock-start: the wall time (ISO 8601, China time unless it has an offset, or Unix "
                   "seconds) when the clock read --clock-start (default: now). A restarted server given the same "
                   "anchor goes on from where the clock is, instead of starting it again.")
@click.option("--client-clock", is_flag=True,
              help="Take a client's 'at' anywhere on the served day as sent (a dispatch board's clock, which the "
                   "dispatcher sets); an area's clock still never goes back.")
def serve(source: str | None, preset: str, seed: int, day: int, host: str, port: int, db: str | None,
          travel_spec: str | None, tokens_file: str | None, rate_limit: float, cors_origin: tuple[str, ...],
          clock_start: str | None, clock_speed: float, webhook_url: str | None, clock_anchor: str | None,
          client_clock: bool) -> None:
    """Serve the call-intake HTTP API (dispatch decisions for calls as they come)."""
    from dispatch.service import ServiceConfig, load_tokens, run  # FastAPI/uvicorn: slow to import
    from dispatch.service.clock import ClockRule  # with the service (imports it)

    # The service logs every call to the store before it answers: a store it cannot write is
    # said here, in one sentence, before the server starts (not as a traceback from its startup).
    if clock_anchor is not None and clock_start is None:
        raise click.BadParameter("needs --clock-start (the time the clock read at the anchor)", param_hint="--clock-anchor")
    open_store(db, write=SERVICE_LOG).close()
    travel = load_travel(travel_spec)  # a bad spec is said here, before the server starts
    config = ServiceConfig(source=source, preset=preset, seed=seed, day=day, db=db, tokens=load_tokens(tokens_file),
                           rate_per_s=rate_limit, burst=max(1, int(2 * rate_limit)), cors_origins=tuple(cors_origin),
                           clock_start_s=None if clock_start is None else _time_of_day_s(clock_start),
                           clock_speed=clock_speed, travel=travel.spec, webhook_url=webhook_url,
                           clock_anchor_unix=None if clock_anchor is None else anchor_unix(clock_anchor),
                           clock_rule=ClockRule(DAY_S, DAY_S) if client_clock else ClockRule())
    run(config, host, port)


def anchor_unix(text: str) -> float:
    """``--clock-anchor`` as Unix seconds: a number as it is, else an ISO 8601 time (China
    Standard Time when it names no offset)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}; expected an ISO 8601 time, e.g. 2026-03-02T08:30:00+08:00, or Unix "
                                 "seconds", param_hint="--clock-anchor") from None
    return (t if t.tzinfo else t.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))).timestamp()


def _time_of_day_s(text: str) -> int:
    h, _, m = text.partition(":")
    if not (h.isdigit() and m.isdigit() and int(h) < 24 and int(m) < 60):
        raise click.BadParameter(f"{text!r}; expected a time of day HH:MM, e.g. 08:30", param_hint="--clock-start")
    return int(h) * 3600 + int(m) * 60


COMMANDS = (serve,)
