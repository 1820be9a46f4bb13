"""The stock-value curve: what each stock level buys in customers served within 24 h.

The curve comes from ``dispatch stock size --target-24h --simulate --curve-csv FILE`` (medians
over the simulated seeds, one row per stock: its simulated stock value held and the within-24 h
shares); the project ships the Zhejiang week's (``data/parts/stock-curve-zhejiang.csv``) and the
user may load his own. Reading and checking the table and the chart are pure functions;
``section`` draws them on the page it is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

import altair as alt
import pandas as pd

from dashboard import i18n

SHIPPED = Path(__file__).resolve().parent.parent / "data" / "parts" / "stock-curve-zhejiang.csv"
COLUMNS = ("stock", "value_mcny", "within_24h", "own_back_24h")
PARTS_OFF = "parts off"
TARGET_24H = 0.85  # the promise the curve is read against (issue 17: >= 85 % within 24 h)


def read_curve(source: str | Path | IO[bytes]) -> pd.DataFrame:
    """The curve's table, checked: the columns it needs, shares within 0-1 (a bad file raises
    ValueError naming the column and the row)."""
    frame = pd.read_csv(source)
    missing = [c for c in COLUMNS if c not in frame]
    if missing:
        raise ValueError(i18n.t("curve.bad_columns", missing=", ".join(missing), need=", ".join(COLUMNS)))
    for col in ("value_mcny", "within_24h", "own_back_24h"):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & (frame["stock"] != PARTS_OFF) if col == "value_mcny" else values.isna()
        bad |= (values < 0) | ((values > 1) if col != "value_mcny" else False)
        if bad.any():
            row = int(bad.idxmax())
            raise ValueError(i18n.t("curve.bad_value", col=col, row=row + 2, value=str(frame.loc[row, col])))
        frame[col] = values
    return frame


def curve_chart(frame: pd.DataFrame) -> alt.Chart:
    """Stock value held (M CNY) against the within-24 h share: the customer's (a loaner ends it)
    and his own phone's, one point per stock; the parts-off share and the 85 % target as rules."""
    stocked = frame[frame["stock"] != PARTS_OFF]
    series = {"within_24h": i18n.t("curve.customer"), "own_back_24h": i18n.t("curve.own_phone")}
    long = stocked.melt(id_vars=["stock", "value_mcny"], value_vars=list(series), var_name="measure", value_name="share")
    long["measure"] = long["measure"].map(series)
    x = alt.X("value_mcny:Q", title=i18n.t("curve.x"))
    y = alt.Y("share:Q", title=i18n.t("curve.y"), axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]))
    base = alt.Chart(long).encode(x=x, y=y, color=alt.Color("measure:N", title=""),
                                  tooltip=[alt.Tooltip("stock:N", title=i18n.t("curve.stock")),
                                           alt.Tooltip("value_mcny:Q", title=i18n.t("curve.x"), format=".2f"),
                                           alt.Tooltip("share:Q", title=i18n.t("curve.y"), format=".1%")])
    layers = [base.mark_line(point=True)]
    rules = [{"share": TARGET_24H, "label": i18n.t("curve.target")}]
    off = frame[frame["stock"] == PARTS_OFF]
    if len(off):
        rules.append({"share": float(off["within_24h"].iloc[0]), "label": i18n.t("curve.parts_off")})
    ref = alt.Chart(pd.DataFrame(rules)).encode(y="share:Q")
    layers += [ref.mark_rule(strokeDash=[4, 4], color="#888"),
               ref.mark_text(align="left", dx=4, dy=-6, color="#555").encode(text="label:N", x=alt.value(0))]
    return alt.layer(*layers).properties(height=320, title=i18n.t("curve.title"))


def section(st) -> None:  # type: ignore[no-untyped-def]
    """The curve on a page (``st``: the Streamlit module): the user's file if he loads one, else the shipped one."""
    st.caption(i18n.t("curve.caption"))
    upload = st.file_uploader(i18n.t("curve.upload"), type=["csv"], key="stock_curve_upload")
    try:
        frame = read_curve(upload) if upload is not None else read_curve(SHIPPED) if SHIPPED.exists() else None
    except ValueError as exc:
        st.error(str(exc))
        return
    if frame is None:
        st.info(i18n.t("curve.none"))
        return
    st.altair_chart(curve_chart(frame), width="stretch")
    st.dataframe(frame, hide_index=True, width="stretch", key="stock_curve_table")
