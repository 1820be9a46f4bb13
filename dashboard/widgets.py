"""Streamlit components shared by the pages (KPI tiles, planning with a progress bar) and the
board's panels (timeline, job detail, live controls, exports)."""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from dashboard import data, firstpaint, i18n, jobs, live, loaders, maps, planning, preparing, sketch
from dashboard import formatting as F
from dashboard import state as S
from dashboard.console import ServiceRefused
from dashboard.formatting import Tile
from dashboard.i18n import t
from dispatch.model import DAY_S
from dispatch.plan import Pin, Plan

# Areas up to this many calls are planned as soon as they are opened (a few seconds); larger
# ones wait for "Run plan", so that browsing a province does not start a half-minute solve.
AUTO_PLAN_CALLS = 400
PREVIEW_POLL_S = 0.25  # how often the board's first paint looks at its preparation


def tiles(items: Sequence[Tile]) -> None:
    firstpaint.tiles(list(items))


def plan_for(sel: loaders.Selection, pins: tuple[Pin, ...] = (), force: bool = False) -> Plan | None:
    """The plan of the selection: from the cache, or solved here with a progress bar (forced,
    or automatically for a small area). None when a large area has not been planned yet."""
    key = sel.plan_key(pins)
    plan = None if force else loaders.cached_plan(key)
    if plan is None and (force or len(sel.area.requests) <= AUTO_PLAN_CALLS):
        workers = planning.plan_workers(sel.area, sel.prefecture)
        where = t("board.in_processes", n=workers) if workers > 1 else ""
        bar = st.progress(0.0, text=t("board.planning", title=sel.title(), calls=len(sel.area.requests), where=where))
        plan, wall = loaders.solve_plan(key, sel.area, sel.day, sel.seed, pins,
                                        sink=lambda f, text: bar.progress(f, text=f"{text}{where}"), workers=workers,
                                        travel_spec=sel.travel_spec)
        bar.empty()
        st.session_state[S.LAST_RUN] = (key, wall, workers)
    return plan


def preview(sel: loaders.Selection, prep: preparing.Preparation, caption: str,
            first: firstpaint.FirstPaint | None = None) -> None:
    """What the board draws at once while its live plan is made ready (``loaders.prepare_board``):
    the area's calls, technicians and centres on the tiles, its network and the day's calls on
    the map, the stage reached as a progress bar; then the page again, with the live plan.
    ``first``: the tiles and map already drawn from the kept table (``dashboard.firstpaint``);
    otherwise they are drawn here and kept for the next fresh process."""
    if first is None:
        calls = data.day_calls(sel.area, sel.day)
        items = F.preview_tiles(len(calls), len(sel.area.technicians), len(sel.area.network))
        tiles(items)
        names = loaders.centre_names(sel.area)
        outlines = loaders.outline_urls(sel.province, sel.prefecture)
        centres = maps.centres_frame(sel.area.network, names)
        deck = maps.preview_map(loaders.base_layers(sel.province, sel.prefecture), centres, calls)
        stored = maps.compact(deck)
        drawn, legend = maps.preview_sketch(deck, centres, calls, firstpaint.outline_rows(outlines))
        map_svg = sketch.svg(drawn)
        firstpaint.map_stack(map_svg, stored, legend, key="board_map")
        if sel.label not in st.session_state[S.UPLOADED]:
            firstpaint.keep_area(sel.label, i18n.language(), sel.province, sel.prefecture, sel.day, caption=caption,
                                 tiles=items, deck=stored, outlines=outlines, map_svg=map_svg, legend=legend)
        bar = st.progress(0.0)
    else:
        bar = first.bar
    stage, fraction, note = prep.progress()
    bar.progress(fraction, text=t(f"prepare.{stage}", title=sel.title(), note=note))
    while not prep.done():
        time.sleep(PREVIEW_POLL_S)
        stage, fraction, note = prep.progress()
        bar.progress(fraction, text=t(f"prepare.{stage}", title=sel.title(), note=note))
    if prep.plan_wall_s is not None:
        st.session_state[S.LAST_RUN] = (sel.plan_key(()), prep.plan_wall_s,
                                        planning.plan_workers(sel.area, sel.prefecture))
    if prep.failed() is None:
        firstpaint.mark_ready((sel.label, sel.province, sel.prefecture, sel.day))
    st.rerun()  # the live board, or (the preparation failed) the page doing it itself and saying why


