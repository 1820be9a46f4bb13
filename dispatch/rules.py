"""The rule book: the business rules of the network, each written once, in one unit.

Assignment, the day plan, the simulation, the baseline, scenarios, the service and the dashboard
all read one :class:`Rules` (``DEFAULT_RULES`` unless given another); a scenario changes a rule
with ``dataclasses.replace``. Times are integer seconds (``_s``); levels are
:class:`~dispatch.model.RepairLevel` (1 simple, 2 module, 3 board-level).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import NoReturn

from dispatch.errors import DispatchError
from dispatch.hours import business_deadline
from dispatch.model import Centre, Mode, Priority, RepairLevel


class Table(dict[int, int]):
    """A read-only table keyed by plain ints (levels, priorities) that pickles (process pools,
    Dask) and hashes, unlike a ``MappingProxyType``; a dict underneath, so a lookup in a hot
    loop costs what a dict's does."""

    def __init__(self, items: Mapping[int, int]) -> None:
        super().__init__({int(k): int(v) for k, v in items.items()})

    def _read_only(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a rule book's table is read-only; change it with dataclasses.replace(rules, ...)")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _read_only  # type: ignore[assignment]
    __ior__ = _read_only  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))

    def __reduce__(self) -> tuple[type, tuple[dict[int, int]]]:
        return (Table, (dict(self),))

    def __repr__(self) -> str:
        return f"Table({dict.__repr__(self)})"


def _frozen(mapping: dict) -> Table:  # type: ignore[type-arg]
    return Table(mapping)


# What the 三包 rules at intake decide (Sanbao.route): the phone is refunded, exchanged for a
# new one from stock, repaired under warranty, or repaired for a fee once the customer accepts
# the quote.
REFUND, EXCHANGE, REPAIR, QUOTE = "refund", "exchange", "repair", "quote"
PAID_DAMAGE = frozenset({"water", "drop"})  # damage the warranty does not cover


@dataclass(frozen=True)
class Sanbao:
    """The 三包 rules for mobile phones (移动电话机商品修理更换退货责任规定, 2001): each a named rule,
    tried in this order by :meth:`route`.

    * ``paid_damage``: water or drop damage is not a warranty failure: a paid repair that waits
      for the customer to accept the quote (:meth:`quote_wait_s`);
    * ``return_7d``: a performance failure within 7 days of purchase: the customer may return the
      phone (refund, art. 10);
    * ``exchange_15d``: within 15 days: exchanged for the same model (art. 11);
    * ``exchange_after_repairs``: within the warranty, after two repairs that did not fix it, the
      phone is exchanged (art. 13);
    * ``warranty_repair``: within the warranty (one year for the handset, art. 13): repaired free;
    * ``out_of_warranty``: later: a paid repair after a quote.
    A call that does not say when the phone was bought is repaired (no rule applies to it).
    """

    return_days: int = 7
    exchange_days: int = 15
    warranty_days: int = 365
    exchange_after_failed_repairs: int = 2
    # How long a customer takes to accept a quote (a reasoned estimate, not a maker's data): one
    # who walked in hears it at the counter and answers there (``counter_answer_s``); one whose
    # phone was collected is called and answers after a log-normal time with a median of
    # ``quote_median_s`` (1.5 h) and a 90th percentile of ``quote_p90_s`` (8 h), counted in his
    # waking hours (``Rules.customer_hours_s``: an answer due at night comes the next morning).
    counter_answer_s: int = 10 * 60
    quote_median_s: int = 90 * 60
    quote_p90_s: int = 8 * 3600

    def quote_wait_s(self, u: float, at_counter: bool) -> int:
        """The customer's time to accept a quote, at the quantile ``u`` of its distribution
        (waking hours only: the caller puts nights in)."""
        if at_counter:
            return self.counter_answer_s
        sigma = math.log(self.quote_p90_s / self.quote_median_s) / NormalDist().inv_cdf(0.9)
        z = NormalDist().inv_cdf(min(max(u, 1e-9), 1 - 1e-9))
        return int(self.quote_median_s * math.exp(sigma * z))

    def route(self, age_days: float | None, damage: str = "", failed_repairs: int = 0) -> tuple[str, str]:
        """(what happens, the rule's name) for a phone ``age_days`` old (None: unknown)."""
        if damage in PAID_DAMAGE:
            return QUOTE, "paid_damage"
        if age_days is None:
            return REPAIR, "no_purchase_date"
        if age_days <= self.return_days:
            return REFUND, "return_7d"
        if age_days <= self.exchange_days:
            return EXCHANGE, "exchange_15d"
        if age_days <= self.warranty_days:
            if failed_repairs >= self.exchange_after_failed_repairs:
                return EXCHANGE, "exchange_after_repairs"
            return REPAIR, "warranty_repair"
        return QUOTE, "out_of_warranty"


