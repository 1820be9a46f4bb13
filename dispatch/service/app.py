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

Clock. Times are ISO 8601; a time without an offset is China Standard Time (+08:00). A request
may carry ``at`` (when the call came / the event happened), which must fall on the served day;
without it, the current wall-clock time of day in China is placed on the served day. An area's
clock never goes back: an ``at`` earlier than the area's clock counts as the clock.

Security. Bearer tokens with roles (``dispatcher`` writes, ``viewer`` reads), from
``DISPATCH_TOKENS`` ("token:role,token:role") or a file of such entries; only their SHA-256
digests are kept, and they are never logged. Missing or unknown token: 401; a viewer writing:
403; bodies are validated (422 naming the field), capped in size (413) and each token is rate
limited (429). No CORS headers unless origins are configured.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from dispatch.errors import DispatchError
from dispatch.service.schemas import (
    CallIn,
    Decision,
    Health,
    Idem,
    JobId,
    KpisOut,
    PlanOut,
    StatusIn,
    StatusOut,
    UnavailableIn,
    UnavailableOut,
)
from dispatch.service.security import (
    BodyLimit,
    NoCredentialsInQuery,
    RateLimiter,
    log_config,
    reader,
    writer,
)
from dispatch.service.state import LiveService, ServiceConfig, ServiceError


def create_app(config: ServiceConfig, service: LiveService | None = None) -> Any:
    """The FastAPI app. The live state is built at startup (or given, for tests); building the
    app itself loads nothing, so ``app.openapi()`` is cheap."""
    holder: dict[str, LiveService] = {}
    if service is not None:
        holder["svc"] = service

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Iterator[None]:  # type: ignore[misc]
        if "svc" not in holder:
            holder["svc"] = LiveService(config)
        yield

    app = FastAPI(title="repair-dispatch call intake", version="1",
                  description=__doc__.split("\n\n")[1] if __doc__ else "", lifespan=lifespan)  # type: ignore[arg-type]
    # The auth dependencies read these (they live at module level so FastAPI can resolve them).
    app.state.config = config
    app.state.tokens = dict(config.tokens)
    app.state.limiter = RateLimiter(config.rate_per_s, config.burst)

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
        if exc.status == 429:
            headers = {"Retry-After": "1"}
        return JSONResponse({"detail": detail}, status_code=exc.status, headers=headers)

    @app.exception_handler(DispatchError)
    async def _dispatch_error(request: Request, exc: DispatchError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

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
    app.add_middleware(BodyLimit, limit=config.max_body_bytes)
    # Outermost: a credential in the URL is refused before any other layer sees the request.
    app.add_middleware(NoCredentialsInQuery)

    errors = {401: {"description": "missing or unknown token"}, 422: {"description": "invalid field"},
              429: {"description": "rate limit"}, 413: {"description": "body too large"}}
    write_errors = {**errors, 403: {"description": "a viewer token cannot write"},
                    409: {"description": "conflicts with the live plan"}, 404: {"description": "unknown id"}}

    @app.post("/calls", response_model=Decision, responses=write_errors)
    def post_call(body: CallIn, role: Annotated[str, Depends(writer)], idem: Idem = None) -> dict[str, Any]:
        """Take a call; answer the dispatch decision (or why not, with the best alternatives)."""
        answer, replayed = svc().post_call(body.model_dump(exclude_none=True), idem)
        return {**answer, "replayed": replayed}

    @app.post("/technicians/{technician_id}/unavailable", response_model=UnavailableOut, responses=write_errors)
    def post_unavailable(technician_id: JobId, body: UnavailableIn,
                         role: Annotated[str, Depends(writer)]) -> dict[str, Any]:
        """The technician drops out from ``at``: his unfinished work is re-planned over the others."""
        return svc().unavailable(technician_id, body.at)

    @app.post("/jobs/{job_id}/status", response_model=StatusOut, responses=write_errors)
    def post_status(job_id: JobId, body: StatusIn, role: Annotated[str, Depends(writer)]) -> dict[str, Any]:
        """A field report on a job: dispatched, on_site, done or overrun (still working at ``at``)."""
        return svc().job_status(job_id, body.status, body.at)

    @app.get("/plan", response_model=PlanOut, responses={**errors, 404: {"description": "unknown area"}})
    def get_plan(area: Annotated[str, Query(max_length=20, description="area (prefecture adcode)")],
                 role: Annotated[str, Depends(reader)]) -> dict[str, Any]:
        """One area's current routes (times as planned now; dispatched work is frozen)."""
        return svc().plan(area)

    @app.get("/kpis", response_model=KpisOut, responses=errors)
    def get_kpis(role: Annotated[str, Depends(reader)]) -> dict[str, Any]:
        """The day so far as planned (the one-hour rate counts planned departures)."""
        return svc().kpis()

    @app.get("/health", response_model=Health)
    def health() -> dict[str, Any]:
        """Liveness without a token; tells nothing about the plan."""
        return {"status": "ok" if "svc" in holder else "starting"}

    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document as committed in docs/openapi.json."""
    return create_app(ServiceConfig()).openapi()  # type: ignore[no-any-return]


def run(config: ServiceConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Build the live state, then serve until stopped (uvicorn; one process: the state is in it)."""
    import uvicorn

    uvicorn.run(create_app(config), host=host, port=port, log_level="info", access_log=True, log_config=log_config())

