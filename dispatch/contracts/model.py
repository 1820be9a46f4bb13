"""A contracted station's contract (特约维修站): what it may do, what it is paid, what it promises.

Bird's county stations are mostly independent repair shops working for the maker under
contract; its provincial and city centres (and a few county stations) are its own, with
employees. A :class:`Contract` is one station's terms; a :class:`ContractBook` all of them (a
station without a contract is the maker's own). Money in CNY, times in integer seconds, rates
as shares 0..1. Defaults are reasoned estimates (the real tariffs are confidential), documented
at each field; ``dispatch/contracts/table.py`` reads them from ``contracts.csv``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from dispatch.errors import ModelError
from dispatch.model import DAY_S, LEVELS, Mode, TimeWindow

# Where a contracted station's technicians may be sent: its territory (the usual clause: its own
# county, and the customers it is the nearest county station to), its prefecture, or anywhere.
ROAMS = ("county", "prefecture", "any")
CHANNELS = tuple(m.value for m in Mode)


@dataclass(frozen=True, slots=True)
class Fees:
    """What the maker pays a station per job: a repair fee by the level it repaired (a device it
    only collected or received and passed up the chain earns ``handover_cny``), a surcharge by
    channel, and, for on-site work, ``km_cny`` per kilometre of the one-way drive beyond
    ``free_radius_km`` from the station.

    Defaults (reasoned, 2024 county shops): labour for a screen or battery swap ~40 CNY, a module
    ~80, board work ~150 (what third-party shops charge customers for labour alone is about twice
    that); 30 CNY for going out, 15 for a collection, 10 for receiving and shipping a device up;
    1.5 CNY/km beyond 15 km (a car's ~1.2 CNY/km plus the technician's time on the road)."""

    by_level_cny: tuple[float, float, float] = (40.0, 80.0, 150.0)
    onsite_extra_cny: float = 30.0
    pickup_extra_cny: float = 15.0
    handover_cny: float = 10.0
    km_cny: float = 1.5
    free_radius_km: float = 15.0

    def job_cny(self, level: int | None, channel: str, one_way_km: float = 0.0) -> float:
        """The fee of one job: ``level`` repaired by the station (None: handed over only), served
        through ``channel`` (onsite, pickup, walkin), ``one_way_km`` from the station (on site)."""
        fee = self.handover_cny if level is None else self.by_level_cny[int(level) - 1]
        if channel == Mode.ONSITE:
            fee += self.onsite_extra_cny + self.km_cny * max(0.0, one_way_km - self.free_radius_km)
        elif channel == Mode.PICKUP:
            fee += self.pickup_extra_cny
        return fee


@dataclass(frozen=True, slots=True)
class Sla:
    """The service-level clause: the station's technician sets off within ``dispatch_s`` of
    accepting a job, and a job it completes itself (on site, or at its own bench) is back with
    the customer within ``turnaround_s`` of the call; each breach costs the station a penalty,
    deducted at settlement. Defaults: the maker's own one-hour promise, and 48 h (Bird's 2-day
    cycle); 20 CNY and 50 CNY, about half the fee of the job they concern."""

    dispatch_s: int = 3600
    dispatch_penalty_cny: float = 20.0
    turnaround_s: int = 48 * 3600
    turnaround_penalty_cny: float = 50.0

    def penalty_cny(self, dispatch_late: bool, turnaround_late: bool) -> float:
        return self.dispatch_penalty_cny * dispatch_late + self.turnaround_penalty_cny * turnaround_late


@dataclass(frozen=True, slots=True)
class OfferRates:
    """How a station answers an offer (the simulation draws from them; the service hears the
    real answer): it accepts with ``accept``, refuses with ``refuse``, else lets the offer time
    out after ``timeout_s``. An answer comes ``response_s`` after the offer on average (drawn
    uniformly between half and one and a half times it, never after the timeout). Defaults:
    85 % / 10 % / 5 %, answered in about 5 min, timing out at 15 min (a shop at its counter
    answering an app notification)."""

    accept: float = 0.85
    refuse: float = 0.10
    response_s: int = 5 * 60
    timeout_s: int = 15 * 60

    @property
    def timeout(self) -> float:
        return max(0.0, 1.0 - self.accept - self.refuse)


@dataclass(frozen=True, slots=True)
class Contract:
    """One contracted station's terms.

    ``quality``: the station's share of jobs done right by its record (repeat repairs within 30
    days and complaints, :func:`quality_score`); the call decision counts a contracted job as
    costing ``fee / quality`` (a repeat is a second job), and a station below the book's
    ``min_quality`` gets no offers."""

    centre_id: str
    levels: frozenset[int] = frozenset({1})
    product_lines: frozenset[str] = frozenset()  # empty: every line
    daily_jobs: int = 12
    opening: TimeWindow = field(default_factory=lambda: TimeWindow(9 * 3600, 18 * 3600))
    fees: Fees = field(default_factory=Fees)
    sla: Sla = field(default_factory=Sla)
    repeat_rate_30d: float = 0.05
    complaint_rate: float = 0.02
    offers: OfferRates = field(default_factory=OfferRates)
    roam: str = "county"

    def __post_init__(self) -> None:
        e = f"Contract {self.centre_id!r}"

        def need(ok: bool, name: str, value: object, expected: str) -> None:
            if not ok:
                raise ModelError(e, name, value, expected)

        need(bool(self.levels) and all(v in LEVELS for v in self.levels), "levels", sorted(self.levels),
             "a non-empty set of repair levels among 1, 2, 3")
        need(self.daily_jobs >= 0, "daily_jobs", self.daily_jobs, "a number of jobs per day >= 0")
        need(0 <= self.opening.start_s and self.opening.end_s <= DAY_S, "opening",
             (self.opening.start_s, self.opening.end_s), "a window within one day")
        for name, v in (("repeat_rate_30d", self.repeat_rate_30d), ("complaint_rate", self.complaint_rate),
                        ("accept_rate", self.offers.accept), ("refuse_rate", self.offers.refuse)):
            need(0.0 <= v <= 1.0, name, v, "a share between 0 and 1")
        need(self.offers.accept + self.offers.refuse <= 1.0 + 1e-9, "refuse_rate", self.offers.refuse,
             f"at most 1 - accept_rate ({1 - self.offers.accept:g}); the rest times out")
        need(0 < self.offers.response_s <= self.offers.timeout_s, "response_min", self.offers.response_s // 60,
             f"a positive time no longer than the timeout ({self.offers.timeout_s // 60} min)")
        need(self.roam in ROAMS, "roam", self.roam, "one of " + ", ".join(ROAMS))
        fees = (*self.fees.by_level_cny, self.fees.onsite_extra_cny, self.fees.pickup_extra_cny,
                self.fees.handover_cny, self.fees.km_cny, self.fees.free_radius_km,
                self.sla.dispatch_penalty_cny, self.sla.turnaround_penalty_cny)
        need(all(v >= 0 for v in fees), "fees", fees, "amounts >= 0 CNY (and a radius >= 0 km)")

    @property
    def quality(self) -> float:
        return quality_score(self.repeat_rate_30d, self.complaint_rate)

    def authorised(self, level: int, product_line: str | None) -> bool:
        """Whether the contract covers a job of ``level`` on ``product_line``."""
        return level in self.levels and (not self.product_lines or not product_line
                                         or product_line in self.product_lines)

    def open_at(self, t_s: int) -> bool:
        """Whether the station takes offers at ``t_s`` (its own hours, every day)."""
        return self.opening.start_s <= t_s % DAY_S < self.opening.end_s


def quality_score(repeat_rate_30d: float, complaint_rate: float) -> float:
    """Share of a station's jobs done right: neither repeated within 30 days nor complained of
    (the two taken as independent), 0..1. 5 % repeats and 2 % complaints: 0.931."""
    return max(0.0, (1.0 - repeat_rate_30d) * (1.0 - complaint_rate))


@dataclass(frozen=True)
class ContractBook:
    """Every contracted station's contract, by centre id. A centre not in the book is the
    maker's own; an empty book (the default) is today's world, all own and no offers."""

    contracts: Mapping[str, Contract] = field(default_factory=dict)
    # A station whose quality score is below this gets no offers (a shop on notice).
    min_quality: float = 0.75
    # Where a call may be re-offered once its territory's station refused it or let it lapse:
    # the territory gives the station the first offer, not the only one (a neighbouring shop is
    # free to refuse a job outside its county, and the one-hour clock is running). A contract
    # whose own ``roam`` reaches farther keeps it. "county": re-offers stay in the territory
    # (own staff only, once its station said no).
    reoffer_roam: str = "prefecture"

    def __post_init__(self) -> None:
        if self.reoffer_roam not in ROAMS:
            raise ModelError("ContractBook", "reoffer_roam", self.reoffer_roam, "one of " + ", ".join(ROAMS))

    def __len__(self) -> int:
        return len(self.contracts)

    def __iter__(self) -> Iterator[Contract]:
        return iter(self.contracts.values())

    def __contains__(self, centre_id: object) -> bool:
        return centre_id in self.contracts

    def get(self, centre_id: str) -> Contract | None:
        return self.contracts.get(centre_id)

    def without(self, centre_ids: set[str] | frozenset[str]) -> ContractBook:
        """The book with these stations taken over by the maker (own staff from now on)."""
        return replace(self, contracts={k: c for k, c in self.contracts.items() if k not in centre_ids})


NO_CONTRACTS = ContractBook()  # every centre the maker's own: today's world
