"""The parts in the call-intake service's answer (``dispatch.service``): for a call that names its
device model, the part the repair is expected to need, where it is (the technician's van or
centre, the station's shelf) or when it can be there (a lateral transfer or an order: the
``waiting_for_part`` ETA), and what the 三包 rules say. The service weighs technicians with the
part first (the call decision's ``has_part``).

The stock is the day's opening stock less what earlier calls hold (the promise of
``dispatch.parts.promise`` as a ledger): a call given a technician, or a walk-in, holds the unit
its answer names (his centre's shelf or its vans, a lateral's shelf, the national warehouse's),
so the next call for the last unit is told it waits for one. The hold goes into the call's log
entry and is taken again when the service replays its log; a cancelled call gives it back."""

from __future__ import annotations

import threading
from collections.abc import Callable

from dispatch.dataset import Dataset
from dispatch.model import Mode, Request
from dispatch.network import Network
from dispatch.parts.promise import Promise
from dispatch.parts.stock import van
from dispatch.parts.world import intake_route
from dispatch.rules import Rules
from dispatch.travel import Travel


class PartAnswer:
    def __init__(self, dataset: Dataset, travel: Travel, rules: Rules) -> None:
        self.promise = Promise(dataset, travel)
        self.net: Network = dataset.network
        self.home = {t.id: t.home_centre_id for t in dataset.technicians}
        self.rules = rules
        self.held: dict[str, tuple[str, str, str]] = {}  # call -> the unit it holds (kind, location, part)
        self.lock = threading.Lock()

    def models(self) -> tuple[str, ...]:
        return self.promise.cat.model_ids()

    def holder(self, r: Request) -> Callable[[str], bool] | None:
        """Whether a technician has the call's part on his van or at his centre (on-site calls)."""
        part = self.promise.need(r)
        if part is None or r.mode != Mode.ONSITE:
            return None
        p = self.promise
        return lambda tid: p.vans.get((self.home[tid], part), 0) > 0 or p.shelf.get((self.home[tid], part), 0) > 0 \
            or p.shelf.get((van(tid), part), 0) > 0

    def answer(self, r: Request, centre_id: str, at_s: int, iso: Callable[[int], str]) -> dict[str, object]:
        """The answer's ``part`` block for a call served from ``centre_id`` (empty without a model)."""
        return self._block(r, centre_id, at_s, iso)[0]

    def _block(self, r: Request, centre_id: str, at_s: int, iso: Callable[[int], str]
               ) -> tuple[dict[str, object], tuple[str, str, str] | None]:
        if not r.device_model:
            return {}, None
        route, rule = intake_route(r, self.rules)
        part = self.promise.need(r)
        out: dict[str, object] = {"part_id": part or "", "sanbao": route, "sanbao_rule": rule}
        unit = None
        if part is not None:
            eta, why, unit = self.promise.source(r, self.net[centre_id], at_s, on_site=r.mode == Mode.ONSITE)
            out |= {"at": centre_id, "waiting_for_part": bool(why), "eta": iso(eta), "eta_s": eta,
                    "source": why.split(" by ", 1)[1].split(",")[0] if why else "on hand"}
        return {"part": out}, unit

    def reserve(self, call_id: str, r: Request, centre_id: str, at_s: int, iso: Callable[[int], str]
                ) -> tuple[dict[str, object], list[str] | None]:
        """The ``part`` block for a call served from ``centre_id``, its unit held for it: (block,
        the hold to log, None when none)."""
        with self.lock:  # calls in different areas are decided at once; the stock is one
            block, unit = self._block(r, centre_id, at_s, iso)
            self.rehold(call_id, None if unit is None else list(unit))
        return block, None if unit is None else list(unit)

    def rehold(self, call_id: str, hold: list[str] | None) -> None:
        """Hold ``hold`` (a logged hold: kind, location, part) for ``call_id`` (a replay)."""
        if hold and call_id not in self.held:
            self.held[call_id] = (hold[0], hold[1], hold[2])
            self.promise.hold(self.held[call_id])

    def replay(self, kind: str, call_id: str, payload: dict) -> None:
        """A logged service entry, read again at start: a call's hold is held, a cancelled
        call's unit is back."""
        if kind == "call":
            self.rehold(call_id, payload.get("part_hold"))
        elif kind == "status" and payload["status"] == "cancelled":
            self.release(call_id)

    def release(self, call_id: str) -> None:
        """The call is cancelled: its unit is back."""
        with self.lock:
            unit = self.held.pop(call_id, None)
            self.promise.hold(unit, back=True)


def answer_for(dataset: Dataset, travel: Travel, rules: Rules) -> PartAnswer | None:
    return None if dataset.parts is None else PartAnswer(dataset, travel, rules)
