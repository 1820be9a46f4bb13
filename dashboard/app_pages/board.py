"""Dispatch board: one area's live day (``dashboard.console``): map, timeline, KPIs, unassigned,
job detail, pins with undo, urgent calls and drop-outs, exports. Layout only."""

from __future__ import annotations

import streamlit as st

from dashboard import firstpaint, i18n
from dashboard import state as S
from dashboard.i18n import t

ss = st.session_state
st.title(t("page.board"))
caption = st.empty()
run_col, info_col = st.columns([1, 4])
force = run_col.button(t("board.run"), type="primary", help=t("board.run_help"))
# The live day's slot is made here, before anything drawn only on some runs (the first paint, a
# progress bar, a message): a fragment's id is its position on the page, and a full rerun that
# moved it left the browser's next click on the map or timeline naming a fragment that no longer
# existed (Streamlit: "Couldn't find fragment"; the click was lost). Measured: the same session's
# live day had two ids, with and without the plan's progress bar above it.
head, day_slot = st.container(), st.container()
with head:
    # A fresh process's first paint: the area's tiles and map as they were last previewed, before the
    # heavy modules below are imported (``dashboard.firstpaint``).
    area_day = (ss[S.DATASET], ss[S.PROVINCE], ss[S.PREFECTURE], int(ss[S.DAY]))
    entry = None if force or firstpaint.is_ready(area_day) or ss[S.DATASET] in ss[S.UPLOADED] \
        else firstpaint.area(ss[S.DATASET], i18n.language(), *area_day[1:])
    first = None
    if entry is not None:
        caption.caption(entry["caption"])
        first = firstpaint.draw(entry, t("prepare.short"))

    # Below the first paint: these import the dataset model, OR-Tools, the store and the service.
    import datetime as dt

    from dashboard import data, jobs, live, loaders, maps, planning, widgets
    from dashboard import formatting as F
    from dashboard.console import ServiceRefused, later_bookings
    from dispatch.errors import DispatchError
    from dispatch.model import DAY_S
    from dispatch.service.clock import CST

    sel = loaders.selection()
    board_caption = t("board.caption", dataset=data.dataset_label(sel.label), title=sel.title(),
                      calls=len(sel.area.requests), techs=len(sel.area.technicians), centres=len(sel.area.network))
    caption.caption(board_caption)

    key = sel.plan_key(())
    if not force and ss.get(S.FORCE_RUN) != key:
        # A fresh board: the network and calls at once, the plan, service and live board behind.
        prep = loaders.prepare_board(sel, solve=len(sel.area.requests) <= widgets.AUTO_PLAN_CALLS)
        if prep is not None:
            widgets.preview(sel, prep, board_caption, first)
    if first is not None:
        first.clear()  # the board was ready after all (another session made it): no preview
    loaders.start_service(sel)  # the live plan's service comes up while the day is planned
    plan = widgets.plan_for(sel, (), force=force or ss.get(S.FORCE_RUN) == key)
    ss[S.FORCE_RUN] = None
    last = ss.get(S.LAST_RUN)
    if plan is None:
        info_col.info(t("board.press_run", calls=len(sel.area.requests)))
        st.stop()
    if last and last[0] == key:
        info_col.success(F.plan_ready_message(last[1], len(plan.routing_stats), last[2], len(plan.stops)))
    try:
        board, configured = loaders.live_board(sel, plan)
        if force:
            board.replan(plan)  # a new day plan for the areas without changes of their own
    except (ServiceRefused, DispatchError) as exc:
        st.error(t("live.refused", why=exc))
        st.stop()
    firstpaint.mark_ready(area_day)
    st.caption(t("live.service_at", where=configured or t("live.own_service", url=board.link.url)))
    if board.posted and board.posted.get("kept_live"):
        st.info(t("live.kept_live", areas=", ".join(board.posted["kept_live"])))
    if ss.get(S.PIN_MESSAGE):
        kind, text = ss[S.PIN_MESSAGE]
        getattr(st, kind)(text)

names = loaders.centre_names(sel.area)
picture = board.picture()
with head:
    widgets.tiles(board.derived(("kpis", i18n.language()), lambda: F.kpi_tiles(planning.plan_kpis(picture))))

# The clock and everything drawn at it (the jobs' states, map, timeline and panels): a fragment,
# so a clock step reruns that part, not the selection, live board and tiles above. A change
# made in it (a pin, a move, an urgent call) reruns the whole page (``st.rerun()``): the KPIs too.
page_head = board.head
following = bool(ss.get(S.FOLLOW_WALL))
first_run = [True]  # the fragment's first run is this page run's; later ones are its own


