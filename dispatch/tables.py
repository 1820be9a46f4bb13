"""The dataset as tables: one frame per kind (centres, technicians, requests), written atomically as CSV, Parquet or GeoJSON, and the dataset's fingerprint."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from dispatch.dataset import Dataset
from dispatch.inputfiles import FORMATS
from dispatch.model import (
    FIELD_ROLE,
    Request,
    Technician,
)
from dispatch.network import Network
from dispatch.parts.io import PART_FILES, parts_frames
from dispatch.schema import CST, format_clock


def centres_frame(network: Network) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [c.id for c in network],
            "name": [c.name for c in network],
            "tier": [int(c.tier) for c in network],
            "lon": [c.lon for c in network],
            "lat": [c.lat for c in network],
            "parent_id": [c.parent_id or "" for c in network],
            "levels": [";".join(map(str, sorted(c.levels))) for c in network],
            "bench_hours_per_day": [c.bench_hours_per_day for c in network],
            "open_time": [format_clock(c.opening.start_s) for c in network],
            "close_time": [format_clock(c.opening.end_s) for c in network],
            "courier_to_parent_min": [c.courier_to_parent_s // 60 for c in network],
            "province_adcode": [c.province_adcode for c in network],
            "prefecture_adcode": [c.prefecture_adcode for c in network],
            "county_adcode": [c.county_adcode for c in network],
        }
    )


def technicians_frame(techs: tuple[Technician, ...] | list[Technician]) -> pd.DataFrame:
    """One row per person. ``role`` and ``rest_weekday`` are written when some person has a role
    other than field or a rest day, so a roster without them is written as before, byte for byte."""
    frame = pd.DataFrame(
        {
            "id": [t.id for t in techs],
            "name": [t.name for t in techs],
            "home_centre_id": [t.home_centre_id for t in techs],
            "max_level": [t.max_level for t in techs],
            "product_lines": [";".join(sorted(t.product_lines)) for t in techs],
            "shift_start": [format_clock(t.shift.start_s) for t in techs],
            "shift_end": [format_clock(t.shift.end_s) for t in techs],
            "break_earliest": [format_clock(t.break_window.start_s) if t.break_window else "" for t in techs],
            "break_latest": [format_clock(t.break_window.end_s) if t.break_window else "" for t in techs],
            "break_min": [t.break_s // 60 for t in techs],
            "speed_class": [t.speed_class for t in techs],
        }
    )
    if any(t.role != FIELD_ROLE or t.rest_weekday is not None for t in techs):
        frame["role"] = [t.role for t in techs]
        frame["rest_weekday"] = ["" if t.rest_weekday is None else str(t.rest_weekday) for t in techs]
    return frame


def _iso(epoch: dt.datetime, t_s: int) -> str:
    return (epoch + dt.timedelta(seconds=int(t_s))).isoformat()


def requests_frame(reqs: tuple[Request, ...] | list[Request], epoch_date: str) -> pd.DataFrame:
    epoch = dt.datetime.combine(dt.date.fromisoformat(epoch_date), dt.time(), tzinfo=CST)
    frame = pd.DataFrame(
        {
            "id": [r.id for r in reqs],
            "created_at": [_iso(epoch, r.created_s) for r in reqs],
            "lon": [r.lon for r in reqs],
            "lat": [r.lat for r in reqs],
            "level": [r.level for r in reqs],
            "mode": [r.mode.value for r in reqs],
            "priority": [r.priority.name.lower() for r in reqs],
            "window_start": [_iso(epoch, r.window.start_s) for r in reqs],
            "window_end": [_iso(epoch, r.window.end_s) for r in reqs],
            "service_min": [r.service_s // 60 for r in reqs],
            "product_line": [r.product_line for r in reqs],
            "county_adcode": [r.county_adcode for r in reqs],
        }
    )
    if any(r.device_model for r in reqs):  # the device (dispatch.parts): written only when known
        frame["device_model"] = [r.device_model for r in reqs]
        frame["imei"] = [r.imei for r in reqs]
        frame["purchase_date"] = ["" if r.purchase_s is None else _iso(epoch, r.purchase_s) for r in reqs]
        frame["damage"] = [r.damage for r in reqs]
        frame["failed_repairs"] = [r.failed_repairs for r in reqs]
    return frame


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_table(frame: pd.DataFrame, path: Path) -> None:
    fmt = path.suffix.lower().lstrip(".")
    if fmt == "csv":
        atomic_write(path, lambda p: frame.to_csv(p, index=False, lineterminator="\n"))
    elif fmt == "parquet":
        atomic_write(path, lambda p: frame.to_parquet(p, index=False))
    elif fmt == "geojson":
        atomic_write(path, lambda p: p.write_text(_points_geojson(frame), encoding="utf-8"))
    else:
        raise ValueError(f"unsupported format {fmt!r}; expected one of {FORMATS}")


def _points_geojson(frame: pd.DataFrame) -> str:
    features = []
    for rec in frame.to_dict("records"):
        lon, lat = rec.pop("lon"), rec.pop("lat")
        props = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in rec.items()}
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                         "properties": props})
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False,
                      separators=(",", ":"))


def write_dataset(dataset: Dataset, folder: str | Path, fmt: str = "csv") -> dict[str, Path]:
    """Write the three files and manifest.json; deterministic bytes for the same dataset."""
    if fmt not in FORMATS:
        raise ValueError(f"unsupported format {fmt!r}; expected one of {FORMATS}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    frames = {
        "centres": centres_frame(dataset.network),
        "technicians": technicians_frame(dataset.technicians),
        "requests": requests_frame(dataset.requests, dataset.epoch_date),
        **({} if dataset.parts is None else parts_frames(dataset.parts)),
    }
    paths = {}
    for kind, frame in frames.items():
        for other in FORMATS:  # a stale file of another format would make the folder ambiguous
            if other != fmt:
                (folder / f"{kind}.{other}").unlink(missing_ok=True)
        if (kind == "technicians" or kind in PART_FILES) and fmt == "geojson":
            path = folder / f"{kind}.csv"  # technicians and parts have no location of their own
        else:
            path = folder / f"{kind}.{fmt}"
        write_table(frame, path)
        paths[kind] = path
    manifest = {"epoch_date": dataset.epoch_date, **dataset.meta_dict,
                "counts": {"centres": len(dataset.network), "technicians": len(dataset.technicians),
                           "requests": len(dataset.requests)}}
    mpath = folder / "manifest.json"
    atomic_write(mpath, lambda p: p.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"))
    paths["manifest"] = mpath
    return paths


def dataset_fingerprint(dataset: Dataset) -> str:
    """SHA-256 of the canonical CSV form of the dataset: equal inputs, equal fingerprints."""
    import hashlib

    h = hashlib.sha256()
    h.update(dataset.epoch_date.encode())
    for frame in (centres_frame(dataset.network), technicians_frame(dataset.technicians),
                  requests_frame(dataset.requests, dataset.epoch_date)):
        h.update(frame.to_csv(index=False, lineterminator="\n").encode("utf-8"))
    return h.hexdigest()