# --------------------------------------------------------------------------------------------
# The board's panels (``app_pages/board.py``): each reads the live board and draws one tab.


TIMELINE_MAX_ROWS = 60
TURNAROUND_PROMISE_S = 24 * 3600  # the network's promise: the device back within a day of the call  # rows drawn at once; the filters choose which


FOLLOW_EVERY_S = 60  # the board's clock following the wall clock: its part redrawn this often


def fragment(draw: Callable[..., None] | None = None, *,
             run_every: float | None = None) -> Any:
    """``st.fragment`` that speaks the session's language: a fragment's own rerun does not run
    ``app.py``, where the language of the script thread is set (``dashboard.i18n``).
    ``run_every``: seconds between reruns of its own (``st.fragment``'s), None for none."""
    if draw is None:
        return functools.partial(fragment, run_every=run_every)

    @functools.wraps(draw)
    def run(*args: Any, **kwargs: Any) -> None:
        i18n.set_language(st.session_state.get(S.LANG) or i18n.DEFAULT_LANGUAGE)
        draw(*args, **kwargs)

    return st.fragment(run, run_every=run_every)


@fragment
def board_map(board, sel: loaders.Selection, table, paths, names: dict[str, str], now_s: int) -> None:  # type: ignore[no-untyped-def]
    """The live plan's map with its legend, coloured by job state or SLA risk. A fragment: a
    change of colour redraws the map alone, not the sidebar, tiles, timeline and panels. The
    jobs' tooltips and each colouring's deck are built once per version of the live plan,
    clock and language (``board.derived``): a change of colour back and forth sends a kept deck."""
    colour_by = st.radio(t("board.colour_by"), list(F.COLOUR_BY), key=S.COLOUR_BY, horizontal=True,
                         format_func=i18n.frozen(lambda k: t(f"board.colour.{k}")))
    centres = maps.centres_frame(sel.area.network, names)
    view = (now_s, i18n.language(), sel.province, sel.prefecture)
    tips = board.derived(("map_tips", *view), lambda: maps.job_tooltips(table))

    def build():  # type: ignore[no-untyped-def]
        return maps.board_map(loaders.base_layers(sel.province, sel.prefecture), centres, paths, table, colour_by, tips)

    deck = board.derived(("map_deck", colour_by, *view), build)
    stored = board.derived(("map_json", colour_by, *view), lambda: maps.compact(deck))
    # A session's first board map (a page just opened or reloaded): the sketch under the deck,
    # which takes seconds to load and draw in a new page. Later reruns: the deck is up already.
    map_svg = ""
    if not st.session_state.get(S.MAP_SKETCHED):
        outlines = firstpaint.outline_rows(loaders.outline_urls(sel.province, sel.prefecture))
        map_svg = sketch.svg(maps.board_sketch(deck, centres, paths, table, colour_by, outlines, tips))
        st.session_state[S.MAP_SKETCHED] = True
    palette = maps.job_palette(colour_by)
    legend = sketch.legend_html(palette, table[colour_by].value_counts(),
                                {k: (i18n.state(k) if colour_by == "state" else i18n.risk(k)) for k in palette},
                                maps.TIER_COLOURS)
    firstpaint.map_stack(map_svg, stored, legend, key="board_map")


