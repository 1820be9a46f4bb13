"""The dashboard's stock-value curve (dashboard.stockcurve): the table read and checked, the chart
drawn with both shares and the reference rules, in both languages."""

from __future__ import annotations

import io

import pytest

from dashboard import i18n, stockcurve

CSV = """stock,value_mcny,fill,within_24h,own_back_24h,mean_h
parts off,,,0.55,0.55,30.0
default stock,19.9,0.37,0.41,0.40,42.0
24 h est. 45%,4.5,0.60,0.47,0.46,38.0
"""


def test_the_curve_draws_each_stock_with_both_shares_and_the_rules():
    frame = stockcurve.read_curve(io.StringIO(CSV))
    for lang, customer, target in (("zh", "客户（含备用机）", "目标 85%"), ("en", "Customer (a loaner counts)", "Target 85 %")):
        i18n.set_language(lang)
        spec = stockcurve.curve_chart(frame).to_dict()
        values = [v for d in spec["datasets"].values() for v in d]
        points = [v for v in values if "measure" in v]
        assert len(points) == 4 and {v["measure"] for v in points} == {customer, i18n.t("curve.own_phone")}
        assert {v["stock"] for v in points} == {"default stock", "24 h est. 45%"}
        rules = {v["label"]: v["share"] for v in values if "label" in v}
        assert rules == {target: 0.85, i18n.t("curve.parts_off"): 0.55}
    i18n.set_language("zh")


def test_a_bad_curve_file_names_its_column_and_row():
    with pytest.raises(ValueError, match="own_back_24h"):
        stockcurve.read_curve(io.StringIO("stock,value_mcny,within_24h\nx,1,0.5\n"))
    i18n.set_language("en")
    with pytest.raises(ValueError, match=r"row 3, column within_24h: '1.7'"):
        stockcurve.read_curve(io.StringIO(CSV.replace("0.41,0.40", "1.7,0.40")))
    i18n.set_language("zh")



def test_the_shipped_curve_reads():
    frame = stockcurve.read_curve(stockcurve.SHIPPED)
    assert len(frame[frame["stock"] != stockcurve.PARTS_OFF]) >= 5
