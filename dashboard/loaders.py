"""Cached loaders: the only place where the dashboard holds things across reruns and sessions.

``st.cache_resource`` for objects shared read-only by every session (the geography, the demo
datasets, solved plans: all immutable), ``st.cache_data`` for derived frames. Plans are kept in a
small LRU by key rather than behind ``st.cache_data``, so that a solve can report progress to
the page that asked for it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import console, data, firstpaint, i18n, maps, planning, preparing, sketch, travelchoice
from dashboard import formatting as F
from dashboard import state as S
from dashboard.service_link import TOKEN_ENV, URL_ENV, OwnService, ServiceLink, stop_own_services
from dispatch.dataset import Dataset
from dispatch.geodata import Geography, load_geography
from dispatch.plan import Pin, Plan
from dispatch.store import Store
from dispatch.tables import dataset_fingerprint, write_dataset
from dispatch.travel import DEFAULT_SPEC, Travel, travel_from_spec

PLAN_CACHE_SIZE = 24


@st.cache_resource(show_spinner="Loading the geography of China…")
def geography() -> Geography:
    return load_geography()


@st.cache_resource(show_spinner="Loading the demo dataset…")
def demo_dataset(source: str) -> Dataset:
    return data.load_demo(source)


def dataset(label: str, uploaded: dict[str, Dataset]) -> Dataset:
    if label in uploaded:
        return uploaded[label]
    return demo_dataset(data.DEMOS.get(label, "sample"))


@st.cache_resource(max_entries=32)
def _area(label: str, fingerprint: str, province: str, prefecture: str, _ds: Dataset) -> Dataset:
    return data.restrict(_ds, province, prefecture)


def area_dataset(label: str, ds: Dataset, province: str, prefecture: str) -> Dataset:
    return _area(label, fingerprint(ds), province, prefecture, ds)


_FINGERPRINTS: OrderedDict[int, tuple[Dataset, str]] = OrderedDict()
_FINGERPRINTS_LOCK = threading.Lock()
FINGERPRINTS_KEPT = 16


def fingerprint(ds: Dataset) -> str:
    """``dataset_fingerprint`` once per dataset object: it hashes the whole dataset's CSV form
    (0.1-0.2 s for the sample), and every rerun names the board's plan by it. A dataset is
    immutable; each entry holds its dataset, so an id in the table is never another's."""
    with _FINGERPRINTS_LOCK:
        kept = _FINGERPRINTS.get(id(ds))
        if kept is not None and kept[0] is ds:
            _FINGERPRINTS.move_to_end(id(ds))
            return kept[1]
    fp = dataset_fingerprint(ds)
    with _FINGERPRINTS_LOCK:
        _FINGERPRINTS[id(ds)] = (ds, fp)
        while len(_FINGERPRINTS) > FINGERPRINTS_KEPT:
            _FINGERPRINTS.popitem(last=False)
    return fp


@st.cache_data(show_spinner=False)
def places() -> dict[str, tuple[str, str]]:
    """Adcode -> (Chinese name, pinyin) of every province, prefecture and county
    (``i18n.place`` picks the user's)."""
    geo = geography()
    out: dict[str, tuple[str, str]] = {}
    for frame in (geo.provinces, geo.prefectures, geo.counties):
        out.update({a: (n, p) for a, n, p in zip(frame["adcode"], frame["name"], frame["pinyin"])})
    return out


def adcode_names() -> dict[str, str]:
    """Adcode -> name in the user's language."""
    return {a: i18n.pick(v) for a, v in places().items()}


def centre_names(ds: Dataset) -> dict[str, str]:
    """Centre id -> its name as the user reads it (place and kind, ``i18n.centre_name``)."""
    return centre_names_of(ds.network)


def centre_names_of(network: Any) -> dict[str, str]:
    p = places()
    return {c.id: i18n.centre_name(c, p) for c in network}


def _label_column() -> tuple[str, ...]:
    return ("name",) if i18n.language() == "zh" else ("pinyin",)


@st.cache_data(show_spinner=False)
def province_rows(tolerance: float = 0.05, labels: tuple[str, ...] = ("name",)) -> pd.DataFrame:
    return maps.polygon_rows(geography().provinces, tolerance, labels)


@st.cache_data(show_spinner=False)
def county_rows(province: str, prefecture: str, tolerance: float = 0.005,
                labels: tuple[str, ...] = ("name",)) -> pd.DataFrame:
    return maps.polygon_rows(data.area_counties(geography(), province, prefecture), tolerance, labels)


# County outlines are simplified to the map's scale: a prefecture is drawn about four times
# larger than a province, so a province's counties keep a coarser outline.
COUNTY_TOLERANCE_DEG = {"prefecture": 0.005, "province": 0.012}


