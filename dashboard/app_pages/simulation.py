"""Simulation: optimiser vs naive baseline on the selected area and day, until the multi-day
simulation (``dispatch/simulate.py``) lands; its controls are shown, disabled."""

from __future__ import annotations

import importlib.util

import streamlit as st

from dashboard import core, figures, loaders, widgets
from dispatch.kpis import kpis

sel = loaders.selection()
st.title("Simulation")
available = importlib.util.find_spec("dispatch.simulate") is not None
st.info("Multi-day simulation of calls arriving over time (`dispatch/simulate.py`) is "
        + ("present in the package but not wired into the dashboard yet." if available else "**not available yet**.")
        + " Until then this page compares **one day**: the optimised plan against the naive baseline "
          "(nearest free technician, first come first served, fixed escalation) on the same calls.")
c1, c2 = st.columns([1, 3])
c1.number_input("Days to simulate", 1, 28, 7, disabled=True)
c2.button("Run simulation (not available yet)", disabled=True)

plan = widgets.plan_for(sel)
if plan is None:
    st.warning("This area has not been planned yet: run the plan on the Dispatch board first.")
    st.stop()
base_out, base_work = loaders.baseline(sel.plan_key(()), sel.area, sel.day)
plan_k, base_k = core.plan_kpis(plan), kpis(base_out, base_work)
st.subheader(f"Optimiser vs baseline: {sel.title()}")
widgets.tiles(core.kpi_tiles(plan_k, against=base_k))
st.caption("Tiles: the optimised plan; the small figures are the change against the baseline.")
st.dataframe(core.kpi_table({"baseline": base_k, "optimiser": plan_k}), hide_index=True, width="stretch",
             key="sim_kpis")
outcomes = {"optimiser": plan.outcomes, "baseline": base_out}
a, b = st.columns(2)
a.markdown("**Time to dispatch** against the 60-minute promise")
a.altair_chart(figures.dispatch_histogram(outcomes), width="stretch")
b.markdown("**Turnaround** against 24 h and 48 h")
b.altair_chart(figures.turnaround_histogram(outcomes), width="stretch")
