"""Routing areas: a prefecture's centres, technicians and visits; which areas may take a call; the network's reach."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dispatch.assignment import AssignmentResult
from dispatch.dataset import Dataset
from dispatch.network import CentreIndex, area_of_centre
from dispatch.staffing import on_duty
from dispatch.travel import DEFAULT_TRAVEL, Travel


@dataclass(frozen=True)
class Area:
    key: str  # prefecture adcode
    centre_ids: tuple[str, ...]
    technician_ids: tuple[str, ...]
    request_ids: tuple[str, ...]




def make_areas(dataset: Dataset, assignment: AssignmentResult, day: int,
               pinned_to: dict[str, str] | None = None) -> list[Area]:
    """Every area with technicians or visits. A visit belongs to its visiting centre's area, or
    to the area of the technician a dispatcher pinned it to (``pinned_to``: request -> technician).
    An area's technicians are its field staff at work on ``day`` (``dispatch.staffing.on_duty``)."""
    area_of_centre_ = area_of_centre(dataset.network)
    centres_by_area: dict[str, list[str]] = defaultdict(list)
    for cid, a in area_of_centre_.items():
        centres_by_area[a].append(cid)
    techs_by_area: dict[str, list[str]] = defaultdict(list)
    home = {}
    for t in dataset.technicians:
        home[t.id] = t.home_centre_id
    for t in on_duty(dataset.technicians, dataset.epoch_date, day):
        techs_by_area[area_of_centre_[t.home_centre_id]].append(t.id)
    pinned_to = pinned_to or {}
    reqs_by_area: dict[str, list[str]] = defaultdict(list)
    for a in assignment.assigned:
        if a.request_id in pinned_to:
            reqs_by_area[area_of_centre_[home[pinned_to[a.request_id]]]].append(a.request_id)
        elif a.visit_centre_id is not None:
            reqs_by_area[area_of_centre_[a.visit_centre_id]].append(a.request_id)
    return [
        Area(k, tuple(centres_by_area[k]), tuple(techs_by_area[k]), tuple(reqs_by_area[k]))
        for k in sorted(set(reqs_by_area) | set(techs_by_area))
    ]


def reach_s(dataset: Dataset, request_ids: Sequence[str], travel: Travel = DEFAULT_TRAVEL) -> np.ndarray:
    """Per request, the drive (s) from the nearest centre with a technician: how far the
    network's reach is from the customer, whoever is free (splits the dispatch KPI into calls
    the network covers within the hour and those beyond it)."""
    staffed_ids = {t.home_centre_id for t in on_duty(dataset.technicians, None, 0)}  # field staff, any day
    staffed = CentreIndex(tuple(c for c in dataset.network if c.id in staffed_ids))
    req = {r.id: r for r in dataset.requests}
    if not len(request_ids) or not len(staffed):
        return np.full(len(request_ids), np.nan)
    lon = np.array([req[i].lon for i in request_ids])
    lat = np.array([req[i].lat for i in request_ids])
    return staffed.fastest(lon, lat, travel)[0].astype(float)


