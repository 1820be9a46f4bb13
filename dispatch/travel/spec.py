"""Choosing a travel model by one line of text (``--travel SPEC``, ``DISPATCH_TRAVEL``).

A spec is ``NAME`` or ``NAME:key=value,key=value``; ``Travel.spec`` gives back the line that
rebuilds a model, so a stored plan or run says which travel it was made with.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from dispatch.travel.backends import AMAP_KEY_ENV, BAIDU_AK_ENV, Amap, Baidu, Osrm, Valhalla
from dispatch.travel.base import Travel
from dispatch.travel.flat import FlatTravel
from dispatch.travel.matrixfile import MatrixFileError, MatrixFileTravel
from dispatch.travel.provider import Backend, ProviderTravel
from dispatch.travel.road import RoadTravel
from dispatch.travel.roadparams import ParamsError, RoadParams, read_params

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


_ROAD_SCALARS = {"detour_short": float, "detour_long": float, "detour_scale_km": float, "overhead_s": int,
                 "rush_km": float, "unreachable_s": int, "land_res_deg": float}


def _road(spec: str, options: Mapping[str, str]) -> Travel:
    """``road``, ``road:params=FILE.json`` and scalar overrides (``road:overhead_s=240,water=off``)."""
    params = RoadParams()
    try:
        if "params" in options:
            params = read_params(options["params"])
        kw: dict[str, object] = {}
        for key, value in options.items():
            if key == "params":
                continue
            if key == "water":
                if value not in ("on", "off"):
                    raise TravelSpecError(f"travel spec {spec!r}: water={value!r}; expected on or off")
                kw[key] = value == "on"
            elif key in _ROAD_SCALARS:
                kw[key] = _ROAD_SCALARS[key](_number(spec, key, value))
            else:
                raise TravelSpecError(f"travel spec {spec!r}: unknown option {key!r}; expected params=FILE.json, "
                                      f"water=on|off or one of {sorted(_ROAD_SCALARS)}")
        params = replace(params, **kw) if kw else params
    except ParamsError as err:
        raise TravelSpecError(f"travel spec {spec!r}: {err}") from None
    return RoadTravel(params, spec)


def _matrix(spec: str, options: Mapping[str, str]) -> Travel:
    """``matrix:file=M.parquet[,points=P.parquet][,decimals=5][,fallback=SPEC-NAME]``."""
    unknown = sorted(set(options) - {"file", "points", "decimals", "fallback"})
    if unknown or "file" not in options:
        raise TravelSpecError(f"travel spec {spec!r}: expected file=PATH and optionally points=PATH, decimals=N, "
                              f"fallback=MODEL" + (f"; unknown {unknown}" if unknown else ""))
    fallback = travel_from_spec(options.get("fallback", DEFAULT_SPEC))
    try:
        return MatrixFileTravel(options["file"], fallback, options.get("points"),
                                int(_number(spec, "decimals", options.get("decimals", "5"))), spec)
    except MatrixFileError as err:
        raise TravelSpecError(f"travel spec {spec!r}: {err}") from None


_PROVIDER_OPTIONS = {"url", "car", "scooter", "timeout_s", "retries", "backoff_s", "qps", "cache", "max_locations",
                     "max_pairs", "fallback"}


def _provider(kind: str) -> Callable[[str, Mapping[str, str]], Travel]:
    """``osrm:url=URL[,car=driving][,scooter=PROFILE]``, ``valhalla:url=URL[,car=auto][,scooter=motor_scooter]``,
    ``amap[:url=...]`` (key from DISPATCH_AMAP_KEY), ``baidu[:url=...]`` (DISPATCH_BAIDU_AK), each with
    timeout_s, retries, backoff_s, qps, cache=PATH|off and fallback=MODEL."""

    def build(spec: str, options: Mapping[str, str]) -> Travel:
        unknown = sorted(set(options) - _PROVIDER_OPTIONS)
        if unknown:
            raise TravelSpecError(f"travel spec {spec!r}: unknown option(s) {unknown}; expected {sorted(_PROVIDER_OPTIONS)}")
        backend: Backend
        if kind in ("osrm", "valhalla"):
            if "url" not in options:
                raise TravelSpecError(f"travel spec {spec!r}: {kind} needs the server, e.g. {kind}:url=http://host:port")
            default = {"osrm": ("driving", None), "valhalla": ("auto", "motor_scooter")}[kind]
            modes = {"car": options.get("car", default[0])}
            if options.get("scooter", default[1]):
                modes["scooter"] = options.get("scooter", default[1]) or ""
            if kind == "osrm":
                backend = Osrm(options["url"], modes, int(_number(spec, "max_locations", options.get("max_locations", "100"))))
            else:
                backend = Valhalla(options["url"], modes, int(_number(spec, "max_pairs", options.get("max_pairs", "2500"))))
        else:
            env = AMAP_KEY_ENV if kind == "amap" else BAIDU_AK_ENV
            key = os.environ.get(env, "").strip()
            if not key:
                raise TravelSpecError(f"travel spec {spec!r}: {kind} needs its key in the environment variable {env}")
            backend = Amap(key) if kind == "amap" else Baidu(key)
            if "url" in options:
                backend.url = options["url"]
        cache = options.get("cache")
        kw: dict[str, object] = {} if cache is None else {"cache_path": None if cache == "off" else Path(cache)}
        for key_ in ("timeout_s", "backoff_s", "qps"):
            if key_ in options:
                kw[key_] = _number(spec, key_, options[key_])
        if "retries" in options:
            kw["retries"] = int(_number(spec, "retries", options["retries"]))
        fallback = travel_from_spec(options.get("fallback", DEFAULT_SPEC))
        return ProviderTravel(backend, fallback, spec, **kw)  # type: ignore[arg-type]

    return build


MODELS: dict[str, Callable[[str, Mapping[str, str]], Travel]] = {
    "flat": _flat, "road": _road, "matrix": _matrix,
    **{kind: _provider(kind) for kind in ("osrm", "valhalla", "amap", "baidu")}}
DEFAULT_SPEC = "road"


def _expand(spec: str) -> str:
    """A bare file name stands for the model that reads it: PARAMS.json the road model's parameters,
    M.parquet a matrix file."""
    if ":" not in spec and spec.lower().endswith(".json"):
        return f"road:params={spec}"
    if ":" not in spec and spec.lower().endswith(".parquet"):
        return f"matrix:file={spec}"
    name, _, rest = spec.partition(":")
    if name in ("osrm", "valhalla") and rest.startswith(("http://", "https://")):
        url, _, more = rest.partition(",")
        return f"{name}:url={url}" + (f",{more}" if more else "")
    return spec


def travel_from_spec(spec: str | None = None) -> Travel:
    """The model a spec names; ``None`` reads ``DISPATCH_TRAVEL`` and falls back to the default."""
    spec = _expand((spec if spec is not None else os.environ.get(ENV_VAR, "")).strip() or DEFAULT_SPEC)
    name, _, rest = spec.partition(":")
    if name not in MODELS:
        raise TravelSpecError(f"travel spec {spec!r}: unknown model {name!r}; expected one of {sorted(MODELS)}")
    return MODELS[name](spec, _parse_options(spec, rest))


DEFAULT_TRAVEL: Travel = MODELS[DEFAULT_SPEC](DEFAULT_SPEC, {})


def travel_record(travel: Travel) -> dict[str, object]:
    """What a stored plan or run records of its travel: the spec, and for a provider the requests
    that fell back to the default model (``travel_fallbacks``) and why."""
    record = getattr(travel, "record", None)
    return {"travel": travel.spec, **(record() if callable(record) else {})}
