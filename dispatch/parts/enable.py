"""Switching parts on for a dataset: its own parts files if it has them (``dispatch.parts.io``),
else the documented defaults (``dispatch.parts.world.default_parts``)."""

from __future__ import annotations

from dataclasses import replace

from dispatch.dataset import Dataset
from dispatch.parts.stock import StockLevels
from dispatch.parts.world import default_parts, equip


def with_parts(dataset: Dataset, seed: int = 0) -> Dataset:
    """``dataset`` with parts on: its calls equipped with devices (where they do not say) and
    the default catalogue and stock when it has none of its own."""
    if dataset.parts is not None:
        return replace(dataset, requests=equip(dataset.requests, dataset.parts.catalogue, seed))
    parts, requests = default_parts(dataset.network, dataset.technicians, dataset.requests, seed)
    return replace(dataset, requests=requests, parts=parts)


def switch(dataset: Dataset, on: bool | None, seed: int = 0) -> Dataset:
    """Parts as the command line asks: on (``True``), off (``False``: the dataset as if it had
    none), or on when the dataset has parts files (``None``)."""
    if on or (on is None and dataset.parts is not None):
        return with_parts(dataset, seed)
    return replace(dataset, parts=None) if dataset.parts is not None else dataset


def with_levels(dataset: Dataset, levels: StockLevels) -> Dataset:
    """``dataset`` (parts on) with other base-stock levels: a sizing's, or a what-if's."""
    if dataset.parts is None:
        raise ValueError("the dataset has no parts: switch them on first (with_parts)")
    return replace(dataset, parts=replace(dataset.parts, levels=levels))
