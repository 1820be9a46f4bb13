"""Presets (national, zhejiang, a province, tiny): which part of China a generated dataset covers."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from dispatch.errors import InputError
from dispatch.geodata import load_geography
from dispatch.model import (
    Tier,
)
from dispatch.network import Network


@dataclass(frozen=True)
class Preset:
    name: str
    province_adcode: str | None = None  # restrict to this province
    prefecture_adcode: str | None = None  # restrict to this prefecture (plus its province centre)


PROVINCE_ALIASES = MappingProxyType(
    {"zhejiang": "330000", "guangdong": "440000", "sichuan": "510000", "beijing": "110000"}
)


def parse_preset(name: str) -> Preset:
    key = name.strip().lower()
    if key == "national":
        return Preset("national")
    if key == "tiny":
        return Preset("tiny", province_adcode="330000", prefecture_adcode="330500")
    if key in PROVINCE_ALIASES:
        return Preset(key, province_adcode=PROVINCE_ALIASES[key])
    if key.startswith("province:"):
        code = key.split(":", 1)[1]
        if code.isdigit() and len(code) == 6 and code.endswith("0000"):
            return Preset(key, province_adcode=code)
        return Preset(key, province_adcode=_province_code_from_name(code))
    raise InputError(
        f"unknown preset {name!r}; expected 'national', 'tiny', one of "
        f"{sorted(PROVINCE_ALIASES)} or 'province:<adcode or pinyin>' (e.g. province:330000)"
    )


def _province_code_from_name(name: str) -> str:
    prov = load_geography().provinces
    hit = prov[(prov["pinyin"].str.lower() == name) | (prov["name"] == name)]
    if len(hit) != 1:
        raise InputError(
            f"unknown province {name!r}; expected a pinyin name such as "
            f"{', '.join(sorted(prov['pinyin'].str.lower())[:6])}, ... or a 6-digit adcode"
        )
    return str(hit["adcode"].iloc[0])


def restrict_network(network: Network, preset: Preset) -> Network:
    if preset.province_adcode is None:
        return network
    keep = [c for c in network if c.province_adcode == preset.province_adcode]
    if preset.prefecture_adcode is not None:
        keep = [
            c for c in keep
            if c.tier == Tier.PROVINCE or c.prefecture_adcode == preset.prefecture_adcode
        ]
    return Network(tuple(keep))