def area_county_rows(province: str, prefecture: str) -> pd.DataFrame:
    """The area's county polygons, labelled in the user's language."""
    tol = COUNTY_TOLERANCE_DEG["prefecture" if prefecture else "province"]
    return county_rows(province, prefecture, tol, labels=_label_column())


@st.cache_data(show_spinner=False)
def provinces_around(province: str, prefecture: str, labels: tuple[str, ...]) -> pd.DataFrame:
    """The provinces a map of the area shows (its own and its neighbours, not all of China's
    outlines: a prefecture's map is sent in tens of kilobytes, not four hundred)."""
    return maps.rows_near(province_rows(labels=labels), county_rows(province, prefecture, labels=labels))


# The base map's outlines are files the app serves (``server.enableStaticServing``; Streamlit
# serves ``dashboard/static/`` under ``/app/static/``): a map names them by URL, so the browser
# fetches them once a session and a rerun sends a few hundred bytes for them, not the polygons.
STATIC_GEO = Path(__file__).resolve().parent / "static" / "geo"


@st.cache_resource(show_spinner=False, max_entries=64)
def _geo_url(kind: str, province: str, prefecture: str, labels: tuple[str, ...]) -> str:
    rows = provinces_around(province, prefecture, labels) if kind == "provinces" else \
        county_rows(province, prefecture, COUNTY_TOLERANCE_DEG["prefecture" if prefecture else "province"], labels)
    body = rows[["label", "polygon"]].to_json(orient="records", force_ascii=False)
    name = f"{kind}-{hashlib.sha256(body.encode()).hexdigest()[:16]}.json"
    STATIC_GEO.mkdir(parents=True, exist_ok=True)
    if not (STATIC_GEO / name).exists():
        tmp = STATIC_GEO / f".{name}.{os.getpid()}"
        tmp.write_text(body, encoding="utf-8")
        tmp.replace(STATIC_GEO / name)  # whole or not at all: another process may be serving it
    return f"/app/static/geo/{name}"


def outline_urls(province: str, prefecture: str = S.ALL) -> list[str]:
    """The URLs of the area's base map: its provinces' outlines, then its counties'."""
    labels = _label_column()
    return [_geo_url(kind, province, prefecture, labels) for kind in ("provinces", "counties")]


def base_layers(province: str, prefecture: str = S.ALL) -> list[Any]:
    """Provinces (coarse) then the area's counties (finer): the offline base map, by URL."""
    provinces, counties = outline_urls(province, prefecture)
    return [maps.boundary_layer(url, layer, line_px=line_px, line_colour=line, fill=(*fill, 255))
            for url, (layer, (fill, line, line_px)) in zip((provinces, counties), sketch.OUTLINE_STYLE.items())]


def sidebar_options(label: str, uploaded: dict[str, Dataset]) -> firstpaint.SidebarOptions:
    """What the sidebar offers for the dataset in the user's language; kept as the demo's table
    (``dashboard.firstpaint``), which a fresh process draws its sidebar from."""
    ds = dataset(label, uploaded)
    p = places()
    provinces = data.provinces_of(ds)
    prefectures = {a: data.prefectures_of(ds, a) for a in provinces}
    codes = set(provinces) | {x for xs in prefectures.values() for x in xs}
    days = data.days_of(ds)
    options = firstpaint.SidebarOptions(
        provinces=provinces, prefectures=prefectures, names={a: i18n.place(p, a) for a in sorted(codes)}, days=days,
        day_labels={d: F.day_label(ds.epoch_date, d) for d in days}, epoch=ds.epoch_date, centres=len(ds.network),
        technicians=len(ds.technicians), calls=len(ds.requests), models=travelchoice.models(),
        source_option=dict(travelchoice.SOURCE_OPTION))
    if label not in uploaded:
        firstpaint.keep_sidebar(label, i18n.language(), options)
    return options


@st.cache_resource
def _plans() -> OrderedDict:
    return OrderedDict()


_PLANS_LOCK = threading.Lock()  # a background preparation adds plans while a page reads them


@st.cache_resource(max_entries=8, show_spinner=False)
def travel_model(spec: str) -> Travel:
    """The travel model of a spec, built once per process (a matrix file is read once)."""
    return travel_from_spec(spec)


@st.cache_data(show_spinner=False, max_entries=32)
def travel_choice(model: str, source: str) -> tuple[str, str | None]:
    """The sidebar's travel choice checked once (``travelchoice.resolve``), not at every rerun."""
    return travelchoice.resolve(model, source)


def plan_key(label: str, province: str, prefecture: str, day: int, seed: int,
             pins: tuple[Pin, ...], travel_spec: str = DEFAULT_SPEC) -> tuple:
    return (label, province, prefecture, day, seed, pins, travel_spec)


def cached_plan(key: tuple) -> Plan | None:
    return cached_plan_in(_plans(), key)


