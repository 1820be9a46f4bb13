"""Domain values: validation that names the field and value, immutability, the centre hierarchy."""

from __future__ import annotations

import pytest

from dispatch.errors import ModelError
from dispatch.model import Mode, Priority, Request, Technician, Tier, TimeWindow
from dispatch.network import Network
from tests.builders import centre


def test_time_window_rejects_end_before_start():
    """A time window ending before it starts is a ModelError naming the field, value and what is valid."""
    with pytest.raises(ModelError) as exc:
        TimeWindow(100, 50)
    assert str(exc.value) == "TimeWindow: field 'end_s' has value 50; expected a time at or after start_s=100"


def test_centre_outside_china_names_field_and_value():
    """A centre outside mainland China is refused, naming the field and value."""
    with pytest.raises(ModelError) as exc:
        centre(lon=2.35, lat=48.85)
    assert exc.value.field == "lon" and exc.value.value == 2.35
    assert "mainland China" in str(exc.value)


def test_centre_levels_and_parent_rules():
    """A centre's levels are 1-3; a tier-1 centre has no parent and any other has one."""
    with pytest.raises(ModelError, match="'levels'"):
        centre(levels=frozenset({4}))
    with pytest.raises(ModelError, match="empty for a tier-1 centre"):
        centre(cid="P1", tier=Tier.PROVINCE, parent="X")
    with pytest.raises(ModelError, match="higher-tier centre"):
        centre(parent=None)


def test_technician_break_must_fit_in_shift():
    """A technician's break window must lie inside his shift."""
    with pytest.raises(ModelError, match="break_window"):
        Technician("T1", "S1", 1, TimeWindow(8 * 3600, 17 * 3600), TimeWindow(16 * 3600, 17 * 3600), 3600)
    t = Technician("T1", "S1", 2, TimeWindow(8 * 3600, 17 * 3600), TimeWindow(11 * 3600, 13 * 3600), 2700)
    assert t.max_level == 2


def test_request_validation():
    """A request's level is 1-3 and its service time is not negative."""
    ok = Request("R1", 3600, 120.1, 30.2, 1, Mode.ONSITE, Priority.HIGH, TimeWindow(3600, 7200), 1800)
    with pytest.raises(ModelError, match="'level' has value 4"):
        Request("R1", 0, 120.1, 30.2, 4, Mode.ONSITE, Priority.HIGH, TimeWindow(0, 7200), 1800)
    with pytest.raises(ModelError, match="'service_s' has value -60"):
        Request("R1", 0, 120.1, 30.2, 1, Mode.ONSITE, Priority.HIGH, TimeWindow(0, 7200), -60)


def test_values_are_immutable():
    """Domain values are frozen: a field cannot be assigned."""
    c = centre()
    with pytest.raises(AttributeError):
        c.lon = 0.0  # type: ignore[misc]


def test_network_hierarchy_chain_and_errors():
    """A station chains up to its province; an unknown parent or one not of a higher tier is refused."""
    p = centre("P1", Tier.PROVINCE, None, levels=frozenset({1, 2, 3}))
    c = centre("C1", Tier.CITY, "P1", levels=frozenset({1, 2}))
    s = centre("S1", Tier.COUNTY, "C1")
    net = Network((p, c, s))
    assert [x.id for x in net.chain("S1")] == ["S1", "C1", "P1"]
    with pytest.raises(ModelError, match="existing centre"):
        Network((p, centre("S2", Tier.COUNTY, "C9")))
    with pytest.raises(ModelError, match="higher tier"):
        Network((p, c, centre("S1", Tier.COUNTY, "C1"), centre("S2", Tier.COUNTY, "S1")))


def test_network_nearest_uses_great_circle():
    """The nearest centre is by great-circle distance (0.1 degree of longitude at 30 N is 9.6 km)."""
    p = centre("P1", Tier.PROVINCE, None, lon=120.0, lat=30.0)
    c = centre("C1", Tier.CITY, "P1", lon=121.0, lat=30.0)
    net = Network((p, c))
    idx, dist = net.nearest([120.9], [30.0])
    assert net.centres[idx[0]].id == "C1"
    assert dist[0] == pytest.approx(9_630, rel=0.01)  # 0.1 degree of longitude at 30 N
