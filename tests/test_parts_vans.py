"""Van stock sized from the technicians' on-site job mix (dispatch.parts.vans), by hand."""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest
from click.testing import CliRunner

from dispatch.cli import cli
from dispatch.dataset import Dataset
from dispatch.model import Mode
from dispatch.parts.stock import NATIONAL, StockLevels, van
from dispatch.parts.vans import VanParams, served_by, size_vans, van_demand, van_fill, with_vans
from dispatch.parts.world import PartsData
from dispatch.tables import write_dataset
from tests.builders import req, tech
from tests.test_parts import CAT, NET, SHANGHAI, phone

E = math.exp(1)
# S1 has T1 (level 1) and T3 (level 2); C1's T2 is another station's. One day of calls next to S1:
# four level-1 on-site repairs (a screen each), one level-2 on-site repair (a camera), and calls
# that ask no van: a walk-in, a pickup, a 三包 exchange (bought 10 days ago) and a tablet.
CALLS = (
    *(phone(req(f"s{i}", 1, Mode.ONSITE, created_h=9 + i)) for i in range(4)),
    phone(req("c", 2, Mode.ONSITE, created_h=10)),
    phone(req("w", 1, Mode.WALKIN, created_h=11)),
    phone(req("p", 1, Mode.PICKUP, created_h=12)),
    phone(req("x", 1, Mode.ONSITE, created_h=13), purchase_s=13 * 3600 - 10 * 86_400),
    req("t", 1, Mode.ONSITE, created_h=14, product="tablet"),
)
TECHS = (tech("T1", "S1", 1), tech("T2", "C1", 2), tech("T3", "S1", 2))


def dataset(techs=TECHS) -> Dataset:
    return Dataset(NET, techs, CALLS, "2026-03-02", parts=PartsData(CAT, StockLevels({}), national=SHANGHAI))


def test_a_van_meets_a_shifts_demand_up_to_its_level():
    """Poisson(2) demand over a shift: one unit meets E[min(D, 1)] = 1 - e^-2 of 2, two units
    E[min(D, 2)] = 2 - 2 p0 - p1 = 2 - 4 e^-2."""
    assert van_fill(0, 2.0) == 0.0
    assert van_fill(1, 2.0) == pytest.approx((1 - E**-2) / 2)
    assert van_fill(2, 2.0) == pytest.approx((2 - 4 * E**-2) / 2)


def test_the_job_mix_shares_a_stations_on_site_demand_among_the_technicians_who_can_do_it():
    """The four screens are shared by T1 and T3 (2 a shift each); the camera is T3's alone (level
    2). With a weekly rest day T3 is on shift 6 days in 7: the screens' 4 a day over 1 + 6/7
    technicians on shift, the camera's 1 over 6/7."""
    assert van_demand(dataset()) == pytest.approx({("T1", "SCR"): 2.0, ("T3", "SCR"): 2.0, ("T3", "CAM"): 1.0})
    rested = (TECHS[0], TECHS[1], replace(TECHS[2], rest_weekday=6))
    got = van_demand(dataset(rested))
    assert got[("T1", "SCR")] == pytest.approx(4 / (1 + 6 / 7)) == got[("T3", "SCR")]
    assert got[("T3", "CAM")] == pytest.approx(7 / 6)


def test_with_who_went_each_call_is_charged_to_his_van():
    """A simulated run sent C1's T2 to s0 and T3 to the camera call: s0's screen is T2's (1 a
    shift), the three other screens are shared by S1's two as before (1.5 each), the camera stays
    T3's; a call dispatched to nobody known falls back on the station's share."""
    served = {"s0": "T2", "c": "T3", "s1": "T9"}
    got = van_demand(dataset(), served=served)
    assert got == pytest.approx({("T2", "SCR"): 1.0, ("T1", "SCR"): 1.5, ("T3", "SCR"): 1.5, ("T3", "CAM"): 1.0})
    events = pd.DataFrame({"request_id": ["s0", "s0", "c"], "event": ["dispatched", "dispatched", "dispatched"],
                           "where": ["T2", "T1", "T3"]})
    assert served_by(events) == {"s0": "T2", "c": "T3"}  # the first dispatch: a second visit is the same job


