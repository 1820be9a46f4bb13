"""The loaded inputs: a network, its roster and a set of calls (``dispatch.io`` reads and
validates them; ``dispatch.synthetic`` generates them)."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.model import Request, Technician
from dispatch.network import Network
from dispatch.parts.world import PartsData


@dataclass(frozen=True)
class Dataset:
    """A network, its roster and a set of calls, with the date of the epoch all times count from."""

    network: Network
    technicians: tuple[Technician, ...]
    requests: tuple[Request, ...]
    epoch_date: str  # ISO date (China Standard Time) whose midnight is t = 0
    meta: tuple[tuple[str, str], ...] = ()  # provenance: preset, seed, generator parameters
    parts: PartsData | None = None  # catalogue, stock and lanes (dispatch.parts); None: parts off

    @property
    def meta_dict(self) -> dict[str, str]:
        return dict(self.meta)