def cached_plan_in(cache: OrderedDict, key: tuple) -> Plan | None:
    """A plan of the LRU ``cache`` (``_plans()``, taken beforehand by a background thread)."""
    with _PLANS_LOCK:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]  # type: ignore[no-any-return]
    return None


def solve_plan(key: tuple, ds: Dataset, day: int, seed: int, pins: tuple[Pin, ...],
               sink: Callable[[float, str], None], workers: int = 1,
               travel_spec: str = DEFAULT_SPEC) -> tuple[Plan, float]:
    """Solve afresh (with progress; routing areas in ``workers`` processes), keep the plan under
    ``key``; returns (plan, wall seconds)."""
    return _solve_into(_plans(), key, ds, day, seed, pins, sink, workers, travel_model(travel_spec))


def _solve_into(cache: OrderedDict, key: tuple, ds: Dataset, day: int, seed: int, pins: tuple[Pin, ...],
                sink: Callable[[float, str], None], workers: int, travel: Travel) -> tuple[Plan, float]:
    """``solve_plan`` on a cache taken beforehand (a background thread has no script run to
    look the cache up with)."""
    t0 = time.perf_counter()
    plan = planning.plan_area(ds, day, seed, pins, progress=planning.ProgressTracker(sink), workers=workers,
                              travel=travel)
    wall = time.perf_counter() - t0
    with _PLANS_LOCK:
        cache[key] = plan
        while len(cache) > PLAN_CACHE_SIZE:
            cache.popitem(last=False)
    return plan, wall


class Selection:
    """What the sidebar chose: the dataset, its restriction to the area, and the day."""

    def __init__(self, label: str, full: Dataset, area: Dataset, province: str, prefecture: str,
                 day: int, seed: int, travel_spec: str = DEFAULT_SPEC) -> None:
        self.label, self.full, self.area = label, full, area
        self.province, self.prefecture, self.day, self.seed = province, prefecture, day, seed
        self.travel_spec = travel_spec  # the sidebar's travel model (dispatch.travel spec)

    @property
    def area_key(self) -> tuple:
        return (self.label, self.province, self.prefecture)

    def plan_key(self, pins: tuple[Pin, ...]) -> tuple:
        return plan_key(self.label, self.province, self.prefecture, self.day, self.seed, pins, self.travel_spec)

    def title(self) -> str:
        where = i18n.place(places(), self.prefecture or self.province)
        return i18n.t("title.where_day", where=where, day=self.day)

    @property
    def plan_name(self) -> str:
        """The name of this area's day plan on the service (``POST /plan``)."""
        return console.board_key(fingerprint(self.full), self.province, self.prefecture, self.day,
                                 self.seed)


def selection() -> Selection:
    ss = st.session_state
    full = dataset(ss[S.DATASET], ss[S.UPLOADED])
    area = area_dataset(ss[S.DATASET], full, ss[S.PROVINCE], ss[S.PREFECTURE])
    return Selection(ss[S.DATASET], full, area, ss[S.PROVINCE], ss[S.PREFECTURE], int(ss[S.DAY]), int(ss[S.SEED]),
                     ss.get(S.TRAVEL_SPEC) or DEFAULT_SPEC)


@st.cache_resource(show_spinner=False)
def _own_service(source_key: str, day: int, db_url: str, travel_spec: str,
                 _source_args: tuple[str, ...]) -> OwnService:
    """The board's own ``dispatch serve`` for a dataset, day and travel model, starting (not
    waited for): one per Streamlit process, so every rerun, session and tab talks to the same
    one; stopped when the process ends."""
    # Always named: left out, the service would take DISPATCH_TRAVEL, not the sidebar's default.
    args = [*_source_args, "--travel", travel_spec]
    return OwnService(args, day, db_url, token=os.environ.get(TOKEN_ENV) or None)


# The travel model each own service (dataset, day, store) was started with: a service holds its
# store's lease, so one started for another model must stop before the next can take it.
_OWN_TRAVEL: dict[tuple[str, int, str], tuple[str, OwnService]] = {}


def _source_args(sel: Selection) -> tuple[str, tuple[str, ...]]:
    """(key, ``dispatch serve`` arguments) naming the selection's dataset: a demo's folder or
    preset, or an upload written to a folder once."""
    source = data.DEMOS.get(sel.label)
    if source == "sample":
        return "sample", (str(data.SAMPLE_DIR),)
    if source == "tiny":
        return "tiny", ("--preset", "tiny", "--seed", "1")
    fp = fingerprint(sel.full)
    folder = Path(tempfile.gettempdir()) / f"dispatch-board-{fp[:24]}"
    if not (folder / "centres.csv").exists():
        write_dataset(sel.full, folder)
    return fp, (str(folder),)


def _configured() -> str:
    return (st.session_state.get(S.SERVICE_URL) or os.environ.get(URL_ENV) or "").strip()