def test_vans_are_sized_unit_by_unit_for_the_fill_target():
    """Target 60 %. T1 (screens, mean 2, 1,000 CNY): the first screen meets 1 - e^-2 = 0.865 of 2
    (43 %), the second adds P(D >= 2) = 1 - 3 e^-2 = 0.594: 72.9 %, done. T3 (screens mean 2, and
    cameras mean 1 at 300 CNY) by gain per CNY: camera 1 (0.632 / 300), camera 2 (P(D >= 2) =
    1 - 2 e^-1 = 0.264 / 300 = 0.00088, just above the first screen's 0.865 / 1000), screen 1
    (1.761 met of 3: 58.7 %), screen 2 (0.594 / 1000 beats a third camera's 0.080 / 300): 78.5 %.
    A box of three units stops T3 at camera 2 and screen 1."""
    got = size_vans(dataset(), VanParams(fill_target=0.6))
    assert got.levels == {(van("T1"), "SCR"): 2, (van("T3"), "CAM"): 2, (van("T3"), "SCR"): 2}
    per = got.vans.set_index("technician_id")
    assert per.loc["T1", "fill"] == pytest.approx((2 - 4 * E**-2) / 2)
    t3 = (2 - 4 * E**-2) + (2 - 3 * E**-1)  # E[min(D_scr, 2)] + E[min(D_cam, 2)], D_cam ~ Poisson(1)
    assert per.loc["T3", "fill"] == pytest.approx(t3 / 3)
    assert got.value_cny == 2 * 1000 + 2 * 300 + 2 * 1000
    assert got.fill == pytest.approx((2 * per.loc["T1", "fill"] + 3 * per.loc["T3", "fill"]) / 5)
    boxed = size_vans(dataset(), VanParams(fill_target=0.6, max_units=3))
    assert {k: s for k, s in boxed.levels.items() if k[0] == van("T3")} == {(van("T3"), "CAM"): 2, (van("T3"), "SCR"): 1}
    assert boxed.vans.set_index("technician_id").loc["T3", "fill"] == pytest.approx(
        ((1 - E**-2) + (2 - 3 * E**-1)) / 3)


def test_sized_vans_replace_the_default_vans_and_keep_the_centres():
    levels = StockLevels({(van("T1"), "CAM"): 1, ("S1", "SCR"): 3, (NATIONAL, "SCR"): 5}, 4 * 86_400)
    got = with_vans(levels, {(van("T3"), "SCR"): 2})
    assert dict(got.levels) == {("S1", "SCR"): 3, (NATIONAL, "SCR"): 5, (van("T3"), "SCR"): 2}
    assert got.factory_lead_s == 4 * 86_400


def test_stock_size_prints_the_van_section_and_writes_the_vans(tmp_path):
    """`dispatch stock size --vans --van-mix simulated` on a dataset folder: the job mix learnt
    from a simulated run of its calls, the van section, and --out's stock.csv carries the sized
    vans instead of the default ones."""
    calls = tuple(replace(r, device_model="", purchase_s=None) for r in CALLS)
    write_dataset(Dataset(NET, TECHS, calls, "2026-03-02"), tmp_path / "ds")
    out = tmp_path / "stock.csv"
    res = CliRunner().invoke(cli, ["stock", "size", str(tmp_path / "ds"), "--vans", "--van-fill", "0.6",
                                   "--van-mix", "simulated", "--out", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "the week of seed 1 simulated to learn each technician's job mix" in res.output
    assert "vans sized from the on-site job mix (simulated; target fill 60% per van" in res.output
    rows = [line.split(",") for line in out.read_text().splitlines()[1:]]
    vans = sorted((loc, p, s) for loc, p, s in rows if loc.startswith("van:"))
    # The folder's calls carry no device: with_parts draws them from the default catalogue, so the
    # levels are the rule's on what was drawn; every van row is one of S1's two technicians, and
    # none is the default's (three best-sellers' screen and battery on every field van, T2's too).
    assert vans and {loc for loc, _, _ in vans} <= {van("T1"), van("T3")}
