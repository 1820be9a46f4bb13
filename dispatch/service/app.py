"""Call-intake service: an authenticated HTTP API over the real-time engine (``dispatch serve``).

A call centre posts each call and gets the dispatch decision back at once: which centre's
technician goes, when he sets off and arrives, whether the one-hour promise is kept, or why not
with the best alternatives. Field status reports and technician drop-outs change the live plan.

State. One :class:`~dispatch.live.LiveArea` per routing area for the served day, built as
the simulation builds them (``dispatch.simulate``). Each area's state is a function of the
operations applied to it, in order; every acknowledged operation is committed to the store's
``service_log`` *before* the answer is sent, with what it needs to be replayed (the exact call,
the effective time, the areas whose clock it moved, the technician chosen). A restart replays
the log in sequence order and so rebuilds the same live plan; a failed commit rebuilds the areas
it touched the same way, so memory never holds an unacknowledged change.

Concurrency. Request handlers run in a thread pool; each area has a lock, and a call takes the
locks of every area it considers (sorted, so two calls never deadlock) and holds them through the
commit. Two calls that could compete for a technician are therefore serialised, and the log's
order is the order the plan saw. A call id is the idempotency key: a retried POST returns the
first answer, and a concurrent duplicate is refused with 409 until the first one is answered.

Clock. The live plan runs on the server's clock (``dispatch.service.clock``): China's time of
day placed on the served day, or a clock started at a chosen time and speed. Times are ISO 8601;
a time without an offset is China Standard Time (+08:00). A request may carry ``at`` (when the
call came / the event happened), which must fall on the served day and may not lead the
server's clock by more than 2 minutes (422); one more than 30 minutes behind it is taken as now,
with a warning in the answer. An area's clock never goes back: an earlier ``at`` counts as the
clock. Field reports move a job forward only (planned, dispatched, on site, done; cancelled
before the work starts); any other is 409 with the job's state.

Single writer. A server takes its store scope's lease before it replays the log and renews it
while it runs; a second server on the same store and day is refused at start, and a server that
lost its lease answers 503 to every change (``dispatch.store``).

Security. Bearer tokens with roles (``dispatcher`` writes, ``viewer`` reads), from
``DISPATCH_TOKENS`` ("token:role,token:role") or a file of such entries; only their SHA-256
digests are kept, and they are never logged. Missing or unknown token: 401; a viewer writing:
403; bodies are validated (422 naming the field), capped in size (413, chunked bodies counted as
they stream) and each token is rate limited (429); an address with too many failed
authentications is throttled (429 with Retry-After, see ``security``). Headers and bodies must
arrive within their read timeouts (408, the connection closed). No CORS headers unless origins
are configured.

Failures. A store that is locked, busy, full or unreachable answers 503 with ``Retry-After`` and
a JSON body (nothing was acknowledged; a retry with the same call id is safe); any other server
error is a JSON 500 that names no internals (the traceback goes to the server log).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import sqlalchemy.exc
from fastapi import Depends, FastAPI, Query, Request
from fastapi import Path as FastApiPath
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from dispatch.errors import DispatchError
from dispatch.service import dayplan
from dispatch.service.schemas import (
    CallIn,
    DayPlanIn,
    DayPlanOut,
    Decision,
    EventsOut,
    Health,
    Idem,
    JobId,
    KpisOut,
    MoveIn,
    MoveOut,
    NoticesOut,
    OfferIn,
    OfferOut,
    PinIn,
    PinOut,
    PlanOut,
    SlotsOut,
    StatusIn,
    StatusOut,
    UnavailableIn,
    UnavailableOut,
    UndoOut,
)
from dispatch.service.security import (
    BODY_TIMEOUT_S,
    HEADER_TIMEOUT_S,
    KEEP_ALIVE_S,
    AuthThrottle,
    BodyLimit,
    NoCredentialsInQuery,
    RateLimiter,
    header_timeout_protocol,
    log_config,
    reader,
    writer,
)
from dispatch.service.state import LiveService, ServiceConfig, ServiceError

log = logging.getLogger("uvicorn.error")  # the server's error log (uvicorn configures it)

# SQLite result codes (the low byte of an extended code) and PostgreSQL SQLSTATEs of a store that
# is there but cannot take the operation now, with the Retry-After each gets.
_SQLITE_BUSY = {5: "busy", 6: "locked", 13: "full"}
_PG_BUSY = {"40001": "serialization failure", "40P01": "deadlock", "55P03": "lock not available",
            "57014": "statement timeout"}
_PG_UNAVAILABLE_CLASSES = {"08": "connection failure", "53": "out of resources", "57": "shutting down or starting up"}
_UNREACHABLE_TEXT = ("connection refused", "could not connect", "connection failed", "server closed the connection",
                     "terminating connection", "connection is closed", "no route to host", "timeout expired")
RETRY_AFTER_S = {"busy": 1, "unavailable": 5, "full": 30}


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps (a DB-API error inside SQLAlchemy's, a cause, a context)."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 16:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [x for x in (getattr(e, "orig", None), e.__cause__, e.__context__) if isinstance(x, BaseException)]


def store_unavailable(exc: BaseException) -> tuple[str, str] | None:
    """(kind, what) when ``exc`` is the store being locked or busy (kind "busy"), full ("full")
    or unreachable ("unavailable"), on SQLite or PostgreSQL; None for any other error."""
    for e in _chain(exc):
        if isinstance(e, sqlalchemy.exc.TimeoutError):
            return "busy", "no database connection was free in time"
        if isinstance(e, sqlite3.OperationalError):
            code = getattr(e, "sqlite_errorcode", None)
            text = str(e).lower()
            what = _SQLITE_BUSY.get(code & 0xFF) if isinstance(code, int) else None
            what = what or next((w for w in ("locked", "busy") if f"database is {w}" in text or
                                 f"table is {w}" in text), None)
            if what:
                return ("full" if what == "full" else "busy"), f"the SQLite database is {what}"
        state = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
        if isinstance(state, str) and state:
            if state in _PG_BUSY:
                return "busy", f"PostgreSQL: {_PG_BUSY[state]}"
            if state[:2] in _PG_UNAVAILABLE_CLASSES:
                return ("full" if state == "53100" else "unavailable"), f"PostgreSQL: {_PG_UNAVAILABLE_CLASSES[state[:2]]}"
        if isinstance(e, sqlalchemy.exc.DBAPIError) and e.connection_invalidated:
            return "unavailable", "the database connection was lost"
        if type(e).__name__ == "OperationalError" and any(t in str(e).lower() for t in _UNREACHABLE_TEXT):
            return "unavailable", "the database cannot be reached"
    return None


def _failure(request: Request, exc: BaseException) -> JSONResponse:
    """THE answer to a request that failed inside the server: 503 with Retry-After when the store
    is locked, busy, full or unreachable; else a JSON 500 that names no internals."""
    found = store_unavailable(exc)
    where = f"{request.method} {request.url.path}"
    if found is not None:
        kind, what = found
        retry = RETRY_AFTER_S[kind]
        log.warning("%s: store %s (%s): %s", where, kind, what, type(exc).__name__)
        return JSONResponse({"detail": f"the store is {kind} ({what}); nothing was acknowledged: retry in {retry} s "
                                       "(with the same call id, a retry returns the first answer if it was stored)",
                             "reason": f"store_{kind}", "retry_after_s": retry},
                            status_code=503, headers={"Retry-After": str(retry)})
    if isinstance(exc, sqlalchemy.exc.SQLAlchemyError):
        # Answered by the ExceptionMiddleware, not re-raised: logged here as uvicorn logs the rest.
        log.error("%s: unexpected store error", where, exc_info=exc)
    return JSONResponse({"detail": "internal server error; see the server log (with the same call id, a retry "
                                   "returns the first answer if it was stored)", "reason": "internal_error"},
                        status_code=500)


def create_app(config: ServiceConfig, service: LiveService | None = None) -> Any:
    """The FastAPI app. The live state is built at startup (or given, for tests); building the
    app itself loads nothing, so ``app.openapi()`` is cheap."""
    holder: dict[str, LiveService] = {}
    if service is not None:
        holder["svc"] = service

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Iterator[None]:  # type: ignore[misc]
        built = "svc" not in holder
        if built:
            holder["svc"] = LiveService(config)
        yield
        if built:
            holder["svc"].close()

    app = FastAPI(title="repair-dispatch call intake", version="1",
                  description=__doc__.split("\n\n")[1] if __doc__ else "", lifespan=lifespan)  # type: ignore[arg-type]
    # The auth dependencies read these (they live at module level so FastAPI can resolve them).
    app.state.config = config
    app.state.tokens = dict(config.tokens)
    app.state.limiter = RateLimiter(config.rate_per_s, config.burst)
    app.state.auth_throttle = AuthThrottle()

    def svc() -> LiveService:
        if "svc" not in holder:
            raise ServiceError(503, "the service is starting; retry in a moment")
        return holder["svc"]

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        if exc.status == 422:
            detail: Any = [{"type": "value_error", "loc": ["body", exc.field or "body"], "msg": str(exc)}]
        else:
            detail = str(exc)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status in (429, 503):
            headers = {"Retry-After": str(getattr(exc, "retry_after_s", 1 if exc.status == 429 else 2))}
        return JSONResponse({"detail": detail}, status_code=exc.status, headers=headers)

    @app.exception_handler(DispatchError)
    async def _dispatch_error(request: Request, exc: DispatchError) -> JSONResponse:
        if store_unavailable(exc) is not None:  # a store error wrapped in ours
            return _failure(request, exc)
        return JSONResponse({"detail": str(exc)}, status_code=409)

    # One answer for what fails inside: store errors are answered here (ExceptionMiddleware),
    # anything else by Starlette's last resort (which then re-raises, so uvicorn logs it).
    @app.exception_handler(sqlalchemy.exc.SQLAlchemyError)
    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception) -> JSONResponse:
        return _failure(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": e.get("msg")}
                  for e in exc.errors()]
        fields = ", ".join(".".join(str(x) for x in e["loc"][1:]) or str(e["loc"][0]) for e in errors)
        return JSONResponse({"detail": errors, "message": f"invalid field(s): {fields}"}, status_code=422)

    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(config.cors_origins),
                           allow_methods=["GET", "POST"], allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(BodyLimit, limit=config.max_body_bytes, timeout_s=BODY_TIMEOUT_S,
                       by_path={"/plan": config.max_plan_bytes})
    # Outermost: a credential in the URL is refused before any other layer sees the request.
    app.add_middleware(NoCredentialsInQuery)

    errors = {401: {"description": "missing or unknown token"}, 422: {"description": "invalid field"},
              429: {"description": "rate limit per token, or too many failed authentications from this address "
                                   "(Retry-After)"},
              413: {"description": "body too large"},
              503: {"description": "the store is busy or unavailable: nothing was acknowledged; retry after "
                                   "Retry-After seconds with the same call id"}}
    write_errors = {**errors, 403: {"description": "a viewer token cannot write"},
                    409: {"description": "conflicts with the live plan"}, 404: {"description": "unknown id"}}

    @app.post("/calls", response_model=Decision, responses=write_errors)
    def post_call(body: CallIn, role: Annotated[str, Depends(writer)], idem: Idem = None) -> dict[str, Any]:
        """Take a call; answer the dispatch decision (or why not, with the best alternatives)."""
        answer, replayed = svc().post_call(body.model_dump(exclude_none=True), idem)
        return {**answer, "replayed": replayed}

    @app.post("/calls/slots", response_model=SlotsOut, responses=write_errors)
    def post_slots(body: CallIn, role: Annotated[str, Depends(writer)]) -> dict[str, Any]:
        """Appointment windows over the next days the plan can keep for this call, each with the
        technician, expected arrival and one-hour status; nothing is planned. Book one with
        ``POST /calls`` giving its window and ``booked: true``."""
        return svc().slots(body.model_dump(exclude_none=True))

    @app.post("/technicians/{technician_id}/unavailable", response_model=UnavailableOut, responses=write_errors)
    def post_unavailable(technician_id: JobId, body: UnavailableIn,
                         role: Annotated[str, Depends(writer)]) -> dict[str, Any]:
        """The technician drops out from ``at``: his unfinished work is re-planned over the others."""
        return svc().unavailable(technician_id, body.at)

    @app.post("/jobs/{job_id}/status", response_model=StatusOut, responses=write_errors)
    def post_status(job_id: JobId, body: StatusIn, role: Annotated[str, Depends(writer)]) -> dict[str, Any]:
        """A field report on a job: dispatched, on_site, done or overrun (still working at ``at``,
        done by ``expected_end`` if he says)."""
        return svc().job_status(job_id, body.status, body.at, body.expected_end)

    @app.post("/offers/{offer_id}/{action}", response_model=OfferOut, responses=write_errors)
    def post_offer(offer_id: JobId, action: Literal["accept", "refuse"], body: OfferIn,
                   role: Annotated[str, Depends(writer)]) -> dict[str, Any]:
        """A contracted station's answer to an offer: accept (the job is planned) or refuse (it is
        re-offered at once, the one-hour deadline unchanged); accepting a lapsed offer is 409."""
        return svc().offers.answer(offer_id, action, body.at)

    @app.get("/offers", responses=errors)
    def get_offers(role: Annotated[str, Depends(reader)]) -> list[dict[str, Any]]:
        """Offers awaiting a contracted station's answer, the soonest due first."""
        return svc().offers.listing()

    @app.get("/plan", response_model=PlanOut, responses={**errors, 404: {"description": "unknown area"}})
    def get_plan(area: Annotated[str, Query(max_length=20, description="area (prefecture adcode)")],
                 role: Annotated[str, Depends(reader)],
                 day: Annotated[int | None, Query(ge=0, description="a later day of the slot horizon: its "
                                                  "bookings (default: the served day)")] = None) -> dict[str, Any]:
        """One area's current routes (times as planned now; dispatched work is frozen)."""
        return svc().plan(area, day)

    @app.post("/plan", response_model=DayPlanOut, responses=write_errors)
    def post_plan(body: DayPlanIn, role: Annotated[str, Depends(writer)]) -> dict[str, Any]:
        """A day plan's routes as the base of the areas its technicians work in (a dispatch board's
        plan of the dataset's own calls): logged, replayed first after a restart; 409 once those
        areas have changes of their own."""
        return dayplan.post_plan(svc(), body.model_dump())

    @app.post("/jobs/{job_id}/pin", response_model=PinOut, responses=write_errors)
    def post_pin(job_id: JobId, body: PinIn, role: Annotated[str, Depends(writer)]) -> dict[str, Any]:
        """Move a job to a technician of its area (his best position) from ``at`` on; 409 and no
        change when he cannot take it without breaking a promise or the job is under way."""
        return dayplan.pin(svc(), job_id, body.technician_id, body.at)

    @app.post("/jobs/{job_id}/move", response_model=MoveOut, responses=write_errors)
    def post_move(job_id: JobId, body: MoveIn, role: Annotated[str, Depends(writer)]) -> dict[str, Any]:
        """Move a job to a technician of its area, its work starting no earlier than ``start``, at
        the best position that keeps every promise; 409 and no change when that cannot be kept
        (undo it as a pin)."""
        return dayplan.move_job(svc(), job_id, body.technician_id, body.start, body.at)

    @app.post("/events/{seq}/undo", response_model=UndoOut, responses=write_errors)
    def post_undo(seq: Annotated[int, FastApiPath(ge=1, le=2**62)], role: Annotated[str, Depends(writer)]) -> dict[str, Any]:
        """Take one pin or move back: its area is rebuilt from the log without it (409 for other changes)."""
        return dayplan.undo(svc(), seq)

    @app.get("/events", response_model=EventsOut, responses=errors)
    def get_events(role: Annotated[str, Depends(reader)]) -> dict[str, Any]:
        """The served day's log as a dispatcher reads it (no plan routes), the areas and their
        technicians, and the log's head (it grows when the plan changes)."""
        return dayplan.events(svc())

    @app.get("/kpis", response_model=KpisOut, responses=errors)
    def get_kpis(role: Annotated[str, Depends(reader)]) -> dict[str, Any]:
        """The day so far as planned (the one-hour rate counts planned departures)."""
        return svc().kpis()

    @app.get("/notices", response_model=NoticesOut, responses=errors)
    def get_notices(role: Annotated[str, Depends(reader)],
                    pending: Annotated[bool, Query(description="only those not delivered yet")] = False) -> dict[str, Any]:
        """The customers to tell: booked arrivals that moved by more than the threshold, windows
        that will be missed (oldest first, with their delivery to the webhook)."""
        return svc().notices(pending)

    @app.get("/health", response_model=Health)
    def health() -> dict[str, Any]:
        """Liveness without a token; tells nothing about the plan."""
        return {"status": "ok" if "svc" in holder else "starting"}

    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document as committed in docs/openapi.json."""
    return create_app(ServiceConfig()).openapi()  # type: ignore[no-any-return]


def run(config: ServiceConfig, host: str = "127.0.0.1", port: int = 8000,
        header_timeout_s: float = HEADER_TIMEOUT_S, keep_alive_s: int = KEEP_ALIVE_S) -> None:
    """Build the live state, then serve until stopped (uvicorn; one process: the state is in it).
    uvicorn's h11 protocol with a header deadline (uvicorn has none); the body deadline is the
    app's (:class:`BodyLimit`)."""
    import uvicorn  # the server only where one is run

    # The live plan is built (lease taken, log replayed) before the port opens, so a store that
    # another server holds is one sentence from the CLI, not a failed startup's traceback.
    service = LiveService(config)
    try:
        uvicorn.run(create_app(config, service), host=host, port=port, log_level="info", access_log=True,
                    log_config=log_config(), http=header_timeout_protocol(header_timeout_s),
                    timeout_keep_alive=keep_alive_s)
    finally:
        service.close()  # the lease back: the next server starts at once

