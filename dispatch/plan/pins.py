"""A dispatcher's pins: checked against the day, and honoured over the assignment's limits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from dispatch.assignment import Assignment, AssignmentParams, AssignmentResult
from dispatch.dataset import Dataset
from dispatch.errors import InputError
from dispatch.model import Mode
from dispatch.plan.benches import first_bench
from dispatch.plan.params import Pin
from dispatch.travel import Travel, drive_s


def pinned_to_technician(pins: Sequence[Pin], day_ds: Dataset) -> dict[str, str]:
    """Request -> technician for the dispatcher's pins; a pin the plan cannot take is an error
    that says why, never silently dropped."""
    techs = {t.id for t in day_ds.technicians}
    travelling = {r.id for r in day_ds.requests if r.mode.travels}
    out = {}
    for p in pins:
        if p.technician_id not in techs:
            raise InputError(f"pin of request {p.request_id!r}: unknown technician {p.technician_id!r}; "
                             f"expected one of the roster's {len(techs)} technician ids")
        if p.request_id not in travelling:
            raise InputError(f"pin of request {p.request_id!r} to {p.technician_id!r}: it is not an onsite or "
                             f"pickup call of this day (a walk-in, another day's call, or unknown); expected "
                             f"the id of an onsite or pickup call of the day")
        out[p.request_id] = p.technician_id
    return out


def assign_pinned(result: AssignmentResult, pinned_to: dict[str, str], day_ds: Dataset,
                   params: AssignmentParams, travel: Travel) -> AssignmentResult:
    """A dispatcher's pin overrides the assignment's limits: a pinned call the assignment left
    unassigned (beyond the usual drive, or benches full) is visited from the technician's centre,
    and a picked-up device is repaired at the lowest centre of that centre's chain able to."""
    missing = {u.request_id for u in result.unassigned} & set(pinned_to)
    if not missing:
        return result
    net = day_ds.network
    home = {t.id: t.home_centre_id for t in day_ds.technicians}
    extra = []
    for r in day_ds.requests:
        if r.id not in missing:
            continue
        centre = net[home[pinned_to[r.id]]]
        chain = net.chain(centre.id)
        hops = 0
        if r.mode == Mode.PICKUP:
            first = first_bench(chain, r.level, params)
            if first is None:
                continue  # nobody on that chain can repair it: it stays unassigned with its reason
            hops = first
        drive = int(drive_s(travel, centre.lon, centre.lat, r.lon, r.lat))
        extra.append(Assignment(r.id, r.mode, centre.id, chain[hops].id if r.mode == Mode.PICKUP else None,
                                None, hops, 0, drive, "pinned by the dispatcher to a technician of this centre"))
    taken = {a.request_id for a in extra}
    return replace(result, assigned=result.assigned + tuple(extra),
                   unassigned=tuple(u for u in result.unassigned if u.request_id not in taken))

