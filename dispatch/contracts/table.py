"""``contracts.csv``: the contracted stations of a dataset, read, validated and written.

The file is optional: a dataset folder without it is today's world (every centre the maker's
own). One row per contracted station; only ``centre_id`` is required, an empty cell takes the
default documented in ``dispatch/contracts/model.py``. The schema is :data:`SCHEMA` (data/README.md
lists it; a test keeps the two in step). Every problem is reported with file, row, column, value
and what would be valid, never as a traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from dispatch.contracts.model import ROAMS, Contract, ContractBook, Fees, OfferRates, Sla
from dispatch.errors import ModelError, Problem, ValidationError
from dispatch.ids import id_message
from dispatch.model import FIELD_ROLE, Technician, TimeWindow
from dispatch.network import Network
from dispatch.schema import Column, Table, format_clock, parse_rows, read_kind

KIND = "contracts"
_F, _S, _O = Fees(), Sla(), OfferRates()
_YES = ("yes", "no")

SCHEMA: tuple[Column, ...] = (
    Column("centre_id", "id", True, "", "the contracted station (a centre of centres.csv)"),
    Column("levels", "levels", False, "", "repair levels it is authorised for, e.g. 1;2 (default 1)"),
    Column("product_lines", "lines", False, "", "product lines it is authorised for; empty = all"),
    Column("daily_jobs", "int", False, "jobs", "jobs it accepts per day (default 12)"),
    Column("open_time", "clock", False, "HH:MM", "its own opening, local: offers outside are not made (default 09:00)"),
    Column("close_time", "clock", False, "HH:MM", "its own closing, local (default 18:00)"),
    Column("fee_l1_cny", "float", False, "CNY", f"fee per level-1 repair (default {_F.by_level_cny[0]:g})"),
    Column("fee_l2_cny", "float", False, "CNY", f"fee per level-2 repair (default {_F.by_level_cny[1]:g})"),
    Column("fee_l3_cny", "float", False, "CNY", f"fee per level-3 repair (default {_F.by_level_cny[2]:g})"),
    Column("onsite_extra_cny", "float", False, "CNY", f"surcharge for on-site work (default {_F.onsite_extra_cny:g})"),
    Column("pickup_extra_cny", "float", False, "CNY", f"surcharge for a collection (default {_F.pickup_extra_cny:g})"),
    Column("handover_cny", "float", False, "CNY", f"fee for a device passed up the chain unrepaired (default {_F.handover_cny:g})"),
    Column("km_cny", "float", False, "CNY/km", f"on site: per km of the one-way drive beyond the radius (default {_F.km_cny:g})"),
    Column("free_radius_km", "float", False, "km", f"the radius the fee includes (default {_F.free_radius_km:g})"),
    Column("sla_dispatch_min", "int", False, "min", "set off within this of accepting (default 60)"),
    Column("sla_dispatch_penalty_cny", "float", False, "CNY", f"per late set-off (default {_S.dispatch_penalty_cny:g})"),
    Column("sla_turnaround_h", "float", False, "h", "its own jobs back with the customer within this of the call (default 48)"),
    Column("sla_turnaround_penalty_cny", "float", False, "CNY", f"per late job (default {_S.turnaround_penalty_cny:g})"),
    Column("repeat_rate_30d", "float", False, "share", "share of its repairs repeated within 30 days (default 0.05)"),
    Column("complaint_rate", "float", False, "share", "share of its jobs complained of (default 0.02)"),
    Column("accept_rate", "float", False, "share", f"share of offers it accepts (default {_O.accept:g})"),
    Column("refuse_rate", "float", False, "share", f"share it refuses; the rest times out (default {_O.refuse:g})"),
    Column("response_min", "int", False, "min", f"mean time to answer an offer (default {_O.response_s // 60})"),
    Column("timeout_min", "int", False, "min", f"an unanswered offer lapses after this (default {_O.timeout_s // 60})"),
    Column("roam", "choice", False, "", "where its technicians may go: county (default: its county and the customers it is the nearest county station to), prefecture or any", ROAMS),
)


def _contract(v: dict[str, Any]) -> Contract:
    def get(name: str, default: Any) -> Any:
        return default if v.get(name) is None else v[name]

    d = Contract("")
    fees = Fees((get("fee_l1_cny", _F.by_level_cny[0]), get("fee_l2_cny", _F.by_level_cny[1]),
                 get("fee_l3_cny", _F.by_level_cny[2])), get("onsite_extra_cny", _F.onsite_extra_cny),
                get("pickup_extra_cny", _F.pickup_extra_cny), get("handover_cny", _F.handover_cny),
                get("km_cny", _F.km_cny), get("free_radius_km", _F.free_radius_km))
    sla = Sla(60 * get("sla_dispatch_min", _S.dispatch_s // 60), get("sla_dispatch_penalty_cny", _S.dispatch_penalty_cny),
              round(3600 * get("sla_turnaround_h", _S.turnaround_s / 3600)),
              get("sla_turnaround_penalty_cny", _S.turnaround_penalty_cny))
    offers = OfferRates(get("accept_rate", _O.accept), get("refuse_rate", _O.refuse),
                        60 * get("response_min", _O.response_s // 60), 60 * get("timeout_min", _O.timeout_s // 60))
    opening = TimeWindow(get("open_time", d.opening.start_s), get("close_time", d.opening.end_s))
    return Contract(v["centre_id"], get("levels", d.levels), get("product_lines", d.product_lines),
                    get("daily_jobs", d.daily_jobs), opening, fees, sla, get("repeat_rate_30d", d.repeat_rate_30d),
                    get("complaint_rate", d.complaint_rate), offers, get("roam", d.roam))


def parse_contracts(frame: pd.DataFrame, file: str, network: Network | None = None, offset: int = 2,
                    technicians: Sequence[Technician] = ()) -> ContractBook:
    """A frame of strings (``read_table``'s) as a book; ValidationError listing every problem.
    With ``network``, each station must be one of its centres and its authorised levels ones
    the centre can repair: on its bench, or on site by its field ``technicians`` (their levels).
    A row with a bad cell is still checked for an unknown station, in the same pass."""
    rows, collector = parse_rows(frame, file, offset, KIND, SCHEMA)
    return _book(Table(Path(file), frame, rows, collector), network, technicians)


def _book(t: Table, network: Network | None, technicians: Sequence[Technician]) -> ContractBook:
    trained: dict[str, int] = {}
    for tech in technicians:
        if tech.role == FIELD_ROLE:
            trained[tech.home_centre_id] = max(trained.get(tech.home_centre_id, 0), tech.max_level)
    file, offset, problems = t.collector.file, t.collector.offset, t.collector.problems
    known = None if network is None else {c.id for c in network}
    raw = [str(v) for v in t.frame["centre_id"]] if "centre_id" in t.frame.columns else []
    contracts: dict[str, Contract] = {}
    first_row: dict[str, int] = {}
    for i, values in enumerate(t.rows):
        row = i + offset
        if values is None:  # its bad cells are in ``problems`` already; its station may be unknown too
            cid = raw[i] if i < len(raw) else ""
            if known is not None and cid and id_message(cid) is None and cid not in known:
                problems.append(Problem(file, row, "centre_id", cid, "is not a centre of the network (centres.csv)"))
            continue
        cid = values["centre_id"]
        if cid in first_row:
            problems.append(Problem(file, row, "centre_id", cid, f"has a second contract; the first is on row {first_row[cid]}"))
            continue
        unknown = known is not None and cid not in known
        if unknown:
            problems.append(Problem(file, row, "centre_id", cid, "is not a centre of the network (centres.csv)"))
        try:  # an unknown station's values are checked too: every problem of the row at once
            c = _contract(values)
        except ModelError as exc:
            problems.append(Problem(file, row, exc.field, exc.value, f"is not valid; expected {exc.expected}"))
            continue
        if unknown:
            continue
        able = frozenset(network[cid].levels) | frozenset(range(1, trained.get(cid, 0) + 1)) if network else None
        if able is not None and not c.levels <= able:
            problems.append(Problem(file, row, "levels", ";".join(map(str, sorted(c.levels))),
                                    f"authorises levels the station cannot repair; expected some of "
                                    f"{';'.join(map(str, sorted(able)))} (its bench in centres.csv, its field "
                                    "technicians' levels in technicians.csv)"))
            continue
        contracts[cid], first_row[cid] = c, row
    if problems:
        raise ValidationError(problems)
    return ContractBook(contracts)


def read_contracts(folder: str | Path, network: Network | None = None,
                   technicians: Sequence[Technician] = ()) -> ContractBook:
    """The dataset folder's ``contracts`` file (.csv, .parquet or .geojson) as a book; an empty
    book when the folder has none (every centre the maker's own). ``network`` and
    ``technicians``: what its levels are checked against (:func:`parse_contracts`)."""
    t = read_kind(Path(folder), KIND, SCHEMA)
    return ContractBook() if t is None else _book(t, network, technicians)


def contracts_frame(book: ContractBook) -> pd.DataFrame:
    """The book as ``contracts.csv`` rows (every column filled), the inverse of :func:`parse_contracts`."""
    rows = []
    for c in book:
        f, s, o = c.fees, c.sla, c.offers
        rows.append({
            "centre_id": c.centre_id, "levels": ";".join(map(str, sorted(c.levels))),
            "product_lines": ";".join(sorted(c.product_lines)), "daily_jobs": c.daily_jobs,
            "open_time": format_clock(c.opening.start_s), "close_time": format_clock(c.opening.end_s),
            "fee_l1_cny": f.by_level_cny[0], "fee_l2_cny": f.by_level_cny[1], "fee_l3_cny": f.by_level_cny[2],
            "onsite_extra_cny": f.onsite_extra_cny, "pickup_extra_cny": f.pickup_extra_cny,
            "handover_cny": f.handover_cny, "km_cny": f.km_cny, "free_radius_km": f.free_radius_km,
            "sla_dispatch_min": s.dispatch_s // 60, "sla_dispatch_penalty_cny": s.dispatch_penalty_cny,
            "sla_turnaround_h": s.turnaround_s / 3600, "sla_turnaround_penalty_cny": s.turnaround_penalty_cny,
            "repeat_rate_30d": c.repeat_rate_30d, "complaint_rate": c.complaint_rate,
            "accept_rate": o.accept, "refuse_rate": o.refuse, "response_min": o.response_s // 60,
            "timeout_min": o.timeout_s // 60, "roam": c.roam})
    return pd.DataFrame(rows, columns=[c.name for c in SCHEMA])


def schema_markdown() -> str:
    """The schema as data/README.md's table."""
    lines = ["| column | type | required | unit | meaning |", "|---|---|---|---|---|"]
    lines += [f"| `{c.name}` | {c.kind} | {'yes' if c.required else 'no'} | {c.unit} | {c.description} |" for c in SCHEMA]
    return "\n".join(lines) + "\n"
