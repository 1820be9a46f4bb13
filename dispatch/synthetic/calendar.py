"""The demand calendar: how many calls each day brings, relative to an ordinary day.

A day's Poisson mean is ``calls_per_day`` times its multiplier, which is made of:

* **the weekday** (Mon..Sun factors that average 1 over a normal week, so ``calls_per_day``
  stays the mean of a holiday-free week);
* **public holidays** from the official State Council schedule, as the ``chinese-calendar``
  package carries it (years it has data for), else as the ``holidays`` package computes it
  (``holidays.China``; the day's reasons then carry a warning, see :func:`china_day`). A rest day
  of a holiday block gets the holiday factor, or the Spring Festival factor; a weekend day
  worked in exchange (调休补班) is a working day;
* **the post-holiday backlog**: a share of the demand a holiday suppressed comes back, spread
  evenly over the next working days;
* **surges** (:class:`Surge`): a date range in which all calls, or the calls of one product
  line and/or repair level, are multiplied.

:func:`demand_by_day` gives each day's multiplier with its reasons; ``dispatch.synthetic.calls``
draws the calls from it.

The default factors are assumptions derived below, not measurements: calibrate them from a call
log (a day-of-week index and holiday ratios) before reading absolute staffing figures off them.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import chinese_calendar
import holidays as holidays_lib

from dispatch.errors import InputError

DEFAULT_EPOCH_DATE = "2026-03-02"  # a Monday outside any holiday; day 0 of generated datasets
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SPRING_FESTIVAL = chinese_calendar.Holiday.spring_festival.value  # "Spring Festival"
# chinese-calendar's years: its official schedule; outside them, holidays.China's rules.
_CC_YEARS = (min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year)
_MEAN_TOLERANCE = 0.005


@dataclass(frozen=True)
class ChinaDay:
    """One date in mainland China's working calendar.

    ``holiday`` is the statutory holiday a rest day belongs to (a weekend inside a holiday block
    included when the source says so); ``makeup_workday`` marks a weekend day worked in exchange
    for a holiday (调休补班; note that chinese-calendar's own ``in_lieu_days`` are the opposite,
    the weekdays taken off). ``warning`` says when the source is not the official schedule."""

    date: dt.date
    workday: bool
    holiday: str | None
    makeup_workday: bool
    source: str  # "chinese-calendar" or "holidays"
    warning: str | None = None


def china_day(date: dt.date) -> ChinaDay:
    """Whether ``date`` is a working day in mainland China, and which holiday it belongs to.

    The official schedule, make-up working days included, comes from ``chinese-calendar`` for
    the years it has (published each year by the State Council in November or December). For
    other years ``holidays.China`` is used; it knows make-up working days only for the years
    whose schedule it carries, and otherwise estimates the holidays by rule, so every weekend
    then counts as a rest day: the returned ``warning`` says so."""
    if _CC_YEARS[0] <= date.year <= _CC_YEARS[1]:
        is_holiday, name = chinese_calendar.get_holiday_detail(date)
        makeup = not is_holiday and date.weekday() >= 5
        # chinese-calendar names a make-up working day after the holiday it pays for; a rest day
        # only belongs to a holiday when it is one.
        return ChinaDay(date, not is_holiday, name if is_holiday else None, makeup, "chinese-calendar")
    cn = _holidays_china(date.year)
    name = cn.get(date)
    makeup = date in cn.weekend_workdays
    known = any(d.year == date.year for d in cn.weekend_workdays)
    warning = (
        f"{date.year} is outside chinese-calendar's official schedule ({_CC_YEARS[0]}-{_CC_YEARS[1]}): "
        + ("holidays and make-up working days from the holidays package"
           if known else
           "holidays estimated by the holidays package's rules; the make-up working days (调休) "
           "are unknown, so every weekend counts as a rest day")
    )
    return ChinaDay(date, cn.is_working_day(date), name, makeup, "holidays", warning)


@functools.lru_cache(maxsize=64)
def _holidays_china(year: int) -> holidays_lib.HolidayBase:
    # English names, so that a Spring Festival day is recognisable whatever the locale.
    return holidays_lib.China(years=year, language="en_US")


def _is_spring_festival(name: str) -> bool:
    # chinese-calendar: "Spring Festival"; holidays: "Chinese New Year (Spring Festival)",
    # "Chinese New Year's Eve" and their "(observed)" days.
    return name == SPRING_FESTIVAL or name.startswith("Chinese New Year")


@dataclass(frozen=True)
class Surge:
    """A named surge: for ``days`` days from ``start`` (ISO date), calls are multiplied by ``factor``.

    Without ``product_line`` and ``level`` it multiplies every call of the day. With either, it
    adds calls of that kind only: the kind's expected number becomes ``factor`` times what the
    day would otherwise bring (its share of the product and level mixes), so ``factor`` must be
    >= 1. ``about`` says what the scenario is."""

    name: str
    start: str
    days: int
    factor: float
    product_line: str | None = None
    level: int | None = None
    about: str = ""

    def __post_init__(self) -> None:
        where = f"surge {self.name!r}"
        if not self.name:
            raise InputError("a surge needs a name, e.g. 'new-model-launch'")
        try:
            dt.date.fromisoformat(self.start)
        except (TypeError, ValueError):
            raise InputError(f"{where}: start {self.start!r} is not an ISO date; expected YYYY-MM-DD") from None
        if not isinstance(self.days, int) or self.days < 1:
            raise InputError(f"{where}: days {self.days!r}; expected a whole number of days >= 1")
        if not math.isfinite(self.factor) or self.factor < 0:
            raise InputError(f"{where}: factor {self.factor!r}; expected a finite number >= 0")
        if self.level is not None and self.level not in (1, 2, 3):
            raise InputError(f"{where}: level {self.level!r}; expected 1, 2 or 3")
        if self.product_line is not None and not self.product_line:
            raise InputError(f"{where}: product_line is empty; expected e.g. 'phone', or None for all")
        if not self.whole_day and self.factor < 1:
            raise InputError(
                f"{where}: factor {self.factor} on {self.kind}; a surge of one kind adds calls, "
                "so expected >= 1 (a dip of every call is a surge without product_line and level)"
            )

    @property
    def whole_day(self) -> bool:
        """True when the surge multiplies every call, not one product line or level."""
        return self.product_line is None and self.level is None

    @property
    def kind(self) -> str:
        parts = ([self.product_line] if self.product_line else []) + (
            [f"level {self.level}"] if self.level is not None else [])
        return " ".join(parts) or "all calls"

    @property
    def first_date(self) -> dt.date:
        return dt.date.fromisoformat(self.start)

    def active_on(self, date: dt.date) -> bool:
        return 0 <= (date - self.first_date).days < self.days

    def starting(self, start: str) -> Surge:
        """The same surge from another date."""
        return replace(self, start=start)

    def __str__(self) -> str:
        return f"{self.name} ({self.kind} x{self.factor:g}, {self.days} days from {self.start})"


# Illustrative scenarios, not measurements; both start on the default epoch's second Monday.
SURGE_EXAMPLES: Mapping[str, Surge] = MappingProxyType({
    "new-model-launch": Surge(
        "new-model-launch", start="2026-03-09", days=14, factor=1.5, product_line="phone", level=1,
        about="a flagship phone goes on sale: for a fortnight, data migration, activation, "
              "accessories and early screen and battery complaints bring 1.5 times the simple "
              "(level 1) phone calls, about +26 % of all calls with the default mixes",
    ),
    "bad-batch-camera": Surge(
        "bad-batch-camera", start="2026-03-09", days=28, factor=2.0, product_line="phone", level=2,
        about="a defective batch of one camera module: for four weeks owners of the affected "
              "phones come in, doubling module (level 2) phone repairs, about +24 % of all calls",
    ),
})


def surge_example(name: str, start: str | None = None) -> Surge:
    """A named example surge (``SURGE_EXAMPLES``), optionally moved to start on ``start``."""
    if name not in SURGE_EXAMPLES:
        raise InputError(f"unknown surge {name!r}; expected one of {sorted(SURGE_EXAMPLES)}")
    surge = SURGE_EXAMPLES[name]
    return surge if start is None else surge.starting(start)


@dataclass(frozen=True)
class DemandCalendar:
    """How each day's demand compares with an ordinary day's (see the module docstring).

    The defaults are a blend of two channels, weighted as ``CallParams.mode_mix`` weights them:
    bookings (on-site and pickup, 60 % of calls) through the hotline and app, and walk-ins (40 %).

    * ``weekday_factors`` (Mon..Sun) = 0.6 x bookings + 0.4 x walk-ins, where bookings follow a
      contact centre's week (Mon 1.25, Tue 1.10, Wed-Fri 1.05, Sat-Sun 0.75: workforce-planning
      guides put Monday at 1.2-1.4 times the weekly average and weekends at 0.5-0.8 times a
      weekday; the low end, since the maker takes bookings seven days a week) and walk-ins a
      shop's week (0.90 on weekdays, 1.25 at weekends, when customers have time and the service
      centres are open). They must average 1 (within 0.005) so that ``calls_per_day`` keeps its
      meaning, the mean of a holiday-free week; scale that instead to change the volume.
    * ``holiday_factor`` 0.66: on a statutory rest day bookings fall below a weekend's (0.50:
      the holidays are China's travel peaks) while walk-ins hold near a weekday's (0.90):
      0.6 x 0.50 + 0.4 x 0.90.
    * ``spring_festival_factor`` 0.30 for the rest days of the Spring Festival block: bookings
      about a quarter of normal, walk-ins about a third; most contracted county stations close
      from New Year's Eve for several days (as car dealerships do, with a duty rota at most) and
      much of the country travels home.
    * A make-up working day (调休补班, a worked weekend day) is a working day: it gets the mean of
      the Monday-Friday factors (1.02 by default, :attr:`makeup_workday_factor`).
    * ``backlog_share`` 0.6 over ``backlog_working_days`` 5: a broken phone is still broken after
      the holiday, so most suppressed demand is deferred, not lost; some is (a new phone bought
      in the holiday sales, a repair elsewhere). Each rest day's suppressed demand, its weekday
      factor minus its holiday factor, times the share, is spread evenly over the next five
      working days (one working week), holidays before day 0 included. After the 2026 Spring
      Festival that is +0.76 a day for a week; after a one-day holiday, +0.04. A longer tail
      (people come back from the Spring Festival until the Lantern Festival) would reach the
      default epoch's week (2026-03-02, one week after the 2026 holiday), which is meant to be
      an ordinary week.
    * ``surges``: none by default; see :data:`SURGE_EXAMPLES`.

    :meth:`flat` is every day alike (the generator before the calendar).
    """

    weekday_factors: tuple[float, ...] = (  # Monday..Sunday
        1.11, 1.02, 0.99, 0.99, 0.99, 0.95, 0.95)
    holidays: bool = True  # apply mainland China's public holidays
    holiday_factor: float = 0.66
    spring_festival_factor: float = 0.30
    backlog_share: float = 0.6  # of the demand a holiday suppressed, returning after it
    backlog_working_days: int = 5  # spread evenly over this many working days after each rest day
    surges: tuple[Surge, ...] = ()

    def __post_init__(self) -> None:
        f = self.weekday_factors
        if len(f) != 7 or not all(isinstance(x, (int, float)) and math.isfinite(x) and x >= 0 for x in f):
            raise InputError(
                f"weekday_factors {f!r}; expected 7 finite numbers >= 0, Monday to Sunday")
        mean = sum(f) / 7
        if abs(mean - 1) > _MEAN_TOLERANCE:
            raise InputError(
                f"weekday_factors average {mean:.4f}; expected 1 (within {_MEAN_TOLERANCE}) so that "
                "calls_per_day stays the mean of a normal week: scale calls_per_day_national instead")
        for name in ("holiday_factor", "spring_festival_factor"):
            v = getattr(self, name)
            if not math.isfinite(v) or v < 0:
                raise InputError(f"{name} {v!r}; expected a finite number >= 0")
        if not 0 <= self.backlog_share <= 1:
            raise InputError(f"backlog_share {self.backlog_share!r}; expected a share between 0 and 1")
        if not isinstance(self.backlog_working_days, int) or self.backlog_working_days < 1:
            raise InputError(
                f"backlog_working_days {self.backlog_working_days!r}; expected a whole number >= 1")
        if not all(isinstance(s, Surge) for s in self.surges):
            raise InputError(f"surges {self.surges!r}; expected a tuple of Surge")
        names = [s.name for s in self.surges]
        if len(set(names)) != len(names):
            raise InputError(f"surges {names}: each surge needs its own name")

    @classmethod
    def flat(cls) -> DemandCalendar:
        """Every day alike: no weekday profile, no holidays, no backlog, no surge."""
        return cls(weekday_factors=(1.0,) * 7, holidays=False, backlog_share=0.0)

    @property
    def is_flat(self) -> bool:
        return self.weekday_factors == (1.0,) * 7 and not self.holidays and not self.surges

    @property
    def makeup_workday_factor(self) -> float:
        """The factor of a worked weekend day (调休补班): the mean of Monday to Friday."""
        return sum(self.weekday_factors[:5]) / 5

    def with_surges(self, *surges: Surge) -> DemandCalendar:
        return replace(self, surges=self.surges + tuple(surges))

    def describe(self) -> str:
        """One line of provenance for a dataset's manifest."""
        if self.is_flat:
            return "flat (every day alike)"
        parts = ["weekday " + "/".join(f"{x:g}" for x in self.weekday_factors)]
        if self.holidays:
            parts.append(
                f"holidays x{self.holiday_factor:g}, Spring Festival x{self.spring_festival_factor:g} "
                f"(chinese-calendar {_CC_YEARS[0]}-{_CC_YEARS[1]}, else holidays.China), "
                f"backlog {self.backlog_share:.0%} over {self.backlog_working_days} working days")
        parts += [f"surge {s}" for s in self.surges]
        return "; ".join(parts)


