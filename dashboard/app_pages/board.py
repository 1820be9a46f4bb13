"""Dispatch board: the day's plan of one area: map, Gantt, KPIs, unassigned, pins, exports."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard import core, figures, loaders, maps, widgets
from dashboard import state as S
from dispatch.model import DAY_S

sel = loaders.selection()
ss = st.session_state
st.title("Dispatch board")
st.caption(f"{sel.label} · {sel.title()} · {len(sel.area.requests)} calls, "
           f"{len(sel.area.technicians)} technicians, {len(sel.area.network)} centres")

pins: tuple[core.Pin, ...] = tuple(ss[S.PINS].get(sel.area_key, ()))
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
    procs = f", {last[2]} processes" if len(last) > 2 and last[2] > 1 else ""
    info_col.success(f"Plan ready in {last[1]:.1f} s ({len(plan.routing_stats)} routing area(s){procs}, "
                     f"{len(plan.stops)} routed visits).")
if ss.get(S.PIN_MESSAGE):
    kind, text = ss[S.PIN_MESSAGE]
    getattr(st, kind)(text)

values = core.plan_kpis(plan)
widgets.tiles(core.kpi_tiles(values))

# Map and clock.
c1, c2 = st.columns([1, 3])
colour_by = c1.radio("Colour jobs by", ["state", "risk"], key=S.COLOUR_BY, horizontal=True,
                     format_func=lambda v: {"state": "state", "risk": "SLA risk"}[v])
now_min = c2.slider("Clock (state of the jobs at)", 6 * 60, 22 * 60, step=15, key=S.NOW_MIN,
                    format="%d min", help="minutes since midnight")
now_s = sel.day * DAY_S + int(now_min) * 60
c2.caption(f"at {core.clock(sel.area.epoch_date, now_s)}")
jobs = core.job_table(plan, sel.area, now_s)
homes = {t.id: (sel.area.network[t.home_centre_id].lon, sel.area.network[t.home_centre_id].lat)
         for t in sel.area.technicians}
paths = maps.route_paths(plan.stops, homes)
deck = maps.board_map(loaders.base_layers(sel.province, sel.prefecture), maps.centres_frame(sel.area.network),
                      paths, jobs, colour_by)
st.pydeck_chart(deck, height=520, key="board_map")
palette = maps.STATE_COLOURS if colour_by == "state" else maps.RISK_COLOURS
counts = jobs[colour_by].value_counts()
st.caption(" · ".join(f"<span style='color:rgb({c[0]},{c[1]},{c[2]})'>●</span> {k} ({counts.get(k, 0)})"
                      for k, c in palette.items())
           + " · centres: ● province ● city ● county (red, orange, blue)", unsafe_allow_html=True)

tab_gantt, tab_unassigned, tab_pin, tab_live, tab_export = st.tabs(
    ["Timeline", f"Unassigned ({len(plan.unassigned)})", "Pin & re-plan", "Urgent call / drop-out", "Exports"])

with tab_gantt:
    segments = core.gantt_segments(plan, sel.area)
    if segments.empty:
        st.info("No technician has work in this plan.")
    else:
        st.altair_chart(figures.gantt(segments, sel.area.epoch_date, now_s), width="stretch")

with tab_unassigned:
    table = core.unassigned_table(plan)
    if table.empty:
        st.success("Every call of the day is planned.")
    else:
        st.dataframe(table["reason_code"].value_counts().rename("calls"), width="content")
        st.dataframe(table, hide_index=True, width="stretch", key="unassigned_table")

with tab_pin:
    st.write("Keep a job with a technician (and optionally at a start time), then re-plan the area "
             "around it. Pins are kept for this area until cleared.")
    area_of = core.technician_area(sel.area)
    routed = plan.stops.set_index("request_id")["technician_id"].to_dict() if len(plan.stops) else {}
    travelling = jobs[jobs["mode"] != "walkin"]
    with st.form("pin_form"):
        job = st.selectbox("Job", list(travelling["request_id"]), key="pin_job",
                           format_func=lambda r: f"{r} ({routed.get(r, 'unassigned')})")
        techs = sorted(t.id for t in sel.area.technicians)
        tech = st.selectbox("Technician", techs, key="pin_tech")
        fix_time = st.checkbox("also fix the start time")
        start = st.time_input("Start at", dt.time(10, 0), step=900)
        submitted = st.form_submit_button("Pin and re-plan")
    if submitted and job and tech:
        start_s = sel.day * DAY_S + start.hour * 3600 + start.minute * 60 if fix_time else None
        new = tuple(p for p in pins if p.request_id != job) + (core.Pin(job, tech, start_s),)
        ss[S.PINS] = {**ss[S.PINS], sel.area_key: new}
        new_key = sel.plan_key(new)
        pinned = widgets.plan_for(sel, new, force=True)
        got = pinned.stops[pinned.stops["request_id"] == job] if pinned is not None else None
        if got is not None and len(got) and got["technician_id"].iloc[0] == tech:
            ss[S.PIN_MESSAGE] = ("success", f"Pinned {job} to {tech}: stop {int(got['sequence'].iloc[0])}, "
                                            f"starts {core.clock(sel.area.epoch_date, got['start_s'].iloc[0])}.")
        else:
            why = pinned.unassigned.set_index("request_id")["reason"].get(job, "") if pinned is not None else ""
            ss[S.PIN_MESSAGE] = ("warning", f"Pin {job} → {tech} could not be kept"
                                            f"{': ' + why if why else ''}" + (
                                 f" (technician works in area {area_of.get(tech)})" if tech in area_of else ""))
        st.rerun()
    if pins:
        st.dataframe([{"job": p.request_id, "technician": p.technician_id,
                       "start": core.clock(sel.area.epoch_date, p.start_s) if p.start_s is not None else "any"}
                      for p in pins], hide_index=True)
        if st.button("Clear pins"):
            ss[S.PINS] = {k: v for k, v in ss[S.PINS].items() if k != sel.area_key}
            ss[S.PIN_MESSAGE] = None
            st.rerun()

with tab_live:
    if not core.realtime_ready(plan):
        st.info("This plan has no routing area (no travelling calls were routed today), so there is "
                "no live plan to insert an urgent call into or to re-plan after a drop-out.")
    else:
        st.write(f"Live at **{core.clock(sel.area.epoch_date, now_s)}** (the clock above): work already "
                 "under way is frozen; the rest may move.")
        centre0 = next(c for c in sel.area.network if c.prefecture_adcode == (sel.prefecture or c.prefecture_adcode))
        with st.form("urgent_form"):
            a, b, c, d = st.columns(4)
            lon = a.number_input("lon", value=float(centre0.lon) + 0.02, format="%.4f")
            lat = b.number_input("lat", value=float(centre0.lat) + 0.02, format="%.4f")
            level = c.selectbox("level", [1, 2], key="urgent_level")
            prio = d.selectbox("priority", [3, 2, 1], format_func=lambda p: {1: "normal", 2: "high", 3: "urgent"}[p])
            service = st.number_input("service (min)", 10, 240, 45, step=5)
            rank = st.form_submit_button("Rank technicians by ETA")
            insert = st.form_submit_button("Insert with the best ETA")
        if rank or insert:
            area_key = core.area_at(sel.area, lon, lat)
            if area_key not in plan.area_problems:
                st.warning(f"No routing area {area_key} in this plan (no calls were routed there today).")
            else:
                live = core.live_area(plan, sel.area, area_key, now_s)
                call = core.urgent_call(f"URG-{now_s}", lon, lat, level, prio, service, now_s, sel.day)
                options = live.urgent_options(call)
                if not options:
                    st.warning("Nobody can take this call today without breaking a promise.")
                else:
                    st.markdown(f"**{len(options)} technician(s) ranked by ETA** (area {area_key}):")
                    st.dataframe(core.eta_frame(options, sel.area.epoch_date, now_s), hide_index=True,
                                 width="stretch", key="eta_table")
                if insert:
                    got = live.insert(call)
                    if hasattr(got, "technician_id"):
                        st.success(f"Inserted {call.id}: {got.technician_id} sets off "
                                   f"{core.clock(sel.area.epoch_date, got.departure_s)}, arrives "
                                   f"{core.clock(sel.area.epoch_date, got.eta_s)}"
                                   + ("" if got.meets_deadline else " (after the dispatch deadline)") + ".")
                    else:
                        st.warning(f"Not inserted: {got.reason}")
                    st.caption("The insertion is shown on this live view; the stored plan is unchanged.")
        with st.form("dropout_form"):
            left = core.remaining_jobs(plan, now_s)
            who = st.selectbox("Technician who drops out now",
                               sorted(plan.routes["technician_id"]) if len(plan.routes) else [], key="dropout_tech",
                               format_func=lambda t: f"{t} ({left.get(t, 0)} job(s) not done)")
            drop = st.form_submit_button("Technician drop-out: re-plan his work")
        if drop and who:
            area_key = core.technician_area(sel.area)[who]
            live = core.live_area(plan, sel.area, area_key, now_s)
            res = live.drop_out(who, now_s)
            msg = (f"{who} is out from {core.clock(sel.area.epoch_date, now_s)}: "
                   f"{len(res.moved)} job(s) moved, {len(res.unserved)} cannot be saved.")
            (st.success if not res.unserved else st.warning)(msg)
            table = core.dropout_frame(res)
            if len(table):
                st.dataframe(table, hide_index=True, width="stretch", key="dropout_table")

with tab_export:
    files = core.export_files(plan, sel.area, f"Route sheets: {sel.title()}")
    mime = {".csv": "text/csv", ".html": "text/html", ".geojson": "application/geo+json"}
    cols = st.columns(len(files))
    for col, (name, data) in zip(cols, sorted(files.items())):
        col.download_button(name, data, file_name=name, mime=mime.get(name[name.rfind("."):], "text/plain"),
                            key=f"dl_{name}")
