"""The parts in the call-intake service's answer (``dispatch.service``): for a call that names its
device model, the part the repair is expected to need, where it is (the technician's van or
centre, the station's shelf) or when it can be there (a lateral transfer or an order: the
``waiting_for_part`` ETA), and what the 三包 rules say. The service weighs technicians with the
part first (the call decision's ``has_part``). The stock is the day's opening stock (the
promise of ``dispatch.parts.promise``): the service keeps no ledger of its own yet, so two calls
may be promised the same unit."""

from __future__ import annotations

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
        if not r.device_model:
            return {}
        route, rule = intake_route(r, self.rules)
        part = self.promise.need(r)
        out: dict[str, object] = {"part_id": part or "", "sanbao": route, "sanbao_rule": rule}
        if part is not None:
            eta, why = self.promise.ready(r, self.net[centre_id], at_s, on_site=r.mode == Mode.ONSITE)
            out |= {"at": centre_id, "waiting_for_part": bool(why), "eta": iso(eta), "eta_s": eta,
                    "source": why.split(" by ", 1)[1].split(",")[0] if why else "on hand"}
        return {"part": out}


def answer_for(dataset: Dataset, travel: Travel, rules: Rules) -> PartAnswer | None:
    return None if dataset.parts is None else PartAnswer(dataset, travel, rules)
