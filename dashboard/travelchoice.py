"""The sidebar's travel model: one of the registry's models (``dispatch.travel.spec.MODELS``) and,
where it needs one, its parameters file, matrix file or server, turned into the spec line that
every plan and simulation of the session is made with (the same line as ``--travel``)."""

from __future__ import annotations

from dispatch.travel import DEFAULT_SPEC, TravelSpecError, travel_from_spec
from dispatch.travel.spec import MODELS

# The option the sidebar's second field fills in, per model (absent: the model needs none; Amap
# and Baidu read their keys from the environment, as on the command line).
SOURCE_OPTION: dict[str, str] = {"road": "params", "matrix": "file", "osrm": "url", "valhalla": "url"}


def models() -> list[str]:
    """The registry's models, the default first."""
    return [DEFAULT_SPEC] + [m for m in MODELS if m != DEFAULT_SPEC]


def spec_of(model: str, source: str = "") -> str:
    """The spec of ``model`` with ``source`` (a path or URL; empty: the model's own defaults)."""
    source = source.strip()
    if not source or model not in SOURCE_OPTION:
        return model
    return f"{model}:{SOURCE_OPTION[model]}={source}"


def resolve(model: str, source: str = "") -> tuple[str, str | None]:
    """(the spec to plan with, None), or (the default spec, why the chosen model cannot be built:
    a missing file, a bad parameter, no key in the environment), so a bad choice is told, not a traceback."""
    spec = spec_of(model, source)
    try:
        travel_from_spec(spec)
    except (TravelSpecError, OSError, ValueError) as exc:
        return DEFAULT_SPEC, str(exc)
    return spec, None
