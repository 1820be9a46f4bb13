"""The board's background preparation (``dashboard.preparing``) and what it shows meanwhile."""

from __future__ import annotations

import threading

import pytest

from dashboard import data, i18n, maps
from dashboard import formatting as F
from dashboard.preparing import Preparation


def test_a_preparation_reports_its_stages_and_its_outcome():
    go, reported = threading.Event(), threading.Event()

    def work(p: Preparation) -> str:
        p.report("planning", 0.3, "routing areas: 1/2")
        reported.set()
        go.wait(10)
        p.report("service", 0.6)
        return "board"

    prep = Preparation(work)
    assert reported.wait(10)
    assert prep.progress() == ("planning", 0.3, "routing areas: 1/2") and not prep.done()
    go.set()
    assert prep.wait(10) == "board" and prep.done() and prep.failed() is None
    assert prep.progress()[:2] == ("service", 0.6)


def test_a_failed_preparation_keeps_its_error_and_a_bad_stage_is_refused():
    def work(p: Preparation) -> None:
        raise RuntimeError("the service did not start")

    prep = Preparation(work)
    with pytest.raises(RuntimeError):
        prep.wait(10)
    assert str(prep.failed()) == "the service did not start"
    with pytest.raises(ValueError, match="unknown stage"):
        prep.report("cooking", 0.5)


def test_the_preview_shows_the_days_calls_and_the_stage_in_the_users_language():
    ds = data.load_demo("tiny")
    calls = data.day_calls(ds, 0)
    assert len(calls) == sum(1 for r in ds.requests if r.created_s // 86_400 == 0) > 0
    i18n.set_language("zh")
    try:
        tiles = F.preview_tiles(len(calls), len(ds.technicians), len(ds.network))
        assert [x.value for x in tiles] == [str(len(calls)), str(len(ds.technicians)), str(len(ds.network)), "准备中…"]
        assert i18n.t("prepare.service").startswith("正在启动调度服务…")
    finally:
        i18n.set_language("en")
    deck = maps.preview_map([], maps.centres_frame(ds.network), calls)
    layer = next(x for x in deck.layers if x.id == "jobs")
    assert len(layer.data) == len(calls)