@fragment
def timeline(board, sel: loaders.Selection, table, names: dict[str, str], now_s: int,  # type: ignore[no-untyped-def]
             at_s: int | None = None) -> None:
    """The technicians' day grouped by centre, with filters (centre, job state, priority,
    channel) and a search by job or technician id; a job moved by selecting it and its target
    (``_timeline_move``). A fragment: a filter or a click redraws the timeline only, not the map
    (whose boundaries would be sent again). ``at_s``: the clock changes are made at (None: now)."""
    segments = board.derived("segments", lambda: jobs.gantt_segments(board.picture(), sel.area))
    if segments.empty:
        st.info(t("timeline.none"))
        return
    home = {k.id: k.home_centre_id for k in sel.area.technicians}
    centres = sorted({home[x] for x in segments["technician_id"]}, key=lambda c: (names.get(c, c), c))
    a, b, c, d, e = st.columns([2, 2, 2, 1, 1])
    chosen = a.multiselect(t("timeline.centre"), centres, key="tl_centres", format_func=i18n.frozen(lambda x: names.get(x, x)),
                           placeholder=t("timeline.all_centres"))
    search = b.text_input(t("timeline.search"), key="tl_search").strip()
    states = c.multiselect(t("timeline.states"), list(F.STATES), key="tl_states", format_func=i18n.frozen(i18n.state),
                           placeholder=t("timeline.all"))
    prios = d.multiselect(t("timeline.priority"), [1, 2, 3], key="tl_prio", format_func=i18n.frozen(i18n.priority),
                          placeholder=t("timeline.all"))
    modes = e.multiselect(t("timeline.mode"), ["onsite", "pickup"], key="tl_mode", format_func=i18n.frozen(i18n.mode),
                          placeholder=t("timeline.all"))
    techs = set(segments["technician_id"])
    if chosen:
        techs &= {x for x in techs if home[x] in chosen}
    jt = table[table["technician_id"].notna()]
    if states:
        jt = jt[jt["state"].isin(states)]
    if prios:
        jt = jt[jt["priority"].isin(prios)]
    if modes:
        jt = jt[jt["mode"].astype(str).isin(modes)]
    if states or prios or modes:
        techs &= set(jt["technician_id"])
    if search:
        hit = set(jt.loc[jt["request_id"].str.contains(search, case=False, regex=False), "technician_id"])
        techs &= hit | {x for x in techs if search.lower() in x.lower()}
    order = sorted(techs, key=lambda x: (names.get(home[x], home[x]), x))
    shown = order[:TIMELINE_MAX_ROWS]
    st.caption(t("timeline.showing", shown=len(shown), total=len(set(segments["technician_id"]))))
    # Moving by selection draws the chart as SVG with a clickable quarter hour under every bar:
    # thousands of marks for a province, so it is asked for, not the default; so is dragging,
    # drawn by the board's own component (``dashboard.dragboard``) instead of Vega-Lite.
    how = st.radio(t("tlmove.how"), TIMELINE_MODES, key="tl_move_how", horizontal=True,
                   format_func=i18n.frozen(lambda m: t(TIMELINE_MODES[m])), help=t("tlmove.how_help"))
    if not shown:
        return
    if how == "drag":
        # Here, as figures below: dragboard imports figures (Altair), which first paint does not wait for.
        from dashboard import dragboard

        area_of = board.technicians
        data = board.derived(("drag", tuple(shown), now_s, i18n.language()), lambda: dragboard.timeline_data(
            segments, shown, home, names, table, _windows(board, sel), area_of,
            sel.area.epoch_date, now_s))
        # The drop is read before the component is drawn, so that it draws the move it proposes.
        note = _timeline_pick(table, dragboard.SLOT_S, drop=dragboard.dropped(DRAG_KEY))
        dragboard.draw({**data, "pending": dragboard.pending(st.session_state.get(TL_PICK))}, key=DRAG_KEY)
        _timeline_move(board, sel, table, at_s, note, t("tldrag.hint"))
        return
    # Here, not at the top: Altair takes about half a second to import, which the board's first
    # paint (before any timeline is drawn) does not wait for.
    from dashboard import figures

    moving = how == "select"
    labels = {x: f"{names.get(home[x], home[x])} · {x}" for x in shown}
    # The chart's spec, built once per plan version, rows and language (building and validating
    # an Altair chart takes longer than the rest of a rerun); a clock step adds its line.
    spec = figures.with_now(board.derived(("gantt", tuple(shown), i18n.language(), moving), lambda: figures.gantt(
        segments[segments["technician_id"].isin(shown)], sel.area.epoch_date, None, labels, pickable=moving)),
        sel.area.epoch_date, now_s)
    if not moving:
        st.vega_lite_chart(spec, width="stretch")
        return
    event = st.vega_lite_chart(spec, width="stretch", key="tl_chart", on_select="rerun",
                               selection_mode=[figures.PICK_BAR, figures.PICK_SLOT])
    marks = event.selection
    note = _timeline_pick(table, figures.SLOT_S,
                          clicks=tuple((marks.get(p) or [None])[0] for p in (figures.PICK_BAR, figures.PICK_SLOT)))
    _timeline_move(board, sel, table, at_s, note, t("tlmove.hint"))


