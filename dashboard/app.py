"""Entry script: ``streamlit run dashboard/app.py``.

Sets up the page, the language (Chinese first; ``?lang=en`` or the sidebar's switch for
English), the shared sidebar (dataset, area, day) and the navigation over the pages in
``app_pages/``. It opens on the committed Zhejiang sample, one prefecture, with no set-up.
``dashboard`` is an installed package (``pip install -e .``), so the pages' ``dashboard.*``
imports resolve from the installation, wherever Streamlit starts.
"""

from __future__ import annotations

import streamlit as st

from dashboard import demos, firstpaint, i18n
from dashboard import state as S
from dashboard.i18n import t

S.init(st.session_state)
ss = st.session_state
# The language: the query parameter (kept across reloads and shared links), else the session's.
wanted = st.query_params.get("lang") or ss.get(S.LANG) or i18n.DEFAULT_LANGUAGE
ss[S.LANG] = i18n.set_language(wanted)
st.set_page_config(page_title=t("app.title"), layout="wide")
# Metric labels wrap instead of being cut with an ellipsis (five tiles side by side at 1366 px).
st.html("<style>[data-testid='stMetricLabel'] p, [data-testid='stMetricLabel'] div "
        "{white-space: normal !important; overflow: visible !important; text-overflow: clip !important;}"
        "[data-testid='stMetricValue'] {font-size: 1.9rem;}</style>")

# No icons: Streamlit fetches Material Symbols it does not bundle from a font server, and the
# dashboard must not reach outside the machine.
PAGES = [
    st.Page("app_pages/board.py", title=t("page.board"), default=True),
    st.Page("app_pages/network.py", title=t("page.network"), url_path="network"),
    st.Page("app_pages/simulation.py", title=t("page.simulation"), url_path="simulation"),
    st.Page("app_pages/upload.py", title=t("page.upload"), url_path="upload"),
]
page = st.navigation(PAGES)


def _keep(key: str, options: list, preferred: object = None) -> None:  # type: ignore[type-arg]
    """Give a sidebar selector a valid value before it is drawn (``data.choose``)."""
    value = demos.choose(st.session_state.get(key), options, preferred)
    if st.session_state.get(key) != value:
        st.session_state[key] = value


def _language() -> None:
    if ss.get("lang_choice") != ss[S.LANG]:
        ss["lang_choice"] = ss[S.LANG]

    def switched() -> None:
        ss[S.LANG] = ss["lang_choice"]
        st.query_params["lang"] = ss["lang_choice"]

    st.radio(t("side.language"), list(i18n.LANGUAGES), format_func=i18n.LANGUAGES.get, horizontal=True,
             key="lang_choice", on_change=switched)


def _options(label: str, uploaded: dict) -> firstpaint.SidebarOptions:  # type: ignore[type-arg]
    """The sidebar's choices: a demo's kept table (no dataset read, no heavy import: the board's
    first paint), else from the dataset."""
    got = None if label in uploaded else firstpaint.sidebar(label, i18n.language())
    if got is not None:
        return got
    # Here, not at the top: the loaders import the dataset model, OR-Tools and the store, which
    # a fresh process's first paint does without (``dashboard.firstpaint``).
    from dashboard import loaders

    return loaders.sidebar_options(label, uploaded)


def _sidebar() -> None:
    uploaded = ss[S.UPLOADED]
    labels = list(demos.DEMOS) + list(uploaded)
    _keep(S.DATASET, labels, demos.DEFAULT_DEMO)
    with st.sidebar:
        _language()
        st.selectbox(t("side.dataset"), labels, key=S.DATASET, format_func=i18n.frozen(demos.dataset_label))
        opts = _options(ss[S.DATASET], uploaded)
        _keep(S.PROVINCE, opts.provinces, demos.DEFAULT_PROVINCE)
        st.selectbox(t("side.province"), opts.provinces, key=S.PROVINCE, format_func=i18n.frozen(opts.area_label))
        prefs = [S.ALL] + opts.prefectures.get(ss[S.PROVINCE], [])
        _keep(S.PREFECTURE, prefs, demos.DEFAULT_PREFECTURE)
        st.selectbox(t("side.prefecture"), prefs, key=S.PREFECTURE, format_func=i18n.frozen(opts.area_label))
        _keep(S.DAY, opts.days)
        st.selectbox(t("side.day"), opts.days, key=S.DAY, format_func=i18n.frozen(lambda d: opts.day_labels.get(d, str(d))))
        st.caption(t("side.summary", epoch=opts.epoch, centres=opts.centres, techs=opts.technicians, calls=opts.calls))
        with st.expander(t("side.service")):  # where the live plan is held (dashboard.service_link)
            st.text_input(t("side.service_url"), key=S.SERVICE_URL, help=t("side.service_help"),
                          placeholder="http://127.0.0.1:8000")
            st.text_input(t("side.service_token"), key=S.SERVICE_TOKEN, type="password")
        _travel(opts)


def _travel(opts: firstpaint.SidebarOptions) -> None:
    """The travel model every plan and simulation of the session uses (``S.TRAVEL_SPEC``)."""
    models = opts.models
    _keep(S.TRAVEL, models, models[0])
    st.selectbox(t("side.travel"), models, key=S.TRAVEL, help=t("side.travel_help"),
                 format_func=i18n.frozen(lambda m: t(f"travel.{m}")))
    option = opts.source_option.get(ss[S.TRAVEL])
    if option:
        st.text_input(t(f"side.travel_source.{option}"), key=S.TRAVEL_SOURCE)
    source = (ss.get(S.TRAVEL_SOURCE) or "").strip() if option else ""
    if ss[S.TRAVEL] == models[0] and not source:
        spec, error = models[0], None  # the default with its own parameters: every plan builds it anyway
    else:
        # Here, not at the top: checking a chosen model builds it (``dispatch.travel``), which the
        # default's first paint does without.
        from dashboard import loaders

        spec, error = loaders.travel_choice(ss[S.TRAVEL], source)
    ss[S.TRAVEL_SPEC] = spec
    if error:
        st.warning(t("side.travel_bad", error=error, default=spec))
    else:
        st.caption(t("side.travel_in_use", spec=spec))


_sidebar()
page.run()
