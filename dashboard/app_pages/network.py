"""Network & coverage: the network by tier over our own boundaries, coverage shading per county,
station suggestions (greedy maximal covering, each one's marginal gain), scenarios built (close,
open at a county with staff, add, remove and move technicians, capabilities, target), saved to
the store and compared side by side, each run's map drawing its own network."""

from __future__ import annotations

import streamlit as st

from dashboard import data, figures, i18n, loaders, maps, scenarios, sketch, stockcurve, studies, widgets
from dashboard import formatting as F
from dashboard import state as S
from dashboard.i18n import t
from dispatch.errors import DispatchError

sel = loaders.selection()
ss = st.session_state
area = sel.area
counties = data.area_counties(loaders.geography(), sel.province, sel.prefecture)
places = loaders.places()
names = loaders.centre_names(area)
st.title(t("page.network"))
st.caption(t("net.caption", dataset=data.dataset_label(sel.label), title=sel.title(), n=len(counties)))

level = st.radio(t("net.level"), [1, 2, 3], key=S.LEVEL, horizontal=True, help=t("net.level_help"))
minutes = studies.county_coverage(sel.area_key, area, sel.province, sel.prefecture, int(level), sel.travel_spec)
shares = studies.coverage_shares(sel.area_key, area, sel.province, sel.prefecture, sel.travel_spec)
widgets.tiles(F.coverage_tiles(shares, area.network.counts_by_tier(), scenarios.COVERAGE_MIN))

suggested = ss.get(S.SUGGESTED)
# Suggestions and comparisons belong to the area and the travel model they were made with.
made_for = (sel.area_key, sel.travel_spec)
suggested = suggested[1] if suggested and suggested[0] == made_for else None
rows = loaders.area_county_rows(sel.province, sel.prefecture)
shading = maps.shaded_layer(rows, minutes, "coverage", maps.coverage_colour, "minutes",
                            t("net.shade_label", level=level))
centres = maps.centres_frame(area.network, names)
view_pts = scenarios.seat_points(counties)
st.pydeck_chart(maps.network_map(loaders.base_layers(sel.province, sel.prefecture)[:1], shading, centres,
                                 suggested, view_pts), height=520, key="network_map")
bins = "".join(f"<span style='margin-right:12px;white-space:nowrap'><span style='display:inline-block;width:12px;"
               f"height:12px;background:rgb({c[0]},{c[1]},{c[2]});margin-right:4px'></span>{lab}</span>"
               for _, c, lab in maps.COVERAGE_BINS)
st.html(f"<div style='font-size:0.85rem'>{bins}</div>"
        + sketch.legend_html({}, {}, {}, maps.TIER_COLOURS,
                        {t("map.suggested_legend"): [255, 215, 0]} if suggested is not None else None))
st.altair_chart(figures.coverage_bars(minutes), width="stretch")
with st.expander(t("curve.heading")):
    stockcurve.section(st)


def save(sc) -> None:  # type: ignore[no-untyped-def]
    """Keep a scenario in the session and the store (so it is there after a reload)."""
    ss[S.SCENARIOS] = {**ss[S.SCENARIOS], sc.name: sc}
    try:
        loaders.store().save_scenario(sc.name, sc.to_dict(), {"dataset": sel.label, "area": list(sel.area_key)},
                                      sc.description)
        ss[S.SCENARIO_MESSAGE] = t("net.saved", name=sc.name)
    except DispatchError as exc:
        ss[S.SCENARIO_MESSAGE] = t("net.saved_session", name=sc.name, err=exc)


tab_suggest, tab_build, tab_compare = st.tabs([t("net.tab.suggest"), t("net.tab.build"), t("net.tab.compare")])

with tab_suggest:
    c1, c2, c3 = st.columns(3)
    new = c1.number_input(t("net.new_stations"), 1, 20, 3)
    within = c2.number_input(t("net.radius"), 15, 180, int(scenarios.COVERAGE_MIN), step=15)
    staff = c3.number_input(t("net.staff"), 1, 20, scenarios.default_staff(area))
    if st.button(t("net.suggest")):
        found = scenarios.suggest_stations(area, counties, int(new), float(within),
                                           loaders.travel_model(sel.travel_spec))
        ss[S.SUGGESTED] = (made_for, found)
        st.rerun()
    if suggested is not None:
        st.write(t("net.suggested", within=int(within), before=100 * suggested.attrs.get("covered_before", 0),
                   after=100 * suggested.attrs.get("covered_after", 0)))
        if suggested.empty:
            st.info(t("net.suggest_none"))
        else:
            if len(suggested) < int(new):
                st.caption(t("net.suggest_fewer", n=len(suggested)))
            shown = suggested[["adcode", "name", "gain", "covered_after"]].copy()
            shown["name"] = [i18n.place(places, a) for a in shown["adcode"]]
            shown["gain"] = [f"+{100 * g:.1f} %" for g in shown["gain"]]
            shown["covered_after"] = [f"{100 * g:.1f} %" for g in shown["covered_after"]]
            st.dataframe(F.frame_columns(shown, {"name": "net.col.name", "gain": "net.col.gain",
                                                 "covered_after": "net.col.cum"}),
                         hide_index=True, width="stretch", key="suggested_table")
            if st.button(t("net.make_scenario")):
                save(scenarios.suggested_scenario(area, suggested, int(staff)))
                st.rerun()

