"""Your own data: upload network, roster and calls as CSV; validated by the CLI's reader; every
problem listed; a dataset is usable only once all three files validate together."""

from __future__ import annotations

import streamlit as st

from dashboard import formatting as F
from dashboard import state as S
from dashboard import uploads, widgets

ss = st.session_state
st.title("Your own data")
st.write("Upload the three CSV files of a dataset (same columns as `data/sample-zhejiang/`). They are "
         "checked by the same validation as `dispatch validate`; nothing is used unless all three pass. "
         f"Only CSV text is read (no pickle, no code), at most {uploads.MAX_UPLOAD_MB} MB per file.")
cols = st.columns(3)
files = {}
for col, kind in zip(cols, uploads.UPLOAD_KINDS):
    up = col.file_uploader(f"{kind}.csv", type=["csv"], key=f"upload_{kind}", max_upload_size=uploads.MAX_UPLOAD_MB)
    files[kind] = up.getvalue() if up is not None else None
    with col.expander(f"columns of {kind}"):
        st.dataframe(uploads.schema_rows(kind), hide_index=True)
name = st.text_input("Name for this dataset", "my network")
if st.button("Validate and load", type="primary"):
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
    st.error(f"{len(problems)} problem(s): nothing was loaded. Fix the files and validate again.")
    st.dataframe(problems, hide_index=True, width="stretch", key="upload_problems")
elif loaded:
    st.success(f"Loaded '{loaded[0]}': {loaded[1]} centres, {loaded[2]} technicians, {loaded[3]} calls. "
               "Choose it under Dataset in the sidebar.")