# The timeline's modes (the Vega-Lite view first, the default) and their labels' catalogue keys.
TIMELINE_MODES = {"view": "tlmove.view", "select": "tlmove.mode", "drag": "tldrag.mode"}
TL_PICK = "tl_pick"  # (the job picked on the timeline and its technician, the target (technician, start_s) or None)
TL_SEEN = "tl_seen"  # the chart's selections and the drop already acted on: a rerun acts on a new one only
DRAG_KEY = "tl_drag"  # the drag-and-drop timeline's component


def next_pick(picked, seen: dict, table, slot_s: int, clicks: tuple | None = None,  # type: ignore[no-untyped-def]
              drop: dict | None = None) -> tuple[Any, dict, str | None]:
    """The timeline's pick after a rerun: ``picked`` (``((job, its technician), (target
    technician, start_s) or None)`` or None) changed by a new click (``clicks``: the chart's bar
    and quarter-hour selections) or a new drop (``{request_id, technician_id, start_s,
    drop_id}``), the events now acted on (``seen``) and the catalogue key of a note to show.
    Each click and drop acts once: the chart keeps its selection over reruns, and a drop may be
    read again by a rerun that does not come from the component."""
    seen = dict(seen)
    event = None
    if drop is not None and drop.get("drop_id") != seen.get("drop"):
        event = ("drop", drop)
        seen["drop"] = drop.get("drop_id")
    elif clicks is not None:
        bar, slot = clicks
        if bar and bar != seen.get("bar"):
            event = ("bar", bar)
        elif slot and slot != seen.get("slot"):
            event = ("slot", slot)
        seen.update(bar=bar, slot=slot)
    if event is None:
        return picked, seen, None
    kind, datum = event
    tech, start_s = str(datum["technician_id"]), int(datum["start_s"])
    target = (tech, start_s // slot_s * slot_s)
    job = str(datum.get("request_id"))
    row = table.loc[table["request_id"] == job]
    movable = bool(len(row)) and row["state"].iloc[0] in jobs.MOVABLE_STATES
    if kind == "drop":  # the job and its target at once
        holder = row["technician_id"].iloc[0] if len(row) else None
        return ((((job, str(holder)), target), seen, None) if movable and isinstance(holder, str)
                else (picked, seen, "move.not_movable"))
    if kind == "bar" and datum.get("segment") == "work" and (picked is None or picked[0][1] == tech):
        # A job (another of the same row: that one instead), if it can still move.
        return (((job, tech), None), seen, None) if movable else (picked, seen, "move.not_movable")
    if picked is not None:
        return (picked[0], target), seen, None
    return picked, seen, "tlmove.job_first"


def _windows(board, sel: loaders.Selection) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    """The customers' windows, built once per version of the live plan (an urgent call adds one)."""
    return board.derived("windows", lambda: jobs.customer_windows(sel.area, board.calls))


def _timeline_pick(table, slot_s: int, clicks: tuple | None = None, drop: dict | None = None) -> str | None:  # type: ignore[no-untyped-def]
    """The session's timeline pick after this run's clicks or drop (``next_pick``); the note to show."""
    ss = st.session_state
    ss[TL_PICK], ss[TL_SEEN], note = next_pick(ss.get(TL_PICK), ss.get(TL_SEEN, {}), table, slot_s, clicks, drop)
    return note


def _timeline_move(board, sel: loaders.Selection, table, at_s: int | None, note: str | None,  # type: ignore[no-untyped-def]
                   hint: str) -> None:
    """Moving a job on the timeline, by selection (a click on its work bar picks the job, a
    click on a time in a technician's row, or on one of his bars, the target) or by dragging its
    work bar to a technician's row and time (``_timeline_pick``): the move form below is filled
    with them, to check and submit (``POST /jobs/{id}/move``), the same form as the job panel's."""
    ss = st.session_state
    picked = ss.get(TL_PICK)
    if note:
        st.caption(t(note))
    st.markdown(f"**{t('tlmove.title')}**")
    if picked is None:
        st.caption(hint)
        return
    (job, holder), target = picked
    rows = table.set_index("request_id")
    if job not in rows.index:  # the live plan moved on (undone, another tab): start again
        ss[TL_PICK] = None
        st.caption(hint)
        return
    ep = sel.area.epoch_date
    if target is None:
        st.info(t("tlmove.job", job=job, tech=holder))
    else:
        st.info(t("tlmove.target", job=job, tech=target[0], start=F.clock(ep, target[1])))
    if st.button(t("tlmove.clear"), key="tl_clear"):
        ss[TL_PICK] = None
        st.rerun(scope="fragment")
    if target is not None:
        _move_form(board, sel, job, rows.loc[job], at_s, form="tl_move_form", tech=target[0], start_s=target[1])


@fragment
def job_detail(board, table, sel: loaders.Selection, names: dict[str, str], at_s: int | None) -> None:  # type: ignore[no-untyped-def]
    """One job: customer, window, level, promise clocks, technician, and its history of events
    (a fragment: choosing a job redraws this panel only)."""
    ids = list(table["request_id"])
    if not ids:
        st.info(t("job.none"))
        return
    job = st.selectbox(t("job.choose"), ids, key="job_detail")
    row = table.set_index("request_id").loc[job]
    ep = sel.area.epoch_date
    req = {r.id: r for r in sel.area.requests}.get(job)
    window = F.window(ep, _windows(board, sel).get(job))
    device = (req.device_model or "-") if req is not None else "-"  # an urgent call the service took: none
    fields = {
        t("job.customer_of"): f"{job} · {i18n.place(loaders.places(), req.county_adcode) if req and req.county_adcode else '-'}",
        t("col.window"): window, t("job.device"): device,
        t("job.clock_start"): F.clock(ep, row["clock_start_s"]),
        t("col.state"): i18n.state(row["state"]), t("col.mode"): i18n.mode(row["mode"]),
        t("col.level"): int(row["level"]), t("col.priority"): i18n.priority(row["priority"]),
        t("col.centre"): names.get(row["centre_id"], row["centre_id"]),
        t("col.technician"): row["technician_id"] if isinstance(row["technician_id"], str) else "-",
        t("col.sets_off"): F.clock(ep, row["departure_s"]), t("col.arrives"): F.clock(ep, row["arrival_s"]),
        t("col.deadline"): F.clock(ep, row["deadline_s"]) or "-",
        t("job.turnaround_due"): F.clock(ep, row["clock_start_s"] + TURNAROUND_PROMISE_S),
        t("col.slack"): "-" if row["slack_min"] != row["slack_min"] else f"{row['slack_min']:+.0f}",
    }
    st.dataframe([{"": k, " ": str(v)} for k, v in fields.items()], hide_index=True, width="content")
    history = [{t("col.at"): F.clock(ep, e.at_s), t("col.event"): t(f"event.{e.kind}"), "#": e.seq}
               for e in board.active_events() if e.key == job or e.payload.get("technician_id") == row["technician_id"]
               and e.kind == "unavailable"]
    st.markdown(f"**{t('job.history')}**")
    if history:
        st.dataframe(history, hide_index=True, width="content")
    else:
        st.caption(t("job.no_history"))
    _move_form(board, sel, job, row, at_s)
    who = [t("job.customer")] + ([t("job.technician")] if isinstance(row["technician_id"], str) else [])
    st.caption(t("job.notify", who="、".join(who) if i18n.language() == "zh" else ", ".join(who)))
    if isinstance(row["technician_id"], str):
        a, b = st.columns([3, 1])
        status = a.selectbox(t("job.report"), jobs.REPORTS, key="job_report", format_func=i18n.frozen(i18n.state))
        if b.button(t("job.report_submit"), key="job_report_submit"):
            try:
                board.report(job, status, at_s)
                st.session_state[S.PIN_MESSAGE] = ("success", t("job.reported", job=job, state=i18n.state(status)))
            except ServiceRefused as exc:
                st.session_state[S.PIN_MESSAGE] = ("warning", t("live.refused", why=exc))
            st.rerun()


def _move_form(board, sel: loaders.Selection, job: str, row, at_s: int | None, form: str = "move_form",  # type: ignore[no-untyped-def]
               tech: str | None = None, start_s: int | None = None) -> None:
    """The job to a chosen technician and earliest start (``POST /jobs/{id}/move``): kept with
    where it now stands, or refused by the service with why, the job left where it was.
    ``tech``, ``start_s``: what the form proposes (the timeline's selection), else another
    technician of the area and the job's present start."""
    if form == "move_form":
        st.markdown(f"**{t('move.title')}**")
    if row["state"] not in jobs.MOVABLE_STATES:
        st.caption(t("move.not_movable"))
        return
    ep = sel.area.epoch_date
    holder = row["technician_id"] if isinstance(row["technician_id"], str) else None
    # A job moves within its area (the service's rule): its technician's area, when it has one.
    area = board.technicians.get(holder) if holder else None
    techs = sorted(k for k, a in board.technicians.items() if k not in board.out and (area is None or a == area))
    if tech is not None and tech not in techs:
        st.warning(t("tlmove.other_area", tech=tech))
        tech = None
    day0 = sel.day * DAY_S
    shown = row["start_s"] if row["start_s"] == row["start_s"] else row["clock_start_s"]  # NaN: not routed
    default = jobs.quarter_hour((int(shown) if start_s is None else start_s) - day0)
    index = techs.index(tech) if tech is not None else next((i for i, k in enumerate(techs) if k != holder), 0)
    with st.form(form):
        a, b = st.columns(2)
        # A proposal keys its fields: a new selection on the timeline fills the form afresh.
        proposal = "" if tech is None and start_s is None else f"_{tech}_{start_s}"
        chosen = a.selectbox(t("move.technician"), techs, key=f"move_tech{proposal}", index=index)
        start = b.time_input(t("move.start"), value=default, step=dt.timedelta(minutes=15),
                             key=f"move_start{proposal}", help=t("move.start_help"))
        submitted = st.form_submit_button(t("move.submit"))
    if submitted and chosen:
        start_at = day0 + start.hour * 3600 + start.minute * 60
        try:
            got = board.move(job, chosen, start_at, at_s)
            text = t("move.kept", job=job, tech=chosen, start=F.clock(ep, got["start_s"]), seq=got["sequence"])
            st.session_state[S.PIN_MESSAGE] = ("success", text + ("" if got["meets_deadline"] else t("move.late")))
        except ServiceRefused as exc:
            st.session_state[S.PIN_MESSAGE] = ("warning" if exc.status == 409 else "error", t("live.refused", why=exc))
        st.session_state[TL_PICK] = None
        st.rerun()  # the live plan changed: the map, timeline and KPIs are drawn again


def live_controls(board, sel: loaders.Selection, plan: Plan, at_s: int | None, now_s: int) -> None:  # type: ignore[no-untyped-def]
    """An urgent call (the service's one decision, or the appointment slots it can keep) and a
    technician's drop-out, each a request to the service that holds the live plan; the
    contracted stations' offers awaiting an answer. ``at_s`` None: the service's clock (now)."""
    ep = sel.area.epoch_date
    ss = st.session_state
    st.write(t("live.at", clock=F.clock(ep, now_s)))
    centre0 = live.call_point(sel.area, sel.prefecture)
    with st.form("urgent_form"):
        a, b, c, d = st.columns(4)
        lon = a.number_input(t("live.lon"), value=float(centre0.lon) + 0.02, format="%.4f", key="urgent_lon")
        lat = b.number_input(t("live.lat"), value=float(centre0.lat) + 0.02, format="%.4f", key="urgent_lat")
        level = c.selectbox(t("live.level"), live.URGENT_LEVELS, key="urgent_level")
        prio = d.selectbox(t("live.priority"), [3, 2, 1], format_func=i18n.frozen(i18n.priority), key="urgent_prio")
        service = st.number_input(t("live.service"), 10, 240, 45, step=5, key="urgent_service")
        slots = st.form_submit_button(t("live.slots"))
        insert = st.form_submit_button(t("live.insert"))
    if slots:
        try:
            got = board.slots(lon, lat, level, prio, service, at_s)
            ss[S.URGENT_MESSAGE] = ("info", t("live.slots_found", n=len(got["slots"])), live.slots_frame(got, ep))
        except ServiceRefused as exc:
            ss[S.URGENT_MESSAGE] = ("error", t("live.refused", why=exc), None)
    if insert:
        call_id = f"URG-{now_s}-{len(board.calls) + 1}"
        try:
            answer = board.urgent(call_id, lon, lat, level, prio, service, at_s)
            kind, text = live.insertion_message(answer, ep)
            ss[S.URGENT_MESSAGE] = (kind, text, live.alternatives_frame(answer, ep))
        except ServiceRefused as exc:
            ss[S.URGENT_MESSAGE] = ("error", t("live.refused", why=exc), None)
        st.rerun()  # the live plan changed: drawn again from the top, the answer kept
    if ss.get(S.URGENT_MESSAGE):
        kind, text, frame = ss[S.URGENT_MESSAGE]
        if text:
            getattr(st, kind)(text)
        if frame is not None and len(frame):
            st.dataframe(frame, hide_index=True, width="stretch", key="eta_table")
    with st.form("dropout_form"):
        left = jobs.remaining_jobs(board.picture(), now_s)
        staff = sorted(k for k in board.technicians if k not in board.out)
        who = st.selectbox(t("live.dropout_who"), staff, key="dropout_tech",
                           format_func=i18n.frozen(lambda x: t("live.dropout_left", tech=x, n=left.get(x, 0))))
        drop = st.form_submit_button(t("live.dropout_submit"))
    if drop and who:
        try:
            res = board.drop_out(who, at_s)
            ss[S.LIVE_MESSAGE] = (*live.dropout_message(who, res, ep), live.dropout_frame(res))
        except ServiceRefused as exc:
            ss[S.LIVE_MESSAGE] = ("error", t("live.refused", why=exc), None)
        st.rerun()
    if ss.get(S.LIVE_MESSAGE):
        kind, text, moved = ss[S.LIVE_MESSAGE]
        getattr(st, kind)(text)
        if moved is not None and len(moved):
            st.dataframe(moved, hide_index=True, width="stretch", key="dropout_table")
    offers = board.offers()
    st.markdown(f"**{t('live.offers')}**")
    if offers:
        st.dataframe(live.offers_frame(offers, ep), hide_index=True, width="stretch", key="offers_table")
    else:
        st.caption(t("live.no_offers"))


def notices(board, sel: loaders.Selection) -> None:  # type: ignore[no-untyped-def]
    """The customers to tell (``GET /notices`` of the service, for the board's calls)."""
    st.caption(t("notify.intro"))
    try:
        told = board.notices()
    except ServiceRefused as exc:
        st.error(t("live.refused", why=exc))
        return
    if not told:
        st.success(t("notify.none"))
        return
    st.write(t("notify.count", n=len({n["customer_id"] for n in told}), pending=sum(not n["delivered"] for n in told)))
    st.dataframe(live.notices_frame(told, sel.area.epoch_date), hide_index=True, width="stretch", key="notices_table")


def exports(board, picture, sel: loaders.Selection, now_s: int) -> None:  # type: ignore[no-untyped-def]
    """Route sheets, GeoJSON and the unassigned list of the live plan, built when asked (not on
    every rerun), in the user's language."""
    ss = st.session_state
    version = (sel.plan_name, board.head, i18n.language())
    if st.button(t("export.build"), key="build_exports"):
        ss[S.EXPORTS] = (version, jobs.export_files(picture, sel.area, t("export.title", title=sel.title())))
    built = ss.get(S.EXPORTS)
    if not built or built[0] != version:
        return
    st.caption(t("export.built", clock=F.clock(sel.area.epoch_date, now_s)))
    files = built[1]
    cols = st.columns(len(files))
    for col, (name, blob) in zip(cols, sorted(files.items())):
        col.download_button(name, blob, file_name=name, mime=jobs.export_mime(name), key=f"dl_{name}")