stations = scenarios.closable_stations(area)
county_codes = list(counties["adcode"])
techs = sorted(k.id for k in area.technicians)
with tab_build:
    with st.form("scenario_form"):
        name = st.text_input(t("net.scenario_name"), t("net.default_name"))
        close = st.multiselect(t("net.close"), stations, format_func=i18n.frozen(lambda c: f"{names.get(c, c)} ({c})"),
                               placeholder=t("ui.choose"))
        a, b = st.columns(2)
        open_at = a.multiselect(t("net.open_county"), county_codes, format_func=i18n.frozen(lambda c: i18n.place(places, c)),
                                placeholder=t("ui.choose"))
        open_staff = b.number_input(t("net.open_staff"), 0, 50, scenarios.default_staff(area))
        a, b = st.columns(2)
        add_centre = a.selectbox(t("net.add_at"), [""] + sorted(c.id for c in area.network),
                                 format_func=i18n.frozen(lambda c: names.get(c, c) if c else t("net.none")))
        add_count = b.number_input(t("net.how_many"), 0, 50, 0)
        a, b = st.columns(2)
        remove_centre = a.selectbox(t("net.remove_at"), [""] + sorted(c.id for c in area.network),
                                    format_func=i18n.frozen(lambda c: names.get(c, c) if c else t("net.none")))
        remove_count = b.number_input(t("net.how_many") + " ", 0, 50, 0)
        a, b = st.columns(2)
        move = a.multiselect(t("net.move"), techs, placeholder=t("ui.choose"))
        move_to = b.selectbox(t("net.move_to"), [""] + sorted(c.id for c in area.network),
                              format_func=i18n.frozen(lambda c: names.get(c, c) if c else t("net.none")))
        county_levels = st.multiselect(t("net.levels"), [1, 2, 3], list(scenarios.COUNTY_LEVELS), placeholder=t("ui.choose"))
        target = st.number_input(t("net.target"), 15, 240, F.TARGET_MIN, step=15)
        submitted = st.form_submit_button(t("net.save"))
    if submitted:
        try:
            sc = scenarios.scenario_from_form(
                name, close, add_centre or None, int(add_count), county_levels, int(target),
                scenarios.open_specs(area, scenarios.county_sites(counties, open_at)), open_staff=int(open_staff),
                remove={remove_centre: int(remove_count)} if remove_centre else None,
                move={x: move_to for x in move} if move and move_to else None)
            save(sc)
        except DispatchError as exc:
            st.error(str(exc))
    if ss.get(S.SCENARIO_MESSAGE):
        st.success(ss[S.SCENARIO_MESSAGE])

with tab_compare:
    saved, store_error = studies.saved_scenarios(sel)  # this session's, and the store's for this area
    if store_error:
        st.caption(t("net.store_na", err=store_error))
    if not saved:
        st.info(t("net.save_first"))
    else:
        chosen = st.multiselect(t("net.choose"), list(saved), list(saved)[:2], max_selections=2, placeholder=t("ui.choose"))
        if st.button(t("net.compare"), type="primary", disabled=not chosen):
            bar = st.progress(0.0, text=t("net.comparing"))
            try:
                res = scenarios.compare_scenarios(area, [saved[n] for n in chosen], counties, sel.day, int(level), sel.seed,
                                                  progress=lambda s, d, n: bar.progress(d / max(n, 1), text=f"{s}: {d}/{n}"),
                                                  travel_spec=sel.travel_spec)
                ss[S.COMPARISON] = (made_for, int(level), res)
            except DispatchError as exc:
                st.error(t("net.cannot", err=exc))
            bar.empty()
        comp = ss.get(S.COMPARISON)
        if comp and comp[0] == made_for:
            res = comp[2]
            st.dataframe(res.table, hide_index=True, width="stretch", key="comparison_table")
            for n, w in res.warnings.items():
                for text in w:
                    st.warning(f"{n}: {text}")
            cols = st.columns(len(res.names))
            for col, n in zip(cols, res.names):
                col.markdown(f"**{t('net.base') if n == 'base' else n}**")
                layer = maps.shaded_layer(rows, res.county_minutes[n], f"cov_{n}", maps.coverage_colour, "minutes",
                                          t("net.minutes"))
                run_centres = maps.centres_frame(res.networks[n], loaders.centre_names_of(res.networks[n]))
                col.pydeck_chart(maps.network_map([], layer, run_centres, None, view_pts), height=320, key=f"cmp_{n}")
            for n in res.names[1:]:
                diff = scenarios.minutes_difference(res.county_minutes["base"], res.county_minutes[n])
                st.markdown(t("net.diff", name=n))
                layer = maps.shaded_layer(rows, diff, f"diff_{n}", maps.diff_colour, "delta", t("net.change_min"))
                run_centres = maps.centres_frame(res.networks[n], loaders.centre_names_of(res.networks[n]))
                st.pydeck_chart(maps.network_map([], layer, run_centres, None, view_pts), height=320, key=f"diff_{n}")
