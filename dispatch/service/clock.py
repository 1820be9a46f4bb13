"""Which clock the live plan runs on, and how a client's ``at`` is judged against it.

The live plan's clock is the server's, never a client's: a call or report may say when it
happened (``at``), but a time ahead of the server's clock by more than a small tolerance is
refused, and a time far behind it is taken as "now" with a warning. One client that sends
local time marked ``Z`` (``10:30Z`` is 18:30 in China) or mistypes an hour therefore cannot
move an area's clock for everyone else.

The server's clock is the time of day in China placed on the served day (``WallClock``), or a
clock that starts at a chosen time of the served day and runs at a chosen speed from a fixed
instant (``RunningClock``: a recorded day replayed fast, as ``dispatch bench serve`` does; a
restart with the same settings continues the same clock).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

CST = dt.timezone(dt.timedelta(hours=8), "CST")
DAY_S = 86_400


class ServiceClock(Protocol):
    def now_s(self) -> int:
        """Seconds since the dataset's epoch midnight (China Standard Time)."""


class WallClock:
    """The current time of day in China, placed on the served day."""

    def __init__(self, day: int) -> None:
        self.day = day

    def now_s(self) -> int:
        now = dt.datetime.now(CST)
        return self.day * DAY_S + now.hour * 3600 + now.minute * 60 + now.second


class RunningClock:
    """``start_s`` at the wall instant ``anchor_unix``, then ``speed`` seconds per second."""

    def __init__(self, start_s: int, speed: float = 1.0, anchor_unix: float | None = None) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self.start_s, self.speed = start_s, speed
        self.anchor_unix = time.time() if anchor_unix is None else anchor_unix

    def now_s(self) -> int:
        return self.start_s + int(max(0.0, time.time() - self.anchor_unix) * self.speed)


class ManualClock:
    """A clock moved by its owner (tests, an embedded what-if): ``set`` never goes back."""

    def __init__(self, now_s: int) -> None:
        self._now = now_s
        self._lock = threading.Lock()

    def set(self, now_s: int) -> None:
        with self._lock:
            self._now = max(self._now, now_s)

    def now_s(self) -> int:
        return self._now


@dataclass(frozen=True)
class ClockRule:
    """How far a client's ``at`` may stray from the server's clock."""

    future_tolerance_s: int = 120  # client clocks drift; two minutes ahead is still the same moment
    past_limit_s: int = 1800  # a call queued at a call centre for up to half an hour keeps its time


_DEFAULT_RULE = ClockRule()
CLOCK_RULE_TEXT = (
    f"The server's clock rules, not the client's: a time more than {_DEFAULT_RULE.future_tolerance_s // 60} "
    f"minutes ahead of it is refused (422), one more than {_DEFAULT_RULE.past_limit_s // 60} minutes behind it "
    "is taken as now with a warning, and an area's clock never goes back (an earlier time counts as its clock)")


@dataclass(frozen=True)
class Judged:
    at_s: int  # the time the live plan uses
    warning: str | None  # why it is not the time that was sent, if it is not


def _span(seconds: int) -> str:
    h, rem = divmod(abs(seconds), 3600)
    m = rem // 60
    return f"{h} h {m:02d} min" if h else f"{m} min" if m else f"{abs(seconds)} s"


def judge(sent_s: int, now_s: int, rule: ClockRule, iso: Callable[[int], str | None],
          field: str = "at") -> Judged:
    """The effective time of a client's ``sent_s`` against the server's ``now_s``.

    Raises ``ValueError`` (the message names the field and the tolerance) for a time in the
    future beyond the tolerance; ``iso`` turns a time into the text the client sees."""
    ahead = sent_s - now_s
    if ahead > rule.future_tolerance_s:
        raise ValueError(
            f"'{field}' {iso(sent_s)} is {_span(ahead)} ahead of the server's clock ({iso(now_s)}, China "
            f"Standard Time); it may lead it by at most {_span(rule.future_tolerance_s)}. A time marked Z is "
            "UTC (10:30Z is 18:30 in China); send +08:00 or no offset for China time, or leave it out for now")
    if -ahead > rule.past_limit_s:
        return Judged(now_s, f"'{field}' {iso(sent_s)} is {_span(-ahead)} before the server's clock, more than "
                             f"{_span(rule.past_limit_s)}: taken as now ({iso(now_s)})")
    return Judged(sent_s, None)


def warnings_of(judged: Judged) -> list[str]:
    """The ``warnings`` of an answer to a request whose ``at`` was judged (empty: none)."""
    return [judged.warning] if judged.warning else []
