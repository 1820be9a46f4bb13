"""Entry script: ``streamlit run dashboard/app.py``.

Sets up the page, the shared sidebar (dataset, area, day) and the navigation over the pages in
``app_pages/``. It opens on the committed Zhejiang sample, one prefecture, with no set-up.
``dashboard`` is an installed package (``pip install -e .``), so the pages' ``dashboard.*``
imports resolve from the installation, wherever Streamlit starts.
"""

from __future__ import annotations

import streamlit as st

from dashboard import data, loaders
from dashboard import formatting as F
from dashboard import state as S

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


def _keep(key: str, options: list, preferred: object = None) -> None:  # type: ignore[type-arg]
    """Give a sidebar selector a valid value before it is drawn (``data.choose``)."""
    value = data.choose(st.session_state.get(key), options, preferred)
    if st.session_state.get(key) != value:
        st.session_state[key] = value


def _sidebar() -> None:
    ss = st.session_state
    uploaded = ss[S.UPLOADED]
    labels = list(data.DEMOS) + list(uploaded)
    _keep(S.DATASET, labels, data.DEFAULT_DEMO)
    with st.sidebar:
        st.selectbox("Dataset", labels, key=S.DATASET)
        ds = loaders.dataset(ss[S.DATASET], uploaded)
        names = loaders.adcode_names()
        provinces = data.provinces_of(ds)
        _keep(S.PROVINCE, provinces, data.DEFAULT_PROVINCE)
        st.selectbox("Province", provinces, key=S.PROVINCE, format_func=lambda a: F.area_label(names, a))
        prefs = [S.ALL] + data.prefectures_of(ds, ss[S.PROVINCE])
        _keep(S.PREFECTURE, prefs, data.DEFAULT_PREFECTURE)
        st.selectbox("Prefecture", prefs, key=S.PREFECTURE, format_func=lambda a: F.area_label(names, a))
        days = data.days_of(ds)
        _keep(S.DAY, days)
        st.selectbox("Day", days, key=S.DAY, format_func=lambda d: F.day_label(ds.epoch_date, d))
        st.caption(f"epoch {ds.epoch_date} · {len(ds.network)} centres · {len(ds.technicians)} technicians · "
                   f"{len(ds.requests)} calls")


_sidebar()
page.run()
