"""Your own data: upload network, roster and calls as CSV; validated by the CLI's reader; every
problem listed; a dataset is usable only once all three files validate together."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import formatting as F
from dashboard import state as S
from dashboard import uploads, widgets
from dashboard.i18n import t

ss = st.session_state
st.title(t("page.upload"))
st.write(t("up.intro", mb=uploads.MAX_UPLOAD_MB))
cols = st.columns(3)
files = {}
for col, kind in zip(cols, uploads.UPLOAD_KINDS):
    up = col.file_uploader(f"{kind}.csv", type=["csv"], key=f"upload_{kind}", max_upload_size=uploads.MAX_UPLOAD_MB)
    files[kind] = up.getvalue() if up is not None else None
    with col.expander(t("up.columns", kind=kind)):
        st.dataframe(F.frame_columns(pd.DataFrame(uploads.schema_rows(kind)), {
            "column": "col.column", "required": "col.required", "unit": "col.unit", "meaning": "col.meaning"}),
            hide_index=True)
name = st.text_input(t("up.name"), t("up.default_name"))
if st.button(t("up.validate"), type="primary"):
    ds, problems = uploads.validate_upload(files)
    if ds is None:
        ss[S.UPLOAD_PROBLEMS] = problems
        ss[S.UPLOAD_MESSAGE] = None
    else:
        label = uploads.upload_label(name)
        ss[S.UPLOADED] = {**ss[S.UPLOADED], label: ds}
        ss[S.UPLOAD_PROBLEMS] = None
        ss[S.UPLOAD_MESSAGE] = (label, len(ds.network), len(ds.technicians), len(ds.requests))

problems = ss.get(S.UPLOAD_PROBLEMS)
loaded = ss.get(S.UPLOAD_MESSAGE)
widgets.tiles(F.upload_tiles(sum(v is not None for v in files.values()),
                             None if problems is None else len(problems), len(ss[S.UPLOADED])))
if problems is not None:
    st.error(t("up.problems", n=len(problems)))
    st.dataframe(problems, hide_index=True, width="stretch", key="upload_problems")
elif loaded:
    st.success(t("up.loaded", name=loaded[0], centres=loaded[1], techs=loaded[2], calls=loaded[3]))
