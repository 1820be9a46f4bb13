"""The live plans of the days ahead: today's areas and, built when first asked, one set of empty
live areas per later day (``LiveNetwork.start_day``), where booked appointments are planned from
the moment they are booked. Which later day holds a job is kept here too."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from dispatch.live.area import LiveArea
from dispatch.live.roster import LiveNetwork


class Horizon:
    def __init__(self, live: LiveNetwork, today: int, today_areas: dict[str, LiveArea],
                 opened: Callable[[int, set[str], bool], None] | None = None) -> None:
        """``opened(day, area names, first)`` is told when a later day's areas are built (first)
        or built again (``forget``), to fill them with what is already booked for that day."""
        self.live, self.today, self.opened = live, today, opened
        self._days: dict[int, dict[str, LiveArea]] = {today: today_areas}
        self.day_of_job: dict[str, int] = {}  # jobs planned on a later day (absent: today)
        self._lock = threading.RLock()  # two requests must not build the same day twice

    def areas(self, day: int) -> dict[str, LiveArea]:
        """The live areas of ``day`` (today or later; a later day starts with its bookings)."""
        if day < self.today:
            raise ValueError(f"day {day} is before the served day {self.today}")
        with self._lock:
            if day not in self._days:
                self._days[day] = self.live.start_day(day)
                if self.opened is not None:
                    self.opened(day, set(self._days[day]), True)
            return self._days[day]

    def open_booked(self, days: int, booked: Callable[[int], object]) -> None:
        """Build now each of the next ``days`` - 1 days that ``booked(day)`` says has bookings
        (earlier servers' slots), rather than when first asked: until then its bookings would be
        unknown calls (a retry 422, the id reusable)."""
        for d in range(self.today + 1, self.today + days):
            if d not in self._days and booked(d):
                self.areas(d)

    def later_days(self) -> list[int]:
        """The later days built so far."""
        return sorted(d for d in self._days if d != self.today)

    def area_of_job(self, job_id: str, area: str) -> LiveArea:
        return self.areas(self.day_of_job.get(job_id, self.today))[area]

    def forget(self, names: Iterable[str]) -> None:
        """Empty these areas on every later day (their bookings are replayed into them again)."""
        names = set(names)
        with self._lock:
            for day in self.later_days():
                fresh = self.live.start_day(day)
                for a in names & set(fresh):
                    self._days[day][a] = fresh[a]
                if self.opened is not None:
                    self.opened(day, names & set(fresh), False)
