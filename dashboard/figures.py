"""Chart builders: pure functions from frames to Altair charts (no ``st.*`` calls)."""

from __future__ import annotations

import datetime as dt

import altair as alt
import numpy as np
import pandas as pd

from dashboard import i18n
from dashboard.formatting import TARGET_MIN
from dashboard.jobs import SEGMENT_KINDS
from dashboard.maps import COVERAGE_BINS
from dashboard.simulation import dispatch_wait_min

SEGMENT_COLOURS = dict(zip(SEGMENT_KINDS, ("#4c78a8", "#54a24b", "#f2cf5b", "#d9d9d9")))


def _times(epoch_date: str, seconds: pd.Series) -> pd.Series:
    """Absolute seconds -> naive local datetimes (China Standard Time), for a time axis."""
    epoch = pd.Timestamp(dt.datetime.fromisoformat(epoch_date))
    return epoch + pd.to_timedelta(seconds.astype("int64"), unit="s")


ROW_PX = 24  # one timeline row per technician: bars 14 px high, never overlapping
SLOT_S = 900  # a click on a row's empty time picks its quarter of an hour
# The timeline's selections (``st.vega_lite_chart(on_select=...)``): a bar, and a row's quarter hour.
PICK_BAR, PICK_SLOT = "tl_bar", "tl_slot"


def gantt(segments: pd.DataFrame, epoch_date: str, now_s: int | None = None,
          row_labels: dict[str, str] | None = None, pickable: bool = False) -> dict:
    """The timeline's Vega-Lite spec (a layered chart), one row per technician (in the order of
    ``row_labels``: technician id -> the row's label, e.g. centre · technician): travel, work,
    break and idle bars along the day; every row keeps its label (a step per row, not a fixed
    height shared by all). ``now_s``: the clock's line on top (``with_now``). ``pickable``: a
    click selects a bar (``PICK_BAR``: its technician, job, kind and start) or, under the bars,
    a row's quarter hour (``PICK_SLOT``: technician and start), drawn as SVG so each mark is
    named for assistive technology (and the browser test) by its fields."""
    data = segments.copy()
    labels = row_labels or {t: t for t in dict.fromkeys(data["technician_id"])}
    data["row"] = data["technician_id"].map(labels).fillna(data["technician_id"])
    data["start"] = _times(epoch_date, data["start_s"])
    data["end"] = _times(epoch_date, data["end_s"])
    data["minutes"] = ((data["end_s"] - data["start_s"]) / 60).round(1)
    kinds = {k: i18n.t(f"seg.{k}") for k in SEGMENT_COLOURS}
    data["segment"] = data["kind"]
    data["kind"] = data["kind"].map(kinds)
    data["request_id"] = data["request_id"].replace({"return": i18n.t("seg.return")})
    order = [labels[t] for t in labels if t in set(data["technician_id"])]
    x_axis = alt.X("start:T", title=i18n.t("timeline.axis"), axis=alt.Axis(format="%H:%M", orient="top"))
    y_axis = alt.Y("row:N", title=None, sort=order, axis=alt.Axis(labelOverlap=False, labelLimit=260))
    bars = alt.Chart(data).mark_bar(height=14).encode(
        x=x_axis, x2="end:T", y=y_axis,
        color=alt.Color("kind:N", scale=alt.Scale(domain=list(kinds.values()), range=list(SEGMENT_COLOURS.values())),
                        legend=alt.Legend(orient="top", title=None)),
        tooltip=[alt.Tooltip("row:N", title=i18n.t("col.technician")),
                 alt.Tooltip("kind:N", title=i18n.t("timeline.kind")),
                 alt.Tooltip("request_id:N", title=i18n.t("col.request_id")),
                 alt.Tooltip("start:T", format="%H:%M", title=i18n.t("timeline.start")),
                 alt.Tooltip("end:T", format="%H:%M", title=i18n.t("timeline.end")),
                 alt.Tooltip("minutes:Q", title=i18n.t("timeline.minutes"))],
    ).properties(height=alt.Step(ROW_PX))
    if pickable:
        pick = alt.selection_point(name=PICK_BAR, fields=["technician_id", "request_id", "segment", "start_s"],
                                   on="click", toggle=False)
        chart = alt.layer(_slots(data, epoch_date, x_axis, y_axis), bars.add_params(pick)).properties(
            usermeta={"embedOptions": {"renderer": "svg"}})
    else:
        chart = alt.layer(bars)  # layered even alone: ``with_now`` adds the clock's line as a layer
    spec = chart.to_dict()
    return spec if now_s is None else with_now(spec, epoch_date, now_s)


NOW_MARK = {"type": "rule", "color": "#d62728", "strokeDash": [4, 3]}


def with_now(spec: dict, epoch_date: str, now_s: int) -> dict:
    """``gantt``'s spec with the clock's line on top: a new dict sharing ``spec``'s rows, so a
    clock step adds one layer to a spec built once per set of rows (building and validating
    the chart takes longer than the rest of the step). The time is written as the bars' are
    (local ISO, Altair's form), so both are read in the same time zone."""
    at = _times(epoch_date, pd.Series([now_s])).iloc[0].isoformat()
    rule = {"mark": dict(NOW_MARK), "data": {"values": [{"t": at}]}, "encoding": {"x": {"field": "t", "type": "temporal"}}}
    return {**spec, "layer": [*spec["layer"], rule]}


