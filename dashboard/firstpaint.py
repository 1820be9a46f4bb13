"""The board's first paint from a small table kept on disk, drawn before the heavy modules load.

A fresh Streamlit process pays on its first script run for its imports (the dataset model,
OR-Tools, SQLAlchemy, the service's FastAPI, shapely: seconds on a busy machine) and for
reading and validating the dataset. What the board shows first does not need any of them: the
sidebar's choices, the area's counts, its network and the day's calls on the map. The first
time a demo's board is previewed (``widgets.preview``), what it drew is kept here, one table
per demo dataset and language, keyed by the dataset files' contents; a later fresh process
draws it from the table at once and imports the rest while the browser draws.

Imports the standard library, Streamlit and the catalogue only (``tests/test_dashboard_first_paint``
checks that this module and ``app.py``'s first paint import none of the heavy ones).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import streamlit as st

from dashboard import i18n, sketch
from dashboard.demos import DEMO_FOLDERS, DEMOS
from dashboard.state import ALL

TABLE_VERSION = 2  # bumped when what a table holds changes: an older table is not read
STATIC = Path(__file__).resolve().parent / "static"  # the base map's outlines (``loaders._geo_url``)


def table_dir() -> Path:
    return Path(os.environ.get("DISPATCH_PREVIEW_DIR") or Path(tempfile.gettempdir()) / "dispatch-board-preview")


@dataclass
class SidebarOptions:
    """What the sidebar offers for a dataset, in one language (from the dataset, or its table)."""

    provinces: list[str]
    prefectures: dict[str, list[str]]  # province -> its prefectures (without ``ALL``)
    names: dict[str, str]  # adcode -> place name in the language
    days: list[int]
    day_labels: dict[int, str]
    epoch: str
    centres: int
    technicians: int
    calls: int
    models: list[str]  # the travel models, the default first (``travelchoice.models``)
    source_option: dict[str, str] = field(default_factory=dict)  # ``travelchoice.SOURCE_OPTION``

    def area_label(self, adcode: str) -> str:
        """An adcode with its name; ``ALL`` is the whole province (as ``formatting.area_label``)."""
        return i18n.t("side.whole_province") if adcode == ALL else f"{self.names.get(adcode, adcode)} ({adcode})"

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SidebarOptions:
        return cls(**{**d, "day_labels": {int(k): v for k, v in d["day_labels"].items()}})


# -- the table ----------------------------------------------------------------------------------

_FINGERPRINTS: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}
_LOCK = threading.Lock()  # two sessions (or a session and the preparation) write one table


# The modules whose code shapes what a table holds (texts, names, the map): a change of theirs
# is a new table, as a change of the data is.
_SHAPED_BY = tuple(Path(__file__).resolve().parent / f"{m}.py"
                   for m in ("catalogue", "i18n", "formatting", "maps", "sketch", "widgets", "firstpaint"))


def dataset_key(label: str) -> str | None:
    """The table's key for a demo read from files: its folder's contents and the code that draws
    them (SHA-256 of every file, read again only when a file's size or time changes). None for
    the others (a generated demo, an upload): their first paint is drawn the ordinary way."""
    folder = DEMO_FOLDERS.get(DEMOS.get(label, ""))
    if folder is None or not folder.is_dir():
        return None
    files = sorted(p for p in folder.iterdir() if p.is_file()) + [p for p in _SHAPED_BY if p.is_file()]
    stamp = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    key = (str(folder), stamp)
    if key not in _FINGERPRINTS:
        h = hashlib.sha256()
        for p in files:
            h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
        _FINGERPRINTS[key] = f"{DEMOS[label]}-{h.hexdigest()[:24]}"
    return _FINGERPRINTS[key]


def _path(key: str, lang: str) -> Path:
    return table_dir() / f"{key}-{lang}-v{TABLE_VERSION}.json"


def _read(key: str, lang: str) -> dict[str, Any]:
    try:
        got = json.loads(_path(key, lang).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return got if isinstance(got, dict) and got.get("version") == TABLE_VERSION else {}


def _write(key: str, lang: str, change: dict[str, Any]) -> None:
    """Merge ``change`` into the table, written whole or not at all (another process may read it)."""
    with _LOCK:
        table = {**_read(key, lang), **change, "version": TABLE_VERSION}
        if "areas" in change:
            table["areas"] = {**_read(key, lang).get("areas", {}), **change["areas"]}
        path = _path(key, lang)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            tmp.write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            pass  # no table: the next fresh process draws its first paint the ordinary way


def sidebar(label: str, lang: str) -> SidebarOptions | None:
    key = dataset_key(label)
    got = _read(key, lang).get("sidebar") if key else None
    return SidebarOptions.from_json(got) if got else None


def keep_sidebar(label: str, lang: str, options: SidebarOptions) -> None:
    key = dataset_key(label)
    if key:
        _write(key, lang, {"sidebar": asdict(options)})


def _area_key(province: str, prefecture: str, day: int) -> str:
    return f"{province}|{prefecture}|{int(day)}"


def area(label: str, lang: str, province: str, prefecture: str, day: int) -> dict[str, Any] | None:
    """The area's first paint as it was drawn (``keep_area``), if its outline files are still there."""
    key = dataset_key(label)
    got = _read(key, lang).get("areas", {}).get(_area_key(province, prefecture, day)) if key else None
    if not got or not all((STATIC / u.removeprefix("/app/static/")).is_file() for u in got["outlines"]):
        return None
    return got  # type: ignore[no-any-return]


def keep_area(label: str, lang: str, province: str, prefecture: str, day: int, *, caption: str,
              tiles: list[Any], deck: StoredDeck, outlines: list[str], map_svg: str, legend: str) -> None:
    """What ``widgets.preview`` drew (``tiles``: ``formatting.Tile``; ``deck``: a :class:`StoredDeck`;
    ``map_svg`` and ``legend``: the map without deck.gl, ``sketch.svg``, and its legend)."""
    key = dataset_key(label)
    if not key:
        return
    entry = {"caption": caption, "outlines": outlines, "deck": deck.to_json(), "tooltip": deck.tooltip,
             "map_svg": map_svg, "legend": legend,
             "tiles": [{"label": x.label, "value": x.value, "help": x.help} for x in tiles]}
    _write(key, lang, {"areas": {_area_key(province, prefecture, day): entry}})


# -- drawing ------------------------------------------------------------------------------------

def tiles(items: list[Any]) -> None:
    """KPI tiles side by side (``formatting.Tile``s, or anything with their fields)."""
    cols = st.columns(len(items))
    for col, x in zip(cols, items):
        delta = getattr(x, "delta", None)
        colour = "off" if delta is None else ("inverse" if getattr(x, "lower_is_better", False) else "normal")
        col.metric(x.label, x.value, delta=delta, help=x.help, delta_color=colour, border=True)


class StoredDeck:
    """A deck already serialised (``pydeck.Deck.to_json``): what ``st.pydeck_chart`` reads of a
    deck, without importing pydeck and the map builders for it."""

    def __init__(self, spec: str, tooltip: dict[str, str]) -> None:
        self._spec = spec
        self._tooltip = tooltip  # the attribute ``st.pydeck_chart`` reads a pydeck deck's tooltip from

    @property
    def tooltip(self) -> dict[str, str]:
        return self._tooltip

    def to_json(self) -> str:
        return self._spec


MAP_HEIGHT_PX = 520


@dataclass
class FirstPaint:
    """The tiles and map drawn from the table (one placeholder) and the progress bar under them."""

    slot: Any
    bar: Any

    def clear(self) -> None:
        """The page is not previewing after all (the board was ready): take the preview away."""
        self.slot.empty()
        self.bar.empty()


def outline_rows(urls: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The base map's polygon rows (``sketch.Sketch.outlines``) from the files its URLs name."""
    rows = {}
    for layer, url in zip(sketch.OUTLINE_STYLE, urls):
        try:
            rows[layer] = json.loads((STATIC / url.removeprefix("/app/static/")).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            rows[layer] = []  # drawn without that layer: the deck over it has its own
    return rows


# The sketch and the deck in one place, the deck on top (the later child of one grid cell): the
# sketch shows at once and the deck covers it when deck.gl has loaded and drawn (its base style
# is an opaque background), with the same view. No switch to press: the zoomable map replaces the
# sketch by itself, a few seconds later, where the eye already is.
STACK_CSS = ("<style>.st-key-map_stack {display: grid !important;} "
             ".st-key-map_stack > div {grid-area: 1 / 1;}</style>")


def map_stack(map_svg: str, deck: StoredDeck, legend: str, key: str | None = None) -> None:
    """``map_svg`` ("": none, the deck is up in the browser already) under ``deck``, then the legend."""
    st.html(STACK_CSS)
    with st.container(key="map_stack"):
        if map_svg:
            st.html(sketch.img_html(map_svg, MAP_HEIGHT_PX))
        else:
            st.empty()  # the deck keeps its place in the stack: not drawn anew
        st.pydeck_chart(deck, height=MAP_HEIGHT_PX, key=key)  # type: ignore[arg-type]
    st.html(legend)


def draw(entry: dict[str, Any], stage_text: str) -> FirstPaint:
    slot = st.empty()
    with slot.container():
        tiles([SimpleNamespace(**x) for x in entry["tiles"]])
        map_stack(entry["map_svg"], StoredDeck(entry["deck"], entry["tooltip"]), entry["legend"])
    return FirstPaint(slot, st.progress(0.0, text=stage_text))


# -- which boards are up in this process --------------------------------------------------------

_READY: set[tuple[Any, ...]] = set()


def mark_ready(key: tuple[Any, ...]) -> None:
    """The board of ``key`` (``loaders.Selection.plan_key(())``) is up: no first paint for it."""
    _READY.add(key)


def is_ready(key: tuple[Any, ...]) -> bool:
    return key in _READY
