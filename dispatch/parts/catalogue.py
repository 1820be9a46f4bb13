"""The parts catalogue: device models, the parts of each, and the repair recipes that consume them.

A recipe says which part a repair of a level on a model consumes, with the probability that
diagnosis finds that part at fault (the rest of a level's repairs need no part: software,
cleaning, a reseat). Which part one call consumes is drawn once per call and level from a
generator seeded by (seed, call id, level), so every policy and every run with the same seed
faces the same need (common random numbers, as ``dispatch.fieldwork``).

The generated catalogue (``generate_catalogue``) is a documented stand-in for the user's own
tables (``devices``, ``parts``, ``recipes``; ``dispatch.parts.io``); its figures are reasoned
estimates, not a maker's data:

* 12 phone models with market shares falling as 1/rank^0.8 (a few best-sellers and a long
  tail), launched 2021-2025, prices 1,499-6,999 CNY;
* per model a screen (25 % of the model's price, level 1), battery (4 %, level 1), charging port
  (3 %, level 2), camera module (8 %, level 2), mainboard (35 %, level 3) and the handset itself
  (75 %: the 三包 exchange); one shared loaner phone (备用机, 900 CNY) for swaps;
* recipes: level 1 screen 0.45 / battery 0.35; level 2 port 0.45 / camera 0.35; level 3
  mainboard 0.70; the rest of each level needs no part.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from dispatch.errors import DispatchError

LOANER = "LOANER"  # the shared swap device (以换代修 / 备用机)
HANDSET = "handset"  # the kind of part a 三包 exchange hands over
# kind -> (repair level it belongs to, cost as a share of the model's price, recipe probability)
PART_KINDS: Mapping[str, tuple[int, float, float]] = {
    "screen": (1, 0.25, 0.45), "battery": (1, 0.04, 0.35), "port": (2, 0.03, 0.45),
    "camera": (2, 0.08, 0.35), "mainboard": (3, 0.35, 0.70), HANDSET: (0, 0.75, 0.0)}
LOANER_COST_CNY = 900.0


@dataclass(frozen=True)
class DeviceModel:
    id: str
    name: str
    share: float  # of the installed base (calls without a model are drawn by it)
    launch_year: int
    price_cny: float


@dataclass(frozen=True)
class Part:
    id: str
    kind: str  # screen, battery, port, camera, mainboard, handset, loaner...
    model_id: str  # "" for a part every model shares
    level: int  # the repair level that consumes it (0: not a repair part)
    cost_cny: float


@dataclass(frozen=True)
class Recipe:
    model_id: str
    level: int
    part_id: str
    p: float  # share of the level's repairs on this model that consume the part


@dataclass(frozen=True)
class Catalogue:
    models: tuple[DeviceModel, ...]
    parts: tuple[Part, ...]
    recipes: tuple[Recipe, ...]
    _by_part: dict[str, Part] = field(default_factory=dict, repr=False, compare=False)
    _by_recipe: dict[tuple[str, int], tuple[Recipe, ...]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_part.update({p.id: p for p in self.parts})
        models = {m.id for m in self.models}
        groups: dict[tuple[str, int], list[Recipe]] = {}
        for r in self.recipes:
            if r.part_id not in self._by_part or r.model_id not in models:
                raise DispatchError(f"recipe {r} names an unknown part or model")
            groups.setdefault((r.model_id, r.level), []).append(r)
        for key, rs in groups.items():
            if sum(r.p for r in rs) > 1 + 1e-9:
                raise DispatchError(f"the recipes of model {key[0]} level {key[1]} add up to more than 1")
        self._by_recipe.update({k: tuple(v) for k, v in groups.items()})

    def part(self, part_id: str) -> Part:
        return self._by_part[part_id]

    def has_part(self, part_id: str) -> bool:
        return part_id in self._by_part

    def model_ids(self) -> tuple[str, ...]:
        return tuple(m.id for m in self.models)

    def recipes_for(self, model_id: str, level: int) -> tuple[Recipe, ...]:
        return self._by_recipe.get((model_id, level), ())

    def handset(self, model_id: str) -> str | None:
        """The part id of a new ``model_id`` phone (a 三包 exchange), if the catalogue has one."""
        return next((p.id for p in self.parts if p.kind == HANDSET and p.model_id == model_id), None)

    def need(self, seed: int, request_id: str, model_id: str, level: int) -> str | None:
        """The part a level-``level`` repair of this call consumes (None: none), drawn once."""
        recipes = self.recipes_for(model_id, level)
        if not recipes:
            return None
        u = uniform(seed, "need", request_id, str(level))
        acc = 0.0
        for r in recipes:
            acc += r.p
            if u < acc:
                return r.part_id
        return None


def uniform(seed: int, *keys: str) -> float:
    """A uniform [0, 1) draw fixed by the seed and the keys (no shared generator: one draw moves no other)."""
    digest = hashlib.blake2b("\x1f".join((str(seed), *keys)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def generate_catalogue(n_models: int = 12) -> Catalogue:
    """The documented stand-in catalogue (module docstring)."""
    weights = 1.0 / np.arange(1, n_models + 1) ** 0.8
    shares = weights / weights.sum()
    prices = np.linspace(1499, 6999, n_models)[np.random.default_rng(17).permutation(n_models)]
    models, parts, recipes = [], [], []
    for i in range(n_models):
        mid = f"M{i + 1:02d}"
        price = float(round(prices[i], -2) - 1)
        models.append(DeviceModel(mid, f"Phone {mid}", float(round(shares[i], 4)), 2021 + i % 5, price))
        for kind, (level, cost_share, p) in PART_KINDS.items():
            pid = f"{mid}-{kind.upper()}"
            parts.append(Part(pid, kind, mid, level, round(price * cost_share, 2)))
            if p > 0:
                recipes.append(Recipe(mid, level, pid, p))
    parts.append(Part(LOANER, "loaner", "", 0, LOANER_COST_CNY))
    return Catalogue(tuple(models), tuple(parts), tuple(recipes))