@dataclass(frozen=True)
class Rules:
    # IBM's promise: a technician sets off within an hour of the call, counted in the answering
    # centre's opening hours (dispatch.hours).
    dispatch_target_s: int = 3600
    # Bench work per repair level (design.md: ~30 min simple, ~90 min module, ~180 min board).
    bench_s_by_level: Mapping[int, int] = field(default_factory=lambda: _frozen(
        {RepairLevel.SIMPLE: 30 * 60, RepairLevel.MODULE: 90 * 60, RepairLevel.BOARD: 180 * 60}))
    # A repaired device back at the station -> back with the customer.
    return_s: int = 4 * 3600
    # Board-level work never happens at the customer.
    onsite_max_level: int = int(RepairLevel.MODULE)
    # Assignment rule 7: an on-site call nobody able to repair it on site can reach (or set off
    # for within the hour) is collected for the bench, with a hand-over at the door.
    collect_onsite: bool = True
    collect_service_s: int = 10 * 60
    # Paid overtime a plan may ask of a technician per day: China's Labour Law (art. 41) sets one
    # hour a day as the ordinary limit.
    max_overtime_s: int = 3600
    # ... and 36 hours a month in all (art. 41), kept per technician and calendar month by
    # ``dispatch.staffing.OvertimeLedger``; the day's allowance is the smaller of the two.
    max_overtime_month_s: int = 36 * 3600
    # One way; beyond it no technician is sent.
    max_visit_travel_s: int = 3 * 3600
    # A call its own area cannot serve within the hour is offered to this many nearest areas
    # (its own included): a dispatcher borrowing a technician from the next prefecture.
    candidate_areas: int = 3
    # What a call that does not say gets (the generator draws around the same values): the
    # customer's hours, a window by priority, and the work at the door by mode and level.
    customer_hours_s: tuple[int, int] = (8 * 3600, 21 * 3600)
    window_s_by_priority: Mapping[int, int] = field(default_factory=lambda: _frozen(
        {Priority.NORMAL: 4 * 3600, Priority.HIGH: 3 * 3600, Priority.URGENT: 2 * 3600}))
    onsite_service_s_by_level: Mapping[int, int] = field(default_factory=lambda: _frozen(
        {RepairLevel.SIMPLE: 30 * 60, RepairLevel.MODULE: 75 * 60, RepairLevel.BOARD: 75 * 60}))
    pickup_service_s: int = 10 * 60
    # Appointment slots offered at intake (dispatch.live.slots): over this many days (today
    # included), windows of a length by priority (VIP and enterprise customers get narrower
    # ones), starting every ``slot_step_s`` inside the customer's hours, at most ``slot_count``
    # of them; ranked by the appointment's start plus ``slot_travel_weight`` times the driving
    # it adds (a minute of detour weighs as that many minutes of a later visit).
    slot_days: int = 3
    slot_window_s_by_priority: Mapping[int, int] = field(default_factory=lambda: _frozen(
        {Priority.NORMAL: 4 * 3600, Priority.HIGH: 2 * 3600, Priority.URGENT: 2 * 3600}))
    slot_step_s: int = 2 * 3600
    slot_count: int = 6
    slot_travel_weight: float = 2.0
    # A booked job whose expected arrival moves by more than this is told (dispatch.service.notices).
    eta_notice_threshold_s: int = 30 * 60
    # Overnight trips (dispatch.plan.trips) to calls beyond ``max_visit_travel_s`` of every
    # staffed centre: at most this drive one way, and the night away: ``trip_rest_s`` from an
    # evening start between ``trip_rest_from_s`` and ``trip_rest_by_s`` of the first day to the
    # customers' next morning (13 h: the 11 h of daily rest and more, never work before 08:00).
    trip_max_travel_s: int = 10 * 3600
    trip_rest_s: int = 13 * 3600
    trip_rest_from_s: int = 19 * 3600
    trip_rest_by_s: int = 21 * 3600
    # Spare parts (dispatch.parts, when a dataset has them): the 三包 rules at intake, and the
    # swap device (以换代修 / 备用机) offered when a repair would keep the customer waiting longer
    # than ``swap_after_s`` from the call.
    sanbao: Sanbao = field(default_factory=lambda: Sanbao())
    swap_after_s: int = 48 * 3600
    # An on-site repair whose part is neither on a van nor on the shelf of the customer's station
    # waits for the part to reach the station (its visit booked at the arrival) rather than
    # being collected for the bench, when that is expected to hand the phone back sooner: the
    # bench needs the same part, two courier legs and the hand-back (``part_visit_s``: the visit
    # once the part is in). False: collected, as before.
    onsite_waits_for_part: bool = True
    # Mail-in (寄修): the customer's parcel to the repair hub, door to door, where no courier lanes
    # are known (the plan's estimate; the simulation rides the lanes): a next-morning parcel.
    mail_leg_s: int = 24 * 3600
    part_visit_s: int = 2 * 3600
    # Waiting strategy (online policy; ``hold_until_s``): a call that is not urgent is planned to be
    # set off toward no sooner than ``replan_hold_s`` after it came in, and at least
    # ``replan_hold_margin_s`` before its one-hour deadline, so that it stays movable and the day's
    # re-optimisation (``PlanParams.reoptimise_every_s``) can still give it to a technician better
    # placed once the next calls are known (`dispatch bench hindsight --hold`). 0: set off at once.
    # It costs the customer up to the hold in turnaround, never the promise.
    replan_hold_s: int = 0
    replan_hold_margin_s: int = 15 * 60
    # Consolidation (online policy, ``dispatch.live``): a technician who has not set off today
    # weighs as this much more added driving when a call is placed with him: sending one more
    # technician out costs his way out and back home, which the next calls may not share. So work
    # gathers on the technicians already out, within every promise (the promise and overtime
    # rank before driving; an urgent call still goes by the earliest arrival). 0: none, the
    # default: on Zhejiang days (seeds 1-3, `dispatch bench hindsight --leave-home`) 1800 s cut
    # the technicians out from ~205 to ~149 but drove 18-22 % more (300 s: no better), as
    # consolidating leaves calls far from whoever is still free; what hindsight saves is the
    # technicians' way out and home, which only re-planning with the later calls known recovers.
    leave_home_s: int = 0

    def __post_init__(self) -> None:
        # A table given as a plain mapping (replace(rules, bench_s_by_level={...})) is frozen too.
        for name in ("bench_s_by_level", "window_s_by_priority", "onsite_service_s_by_level",
                     "slot_window_s_by_priority"):
            if not isinstance(getattr(self, name), Table):
                object.__setattr__(self, name, Table(getattr(self, name)))
        problems = []
        if self.dispatch_target_s <= 0:
            problems.append(f"dispatch_target_s must be > 0 s, got {self.dispatch_target_s}")
        if sorted(self.bench_s_by_level) != [1, 2, 3] or min(self.bench_s_by_level.values()) <= 0:
            problems.append(f"bench_s_by_level needs a positive time for levels 1, 2 and 3, got "
                            f"{dict(self.bench_s_by_level)}")
        if self.max_overtime_month_s < 0:
            problems.append(f"max_overtime_month_s must be >= 0 s, got {self.max_overtime_month_s}")
        if self.max_overtime_s < 0 or self.candidate_areas < 1 or self.return_s < 0:
            problems.append(f"max_overtime_s and return_s must be >= 0 s and candidate_areas >= 1, got "
                            f"{self.max_overtime_s}, {self.return_s} and {self.candidate_areas}")
        if self.slot_days < 1 or self.slot_count < 1 or self.slot_step_s <= 0 or self.slot_travel_weight < 0 \
                or min(self.slot_window_s_by_priority.values(), default=0) <= 0 or self.eta_notice_threshold_s < 0:
            problems.append(f"slot_days, slot_count and slot_step_s must be >= 1, every slot window > 0 s, "
                            f"slot_travel_weight and eta_notice_threshold_s >= 0; got {self.slot_days}, "
                            f"{self.slot_count}, {self.slot_step_s}, {dict(self.slot_window_s_by_priority)}, "
                            f"{self.slot_travel_weight} and {self.eta_notice_threshold_s}")
        if self.replan_hold_s < 0 or self.replan_hold_margin_s < 0 or self.leave_home_s < 0:
            problems.append(f"replan_hold_s, replan_hold_margin_s and leave_home_s must be >= 0 s, got "
                            f"{self.replan_hold_s}, {self.replan_hold_margin_s} and {self.leave_home_s}")
        if problems:
            raise DispatchError("; ".join(problems))

    def bench_s(self, level: int) -> int:
        """Bench seconds for one repair of ``level``."""
        return self.bench_s_by_level[level]

    def dispatch_deadline(self, centre: Centre, clock_start_s: int) -> int:
        """When a technician must have set off: the target counted in ``centre``'s opening hours
        from the clock's start (``dispatch.hours.dispatch_clock_start``)."""
        return business_deadline(centre, clock_start_s, self.dispatch_target_s)

    def overtime_allowance_s(self, used_this_month_s: int) -> int:
        """Paid overtime a technician may still work today, having worked ``used_this_month_s``
        this calendar month: the daily limit, within what the monthly cap leaves."""
        return max(0, min(self.max_overtime_s, self.max_overtime_month_s - used_this_month_s))

    def may_collect(self, mode: Mode | str, level: int) -> bool:
        """Whether rule 7 may turn an on-site call of ``level`` into a collection for the bench."""
        return self.collect_onsite and mode == Mode.ONSITE and level > RepairLevel.SIMPLE

    def hold_until_s(self, priority: int, release_s: int, deadline_s: int | None) -> int:
        """The earliest a call may be planned to be set off toward: its release, or for a call
        that is not urgent and has a deadline, ``replan_hold_s`` later, but no later than
        ``replan_hold_margin_s`` before the deadline (never before the release)."""
        if self.replan_hold_s <= 0 or priority == Priority.URGENT or deadline_s is None:
            return release_s
        return max(release_s, min(release_s + self.replan_hold_s, deadline_s - self.replan_hold_margin_s))

    @staticmethod
    def ranking(priority: int) -> str:
        """How a call's insertion options are ranked: an urgent call by the earliest arrival
        (``eta``), every other by the promise, then overtime, then the least added driving
        (``travel``); see ``dispatch.live.calls.rank_key``."""
        return "eta" if priority == Priority.URGENT else "travel"

    def default_service_s(self, mode: Mode | str, level: int) -> int:
        """The work at the customer's door when a call does not say."""
        if mode == Mode.ONSITE:
            return self.onsite_service_s_by_level[level]
        return self.pickup_service_s if mode == Mode.PICKUP else 0


