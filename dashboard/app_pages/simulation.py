"""Simulation: days of calls arriving over time (``dispatch.simulate``), the optimiser against the
naive baseline on the same calls, for the base network or a saved scenario."""

from __future__ import annotations

import streamlit as st

from dashboard import data, figures, i18n, loaders, simulation, studies, widgets
from dashboard import formatting as F
from dashboard import state as S
from dispatch.errors import DispatchError
from dashboard.i18n import t

sel = loaders.selection()
ss = st.session_state
st.title(t("page.simulation"))

saved, store_error = studies.saved_scenarios(sel)
choices = ["base", *saved]
if ss.get(S.SIM_SCENARIO) not in choices:
    ss[S.SIM_SCENARIO] = "base"
if S.SIM_DAYS not in ss:
    ss[S.SIM_DAYS] = simulation.SIM_DAYS_DEFAULT
c1, c2, c3 = st.columns([2, 1, 1])
name = c1.selectbox(t("sim.network"), choices, key=S.SIM_SCENARIO,
                    format_func=i18n.frozen(F.network_label),
                    help=t("sim.network_help"))
days = int(c2.number_input(t("sim.days"), 1, simulation.SIM_DAYS_MAX, key=S.SIM_DAYS))
c3.write("")
run = c3.button(t("sim.run"), type="primary")
if store_error:
    st.caption(t("net.store_na", err=store_error))

scenario = saved.get(name) if name != "base" else None
try:
    ds = studies.sim_dataset(sel, days, scenario)
except DispatchError as exc:
    st.error(t("sim.cannot_apply", name=name, err=exc))
    st.stop()
st.caption(t("sim.caption", dataset=data.dataset_label(sel.label), where=i18n.place(loaders.places(),
             sel.prefecture or sel.province), source=simulation.sim_source_label(sel.full, days), calls=len(ds.requests),
             techs=len(ds.technicians), centres=len(ds.network), name=name))

key = studies.sim_key(sel, days, name, scenario)
if not (run or ss.get(S.SIM_RUN) == key or len(ds.requests) <= simulation.AUTO_SIM_CALLS):
    st.info(t("sim.press", calls=len(ds.requests), days=days))
    st.stop()
comp = studies.simulation(key, ds, days, sel.seed, name, sel.travel_spec)
ss[S.SIM_RUN] = key
res = comp.results
st.success(t("sim.done", calls=comp.calls, days=comp.days, name=name, opt=res["optimiser"].wall_s,
             base=res["baseline"].wall_s))

opt_k, base_k = comp.kpis["optimiser"], comp.kpis["baseline"]
widgets.tiles(F.kpi_tiles(opt_k, against=base_k))
st.caption(t("sim.tiles_note"))
st.dataframe(F.kpi_table({t("sim.policy.baseline"): base_k, t("sim.policy.optimiser"): opt_k}), hide_index=True,
             width="stretch", key="sim_kpis")

outcomes = {t(f"sim.policy.{p}"): r.outcomes for p, r in res.items()}
a, b = st.columns(2)
a.markdown(t("sim.dispatch", target=F.TARGET_MIN))
a.altair_chart(figures.dispatch_histogram(outcomes), width="stretch")
b.markdown(t("sim.turnaround"))
b.altair_chart(figures.turnaround_histogram(outcomes), width="stretch")

st.subheader(t("sim.daily"))
daily = simulation.daily_kpis(outcomes)
if daily.empty:
    st.info(t("sim.no_calls"))
else:
    st.altair_chart(figures.daily_kpis(daily), width="content")
    st.dataframe(F.daily_table(daily), hide_index=True, width="stretch", key="sim_daily")

still_open = simulation.open_reasons(res)
with st.expander(t("sim.open", counts=", ".join(f"{t(f'sim.policy.{p}')}: {len(r.open_requests)}"
                                                 for p, r in res.items()))):
    st.dataframe(still_open, hide_index=True, width="stretch")
