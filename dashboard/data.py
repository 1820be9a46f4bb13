"""Datasets and areas: the demos, a dataset restricted to a province or one prefecture, the
sidebar's choices, and each technician's routing area (the plan's rule, ``dispatch.plan``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

# The demos and defaults live in a light module (the first paint reads them); the pages name them here.
from dashboard.demos import (  # noqa: F401
    DEFAULT_DEMO,
    DEFAULT_PREFECTURE,
    DEFAULT_PROVINCE,
    DEMOS,
    REPO,
    SAMPLE_DIR,
    choose,
    dataset_label,
)
from dashboard.state import ALL
from dispatch.dataset import Dataset
from dispatch.errors import DispatchError
from dispatch.io import read_dataset
from dispatch.model import DAY_S
from dispatch.network import Network
from dispatch.plan import area_of_centre
from dispatch.synthetic import generate


def load_demo(source: str) -> Dataset:
    """A demo dataset: the committed sample (read and validated like any input) or ``tiny``."""
    if source == "sample":
        return read_dataset(SAMPLE_DIR)
    if source == "tiny":
        return generate("tiny", days=1, seed=1)
    raise DispatchError(f"unknown demo {source!r}; expected one of {sorted(DEMOS.values())}")


def provinces_of(ds: Dataset) -> list[str]:
    return sorted({c.province_adcode for c in ds.network if c.province_adcode})


def prefectures_of(ds: Dataset, province: str) -> list[str]:
    return sorted({c.prefecture_adcode for c in ds.network
                   if c.province_adcode == province and c.prefecture_adcode})


def days_of(ds: Dataset) -> list[int]:
    """Days (since the epoch) that have calls; at least day 0."""
    days = sorted({r.created_s // DAY_S for r in ds.requests})
    return days or [0]


def day_calls(ds: Dataset, day: int) -> pd.DataFrame:
    """The calls made on ``day`` (id, lon, lat): what the board draws before anything is planned."""
    rows = [(r.id, r.lon, r.lat) for r in ds.requests if r.created_s // DAY_S == day]
    return pd.DataFrame(rows, columns=["id", "lon", "lat"])


def request_prefectures(ds: Dataset) -> list[str]:
    """Each request's prefecture: from its county code, else from the nearest centre (uploads
    may leave county_adcode empty)."""
    out: list[str] = []
    missing = [i for i, r in enumerate(ds.requests) if len(r.county_adcode) != 6]
    nearest: dict[int, str] = {}
    if missing:
        lon = np.array([ds.requests[i].lon for i in missing])
        lat = np.array([ds.requests[i].lat for i in missing])
        idx, _ = ds.network.nearest(lon, lat)
        for i, j in zip(missing, np.atleast_1d(idx)):
            c = ds.network.centres[int(j)]
            nearest[i] = c.prefecture_adcode or c.province_adcode
    for i, r in enumerate(ds.requests):
        out.append(nearest[i] if i in nearest else r.county_adcode[:4] + "00")
    return out


def restrict(ds: Dataset, province: str, prefecture: str = ALL) -> Dataset:
    """The part of ``ds`` in one province, or one prefecture of it. A prefecture keeps its
    centres plus their parent chain (escalation goes up to the provincial lab), the staff of
    those centres and its own calls, like the ``tiny`` preset."""
    net = ds.network
    if prefecture:
        keep = {c.id for c in net if c.prefecture_adcode == prefecture}
    else:
        keep = {c.id for c in net if c.province_adcode == province}
    for cid in list(keep):
        keep |= {a.id for a in net.chain(cid)}
    if not keep:
        raise DispatchError(f"no centre in area {prefecture or province!r}")
    centres = tuple(c for c in net if c.id in keep)
    techs = tuple(t for t in ds.technicians if t.home_centre_id in keep)
    pref = request_prefectures(ds)
    if prefecture:
        reqs = tuple(r for r, p in zip(ds.requests, pref) if p == prefecture)
    else:
        reqs = tuple(r for r, p in zip(ds.requests, pref) if p[:2] == province[:2])
    return Dataset(Network(centres), techs, reqs, ds.epoch_date,
                   ds.meta + (("area", prefecture or province),))


def area_counties(geo, province: str, prefecture: str = ALL) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The counties of the geography (``dispatch.geodata.Geography``) in the area."""
    c = geo.counties
    if prefecture:
        return c[c["prefecture_adcode"] == prefecture]
    if province:
        return c[c["province_adcode"] == province]
    return c


def technician_area(ds: Dataset) -> dict[str, str]:
    """Technician id -> routing area (prefecture adcode), by the plan's rule
    (``dispatch.plan.area_of_centre``)."""
    area = area_of_centre(ds.network)
    return {t.id: area[t.home_centre_id] for t in ds.technicians}


def technician_homes(ds: Dataset) -> dict[str, tuple[float, float]]:
    """Technician id -> (lon, lat) of his home centre, where his route starts and ends."""
    return {t.id: (ds.network[t.home_centre_id].lon, ds.network[t.home_centre_id].lat) for t in ds.technicians}