def _slots(data: pd.DataFrame, epoch_date: str, x_axis: alt.X, y_axis: alt.Y) -> alt.Chart:
    """Every row's quarter hours over the day the bars span, nearly transparent, under them."""
    lo = int(data["start_s"].min()) // SLOT_S * SLOT_S
    hi = -(-int(data["end_s"].max()) // SLOT_S) * SLOT_S
    rows = data.drop_duplicates("technician_id")[["technician_id", "row"]]
    starts = np.arange(lo, hi, SLOT_S)
    slots = rows.loc[rows.index.repeat(len(starts))].reset_index(drop=True)
    slots["start_s"] = np.tile(starts, len(rows))
    slots["start"] = _times(epoch_date, slots["start_s"])
    slots["end"] = _times(epoch_date, slots["start_s"] + SLOT_S)
    pick = alt.selection_point(name=PICK_SLOT, fields=["technician_id", "start_s"], on="click", toggle=False,
                              empty=False)
    return alt.Chart(slots).mark_bar(height=ROW_PX - 2, color="#1f77b4").encode(
        x=x_axis, x2="end:T", y=y_axis,
        opacity=alt.condition(pick, alt.value(0.25), alt.value(0.01)),
        tooltip=[alt.Tooltip("row:N", title=i18n.t("col.technician")),
                 alt.Tooltip("start:T", format="%H:%M", title=i18n.t("timeline.slot"))],
    ).add_params(pick)


def _hist(values: pd.DataFrame, column: str, title: str, bin_step: float, rules: dict[str, float]) -> alt.Chart:
    base = alt.Chart(values).mark_bar(opacity=0.65).encode(
        x=alt.X(f"{column}:Q", bin=alt.Bin(step=bin_step), title=title),
        y=alt.Y("count():Q", title=i18n.t("sim.calls"), stack=None),
        color=alt.Color("policy:N", legend=alt.Legend(orient="top", title=None)),
    )
    lines = pd.DataFrame({"at": list(rules.values()), "target": list(rules)})
    rule = alt.Chart(lines).mark_rule(color="#d62728", strokeDash=[5, 3]).encode(x="at:Q", tooltip=["target"])
    return alt.layer(base, rule).properties(height=240)


def dispatch_histogram(outcomes: dict[str, pd.DataFrame], target_min: float = TARGET_MIN) -> alt.Chart:
    """Time to dispatch (minutes of opening hours when the outcomes carry ``dispatch_wait_s``)
    per policy against the dispatch target (``dispatch.rules``)."""
    frames = [pd.DataFrame({"policy": policy, "minutes": dispatch_wait_min(o).clip(upper=600)})
              for policy, o in outcomes.items()]
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["policy", "minutes"])
    return _hist(data, "minutes", i18n.t("sim.hist_dispatch"), 10,
                 {f"{target_min:.0f} min": target_min})


def turnaround_histogram(outcomes: dict[str, pd.DataFrame]) -> alt.Chart:
    """Turnaround (hours) per policy against the 24 h and 48 h lines."""
    frames = []
    for policy, o in outcomes.items():
        served = o[o["completion_s"].notna()]
        frames.append(pd.DataFrame({"policy": policy,
                                    "hours": ((served["completion_s"] - served["created_s"]) / 3600).clip(upper=168)}))
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["policy", "hours"])
    return _hist(data, "hours", i18n.t("sim.hist_turnaround"), 4, {"24 h": 24, "48 h": 48})


def daily_kpis(daily: pd.DataFrame) -> alt.Chart:
    """One small chart per KPI: its value per day, a line per policy (``simulation.daily_kpis``)."""
    data = daily.dropna(subset=["value"])
    return alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("day:O", title=i18n.t("sim.day_of_call")),
        y=alt.Y("value:Q", title=None),
        color=alt.Color("policy:N", legend=alt.Legend(orient="top", title=None)),
        tooltip=["policy", "day", "label", alt.Tooltip("value:Q", format=".3f")],
    ).properties(width=220, height=150).facet(
        facet=alt.Facet("label:N", title=None, sort=list(dict.fromkeys(daily["label"]))), columns=3,
    ).resolve_scale(y="independent")


def coverage_bars(county_minutes: pd.DataFrame) -> alt.Chart:
    """Demand share by travel-time band to the nearest capable station."""
    m = county_minutes["minutes"].to_numpy(float)
    w = county_minutes["weight"].to_numpy(float)
    edges = [0.0] + [b for b, _, _ in COVERAGE_BINS]
    labels = [lab for _, _, lab in COVERAGE_BINS]
    idx = np.clip(np.searchsorted(edges, np.minimum(m, 1e9), side="left") - 1, 0, len(labels) - 1)
    share = np.bincount(idx, weights=w, minlength=len(labels)) / max(w.sum(), 1e-9)
    colours = ["#{:02x}{:02x}{:02x}".format(*c) for _, c, _ in COVERAGE_BINS]
    data = pd.DataFrame({"band": labels, "share": share})
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("band:N", sort=labels, title=i18n.t("net.bar.x")),
        y=alt.Y("share:Q", axis=alt.Axis(format="%"), title=i18n.t("net.bar.y")),
        color=alt.Color("band:N", scale=alt.Scale(domain=labels, range=colours), legend=None),
    ).properties(height=200)