DEFAULT_RULES = Rules()


@dataclass(frozen=True)
class CostRates:
    """What a job costs, in CNY (``dispatch.kpis``: cost per job). Defaults are reasoned
    estimates for a county technician in 2023-24, not accounting figures; a scenario replaces them.

    * ``technician_cny_per_h`` 47: NBS 2023 average annual wage of "social production and life
      service personnel" in above-scale enterprises, 75,216 CNY (NBS release, May 2024), plus
      ~30 % employer social insurance and housing fund, over 2,088 paid hours a year (21.75 days
      a month x 8 h, MOHRSS 2008 No. 3): 75,216 x 1.30 / 2,088 = 46.8. Charged on paid (net shift)
      hours, busy or not: a roster that idles costs money.
    * ``overtime_cny_per_h`` 70: Labour Law art. 44, overtime on a working day is paid at least
      150 % of the wage: 1.5 x 46.8.
    * ``vehicle_cny_per_km`` 1.2: a compact car at ~7 l/100 km of 92# petrol at ~7.7 CNY/l (0.54),
      depreciation of ~80,000 CNY over 160,000 km (0.50), insurance, tyres and servicing (~0.15);
      (``dispatch.scenarios.CostParams`` reads these rates too).
    * ``hotel_cny_per_night`` 300: see the field.
    * ``courier_cny_per_leg`` 15: one parcel, one way, on the shuttle between tiers (a leg that
      rides a courier lane, parts on or a mail-in, costs that lane's price instead: ``courier_cny``):
      SF Express standard within a province lists about 12-13 CNY for the first kg (a boxed phone
      weighs less), plus a declared-value fee; contract rates are lower and cross-province ones
      (~20) higher.
    """

    technician_cny_per_h: float = 47.0
    overtime_cny_per_h: float = 70.0
    vehicle_cny_per_km: float = 1.2
    courier_cny_per_leg: float = 15.0
    # A night away on an overnight trip: a county business hotel in the west, below the central
    # government's travel standard for ordinary staff in the western provincial capitals
    # (Ministry of Finance, 2016, about 350-500 CNY a night); a reasoned estimate.
    hotel_cny_per_night: float = 300.0
    # -- what a job costs by who does it (dispatch.contracts.costs; issue 20) -------------------
    # Wage per tier 1 province, 2 city, 3 county, CNY per paid hour, loaded as above: the county
    # figure is technician_cny_per_h; a city technician ~1.15x and a provincial lab engineer ~1.4x
    # it (NBS 2023: "professional technical personnel" earn ~1.4x service personnel).
    wage_cny_per_h_by_tier: tuple[float, float, float] = (66.0, 54.0, 47.0)
    # Kilometres per speed class: a car as vehicle_cny_per_km; an electric scooter ~0.2 (power
    # ~0.02, a 3,000 CNY scooter over 30,000 km 0.10, upkeep ~0.08).
    km_cny_by_speed_class: tuple[tuple[str, float], ...] = (("car", 1.2), ("scooter", 0.2))
    # Labour Law art. 44: overtime on a working day at least 150 % of the wage, on a rest day
    # without time off in lieu 200 %, on a statutory holiday 300 %.
    overtime_premium_workday: float = 1.5
    overtime_premium_rest_day: float = 2.0
    overtime_premium_holiday: float = 3.0
    # The yuan value of one hour of a customer's turnaround, the weight the call decision puts on
    # time against money (dispatch.contracts.offers.weigh): 33 CNY, the mean hourly wage of an
    # urban private-sector employee (NBS 2023: 68,340 CNY a year over 2,088 paid hours = 32.7),
    # i.e. what an hour without the phone costs a typical customer. 0: money alone decides;
    # very large: the earliest arrival decides.
    turnaround_cny_per_h: float = 33.0

    def __post_init__(self) -> None:
        flat = [(k, v) for k, v in vars(self).items() if isinstance(v, (int, float))]
        flat += [(f"wage_cny_per_h_by_tier[{i + 1}]", v) for i, v in enumerate(self.wage_cny_per_h_by_tier)]
        flat += [(f"km_cny_by_speed_class[{c}]", v) for c, v in self.km_cny_by_speed_class]
        bad = {k: v for k, v in flat if not v >= 0}
        if bad or len(self.wage_cny_per_h_by_tier) != 3:
            raise DispatchError(f"cost rates must be >= 0 CNY (and a wage for each of the 3 tiers), got {bad or vars(self)}")

    def wage_cny_per_h(self, tier: int) -> float:
        """The loaded wage of a technician at a centre of ``tier`` (1..3), CNY per paid hour."""
        return self.wage_cny_per_h_by_tier[int(tier) - 1]

    def km_cny(self, speed_class: str) -> float:
        """CNY per kilometre driven in ``speed_class`` (an unknown class costs as a car)."""
        return dict(self.km_cny_by_speed_class).get(speed_class, self.vehicle_cny_per_km)

    def courier_cny(self, legs: float, lane_legs: float = 0.0, lane_cny: float = 0.0) -> float:
        """What ``legs`` parcel legs cost: the ``lane_legs`` of them that rode a courier lane at
        the prices those lanes charged (``lane_cny``: the service, its distance band and the remote
        surcharge, ``dispatch.parts.lanes``), the rest (the shuttle between tiers, parts off) at
        ``courier_cny_per_leg``."""
        return lane_cny + (legs - lane_legs) * self.courier_cny_per_leg

    def technician_cny(self, tier: int, paid_s: float, km: float, speed_class: str, overtime_s: float = 0.0) -> float:
        """An own technician's part of a job: ``paid_s`` of his time at his tier's wage, ``km``
        driven in ``speed_class``, ``overtime_s`` at the working-day premium on top."""
        wage = self.wage_cny_per_h(tier)
        return (wage * paid_s / 3600 + self.km_cny(speed_class) * km
                + wage * self.overtime_premium_workday * overtime_s / 3600)

    def as_turnaround_s(self, cny: float) -> float:
        """The seconds of customer turnaround worth ``cny`` at ``turnaround_cny_per_h``: how the
        assignment and the routing objectives, which count seconds, take money in (a weight of 0,
        money alone, is the decision's own case: ``dispatch.contracts.offers.weigh``)."""
        if self.turnaround_cny_per_h <= 0:
            raise DispatchError("turnaround_cny_per_h must be > 0 CNY for an objective in seconds to weigh money")
        return cny * 3600 / self.turnaround_cny_per_h

    def km_as_turnaround_s(self, speed_classes: Sequence[str]) -> tuple[float, ...]:
        """Per speed class (in this order): the seconds of turnaround one kilometre's cost is
        worth (``RoutingParams.km_cost_s``): a car at 1.2 CNY/km and 33 CNY/h, 131 s a km."""
        return tuple(self.as_turnaround_s(self.km_cny(c)) for c in speed_classes)


DEFAULT_COST_RATES = CostRates()
