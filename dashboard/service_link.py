"""Where the board's live plan lives: a ``dispatch serve`` it talks to over HTTP.

A service is configured by URL and token (``DISPATCH_SERVICE_URL`` / ``DISPATCH_SERVICE_TOKEN``
or the sidebar); without one, the board starts its own for the dataset and day
(:class:`OwnService`): ``dispatch serve`` on a free loopback port, on the board's store, with
the dispatcher's clock taken as sent (``--client-clock``: the board's clock is the time of each
change), stopped with the board's process (and by the kernel if that process dies). Streamlit-free.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from dispatch.errors import DispatchError

URL_ENV, TOKEN_ENV = "DISPATCH_SERVICE_URL", "DISPATCH_SERVICE_TOKEN"
START_TIMEOUT_S = 180.0  # a busy shared machine imports, generates and replays slowly


class ServiceRefused(DispatchError):
    """The service said no (4xx/5xx): its sentence, with the status."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


def _detail(r: httpx.Response) -> str:
    try:
        d = r.json().get("detail", r.text)
    except ValueError:
        return r.text[:300]
    if isinstance(d, list):  # a validation error: the fields and their messages
        return "; ".join(f"{'.'.join(str(x) for x in e.get('loc', [])[1:])}: {e.get('msg')}" for e in d)
    return str(d)


class ServiceLink:
    """Requests to one service with a bearer token (``client`` for tests: an ASGI test client)."""

    def __init__(self, url: str, token: str, client: httpx.Client | None = None, timeout_s: float = 120.0) -> None:
        self.url = url.rstrip("/")
        self.client = client or httpx.Client(base_url=self.url, timeout=timeout_s, trust_env=False)
        self.headers = {"Authorization": f"Bearer {token}"}

    def _answer(self, r: httpx.Response) -> Any:
        if r.status_code >= 400:
            raise ServiceRefused(r.status_code, _detail(r))
        return r.json()

    def get(self, path: str, **params: Any) -> Any:
        try:
            return self._answer(self.client.get(path, params=params, headers=self.headers))
        except httpx.HTTPError as exc:
            raise ServiceRefused(503, f"the service at {self.url} cannot be reached: {exc}") from exc

    def post(self, path: str, body: dict[str, Any]) -> Any:
        try:
            return self._answer(self.client.post(path, json={k: v for k, v in body.items() if v is not None},
                                                 headers=self.headers))
        except httpx.HTTPError as exc:
            raise ServiceRefused(503, f"the service at {self.url} cannot be reached: {exc}") from exc


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


try:  # loaded here, not in the forked child (which must only make the one call)
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:
    _LIBC = None


def _die_with_parent() -> None:
    """In the child before exec: the kernel stops it when the board's process goes (Linux), so
    a killed board leaves no service holding the port and renewing the store's lease."""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


_STARTED: list[OwnService] = []
_LAUNCHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dispatch-serve-launcher")


def stop_own_services() -> None:
    """Stop every service this process started (at exit; a test's clean slate)."""
    while _STARTED:
        _STARTED.pop().stop()


atexit.register(stop_own_services)


class OwnService:
    """A ``dispatch serve`` the board started (see the module's docstring)."""

    def __init__(self, source_args: list[str], day: int, db_url: str, token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(24)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="dispatch-serve-", suffix=".log", delete=False)  # noqa: SIM115 - the service's log for its lifetime
        # This checkout's packages, wherever the board was started from.
        repo = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "DISPATCH_TOKENS": f"{self.token}:dispatcher",
               "PYTHONPATH": os.pathsep.join(x for x in (repo, os.environ.get("PYTHONPATH", "")) if x)}
        # Started from one long-lived thread: the kernel's parent-death signal follows the thread
        # that forked, and a Streamlit script run's thread ends with the run.
        self.proc = _LAUNCHER.submit(
            subprocess.Popen,
            [sys.executable, "-m", "dispatch.cli", "serve", *source_args, "--day", str(day), "--host", "127.0.0.1",
             "--port", str(self.port), "--db", db_url, "--client-clock"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent).result()  # one async-signal-safe call after the fork
        self.lock = threading.Lock()
        self.up = False
        _STARTED.append(self)

    def wait(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Until the service answers its health check (``DispatchError`` with its log if it stops)."""
        if self.up:
            return
        deadline = time.monotonic() + timeout_s
        with httpx.Client(trust_env=False, timeout=2.0) as c:
            while True:
                try:
                    if c.get(f"{self.url}/health").json().get("status") == "ok":
                        self.up = True
                        return
                except (httpx.HTTPError, ValueError):
                    pass
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise DispatchError(f"the board's dispatch service did not start: {self.tail()}")
                time.sleep(0.2)

    def tail(self, chars: int = 1500) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-chars:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        with self.lock:
            if self.proc.poll() is None:
                self.proc.terminate()  # the service gives its lease back on the way out
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
