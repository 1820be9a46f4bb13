"""Entry script: ``streamlit run dashboard/app.py``.

Sets up the page, the shared sidebar (dataset, area, day) and the navigation over the pages in
``app_pages/``. It opens on the committed Zhejiang sample, one prefecture, with no set-up.
"""

from __future__ import annotations

import sys
from pathlib import Path

# ``streamlit run`` puts this file's folder on sys.path, not the repository root; the pages
# import ``dashboard.*``, so the root goes first.
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from dashboard import core, loaders  # noqa: E402
from dashboard import state as S  # noqa: E402

st.set_page_config(page_title="Repair dispatch", layout="wide")
S.init(st.session_state)

# No icons: Streamlit fetches Material Symbols it does not bundle from a font server, and the
# dashboard must not reach outside the machine.
PAGES = [
    st.Page("app_pages/board.py", title="Dispatch board", default=True),
    st.Page("app_pages/network.py", title="Network & coverage", url_path="network"),
    st.Page("app_pages/simulation.py", title="Simulation", url_path="simulation"),
    st.Page("app_pages/upload.py", title="Your own data", url_path="upload"),
]
page = st.navigation(PAGES)


def _sidebar() -> None:
    uploaded = st.session_state[S.UPLOADED]
    labels = list(core.DEMOS) + list(uploaded)
    if st.session_state.get(S.DATASET) not in labels:
        st.session_state[S.DATASET] = core.DEFAULT_DEMO
    with st.sidebar:
        st.selectbox("Dataset", labels, key=S.DATASET)
        ds = loaders.dataset(st.session_state[S.DATASET], uploaded)
        names = loaders.adcode_names()
        provinces = core.provinces_of(ds)
        if st.session_state.get(S.PROVINCE) not in provinces:
            st.session_state[S.PROVINCE] = "330000" if "330000" in provinces else provinces[0]
        st.selectbox("Province", provinces, key=S.PROVINCE,
                     format_func=lambda a: f"{names.get(a, a)} ({a})")
        prefs = [core.ALL] + core.prefectures_of(ds, st.session_state[S.PROVINCE])
        if st.session_state.get(S.PREFECTURE) not in prefs:
            default = core.DEFAULT_PREFECTURE if core.DEFAULT_PREFECTURE in prefs else core.ALL
            st.session_state[S.PREFECTURE] = default
        st.selectbox("Prefecture", prefs, key=S.PREFECTURE,
                     format_func=lambda a: "whole province" if a == core.ALL else f"{names.get(a, a)} ({a})")
        days = core.days_of(ds)
        if st.session_state.get(S.DAY) not in days:
            st.session_state[S.DAY] = days[0]
        st.selectbox("Day", days, key=S.DAY,
                     format_func=lambda d: f"day {d} ({core.clock(ds.epoch_date, d * 86400)[:3]})")
        st.caption(f"epoch {ds.epoch_date} · {len(ds.network)} centres · {len(ds.technicians)} technicians · "
                   f"{len(ds.requests)} calls")


_sidebar()
page.run()