def start_service(sel: Selection) -> OwnService | None:
    """Start the board's own service if none is configured, without waiting (it comes up while
    the day is planned)."""
    if _configured():
        return None
    key, args = _source_args(sel)
    where = (key, sel.day, store().url)
    before = _OWN_TRAVEL.get(where)
    if before is not None and before[0] != sel.travel_spec:
        before[1].stop()  # the sidebar chose another travel model: its service gives the lease back
    own = _own_service(key, sel.day, store().url, sel.travel_spec, args)
    if not own.alive():  # it stopped: start another (a new process takes the lease back)
        _own_service.clear()
        own = _own_service(key, sel.day, store().url, sel.travel_spec, args)
    _OWN_TRAVEL[where] = (sel.travel_spec, own)
    return own


def service_link(sel: Selection) -> tuple[ServiceLink, str | None]:
    """The service holding the live plan: the one configured (sidebar, else the environment),
    else the board's own for the dataset and day; (link, the URL if it was configured)."""
    url = _configured()
    if url:
        return ServiceLink(url, (st.session_state.get(S.SERVICE_TOKEN) or os.environ.get(TOKEN_ENV) or "").strip()), url
    own = start_service(sel)
    assert own is not None
    own.wait()
    return ServiceLink(own.url, own.token), None


@st.cache_resource
def _boards() -> dict[tuple[str, str], console.RemoteBoard]:
    return {}


_BOARDS_LOCK = threading.Lock()  # two sessions opening the same area build one board


def live_board(sel: Selection, plan: Plan) -> tuple[console.RemoteBoard, str | None]:
    """The live plan of the selection's area and day on its service, one board object per
    Streamlit process (every tab and session shares it), read again when the log moved."""
    link, configured = service_link(sel)
    key = (link.url, sel.plan_name)
    boards = _boards()
    with _BOARDS_LOCK:
        board = boards.get(key)
        if board is None:
            board = boards[key] = console.RemoteBoard(plan, sel.area, link, sel.plan_name)
    board.use_plan(plan)
    board.refresh()
    return board, configured


@st.cache_resource
def _preparations() -> dict[tuple, preparing.Preparation]:
    return {}


_PREPARING_LOCK = threading.Lock()  # two sessions opening the same area start one preparation


def prepare_board(sel: Selection, solve: bool) -> preparing.Preparation | None:
    """The selection's live board made ready in the background (``dashboard.preparing``): its
    day plan solved (when ``solve``; a plan in the cache is used as it is), the service up and
    the board on it. None when there is nothing to wait for: the board is there, or the plan is
    neither cached nor to be solved (a large area waits for Run plan). A preparation that failed
    is forgotten and None returned: the page then does the work itself and says why it fails."""
    key = sel.plan_key(())
    configured = _configured()
    own = None if configured else start_service(sel)
    url = configured or (own.url if own is not None else "")
    token = (st.session_state.get(S.SERVICE_TOKEN) or os.environ.get(TOKEN_ENV) or "").strip() if configured \
        else (own.token if own is not None else "")
    where = (key, url)
    boards, plans, preps = _boards(), _plans(), _preparations()
    with _PREPARING_LOCK:
        prep = preps.get(where)
        if prep is not None and prep.done():
            del preps[where]
            return None
        if prep is not None:
            return prep
        if (url, sel.plan_name) in boards and cached_plan(key) is not None:
            return None
        if cached_plan(key) is None and not solve:
            return None
        travel = travel_model(sel.travel_spec)
        workers = planning.plan_workers(sel.area, sel.prefecture)

        def work(p: preparing.Preparation) -> None:
            plan = cached_plan_in(plans, key)
            if plan is None:
                plan, p.plan_wall_s = _solve_into(plans, key, sel.area, sel.day, sel.seed, (),
                                                  lambda f, text: p.report("planning", 0.6 * f, text), workers, travel)
            p.report("service", 0.6)
            if own is not None:
                own.wait()
            p.report("posting", 0.9)
            with _BOARDS_LOCK:
                if (url, sel.plan_name) not in boards:
                    boards[(url, sel.plan_name)] = console.RemoteBoard(plan, sel.area, ServiceLink(url, token),
                                                                       sel.plan_name)

        prep = preps[where] = preparing.Preparation(work)
        return prep


def boards_in_use() -> list[console.RemoteBoard]:
    return list(_boards().values())


def close_boards() -> None:
    """Forget every board and stop the services the board started (tests; a store switched
    under the app)."""
    with _BOARDS_LOCK:
        _boards().clear()
        _own_service.clear()
        stop_own_services()


@st.cache_resource
def store() -> Store:
    """The plan/scenario store of the CLI (``DISPATCH_DB``, else ./dispatch.sqlite)."""
    return Store()