@dataclass(frozen=True)
class DayDemand:
    """One day's demand relative to an ordinary day, with why.

    ``multiplier`` = (``base`` + ``backlog``) x the factors of the whole-day surges; it times
    ``calls_per_day`` is the Poisson mean of the day's calls of the ordinary mix. The surges of
    one kind (``kind_surges``) add calls of their kind on top (see :class:`Surge`)."""

    day: int  # days since the epoch (day 0 = the epoch date)
    date: dt.date
    base: float  # the weekday, holiday or Spring Festival factor
    base_reason: str
    backlog: float  # added share of calls_per_day returning after a holiday
    backlog_from: tuple[dt.date, ...]  # the rest days it comes from
    surges: tuple[Surge, ...]  # active on this date
    workday: bool
    holiday: str | None
    warnings: tuple[str, ...] = ()

    @property
    def multiplier(self) -> float:
        m = self.base + self.backlog
        for s in self.surges:
            if s.whole_day:
                m *= s.factor
        return m

    @property
    def kind_surges(self) -> tuple[Surge, ...]:
        return tuple(s for s in self.surges if not s.whole_day)

    @property
    def reasons(self) -> tuple[str, ...]:
        """One line per factor that shaped the day, then any warning."""
        out = [f"{self.base_reason} x{self.base:.2f}"]
        if self.backlog_from:
            first, last = self.backlog_from[0], self.backlog_from[-1]
            span = first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"
            out.append(f"post-holiday backlog +{self.backlog:.3f} from {len(self.backlog_from)} "
                       f"rest day(s) {span}")
        out += [f"surge {s}" for s in self.surges]
        out += [f"warning: {w}" for w in self.warnings]
        return tuple(out)


