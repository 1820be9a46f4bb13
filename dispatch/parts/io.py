"""Reading a dataset's own parts files: ``devices``, ``parts``, ``recipes`` and, optionally,
``stock`` and ``lanes`` (each ``.csv``, ``.parquet`` or ``.geojson``, beside the centres). Parts
are on for a dataset whose folder has a ``devices`` file; ``parts`` and ``recipes`` must then be
there too. Without ``stock`` the default levels apply (``dispatch.parts.world``); without
``lanes``, or for a pair it does not list, lanes are generated (``dispatch.parts.lanes``).
Problems name file, row, column, value and what would be valid, as ``dispatch.io`` does for the
other files (the schemas are in ``PART_SCHEMAS``, rendered in data/README.md)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from dispatch.errors import Problem, ValidationError
from dispatch.model import Request, Technician
from dispatch.network import Network
from dispatch.parts.catalogue import Catalogue, DeviceModel, Part, Recipe
from dispatch.parts.lanes import SERVICES, Lane
from dispatch.parts.stock import NATIONAL, VAN_PREFIX, StockLevels
from dispatch.parts.world import PartsData, default_levels
from dispatch.schema import Column, format_clock, read_kind

PART_SCHEMAS: dict[str, tuple[Column, ...]] = {
    "devices": (
        Column("id", "id", True, "", "unique device model id"),
        Column("name", "str", False, "", "display name"),
        Column("share", "float", True, "", "share of the installed base, 0..1 (draws a model for calls without one)"),
        Column("launch_year", "int", False, "", "year the model came out"),
        Column("price_cny", "float", False, "CNY", "retail price"),
    ),
    "parts": (
        Column("id", "id", True, "", "unique part id"),
        Column("kind", "str", True, "", "screen, battery, port, camera, mainboard, handset (a 三包 exchange), loaner..."),
        Column("model_id", "id", False, "", "the device model it fits; empty = every model"),
        Column("level", "choice", True, "", "repair level that consumes it; 0 = not a repair part", ("0", "1", "2", "3")),
        Column("cost_cny", "float", True, "CNY", "unit cost (stock value, holding cost)"),
    ),
    "recipes": (
        Column("model_id", "id", True, "", "device model"),
        Column("level", "choice", True, "", "repair level 1-3", ("1", "2", "3")),
        Column("part_id", "id", True, "", "part the repair consumes"),
        Column("p", "float", True, "", "share of the level's repairs on the model that consume it, 0..1"),
    ),
    "stock": (
        Column("location", "str", True, "", "a centre id, van:<technician id> or NATIONAL (the national warehouse)"),
        Column("part_id", "id", True, "", "part"),
        Column("level", "int", True, "units", "base-stock level: held at the start and reordered up to"),
    ),
    "lanes": (
        Column("origin_id", "str", True, "", "centre id or NATIONAL"),
        Column("dest_id", "str", True, "", "centre id or NATIONAL"),
        Column("service", "choice", True, "", "courier product", SERVICES),
        Column("cutoff", "clock", True, "HH:MM", "parcels ready by then leave that day"),
        Column("transit_days", "int", True, "days", "0 = delivered the same day"),
        Column("delivery", "clock", False, "HH:MM", "delivery time when transit_days >= 1"),
        Column("same_day_h", "float", False, "h", "hours from pickup to delivery when transit_days = 0"),
        Column("late_p", "float", False, "", "probability a parcel comes a day late; empty = 0"),
        Column("price_cny", "float", True, "CNY", "price per parcel, surcharges included"),
    ),
}
PART_FILES = tuple(PART_SCHEMAS)


def read_parts(folder: Path, problems: list[Problem], warn: Callable[[Problem], None]) -> PartsData | None:
    """The folder's parts (stock levels empty when it has no stock file: ``with_default_levels``
    fills them), None without a devices file; every problem is added to ``problems``."""
    got: dict[str, Any] = {}
    try:
        for kind in PART_FILES:
            t = read_kind(folder, kind, PART_SCHEMAS[kind])
            for w in () if t is None else t.collector.warnings:
                warn(w)
            got[kind] = None if t is None else (t.rows, t.collector)
    except ValidationError as exc:
        problems.extend(exc.problems)
        return None
    if got["devices"] is None:
        return None
    for kind in ("parts", "recipes"):
        if got[kind] is None:
            problems.append(Problem(str(folder), None, None, None,
                                    f"has a devices file but no {kind} file; expected {kind}.csv (data/README.md: parts)"))
    if any(got[k] is None for k in ("parts", "recipes")):
        return None
    drows, dc = got["devices"]
    models = [DeviceModel(r["id"], r["name"] or r["id"], r["share"], r["launch_year"] or 0, r["price_cny"] or 0.0)
              for r in drows if r is not None]
    model_ids = {m.id for m in models}
    prows, pc = got["parts"]
    parts = []
    for i, r in enumerate(prows):
        if r is not None and r["model_id"] and r["model_id"] not in model_ids:
            pc.add(i, "model_id", r["model_id"], "is not a model of the devices file")
        elif r is not None:
            parts.append(Part(r["id"], r["kind"], r["model_id"] or "", int(r["level"]), r["cost_cny"]))
    part_ids = {p.id for p in parts}
    rrows, rc = got["recipes"]
    recipes: list[Recipe] = []
    sums: dict[tuple[str, int], float] = defaultdict(float)
    for i, r in enumerate(rrows):
        if r is None:
            continue
        bad = [(col, r[col]) for col, known in (("model_id", model_ids), ("part_id", part_ids)) if r[col] not in known]
        if bad or not 0 <= r["p"] <= 1:
            col, value = bad[0] if bad else ("p", r["p"])
            rc.add(i, col, value, "is not in its file" if bad else "is not a share; expected 0..1")
            continue
        sums[r["model_id"], int(r["level"])] += r["p"]
        if sums[r["model_id"], int(r["level"])] > 1 + 1e-9:
            rc.add(i, "p", r["p"], f"makes the shares of model {r['model_id']} level {r['level']} add up to more than 1")
            continue
        recipes.append(Recipe(r["model_id"], int(r["level"]), r["part_id"], r["p"]))
    levels: dict[tuple[str, str], int] = {}
    if got["stock"] is not None:
        srows, sc = got["stock"]
        for i, r in enumerate(srows):
            if r is None:
                continue
            if r["part_id"] not in part_ids or r["level"] < 0:
                sc.add(i, "part_id" if r["part_id"] not in part_ids else "level",
                       r["part_id"] if r["part_id"] not in part_ids else r["level"],
                       "is not a part of the parts file" if r["part_id"] not in part_ids else "is negative; expected >= 0")
                continue
            levels[r["location"], r["part_id"]] = r["level"]
        problems.extend(sc.problems)
    table: dict[tuple[str, str], tuple[Lane, ...]] = {}
    if got["lanes"] is not None:
        lrows, lc = got["lanes"]
        for i, r in enumerate(lrows):
            if r is None:
                continue
            days = r["transit_days"]
            when = r["delivery"] if days else (None if r["same_day_h"] is None else int(r["same_day_h"] * 3600))
            if when is None or days < 0:
                lc.add(i, "delivery" if days else "same_day_h", None,
                       "is empty; expected the delivery time (HH:MM) for transit_days >= 1, or same_day_h for 0")
                continue
            lane = Lane(r["origin_id"], r["dest_id"], r["service"], r["cutoff"], days, when, r["late_p"] or 0.0,
                        r["price_cny"])
            table[lane.origin, lane.dest] = (*table.get((lane.origin, lane.dest), ()), lane)
        problems.extend(lc.problems)
    for c in (dc, pc, rc):
        problems.extend(c.problems)
    return PartsData(Catalogue(tuple(models), tuple(parts), tuple(recipes)), StockLevels(levels), lane_table=table or None)


def check_locations(parts: PartsData, network: Network, technicians: tuple[Technician, ...]) -> list[str]:
    """Stock locations and lane ends that name no centre, van or the warehouse (a sentence each)."""
    known = {c.id for c in network} | {NATIONAL} | {VAN_PREFIX + t.id for t in technicians}
    bad = sorted({loc for loc, _ in parts.levels.levels if loc not in known}
                 | {end for pair in (parts.lane_table or {}) for end in pair if end not in known - {VAN_PREFIX}})
    return [f"stock or lanes name {loc!r}, which is no centre id, van:<technician id> or NATIONAL" for loc in bad]


def with_default_levels(parts: PartsData, network: Network, technicians: tuple[Technician, ...],
                        requests: tuple[Request, ...]) -> PartsData:
    """``parts`` as read; with the default stock levels when the folder had no stock file. A
    location that names nothing known is an error."""
    wrong = check_locations(parts, network, technicians)
    if wrong:
        raise ValidationError([Problem("stock/lanes", None, "location", None, w) for w in wrong])
    if parts.levels.levels:
        return parts
    return replace(parts, levels=default_levels(parts.catalogue, network, technicians, requests))


def parts_frames(parts: PartsData) -> dict[str, pd.DataFrame]:
    """The parts as the files ``read_parts`` reads (``dispatch.tables.write_dataset`` writes them)."""
    cat = parts.catalogue
    frames = {
        "devices": pd.DataFrame([{"id": m.id, "name": m.name, "share": m.share, "launch_year": m.launch_year,
                                  "price_cny": m.price_cny} for m in cat.models]),
        "parts": pd.DataFrame([{"id": p.id, "kind": p.kind, "model_id": p.model_id, "level": p.level,
                                "cost_cny": p.cost_cny} for p in cat.parts]),
        "recipes": pd.DataFrame([{"model_id": r.model_id, "level": r.level, "part_id": r.part_id, "p": r.p}
                                 for r in cat.recipes]),
        "stock": pd.DataFrame([{"location": loc, "part_id": p, "level": s}
                               for (loc, p), s in sorted(parts.levels.levels.items())],
                              columns=["location", "part_id", "level"]),
    }
    if parts.lane_table:
        frames["lanes"] = pd.DataFrame([
            {"origin_id": ln.origin, "dest_id": ln.dest, "service": ln.service, "cutoff": format_clock(ln.cutoff_s),
             "transit_days": ln.transit_days, "delivery": format_clock(ln.delivery_s) if ln.transit_days else "",
             "same_day_h": "" if ln.transit_days else ln.delivery_s / 3600, "late_p": ln.late_p, "price_cny": ln.price_cny}
            for lanes in parts.lane_table.values() for ln in lanes])
    return frames
