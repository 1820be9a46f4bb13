"""Who may call the service, and how much: bearer tokens and roles, a rate limit per token, a
throttle on failed authentication per client address, a body size limit and read timeouts for
headers and bodies (a slow client cannot hold a connection)."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl

import h11
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from uvicorn.config import LOGGING_CONFIG as uvicorn_logging_config
from uvicorn.protocols.http.h11_impl import H11Protocol

from dispatch.errors import DispatchError
from dispatch.service.state import ServiceError

TOKENS_ENV = "DISPATCH_TOKENS"


ROLES = ("dispatcher", "viewer")

# The numbers the README promises. A whole header block must arrive within HEADER_TIMEOUT_S of
# the connection's opening (on a kept-alive connection: of the next request's first byte), a
# whole body within BODY_TIMEOUT_S of its headers; either is answered 408 and the connection
# closed. An idle keep-alive connection is closed after KEEP_ALIVE_S (uvicorn's own timer).
HEADER_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 5
# Failed authentications (401) per client address: AUTH_FAILURES at once, then one more every
# AUTH_WINDOW_S / AUTH_FAILURES s (6 s). Past that the address gets 429 with Retry-After whatever
# token it sends, except a token already accepted from that address.
AUTH_FAILURES = 10
AUTH_WINDOW_S = 60.0


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_tokens(text: str, where: str = TOKENS_ENV) -> tuple[tuple[str, str], ...]:
    """"token:role" entries separated by commas or new lines (``#`` starts a comment)."""
    out = []
    for n, raw in enumerate(text.replace(",", "\n").splitlines(), 1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        token, sep, role = entry.rpartition(":")
        token, role = token.strip(), role.strip()
        # The message names the entry's position, never the token itself.
        if not sep or not token:
            raise DispatchError(f"{where}: entry {n} is not 'token:role'")
        if role not in ROLES:
            raise DispatchError(f"{where}: entry {n} has role {role!r}; expected one of {', '.join(ROLES)}")
        if len(token) < 16:
            raise DispatchError(f"{where}: entry {n} has a token shorter than 16 characters")
        out.append((token_digest(token), role))
    return tuple(out)


def load_tokens(tokens_file: str | None = None) -> tuple[tuple[str, str], ...]:
    """Tokens from ``tokens_file`` and ``DISPATCH_TOKENS``; at least one is required."""
    tokens: list[tuple[str, str]] = []
    if tokens_file:
        tokens += parse_tokens(Path(tokens_file).read_text(encoding="utf-8"), tokens_file)
    if os.environ.get(TOKENS_ENV):
        tokens += parse_tokens(os.environ[TOKENS_ENV])
    if not tokens:
        raise DispatchError(f"no tokens: set {TOKENS_ENV}='token:dispatcher,token:viewer' or pass "
                            "--tokens-file with one 'token:role' per line")
    return tuple(tokens)


class RateLimiter:
    """A token bucket per API token (by digest): ``rate`` per second, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> float:
        """0 if allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            level, last = self._buckets.get(key, (float(self.burst), now))
            level = min(float(self.burst), level + (now - last) * self.rate)
            if level >= 1.0:
                self._buckets[key] = (level - 1.0, now)
                return 0.0
            self._buckets[key] = (level, now)
            return (1.0 - level) / self.rate


class Throttled(ServiceError):
    """429 with the seconds to wait (the Retry-After header)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(429, message)
        self.retry_after_s = max(1, math.ceil(retry_after_s))


class AuthThrottle:
    """Failed authentications per client address, a token bucket: ``failures`` at once, refilled
    over ``window_s``. An address out of budget is refused before its token is even compared, so
    guessing tokens from one address runs at ``failures`` per ``window_s``; a token that has
    already been accepted from that address still passes (a call centre behind one address keeps
    working while a misconfigured client next to it is throttled). Memory is bounded: the least
    recently failing addresses are forgotten first."""

    def __init__(self, failures: int = AUTH_FAILURES, window_s: float = AUTH_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic, max_entries: int = 100_000) -> None:
        self.failures, self.window_s, self.clock, self.max_entries = failures, window_s, clock, max_entries
        self.rate = failures / window_s
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._accepted: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def _level(self, address: str, now: float) -> float:
        level, last = self._buckets.get(address, (float(self.failures), now))
        return min(float(self.failures), level + (now - last) * self.rate)

    def wait(self, address: str, digest: str | None) -> float:
        """0 if ``address`` may try ``digest``, else the seconds until it may."""
        with self._lock:
            level = self._level(address, self.clock())
            if level >= 1.0 or (digest is not None and (address, digest) in self._accepted):
                return 0.0
            return (1.0 - level) / self.rate

    def failed(self, address: str) -> None:
        now = self.clock()
        with self._lock:
            self._buckets[address] = (max(0.0, self._level(address, now) - 1.0), now)
            self._buckets.move_to_end(address)
            while len(self._buckets) > self.max_entries:
                self._buckets.popitem(last=False)

    def accepted(self, address: str, digest: str) -> None:
        with self._lock:
            if (address, digest) not in self._accepted:
                self._accepted[(address, digest)] = None
                while len(self._accepted) > self.max_entries:
                    self._accepted.popitem(last=False)


class BodyLimit:
    """Pure ASGI middleware: reads each request's whole body before the app sees it, within
    ``limit`` bytes and ``timeout_s`` seconds. A Content-Length over the limit, or a chunked body
    whose bytes pass it as they stream, gets 413; a body still incomplete ``timeout_s`` after
    its headers gets 408 (a slow client cannot hold the connection). Both close the connection.
    The app then reads the body from memory."""

    def __init__(self, app: Any, limit: int, timeout_s: float = BODY_TIMEOUT_S,
                 by_path: dict[str, int] | None = None) -> None:
        # ``by_path``: a larger limit for a path whose body is a whole plan (POST /plan).
        self.app, self.limit, self.timeout_s, self.by_path = app, limit, timeout_s, by_path or {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.by_path.get(scope.get("path", ""), self.limit)
        too_large = {"detail": f"request body over {limit} bytes"}
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _send_json(send, 413, too_large)
            return
        chunks: list[bytes] = []
        seen = 0
        try:
            async with asyncio.timeout_at(asyncio.get_running_loop().time() + self.timeout_s):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return  # the client is gone: nobody to answer
                    chunk = message.get("body", b"")
                    seen += len(chunk)
                    if seen > limit:  # a chunked body without a length, counted as it streams
                        break
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await _send_json(send, 408, {"detail": f"the request body did not arrive within {self.timeout_s:g} s"})
            return
        if seen > limit:
            await _send_json(send, 413, too_large)
            return
        body: dict | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def buffered() -> dict:
            nonlocal body
            if body is not None:
                message, body = body, None
                return message
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, buffered, send)


class HeaderTimeout(H11Protocol):
    """uvicorn's h11 protocol with a deadline on the request headers, which uvicorn lacks (its
    keep-alive timer stops at a request's first byte). A header block not complete
    ``timeout_s`` after the connection opened or after the first byte of a next request gets
    408 and the connection is closed; a connection that never sent a byte is closed silently."""

    timeout_s: float = HEADER_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            if self._header_timer is None:
                self._arm_header_timer()
            self._header_bytes = True
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the headers are in (or the request failed)
            self._cancel_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_bytes = False
        self._header_timer = self.loop.call_later(self.timeout_s, self._headers_timed_out)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self._header_bytes:
            body = json.dumps({"detail": f"the request headers did not arrive within {self.timeout_s:g} s"}).encode()
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                                 b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))
            client = f"{self.client[0]}:{self.client[1]} - " if self.client else ""
            self.logger.warning("%srequest headers incomplete after %g s: connection closed", client, self.timeout_s)
        self.transport.close()


def header_timeout_protocol(timeout_s: float = HEADER_TIMEOUT_S) -> type[HeaderTimeout]:
    """The protocol class to give uvicorn (``http=``) for a header deadline of ``timeout_s``."""
    return type("HeaderTimeout", (HeaderTimeout,), {"timeout_s": float(timeout_s)})


async def _send_json(send: Any, status: int, doc: dict) -> None:
    """An answer from a middleware, before the app ran; the connection is closed after it (what
    the client may still be sending is not read)."""
    body = json.dumps(doc).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


bearer = HTTPBearer(auto_error=False, description="An API token: Authorization: Bearer <token>")


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _role(request: Request, creds: HTTPAuthorizationCredentials | None) -> str:
    state = request.app.state
    throttle: AuthThrottle = state.auth_throttle
    address = request.client.host if request.client else "unknown"
    digest = token_digest(creds.credentials) if creds is not None and creds.scheme.lower() == "bearer" else None
    # An address out of its failure budget is refused before its token is compared.
    wait = throttle.wait(address, digest)
    if wait:
        raise Throttled(f"too many failed authentications from this address ({throttle.failures} per "
                        f"{throttle.window_s:g} s); retry in {math.ceil(wait)} s", wait)
    if digest is None:
        throttle.failed(address)
        raise ServiceError(401, "missing bearer token: send 'Authorization: Bearer <token>'")
    # Compared as digests in constant time; the token itself is never stored or logged.
    role = next((r for d, r in state.tokens.items() if hmac.compare_digest(d, digest)), None)
    if role is None:
        throttle.failed(address)
        raise ServiceError(401, "unknown token")
    throttle.accepted(address, digest)
    wait = state.limiter.allow(digest)
    if wait:
        raise Throttled(f"rate limit of {state.config.rate_per_s:g} requests/s per token; retry in {wait:.2f} s", wait)
    return role


def reader(request: Request, creds: Credentials) -> str:
    return _role(request, creds)


def writer(request: Request, creds: Credentials) -> str:
    role = _role(request, creds)
    if role != "dispatcher":
        raise ServiceError(403, f"role {role!r} may only read; writing needs a dispatcher token")
    return role


# Query parameters that carry credentials. A token in a URL ends up in proxies', browsers' and
# access logs, so the service refuses it instead of reading it.
CREDENTIAL_PARAMS = frozenset({"token", "access_token", "api_key", "apikey", "key", "auth", "authorization",
                               "bearer", "password", "secret"})


class NoCredentialsInQuery:
    """Pure ASGI middleware: a request with a credential in its query string gets 400, naming
    the parameter, before anything reads it."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            names = {k.lower() for k, _ in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)}
            found = sorted(names & CREDENTIAL_PARAMS)
            if found:
                await _send_json(send, 400, {"detail": f"credentials in the URL ({', '.join(found)}) are refused: a "
                                                       "URL is logged; send 'Authorization: Bearer <token>'",
                                             "field": found[0]})
                return
        await self.app(scope, receive, send)


class RedactQuery(logging.Filter):
    """Takes the query string out of uvicorn's access-log lines, so nothing a client put in a
    URL (a mistaken token among it) is ever written to a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?<redacted>", *args[3:])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's own logging set-up with :class:`RedactQuery` on its access log."""
    config = copy.deepcopy(uvicorn_logging_config)
    config.setdefault("filters", {})["redact_query"] = {"()": RedactQuery}
    config["handlers"]["access"]["filters"] = ["redact_query"]
    return config
