"""The board's first paint from its kept table (``dashboard.firstpaint``): what it imports, what
the table holds and when it is not used."""

from __future__ import annotations

import json
import subprocess
import sys

from dashboard import demos, firstpaint, i18n
from dashboard.state import ALL

HEAVY = ("pandas", "numpy", "sqlalchemy", "ortools", "fastapi", "shapely", "geopandas", "pydeck", "altair",
         "dispatch.dataset", "dashboard.loaders")


def test_the_first_paint_imports_none_of_the_heavy_modules():
    code = ("import sys, dashboard.firstpaint, dashboard.demos, dashboard.i18n, dashboard.state, dashboard.sketch; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


class _Tile:
    def __init__(self, label: str, value: str) -> None:
        self.label, self.value, self.help = label, value, f"{label} help"


def test_a_demos_table_keeps_its_sidebar_and_areas_per_language(tmp_path, monkeypatch):
    monkeypatch.setenv("DISPATCH_PREVIEW_DIR", str(tmp_path))
    label = demos.DEFAULT_DEMO
    assert firstpaint.sidebar(label, "zh") is None and firstpaint.area(label, "zh", "330000", "330500", 0) is None
    opts = firstpaint.SidebarOptions(provinces=["330000"], prefectures={"330000": ["330500"]},
                                     names={"330000": "浙江省", "330500": "湖州市"}, days=[0, 1],
                                     day_labels={0: "第 0 天", 1: "第 1 天"}, epoch="2026-03-02", centres=5,
                                     technicians=44, calls=71, models=["road", "flat"], source_option={"road": "params"})
    firstpaint.keep_sidebar(label, "zh", opts)
    got = firstpaint.sidebar(label, "zh")
    assert got == opts and got.day_labels[1] == "第 1 天"  # day keys come back as ints
    assert firstpaint.sidebar(label, "en") is None  # another language has its own table
    i18n.set_language("zh")
    try:
        assert got.area_label("330500") == "湖州市 (330500)" and got.area_label(ALL) == i18n.t("side.whole_province")
    finally:
        i18n.set_language("en")

    # An area's entry is used only while the outline files its map names are served.
    outline = firstpaint.STATIC / "geo" / "test-first-paint-outline.json"
    outline.parent.mkdir(parents=True, exist_ok=True)
    outline.write_text("[]")
    try:
        firstpaint.keep_area(label, "zh", "330000", "330500", 0, caption="湖州市", tiles=[_Tile("技师", "44")],
                             deck=firstpaint.StoredDeck(json.dumps({"layers": [{"id": "jobs"}]}), {"text": "{label}"}),
                             outlines=[f"/app/static/geo/{outline.name}"], map_svg="<svg></svg>", legend="<div>图例</div>")
        entry = firstpaint.area(label, "zh", "330000", "330500", 0)
        assert entry is not None and entry["tiles"] == [{"label": "技师", "value": "44", "help": "技师 help"}]
        assert entry["map_svg"] == "<svg></svg>" and entry["legend"] == "<div>图例</div>"
        assert firstpaint.outline_rows([f"/app/static/geo/{outline.name}", "/app/static/geo/gone.json"]) == \
            {"provinces": [], "counties": []}  # a missing file: the sketch is drawn without that layer
        assert json.loads(entry["deck"])["layers"][0]["id"] == "jobs" and entry["caption"] == "湖州市"
        assert entry["tooltip"] == {"text": "{label}"}
        assert firstpaint.area(label, "zh", "330000", ALL, 0) is None  # another area: not kept
        assert firstpaint.sidebar(label, "zh") == opts  # the sidebar kept alongside
    finally:
        outline.unlink()
    assert firstpaint.area(label, "zh", "330000", "330500", 0) is None


def test_only_a_demo_read_from_files_has_a_table_and_its_key_follows_the_files(tmp_path, monkeypatch):
    assert firstpaint.dataset_key("upload: mine") is None
    assert firstpaint.dataset_key(next(k for k, v in demos.DEMOS.items() if v == "tiny")) is None
    folder = tmp_path / "sample"
    folder.mkdir()
    (folder / "centres.csv").write_text("id\nA\n")
    monkeypatch.setitem(firstpaint.DEMO_FOLDERS, "sample", folder)
    before = firstpaint.dataset_key(demos.DEFAULT_DEMO)
    (folder / "centres.csv").write_text("id\nA\nB\n")
    after = firstpaint.dataset_key(demos.DEFAULT_DEMO)
    assert before and after and before != after and after.startswith("sample-")


def test_the_board_is_ready_once_marked():
    key = ("label", "330000", "330500", 0)
    assert not firstpaint.is_ready(key)
    firstpaint.mark_ready(key)
    assert firstpaint.is_ready(key)
