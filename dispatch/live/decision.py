"""The one decision for a call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass
from dispatch.live.area import LiveArea
from dispatch.live.calls import NewCall


def collect_offers(call: NewCall, areas: Sequence[tuple[str, "LiveArea"]], policy: str, rank) -> list:  # type: ignore[no-untyped-def]
    """(rank, area, option) of every technician in ``areas`` who can set off within the hour
    toward ``call`` (a :func:`collection`), best first; adds nothing. An area that already holds
    the call (as an on-site visit) is probed under another id."""
    offers = []
    for name, live in areas:
        probe = replace(call, id=f"{call.id}#collect") if call.id in live._visit else call
        offers += [(rank(o), name, o) for o in live.urgent_options(probe, policy=policy) if o.late_s == 0]
    return sorted(offers, key=lambda x: (x[0], x[2].technician_id))

