"""Simulation: days of calls arriving over time (``dispatch.simulate``), the optimiser against the
naive baseline on the same calls, for the base network or a saved scenario."""

from __future__ import annotations

import streamlit as st

from dashboard import figures, loaders, simulation, widgets
from dashboard import formatting as F
from dashboard import state as S
from dispatch.errors import DispatchError
from dispatch.kpis import RUN_LABELS

sel = loaders.selection()
ss = st.session_state
st.title("Simulation")

saved, store_error = loaders.saved_scenarios(sel)
choices = ["base", *saved]
if ss.get(S.SIM_SCENARIO) not in choices:
    ss[S.SIM_SCENARIO] = "base"
if S.SIM_DAYS not in ss:
    ss[S.SIM_DAYS] = simulation.SIM_DAYS_DEFAULT
c1, c2, c3 = st.columns([2, 1, 1])
name = c1.selectbox("Network", choices, key=S.SIM_SCENARIO,
                    format_func=F.network_label,
                    help="a scenario saved on the Network & coverage page (this session or the store)")
days = int(c2.number_input("Days of calls", 1, simulation.SIM_DAYS_MAX, key=S.SIM_DAYS))
c3.write("")
run = c3.button("Run simulation", type="primary")
if store_error:
    st.caption(f"store not available: {store_error}")

scenario = saved.get(name) if name != "base" else None
try:
    ds = loaders.sim_dataset(sel, days, scenario)
except DispatchError as exc:
    st.error(f"Scenario '{name}' cannot be applied here: {exc}")
    st.stop()
st.caption(f"{sel.label} · {sel.title().rsplit(',', 1)[0]} · {simulation.sim_source_label(sel.full, days)} · "
           f"{len(ds.requests)} calls, {len(ds.technicians)} technicians, {len(ds.network)} centres · "
           f"network: {name}")

key = loaders.sim_key(sel, days, name, scenario)
if not (run or ss.get(S.SIM_RUN) == key or len(ds.requests) <= simulation.AUTO_SIM_CALLS):
    st.info(f"{len(ds.requests)} calls over {days} day(s): press **Run simulation** (optimiser, then the "
            "baseline on the same calls; progress is shown).")
    st.stop()
comp = loaders.simulation(key, ds, days, sel.seed, name)
ss[S.SIM_RUN] = key
res = comp.results
st.success(f"Simulated {comp.calls} calls over {comp.days} day(s) on '{name}': optimiser "
           f"{res['optimiser'].wall_s:.1f} s, baseline {res['baseline'].wall_s:.1f} s.")

opt_k, base_k = comp.kpis["optimiser"], comp.kpis["baseline"]
widgets.tiles(F.kpi_tiles(opt_k, against=base_k))
st.caption("Tiles: the optimiser; the small figures are the change against the same-physics dispatcher "
           "(nearest free capable technician, first come first served, in the optimiser's network, roster, "
           "couriers and escalation rule). Every call counts in its KPI's population (README, 'KPIs').")
st.dataframe(F.kpi_table({RUN_LABELS["baseline"]: base_k, RUN_LABELS["optimiser"]: opt_k}), hide_index=True,
             width="stretch", key="sim_kpis")

outcomes = {RUN_LABELS.get(p, p): r.outcomes for p, r in res.items()}
a, b = st.columns(2)
a.markdown(f"**Time to dispatch** (minutes of opening hours) against the {F.TARGET_MIN}-minute promise")
a.altair_chart(figures.dispatch_histogram(outcomes), width="stretch")
b.markdown("**Turnaround** against 24 h and 48 h")
b.altair_chart(figures.turnaround_histogram(outcomes), width="stretch")

st.subheader("Daily KPIs (by the day of the call)")
daily = simulation.daily_kpis(outcomes)
if daily.empty:
    st.info("No calls in this area.")
else:
    st.altair_chart(figures.daily_kpis(daily), width="content")
    st.dataframe(F.daily_table(daily), hide_index=True, width="stretch", key="sim_daily")

still_open = simulation.open_reasons(res)
with st.expander(f"Calls still open at the horizon ({', '.join(f'{p}: {len(r.open_requests)}' for p, r in res.items())})"):
    st.dataframe(still_open, hide_index=True, width="stretch")
