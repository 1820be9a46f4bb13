"""Dispatch board: the day's plan of one area: map, Gantt, KPIs, unassigned, pins, exports."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard import data, figures, jobs, live, loaders, maps, planning, widgets
from dashboard import formatting as F
from dashboard import state as S
from dispatch.model import DAY_S
from dispatch.plan import Pin

sel = loaders.selection()
ss = st.session_state
st.title("Dispatch board")
st.caption(f"{sel.label} · {sel.title()} · {len(sel.area.requests)} calls, "
           f"{len(sel.area.technicians)} technicians, {len(sel.area.network)} centres")

pins: tuple[Pin, ...] = tuple(ss[S.PINS].get(sel.area_key, ()))
key = sel.plan_key(pins)
run_col, info_col = st.columns([1, 4])
force = run_col.button("Run plan", type="primary", help="solve the day afresh for this area")
plan = widgets.plan_for(sel, pins, force=force or ss.get(S.FORCE_RUN) == key)
ss[S.FORCE_RUN] = None
last = ss.get(S.LAST_RUN)
if plan is None:
    info_col.info(f"{len(sel.area.requests)} calls in this area: press **Run plan** to plan the day "
                  "(progress is shown while the areas are routed).")
    st.stop()
if last and last[0] == key:
    info_col.success(F.plan_ready_message(last[1], len(plan.routing_stats), last[2], len(plan.stops)))
if ss.get(S.PIN_MESSAGE):
    kind, text = ss[S.PIN_MESSAGE]
    getattr(st, kind)(text)

widgets.tiles(F.kpi_tiles(planning.plan_kpis(plan)))

# Map and clock.
c1, c2 = st.columns([1, 3])
colour_by = c1.radio("Colour jobs by", list(F.COLOUR_BY_LABELS), key=S.COLOUR_BY, horizontal=True,
                     format_func=F.COLOUR_BY_LABELS.get)
now_min = c2.slider("Clock (state of the jobs at)", 6 * 60, 22 * 60, step=15, key=S.NOW_MIN,
                    format="%d min", help="minutes since midnight")
now_s = sel.day * DAY_S + int(now_min) * 60
c2.caption(f"at {F.clock(sel.area.epoch_date, now_s)}")
table = jobs.job_table(plan, sel.area, now_s)
paths = maps.route_paths(plan.stops, data.technician_homes(sel.area))
deck = maps.board_map(loaders.base_layers(sel.province, sel.prefecture), maps.centres_frame(sel.area.network),
                      paths, table, colour_by)
st.pydeck_chart(deck, height=520, key="board_map")
st.caption(F.legend_html(maps.job_palette(colour_by), table[colour_by].value_counts()), unsafe_allow_html=True)

tab_gantt, tab_unassigned, tab_pin, tab_live, tab_export = st.tabs(
    ["Timeline", f"Unassigned ({len(plan.unassigned)})", "Pin & re-plan", "Urgent call / drop-out", "Exports"])

with tab_gantt:
    segments = jobs.gantt_segments(plan, sel.area)
    if segments.empty:
        st.info("No technician has work in this plan.")
    else:
        st.altair_chart(figures.gantt(segments, sel.area.epoch_date, now_s), width="stretch")

with tab_unassigned:
    unassigned = jobs.unassigned_table(plan)
    if unassigned.empty:
        st.success("Every call of the day is planned.")
    else:
        st.dataframe(unassigned["reason_code"].value_counts().rename("calls"), width="content")
        st.dataframe(unassigned, hide_index=True, width="stretch", key="unassigned_table")

with tab_pin:
    st.write("Keep a job with a technician (and optionally at a start time), then re-plan the area "
             "around it. Pins are kept for this area until cleared.")
    area_of = data.technician_area(sel.area)
    routed = jobs.routed_to(plan)
    with st.form("pin_form"):
        job = st.selectbox("Job", jobs.pinnable(table), key="pin_job",
                           format_func=lambda r: f"{r} ({routed.get(r, 'unassigned')})")
        techs = sorted(t.id for t in sel.area.technicians)
        tech = st.selectbox("Technician", techs, key="pin_tech")
        fix_time = st.checkbox("also fix the start time")
        start = st.time_input("Start at", dt.time(10, 0), step=900)
        submitted = st.form_submit_button("Pin and re-plan")
    if submitted and job and tech:
        new = jobs.add_pin(pins, job, tech, sel.day, start if fix_time else None)
        ss[S.PINS] = {**ss[S.PINS], sel.area_key: new}
        pinned = widgets.plan_for(sel, new, force=True)
        ss[S.PIN_MESSAGE] = jobs.pin_outcome(pinned, job, tech, area_of, sel.area.epoch_date)
        st.rerun()
    if pins:
        st.dataframe(F.pins_table(pins, sel.area.epoch_date), hide_index=True)
        if st.button("Clear pins"):
            ss[S.PINS] = {k: v for k, v in ss[S.PINS].items() if k != sel.area_key}
            ss[S.PIN_MESSAGE] = None
            st.rerun()

with tab_live:
    if not live.realtime_ready(plan):
        st.info("This plan has no routing area (no travelling calls were routed today), so there is "
                "no live plan to insert an urgent call into or to re-plan after a drop-out.")
    else:
        st.write(f"Live at **{F.clock(sel.area.epoch_date, now_s)}** (the clock above): work already "
                 "under way is frozen; the rest may move.")
        centre0 = live.call_point(sel.area, sel.prefecture)
        with st.form("urgent_form"):
            a, b, c, d = st.columns(4)
            lon = a.number_input("lon", value=float(centre0.lon) + 0.02, format="%.4f")
            lat = b.number_input("lat", value=float(centre0.lat) + 0.02, format="%.4f")
            level = c.selectbox("level", live.URGENT_LEVELS, key="urgent_level")
            prio = d.selectbox("priority", sorted(F.PRIORITY_LABELS, reverse=True), format_func=F.PRIORITY_LABELS.get)
            service = st.number_input("service (min)", 10, 240, 45, step=5)
            rank = st.form_submit_button("Rank technicians by ETA")
            insert = st.form_submit_button("Insert: the planner's decision")
        if rank or insert:
            decision = live.decide_urgent(plan, sel.area, f"URG-{now_s}", lon, lat, level, prio, service, now_s)
            options = live.ranked_by_eta(decision)
            if not options:
                st.warning("Nobody can take this call today without breaking a promise.")
            else:
                areas = sorted({x.area for x in decision.alternatives})
                st.markdown(f"**{len(options)} technician(s) ranked by ETA** (area {', '.join(areas)}):")
                st.dataframe(live.eta_frame(options, sel.area.epoch_date, now_s), hide_index=True,
                             width="stretch", key="eta_table")
            if insert:
                kind, text = live.insertion_message(decision, f"URG-{now_s}", sel.area.epoch_date)
                getattr(st, kind)(text)
                st.caption("The insertion is shown on this live view; the stored plan is unchanged.")
        with st.form("dropout_form"):
            left = jobs.remaining_jobs(plan, now_s)
            who = st.selectbox("Technician who drops out now",
                               sorted(plan.routes["technician_id"]) if len(plan.routes) else [], key="dropout_tech",
                               format_func=lambda t: f"{t} ({left.get(t, 0)} job(s) not done)")
            drop = st.form_submit_button("Technician drop-out: re-plan his work")
        if drop and who:
            area = live.live_area(plan, sel.area, data.technician_area(sel.area)[who], now_s)
            res = area.drop_out(who, now_s)
            kind, text = live.dropout_message(who, res, sel.area.epoch_date, now_s)
            getattr(st, kind)(text)
            moved = live.dropout_frame(res)
            if len(moved):
                st.dataframe(moved, hide_index=True, width="stretch", key="dropout_table")

with tab_export:
    files = jobs.export_files(plan, sel.area, f"Route sheets: {sel.title()}")
    cols = st.columns(len(files))
    for col, (name, blob) in zip(cols, sorted(files.items())):
        col.download_button(name, blob, file_name=name, mime=jobs.export_mime(name), key=f"dl_{name}")