CALENDAR_KINDS = ("china", "flat")


def recorded_calendar(description: str | None) -> DemandCalendar:
    """The calendar a dataset's manifest line (``describe()``) names: flat for ``flat`` or for a
    dataset made before the calendar (no line), else the default (named surges are not read back)."""
    return DemandCalendar.flat() if (description or "flat").startswith("flat") else DemandCalendar()


def calendar_from_options(kind: str = "china", surges: tuple[str, ...] | list[str] = ()) -> DemandCalendar:
    """The calendar a command line asks for: ``kind`` 'china' (the default profile and holidays)
    or 'flat', plus example surges as 'NAME' or 'NAME@YYYY-MM-DD' (to move its start)."""
    if kind not in CALENDAR_KINDS:
        raise InputError(f"unknown demand calendar {kind!r}; expected one of {list(CALENDAR_KINDS)}")
    chosen = []
    for text in surges:
        name, _, start = text.partition("@")
        chosen.append(surge_example(name, start or None))
    base = DemandCalendar() if kind == "china" else DemandCalendar.flat()
    return base.with_surges(*chosen)


def demand_by_day(epoch_date: str, days: int, calendar: DemandCalendar = DemandCalendar()) -> tuple[DayDemand, ...]:
    """Each day's demand multiplier and its reasons, for ``days`` days from ``epoch_date`` (day 0).

    The backlog of a holiday shortly before day 0 reaches into the first days, as it would."""
    try:
        epoch = dt.date.fromisoformat(epoch_date)
    except (TypeError, ValueError):
        raise InputError(f"epoch date {epoch_date!r} is not an ISO date; expected YYYY-MM-DD") from None
    if not isinstance(days, int) or days < 0:
        raise InputError(f"days {days!r}; expected a whole number >= 0")
    cal = calendar
    end = epoch + dt.timedelta(days=days)  # exclusive

    def info(d: dt.date) -> ChinaDay:
        if cal.holidays:
            return china_day(d)
        return ChinaDay(d, d.weekday() < 5, None, False, "weekdays")

    def base_of(c: ChinaDay) -> tuple[float, str]:
        wd = WEEKDAY_NAMES[c.date.weekday()]
        if c.holiday is not None and not c.workday:
            if _is_spring_festival(c.holiday):
                return cal.spring_festival_factor, f"{c.holiday} ({wd})"
            return cal.holiday_factor, f"{c.holiday} ({wd})"
        if c.makeup_workday:
            return cal.makeup_workday_factor, f"make-up working day 调休 ({wd})"
        return cal.weekday_factors[c.date.weekday()], wd

    # Start early enough that every rest day whose backlog reaches day 0 is seen: a rest day
    # before the backlog_working_days working days preceding the epoch has spent its backlog.
    start = epoch
    if cal.holidays and cal.backlog_share > 0:
        seen = 0
        while seen < cal.backlog_working_days:
            start -= dt.timedelta(days=1)
            seen += info(start).workday

    n_scan = (end - start).days
    dates = [start + dt.timedelta(days=i) for i in range(n_scan)]
    infos = [info(d) for d in dates]
    backlog = [0.0] * n_scan
    sources: list[list[dt.date]] = [[] for _ in range(n_scan)]
    for i, c in enumerate(infos):
        if c.holiday is None or c.workday or cal.backlog_share == 0:
            continue
        suppressed = cal.weekday_factors[c.date.weekday()] - base_of(c)[0]
        if suppressed <= 0:
            continue
        share = cal.backlog_share * suppressed / cal.backlog_working_days
        given, j = 0, i + 1
        while given < cal.backlog_working_days and j < n_scan:
            if infos[j].workday:
                backlog[j] += share
                sources[j].append(c.date)
                given += 1
            j += 1

    out = []
    offset = (epoch - start).days
    for k in range(days):
        i = offset + k
        c = infos[i]
        base, why = base_of(c)
        out.append(DayDemand(
            day=k, date=c.date, base=base, base_reason=why, backlog=backlog[i],
            backlog_from=tuple(sources[i]), surges=tuple(s for s in cal.surges if s.active_on(c.date)),
            workday=c.workday, holiday=c.holiday if not c.workday else None,
            warnings=(c.warning,) if c.warning else (),
        ))
    return tuple(out)


__all__ = [
    "CALENDAR_KINDS",
    "DEFAULT_EPOCH_DATE",
    "SURGE_EXAMPLES",
    "ChinaDay",
    "DayDemand",
    "DemandCalendar",
    "Surge",
    "calendar_from_options",
    "china_day",
    "demand_by_day",
    "surge_example",
]
