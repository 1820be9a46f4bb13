"""Who may call the service, and how much: bearer tokens and roles, a rate limit per client, a body size limit."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from uvicorn.config import LOGGING_CONFIG as uvicorn_logging_config

from dispatch.errors import DispatchError
from dispatch.service.state import ServiceError

TOKENS_ENV = "DISPATCH_TOKENS"


ROLES = ("dispatcher", "viewer")


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


class BodyLimit:
    """Pure ASGI middleware: bodies over ``limit`` bytes get 413 before any parsing."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await _send_json(send, 413, {"detail": f"request body over {self.limit} bytes"})
            return
        seen = 0

        async def counted() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:  # a chunked body without a length
                raise _TooLarge()
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await _send_json(send, 413, {"detail": f"request body over {self.limit} bytes"})


class _TooLarge(Exception):
    pass


async def _send_json(send: Any, status: int, doc: dict) -> None:
    body = json.dumps(doc).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


bearer = HTTPBearer(auto_error=False, description="An API token: Authorization: Bearer <token>")


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _role(request: Request, creds: HTTPAuthorizationCredentials | None) -> str:
    if creds is None or creds.scheme.lower() != "bearer":
        raise ServiceError(401, "missing bearer token: send 'Authorization: Bearer <token>'")
    digest = token_digest(creds.credentials)
    state = request.app.state
    # Compared as digests in constant time; the token itself is never stored or logged.
    role = next((r for d, r in state.tokens.items() if hmac.compare_digest(d, digest)), None)
    if role is None:
        raise ServiceError(401, "unknown token")
    wait = state.limiter.allow(digest)
    if wait:
        raise ServiceError(429, f"rate limit of {state.config.rate_per_s:g} requests/s per token; "
                           f"retry in {wait:.2f} s")
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
