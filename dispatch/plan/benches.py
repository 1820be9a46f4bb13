"""Benches and the device path: which calls bring a device to a bench, where it goes, when it is repaired."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from dispatch.assignment import Assignment, AssignmentParams, AssignmentResult
from dispatch.dataset import Dataset
from dispatch.hours import opening_start
from dispatch.live.decision import RepairsAtHome
from dispatch.model import DAY_S, Centre, Mode, Request
from dispatch.network import Network
from dispatch.rules import Rules


@dataclass
class Benches:
    """Which calls bring a device to a bench (pickups, and on-site calls collected instead), so
    that among technicians who keep the promise one whose own centre can repair the device comes
    first (it skips the courier), and where a collected device goes."""

    repairs_at_home: RepairsAtHome
    level: dict[str, int]  # request id -> repair level
    to_bench: set[str]  # requests whose device goes to a bench
    # Request -> (hops, centre id): the lowest centre of its visiting centre's chain able to
    # repair the device with a bench day long enough, where a collected device goes.
    bench_of: dict[str, tuple[int, str] | None]
    collected: set[str] = field(default_factory=set)  # on-site calls collected during dispatch

    @classmethod
    def of(cls, day_ds: Dataset, result: AssignmentResult, params: AssignmentParams,
           repairs_at_home: RepairsAtHome) -> Benches:
        net = day_ds.network
        level = {r.id: r.level for r in day_ds.requests}
        bench_of: dict[str, tuple[int, str] | None] = {}
        for a in result.assigned:
            if a.mode == Mode.ONSITE and a.visit_centre_id is not None:
                chain = net.chain(a.visit_centre_id)
                first = first_bench(chain, level[a.request_id], params)
                bench_of[a.request_id] = None if first is None else (first, chain[first].id)
        return cls(repairs_at_home, level,
                   {a.request_id for a in result.assigned if a.mode == Mode.PICKUP}, bench_of)

    def mode(self, vid: str) -> Mode:
        """How the call is served now: a pickup (its device goes to a bench) or on site."""
        return Mode.PICKUP if vid in self.to_bench else Mode.ONSITE

    def may_collect(self, vid: str, mode: Mode, rules: Rules) -> bool:
        """Rule 7 may apply, and a bench of the visiting centre's chain can repair the device."""
        return rules.may_collect(mode, self.level[vid]) and self.bench_of.get(vid) is not None

    def collect(self, vid: str) -> None:
        self.to_bench.add(vid)
        self.collected.add(vid)


def with_collected(result: AssignmentResult, benches: Benches) -> AssignmentResult:
    """The assignment with the on-site calls collected during dispatch served as pickups: their
    device goes to the lowest centre of the visiting centre's chain able to repair it (the plan
    follows it from the technician's own centre, see ``device_path``)."""
    if not benches.collected:
        return result
    out = []
    for a in result.assigned:
        if a.request_id in benches.collected:
            hops, repair_id = benches.bench_of[a.request_id]  # type: ignore[misc]  # may_collect checked it
            a = replace(a, mode=Mode.PICKUP, repair_centre_id=repair_id, bench_day=None, courier_hops=hops,
                        rule="collected for the bench: nobody able to repair it on site could set off within the hour")
        out.append(a)
    return replace(result, assigned=tuple(out))


MAX_BENCH_WAIT_DAYS = 30  # a device never waits longer for a bench in a plan's estimate


def book_bench_row(row: dict, r: Request, done_s: int, repair_id: str | None, bench_day: int | None, net: Network,
               bench_use: dict, params: AssignmentParams) -> None:
    """Fill a bench repair's completion into its outcome row and book its bench day."""
    row["completion_s"] = done_s
    row["est_turnaround_s"] = done_s - r.created_s
    if repair_id is not None:
        row["repair_centre_id"] = repair_id
        row["repair_tier"] = int(net[repair_id].tier)
        bench_use[(repair_id, bench_day)] += params.rules.bench_s(r.level)


def first_bench(chain: Sequence[Centre], level: int, params: AssignmentParams) -> int | None:
    """Index of the lowest centre of an escalation chain able to repair ``level`` with a bench
    day long enough for one such repair, or None."""
    bench_s = params.rules.bench_s(level)
    return next((i for i, c in enumerate(chain) if c.can_repair(level) and c.bench_s_per_day >= bench_s), None)


def device_path(net: Network, a: Assignment, home_id: str, level: int, back_s: int,
                 params: AssignmentParams) -> tuple[int, tuple[Centre, ...], int]:
    """Where a picked-up device goes: its technician brings it to his own centre (he may come
    from another station of the area, or from a neighbouring area), and from there it climbs
    that centre's chain by courier to the repair centre the assignment chose, with the bench day
    it booked, when that centre lies on the chain; otherwise to the lowest centre of the chain
    able to repair it, on the first day it can. Returns (hops, chain, bench day offset)."""
    chain = net.chain(home_id)
    ids = [c.id for c in chain]
    if a.repair_centre_id not in ids:
        first = first_bench(chain, level, params)
        if first is not None:
            return first, chain, 0
        chain = net.chain(a.visit_centre_id)  # type: ignore[arg-type]
        ids = [c.id for c in chain]
    hops = ids.index(a.repair_centre_id)  # type: ignore[arg-type]
    t = back_s + sum(chain[i].courier_to_parent_s for i in range(hops))
    arrival_day = opening_start(chain[hops], t) // DAY_S
    return hops, chain, 0 if a.bench_day is None else max(0, a.bench_day - arrival_day)

