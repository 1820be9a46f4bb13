"""Choosing a travel model by one line of text (``--travel SPEC``, ``DISPATCH_TRAVEL``).

A spec is ``NAME`` or ``NAME:key=value,key=value``; ``Travel.spec`` gives back the line that
rebuilds a model, so a stored plan or run says which travel it was made with.
"""

from __future__ import annotations

import os
from typing import Callable, Mapping

from dispatch.travel.base import Travel
from dispatch.travel.flat import FlatTravel

ENV_VAR = "DISPATCH_TRAVEL"


class TravelSpecError(ValueError):
    """A travel spec that names no model or gives it a bad parameter."""


def _parse_options(spec: str, text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise TravelSpecError(f"travel spec {spec!r}: {part!r} is not key=value")
        out[key.strip()] = value.strip()
    return out


def _number(spec: str, key: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise TravelSpecError(f"travel spec {spec!r}: {key}={value!r} is not a number") from None


def _flat(spec: str, options: Mapping[str, str]) -> Travel:
    detour, overhead, speeds = 1.3, 300, {}
    for key, value in options.items():
        if key == "detour":
            detour = _number(spec, key, value)
        elif key == "overhead_s":
            overhead = int(_number(spec, key, value))
        else:
            speeds[key] = _number(spec, key, value)
    try:
        if speeds:
            return FlatTravel(detour, speeds, overhead)
        return FlatTravel(detour=detour, access_overhead_s=overhead)
    except ValueError as err:
        raise TravelSpecError(f"travel spec {spec!r}: {err}") from None


MODELS: dict[str, Callable[[str, Mapping[str, str]], Travel]] = {"flat": _flat}
DEFAULT_SPEC = "flat"


def travel_from_spec(spec: str | None = None) -> Travel:
    """The model a spec names; ``None`` reads ``DISPATCH_TRAVEL`` and falls back to the default."""
    spec = (spec if spec is not None else os.environ.get(ENV_VAR, "")).strip() or DEFAULT_SPEC
    name, _, rest = spec.partition(":")
    if name not in MODELS:
        raise TravelSpecError(f"travel spec {spec!r}: unknown model {name!r}; expected one of {sorted(MODELS)}")
    return MODELS[name](spec, _parse_options(spec, rest))


DEFAULT_TRAVEL: Travel = MODELS[DEFAULT_SPEC](DEFAULT_SPEC, {})
