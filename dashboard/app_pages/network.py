"""Network & coverage: the network by tier over our own boundaries, coverage shading per county,
station suggestions (greedy maximal covering), scenarios built, saved and compared side by side."""

from __future__ import annotations

import streamlit as st

from dashboard import data, figures, loaders, maps, scenarios, widgets
from dashboard import formatting as F
from dashboard import state as S
from dispatch.errors import DispatchError

sel = loaders.selection()
ss = st.session_state
area = sel.area
counties = data.area_counties(loaders.geography(), sel.province, sel.prefecture)
st.title("Network & coverage")
st.caption(f"{sel.label} · {sel.title()} · {len(counties)} counties")

level = st.radio("Coverage for repair level", [1, 2, 3], key=S.LEVEL, horizontal=True,
                 help="shading: travel minutes from each county seat to the nearest centre able to repair this level")
minutes = loaders.county_coverage(sel.area_key, area, sel.province, sel.prefecture, int(level))
shares = loaders.coverage_shares(sel.area_key, area, sel.province, sel.prefecture)
widgets.tiles(F.coverage_tiles(shares, area.network.counts_by_tier(), scenarios.COVERAGE_MIN))

suggested = ss.get(S.SUGGESTED)
suggested = suggested[1] if suggested and suggested[0] == sel.area_key else None
rows = loaders.county_rows(sel.province, sel.prefecture)
shading = maps.shaded_layer(rows, minutes, "coverage", maps.coverage_colour, "minutes", f"min to level-{level} centre")
centres = maps.centres_frame(area.network)
view_pts = scenarios.seat_points(counties)
st.pydeck_chart(maps.network_map(loaders.base_layers(sel.province, sel.prefecture)[:1], shading, centres,
                                 suggested, view_pts), height=520, key="network_map")
st.caption(" · ".join(f"<span style='color:rgb({c[0]},{c[1]},{c[2]})'>■</span> {lab}" for _, c, lab in maps.COVERAGE_BINS)
           + " · centres: ● province ● city ● county (red, orange, blue)"
           + (" · ● suggested (gold)" if suggested is not None else ""), unsafe_allow_html=True)
st.altair_chart(figures.coverage_bars(minutes), width="stretch")

tab_suggest, tab_build, tab_compare = st.tabs(["Suggest stations", "Build a scenario", "Compare scenarios"])

with tab_suggest:
    c1, c2 = st.columns(2)
    new = c1.number_input("New county stations", 1, 20, 3)
    within = c2.number_input("Coverage radius (min)", 15, 180, int(scenarios.COVERAGE_MIN), step=15)
    if st.button("Suggest stations"):
        found = scenarios.suggest_stations(area, counties, int(new), float(within))
        ss[S.SUGGESTED] = (sel.area_key, found)
        st.rerun()
    if suggested is not None:
        st.write(f"Greedy maximal covering (existing stations kept): demand within {int(within)} min "
                 f"{100 * suggested.attrs.get('covered_before', 0):.1f} % → "
                 f"**{100 * suggested.attrs.get('covered_after', 0):.1f} %**")
        st.dataframe(suggested, hide_index=True, width="stretch")
        if len(suggested) and st.button("Make a scenario that opens these"):
            sc = scenarios.suggested_scenario(area, suggested)
            ss[S.SCENARIOS] = {**ss[S.SCENARIOS], sc.name: sc}
            ss[S.SCENARIO_MESSAGE] = f"Scenario '{sc.name}' saved."
            st.rerun()

stations = scenarios.closable_stations(area)
with tab_build:
    with st.form("scenario_form"):
        name = st.text_input("Scenario name", "close a station")
        close = st.multiselect("Close stations", stations)
        a, b = st.columns(2)
        add_centre = a.selectbox("Add technicians at", [""] + sorted(c.id for c in area.network))
        add_count = b.number_input("How many", 0, 50, 0)
        county_levels = st.multiselect("Repair levels of county stations", [1, 2, 3], list(scenarios.COUNTY_LEVELS))
        target = st.number_input("Dispatch target (min)", 15, 240, F.TARGET_MIN, step=15)
        save = st.form_submit_button("Save scenario")
    if save:
        try:
            sc = scenarios.scenario_from_form(name, close, add_centre or None, int(add_count), county_levels, int(target))
            ss[S.SCENARIOS] = {**ss[S.SCENARIOS], sc.name: sc}
            try:
                loaders.store().save_scenario(sc.name, sc.to_dict(), {"dataset": sel.label, "area": list(sel.area_key)},
                                              sc.description)
                ss[S.SCENARIO_MESSAGE] = f"Scenario '{sc.name}' saved (session and store)."
            except DispatchError as exc:
                ss[S.SCENARIO_MESSAGE] = f"Scenario '{sc.name}' kept for this session; the store said: {exc}"
        except DispatchError as exc:
            st.error(str(exc))
    if ss.get(S.SCENARIO_MESSAGE):
        st.success(ss[S.SCENARIO_MESSAGE])

with tab_compare:
    saved, store_error = loaders.saved_scenarios(sel)  # this session's, and the store's for this area
    if store_error:
        st.caption(f"store not available: {store_error}")
    if not saved:
        st.info("Save a scenario (Build a scenario, or Suggest stations) to compare it with the base.")
    else:
        chosen = st.multiselect("Scenarios to compare with the base", list(saved), list(saved)[:2], max_selections=2)
        if st.button("Compare side by side", type="primary", disabled=not chosen):
            bar = st.progress(0.0, text="Comparing…")
            try:
                res = scenarios.compare_scenarios(area, [saved[n] for n in chosen], counties, sel.day, int(level), sel.seed,
                                             progress=lambda s, d, n: bar.progress(d / max(n, 1), text=f"{s}: {d}/{n}"))
                ss[S.COMPARISON] = (sel.area_key, int(level), res)
            except DispatchError as exc:
                st.error(f"Cannot compare: {exc}")
            bar.empty()
        comp = ss.get(S.COMPARISON)
        if comp and comp[0] == sel.area_key:
            res = comp[2]
            st.dataframe(res.table, hide_index=True, width="stretch", key="comparison_table")
            for n, w in res.warnings.items():
                for text in w:
                    st.warning(f"{n}: {text}")
            cols = st.columns(len(res.names))
            for col, n in zip(cols, res.names):
                col.markdown(f"**{n}**")
                layer = maps.shaded_layer(rows, res.county_minutes[n], f"cov_{n}", maps.coverage_colour, "minutes", "min")
                col.pydeck_chart(maps.network_map([], layer, centres, None, view_pts), height=320, key=f"cmp_{n}")
            for n in res.names[1:]:
                diff = scenarios.minutes_difference(res.county_minutes["base"], res.county_minutes[n])
                st.markdown(f"**Map difference: {n} vs base** (blue: closer, red: further)")
                layer = maps.shaded_layer(rows, diff, f"diff_{n}", maps.diff_colour, "delta", "change (min)")
                st.pydeck_chart(maps.network_map([], layer, centres, None, view_pts), height=320, key=f"diff_{n}")