@widgets.fragment(run_every=widgets.FOLLOW_EVERY_S if following else None)
def live_day() -> None:
    if first_run[0]:
        first_run[0] = False
    else:
        board.refresh()  # one small request: another tab or the API may have changed the plan
        if board.head != page_head:
            st.rerun()  # drawn again from the top, the tiles with it
    # The clock: the state of the live plan at a time of the day, or now (China time).
    c2, c3 = st.columns([4, 1])
    follow = c3.toggle(t("board.now_mode"), key=S.FOLLOW_WALL)
    if follow != following:
        st.rerun()  # the page again: following reruns this part on the wall clock (``run_every``)
    if follow:
        wall = dt.datetime.now(CST)
        ss[S.NOW] = dt.time(min(max(wall.hour, 6), 22), wall.minute // 15 * 15 if 6 <= wall.hour < 22 else 0)
    now = c2.slider(t("board.clock"), dt.time(6, 0), dt.time(22, 0), step=dt.timedelta(minutes=15), key=S.NOW,
                    format="HH:mm", help=t("board.clock_help"), disabled=follow)
    now_s = sel.day * DAY_S + now.hour * 3600 + now.minute * 60
    at_s = None if follow else now_s  # the clock changes are made at (None: the service's, now)
    c3.caption(t("board.live_events", n=len(board.active_events())))
    # Built once per version of the live plan (and clock, language): a widget change reuses them.
    # The jobs' times and risk once per version; their states at each clock value.
    frame = board.derived("jobs", lambda: jobs.job_frame(picture, sel.area))
    table = board.derived(("table", now_s), lambda: jobs.at_clock(frame, now_s))
    paths = board.derived(("paths", i18n.language()),
                          lambda: maps.route_paths(picture.stops, data.technician_homes(sel.area)))
    widgets.board_map(board, sel, table, paths, names, now_s)
    unassigned = board.derived(("unassigned", i18n.language()), lambda: jobs.unassigned_table(picture, names))
    tab_gantt, tab_unassigned, tab_job, tab_pin, tab_live, tab_notify, tab_export = st.tabs(
        [t("tab.timeline"), t("tab.unassigned"), t("tab.job"), t("tab.pin"), t("tab.live"), t("tab.notify"),
         t("tab.export")], key="board_tabs")  # keyed: a rerun after a change keeps the tab the dispatcher is on
    with tab_gantt:
        widgets.timeline(board, sel, table, names, now_s, at_s)
    with tab_unassigned:
        unassigned_tab(unassigned)
    with tab_job:
        widgets.job_detail(board, table, sel, names, at_s)
    with tab_pin:
        pin_tab(table, at_s)
    with tab_live:
        if not live.realtime_ready(plan):
            st.info(t("live.not_ready"))
        else:
            widgets.live_controls(board, sel, plan, at_s, now_s)
    with tab_notify:
        widgets.notices(board, sel)
    with tab_export:
        widgets.exports(board, picture, sel, now_s)


def unassigned_tab(unassigned) -> None:  # type: ignore[no-untyped-def]
    later = later_bookings(plan)
    if unassigned.empty:
        st.success(t("unassigned.none"))
    else:
        st.write(t("unassigned.count", n=len(unassigned)))
        st.dataframe(F.frame_columns(unassigned, {"request_id": "col.request_id", "reason_code": "col.reason_code",
                                                  "reason": "col.reason", "mode": "col.mode", "level": "col.level",
                                                  "priority": "col.priority", "centre": "col.centre"}),
                     hide_index=True, width="stretch", key="unassigned_table")
    if later:
        st.caption(t("unassigned.later", n=later))


def pin_tab(table, at_s: int | None) -> None:  # type: ignore[no-untyped-def]
    area_of = board.technicians
    st.write(t("pin.intro"))
    routed = dict(zip(picture.stops["request_id"], picture.stops["technician_id"]))
    with st.form("pin_form"):
        job = st.selectbox(t("pin.job"), jobs.pinnable(table), key="pin_job",
                           format_func=i18n.frozen(lambda r: f"{r} ({routed.get(r, i18n.state('unassigned'))})"))
        techs = sorted(set(area_of) - set(board.out))
        tech = st.selectbox(t("pin.technician"), techs, key="pin_tech")
        submitted = st.form_submit_button(t("pin.submit"))
    if submitted and job and tech:
        try:
            got = board.pin(job, tech, at_s)
            ss[S.PIN_MESSAGE] = ("success", t("pin.kept", job=job, tech=tech, seq=got["sequence"],
                                              start=F.clock(sel.area.epoch_date, got["start_s"])))
        except ServiceRefused as exc:
            ss[S.PIN_MESSAGE] = ("warning" if exc.status == 409 else "error", t("live.refused", why=exc))
        st.rerun()
    pins = [(e.seq, e.kind, e.key, e.payload["technician_id"], e.at_s) for e in board.active_events()
            if e.kind in ("pin", "move")]  # the changes one can undo (a move from the job panel too)
    if pins:
        st.markdown(f"**{t('pin.list')}**")
        for seq, pkind, pjob, ptech, at in pins:
            a, b = st.columns([5, 1])
            a.write(f"#{seq} · {t(f'event.{pkind}')} · {pjob} → {ptech} · {F.clock(sel.area.epoch_date, at)}")
            if b.button(t("pin.undo"), key=f"undo_{seq}"):
                try:
                    board.undo(seq)
                    ss[S.PIN_MESSAGE] = ("info", t("pin.undone", job=pjob))
                except ServiceRefused as exc:
                    ss[S.PIN_MESSAGE] = ("error", t("live.refused", why=exc))
                st.rerun()


with day_slot:
    live_day()
