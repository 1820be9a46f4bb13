"""The single live writer's lease on a store scope: who holds it, until when, and the heartbeat
that keeps it (the store takes, renews and checks it in its transactions: ``dispatch.store``)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from dispatch.errors import DispatchError

DEFAULT_LEASE_TTL_S = 30.0


class LeaseStore(Protocol):
    """What the heartbeat needs of a store (``dispatch.store.Store``)."""

    def renew_lease(self, lease: Lease) -> Lease: ...

    def release_lease(self, lease: Lease) -> bool: ...


@dataclass(frozen=True)
class Lease:
    """A holder's right to be the one writer of a scope until ``expires_at`` (renewable)."""

    scope: str
    holder: str  # host:pid:uuid of the server
    generation: int  # the fencing token: grows at every new holder of the scope
    ttl_s: float
    acquired_at: dt.datetime
    expires_at: dt.datetime


class LeaseError(DispatchError):
    """The single-writer lease of a scope refuses this server."""


class LeaseHeld(LeaseError):
    """Another live server holds the scope; the message says who, until when and what to do."""

    def __init__(self, scope: str, holder: str, expires_at: dt.datetime, heartbeat_at: dt.datetime,
                 now: dt.datetime) -> None:
        self.scope, self.holder, self.expires_at = scope, holder, expires_at
        left, beat = (max(0, round(d.total_seconds())) for d in (expires_at - now, now - heartbeat_at))
        super().__init__(f"another dispatch serve ({':'.join(holder.split(':')[:2])}) holds the live plan "
                         f"of scope {scope} until {local_clock(expires_at)} (in {left} s; last heartbeat {beat} s "
                         f"ago; holder {holder}); stop it or wait for its lease to expire")


class LeaseLost(LeaseError):
    """This holder's lease was taken over (or expired without a heartbeat): it must not write."""


def default_holder() -> str:
    """This process as a lease holder: ``host:pid:uuid`` (the uuid tells two stores apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def node_id() -> str | None:
    """Where a pid names one process: host, boot, pid namespace; None without /proc."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        pid_ns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
    return f"{socket.gethostname()}/{boot}/{pid_ns}"


def process_id(pid: int) -> str | None:
    """``pid:start time`` (tells a reused pid apart) of a live process; None for a dead one or a
    zombie (killed, not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the name in parentheses may hold spaces
    return None if fields[0] in ("Z", "X") else f"{pid}:{fields[19]}"


def holder_is_dead(node: str | None, process: str | None) -> bool:
    """Known dead: it ran on this node and its process is gone. Elsewhere only expiry tells."""
    return (node is not None and process is not None and node == node_id()
            and process_id(int(process.split(":")[0])) != process)


def as_utc(t: dt.datetime) -> dt.datetime:
    """SQLite gives back the naive UTC time it was given."""
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def local_clock(t: dt.datetime) -> str:
    return t.astimezone().strftime("%H:%M:%S %Z")  # this machine's zone, as its clock shows


class LeaseKeeper:
    """The heartbeat: renews a lease every third of its ttl in a daemon thread until stopped. A
    lost lease ends it (``lost``, ``on_lost``: the server should stop; its guarded writes fail
    anyway); a database error is retried at the next beat (an expired lease nobody took renews)."""

    def __init__(self, store: LeaseStore, lease: Lease, on_lost: Callable[[LeaseLost], None] | None = None,
                 every_s: float | None = None) -> None:
        self.store, self.lease, self.on_lost = store, lease, on_lost
        self.every_s = every_s if every_s is not None else lease.ttl_s / 3
        self.lost: LeaseLost | None = None
        self.error: Exception | None = None  # the last failed renewal's, None after a good one
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{lease.scope}", daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def stop(self, release: bool = True) -> None:
        """Stop the heartbeat and (by default) release the lease so the next server starts at once."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if release and self.lost is None:
            self.store.release_lease(self.lease)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.lease = self.store.renew_lease(self.lease)
                self.error = None
            except LeaseLost as exc:
                self.lost = exc
                if self.on_lost is not None:
                    self.on_lost(exc)
                return
            except (SQLAlchemyError, OSError) as exc:  # the database is away: try the next beat
                self.error = exc
