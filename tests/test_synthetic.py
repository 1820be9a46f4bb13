"""Generators: preset shapes, distributions that follow their parameters, determinism."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from dispatch.errors import InputError
from dispatch.geodata import county_demand_weights, load_geography
from dispatch.network import area_of_centre
from dispatch.tables import technicians_frame, write_dataset
from dispatch.model import DAY_S, Mode, Tier
from dispatch.synthetic import CallParams, GeneratorParams, RosterParams, demand_by_day, generate, generate_calls, parse_preset
from tests.builders import differing_files


@pytest.fixture(scope="module")
def geo():
    return load_geography()


@pytest.fixture(scope="module")
def zhejiang():
    return generate("zhejiang", days=1, seed=7)


def test_tiny_preset_is_one_prefecture_with_its_province(geo):
    """The tiny preset is Huzhou's prefecture with its province lab: one centre per upper tier, 20-200 calls."""
    ds = generate("tiny", days=1, seed=3)
    tiers = ds.network.counts_by_tier()
    assert tiers[Tier.PROVINCE] == 1 and tiers[Tier.CITY] == 1 and tiers[Tier.COUNTY] >= 1
    assert {c.prefecture_adcode for c in ds.network if c.tier != Tier.PROVINCE} == {"330500"}
    assert all(r.county_adcode.startswith("3305") for r in ds.requests)
    assert 20 <= len(ds.requests) <= 200


def test_zhejiang_network_and_roster(zhejiang):
    """Zhejiang has 1 lab and 11 city centres; the workload roster staffs every city centre and
    station with someone at the counter, keeps each prefecture's field staff on duty every weekday, gives each person a
    rest day and each centre the bench hours of its people; board-level only in the lab."""
    net = zhejiang.network
    tiers = net.counts_by_tier()
    assert tiers[Tier.PROVINCE] == 1
    assert tiers[Tier.CITY] == 11  # Zhejiang has 11 prefecture-level cities
    for c in net:
        if c.tier != Tier.PROVINCE:
            assert net[c.parent_id].tier < c.tier
    techs = zhejiang.technicians
    assert set(Counter(t.home_centre_id for t in techs)) == {c.id for c in net}  # every centre is staffed
    assert all(t.rest_weekday is not None for t in techs)
    counter = {t.home_centre_id for t in techs if t.role in ("counter", "bench+counter")}
    # (the provincial lab shares its seat with Hangzhou's city centre, which takes the walk-ins)
    assert counter == {c.id for c in net if c.tier != Tier.PROVINCE}
    area = area_of_centre(net)
    for weekday in range(7):  # field staff at work in every prefecture, every weekday
        working = {area[t.home_centre_id] for t in techs if t.role == "field" and t.rest_weekday != weekday}
        assert working == set(area.values())
    # Bench hours are the bench people's: none at a centre without them, more with more of them.
    bench_people = Counter(t.home_centre_id for t in techs if t.role in ("bench", "bench+counter"))
    assert all(c.bench_hours_per_day > 0 for c in net if bench_people[c.id])
    assert zhejiang.meta_dict["roster"] == "workload"
    # County technicians cannot do board-level work; provincial ones can.
    tier_of = {c.id: c.tier for c in net}
    assert all(t.max_level <= 2 for t in techs if tier_of[t.home_centre_id] == Tier.COUNTY)
    assert all(t.max_level == 3 for t in techs if tier_of[t.home_centre_id] == Tier.PROVINCE)


def test_sqrt_roster_is_the_roster_before_staffing():
    """RosterParams(sizing='sqrt'): every centre staffed in its tier's range by the square root of
    its demand, everyone in the field seven days a week (the committed sample's roster)."""
    params = GeneratorParams(roster=RosterParams(sizing="sqrt"))
    ds = generate("zhejiang", days=0, seed=7, params=params)
    homes = Counter(t.home_centre_id for t in ds.technicians)
    for c in ds.network:
        lo, hi = {Tier.PROVINCE: (10, 30), Tier.CITY: (4, 10), Tier.COUNTY: (1, 3)}[c.tier]
        assert lo <= homes[c.id] <= hi
    assert {(t.role, t.rest_weekday) for t in ds.technicians} == {("field", None)}
    assert "role" not in technicians_frame(ds.technicians)  # written as before


def test_workload_roster_is_smaller_in_the_field_and_sized_on_the_forecast():
    """The workload roster sends fewer people out than the sqrt one and does not depend on the
    dataset's seed beyond who is who (it is sized on the expected calls)."""
    sqrt = generate("zhejiang", days=0, seed=1, params=GeneratorParams(roster=RosterParams(sizing="sqrt")))
    a, b = generate("zhejiang", days=0, seed=1), generate("zhejiang", days=0, seed=2)
    field = [sum(t.role == "field" for t in ds.technicians) for ds in (sqrt, a, b)]
    assert field[1] < field[0] and field[1] == field[2]
    assert Counter((t.home_centre_id, t.role) for t in a.technicians) == Counter(
        (t.home_centre_id, t.role) for t in b.technicians)


def test_calls_are_inside_their_county_and_follow_mixes(zhejiang, geo):
    """Every call lies inside its county, levels and modes follow their mixes, on-site calls within on-site levels."""
    reqs = zhejiang.requests
    assert 800 <= len(reqs) <= 2500
    polys = geo.counties.set_index("adcode").geometry
    import shapely

    for code, group in _group(reqs).items():
        xs = np.array([r.lon for r in group])
        ys = np.array([r.lat for r in group])
        assert shapely.contains_xy(polys[code], xs, ys).all(), code
    p = CallParams()
    n = len(reqs)
    level_share = np.bincount([r.level for r in reqs], minlength=4)[1:] / n
    assert np.allclose(level_share, p.level_mix, atol=0.04)
    assert all(r.level <= p.onsite_max_level for r in reqs if r.mode == Mode.ONSITE)
    # A walk-in or pickup phone call is mailed in (寄修) at mailin_share: 0.40 x (1 - 0.85 x 0.10)
    # stay walk-ins; 0.10 x 0.85 x (0.35 + 0.40) = 6.4 % are mailed in.
    phone = p.product_mix["phone"]
    walkin = sum(r.mode == Mode.WALKIN for r in reqs) / n
    assert walkin == pytest.approx(p.mode_mix["walkin"] * (1 - phone * p.mailin_share), abs=0.03)
    mailin = sum(r.mode == Mode.MAILIN for r in reqs) / n
    assert mailin == pytest.approx(p.mailin_share * phone * (p.mode_mix["walkin"] + p.mode_mix["pickup"]), abs=0.02)
    assert {r.product_line for r in reqs if r.mode == Mode.MAILIN} == {"phone"}


def _group(reqs):
    out: dict[str, list] = {}
    for r in reqs:
        out.setdefault(r.county_adcode, []).append(r)
    return out


def test_arrival_profile_and_demand_follow_parameters(geo):
    """Daily counts are Poisson around the mean, hours follow the profile, and counties follow the demand weights."""
    weights = county_demand_weights(geo)
    counties = geo.counties.merge(weights[["adcode", "weight"]], on="adcode")
    counties = counties[counties["province_adcode"] == "330000"].copy()
    rng = np.random.default_rng(11)
    reqs = generate_calls(counties, days=3, calls_per_day=4000, rng=rng, epoch_date="2026-03-02")
    # Poisson count per day around the mean, times the demand calendar's day (Mon, Tue, Wed).
    per_day = Counter(r.created_s // DAY_S for r in reqs)
    means = [4000 * d.multiplier for d in demand_by_day("2026-03-02", 3)]
    assert all(abs(per_day[k] - m) < 5 * np.sqrt(m) for k, m in enumerate(means))
    # Hour-of-day histogram matches the profile (total variation distance small).
    hours = np.bincount([(r.created_s % DAY_S) // 3600 for r in reqs], minlength=24) / len(reqs)
    profile = np.asarray(CallParams().hourly_profile) / sum(CallParams().hourly_profile)
    assert 0.5 * np.abs(hours - profile).sum() < 0.03
    # Calls per county follow the demand weights: a chi-square goodness-of-fit test (the proxy's
    # weights are close to uniform within a province, so a correlation would measure only noise).
    from scipy.stats import chisquare

    calls = Counter(r.county_adcode for r in reqs)
    w = counties.set_index("adcode")["weight"]
    observed = np.array([calls.get(c, 0) for c in w.index], dtype=float)
    expected = w.to_numpy() / w.sum() * len(reqs)
    assert chisquare(observed, expected).pvalue > 1e-3
    # ... and the test has power: uniform weights are rejected when the weights are not uniform.
    skewed = counties.assign(weight=np.where(counties["adcode"].str[:4] == "3301", 5.0, 1.0))
    reqs2 = generate_calls(skewed, days=1, calls_per_day=4000, rng=np.random.default_rng(12),
                           epoch_date="2026-03-02")
    calls2 = Counter(r.county_adcode for r in reqs2)
    observed2 = np.array([calls2.get(c, 0) for c in w.index], dtype=float)
    assert chisquare(observed2, np.full(len(w), observed2.sum() / len(w))).pvalue < 1e-6
    # After-hours calls get a window starting at the next morning.
    for r in reqs:
        if r.mode != Mode.WALKIN:
            assert r.window.start_s >= r.created_s and r.window.end_s > r.window.start_s


def test_same_seed_same_bytes_other_seed_other_calls(tmp_path):
    """The same seed gives byte-identical files, another seed other calls; the roster does not depend on the days."""
    a = generate("tiny", days=2, seed=5)
    b = generate("tiny", days=2, seed=5)
    write_dataset(a, tmp_path / "a")
    write_dataset(b, tmp_path / "b")
    assert differing_files(tmp_path / "a", tmp_path / "b") == []
    c = generate("tiny", days=2, seed=6)
    assert c.requests != a.requests
    # The roster does not depend on the number of days.
    assert generate("tiny", days=0, seed=5).technicians == a.technicians


def test_the_mail_in_share_changes_only_the_modes_of_phone_pickups_and_walk_ins():
    """Mail-in draws from a stream of its own: with the default share the calls are those of a
    share of 0 but for some phone pickups and walk-ins, now mailed in with no door time; a
    share outside 0..1 is refused naming the parameter."""
    base = GeneratorParams()
    none = replace(base, calls=replace(base.calls, mailin_share=0.0))
    a, b = generate("tiny", days=2, seed=5), generate("tiny", days=2, seed=5, params=none)
    assert len(a.requests) == len(b.requests) and not any(r.mode == Mode.MAILIN for r in b.requests)
    changed = [(x, y) for x, y in zip(a.requests, b.requests) if x != y]
    assert changed and all(x.mode == Mode.MAILIN and y.mode in (Mode.PICKUP, Mode.WALKIN) and y.product_line == "phone"
                           and x.service_s == 0 and replace(x, mode=y.mode, service_s=y.service_s) == y
                           for x, y in changed)
    with pytest.raises(InputError, match="CallParams.mailin_share must be a share 0..1, got 1.5"):
        generate("tiny", days=1, seed=5, params=replace(base, calls=replace(base.calls, mailin_share=1.5)))


def test_unknown_preset_is_a_clear_error():
    """An unknown preset is a DispatchError listing the valid ones."""
    from dispatch.errors import DispatchError

    with pytest.raises(DispatchError, match="unknown preset 'atlantis'; expected 'national', 'tiny'"):
        parse_preset("atlantis")


def test_national_network_counts_and_every_centre_inside_its_own_polygon(geo):
    """The national network: 31 labs, a city centre per prefecture, 1,600 stations at county seats, parents by adcode."""
    import shapely

    ds = generate("national", days=0, seed=1)
    tiers = ds.network.counts_by_tier()
    non_pa = geo.prefectures[geo.prefectures["kind"].isin(["prefecture", "municipality"])]
    assert tiers[Tier.PROVINCE] == 31
    assert tiers[Tier.CITY] == len(non_pa)
    assert tiers[Tier.COUNTY] == 1600
    poly = {
        Tier.PROVINCE: geo.provinces.set_index("adcode").geometry,
        Tier.CITY: geo.prefectures.set_index("adcode").geometry,
        Tier.COUNTY: geo.counties.set_index("adcode").geometry,
    }
    code = {Tier.PROVINCE: "province_adcode", Tier.CITY: "prefecture_adcode", Tier.COUNTY: "county_adcode"}
    outside = [
        c.id for c in ds.network
        if not shapely.contains_xy(poly[c.tier][getattr(c, code[c.tier])], c.lon, c.lat)
    ]
    assert outside == []
    # County stations are at county seats, one per county, never in a county hosting a centre.
    seats = geo.counties.set_index("adcode")
    for c in ds.network.by_tier(Tier.COUNTY):
        assert (c.lon, c.lat) == (round(float(seats.loc[c.county_adcode, "seat_lon"]), 6),
                                  round(float(seats.loc[c.county_adcode, "seat_lat"]), 6))
    # Parents by admin code: a station's parent is its prefecture's city centre (or the province).
    for c in ds.network.by_tier(Tier.COUNTY):
        parent = ds.network[c.parent_id]
        assert parent.province_adcode == c.province_adcode
        assert parent.tier == Tier.PROVINCE or parent.prefecture_adcode == c.prefecture_adcode


def test_stations_are_shared_out_even_without_any_demand(geo):
    """Stations are shared out to distinct counties even when no county has any demand."""
    import pandas as pd

    from dispatch.synthetic.network import _station_counties

    counties = geo.counties[geo.counties["province_adcode"] == "330000"].assign(weight=0.0)
    chosen = _station_counties(counties, counties, 20)
    assert len(chosen) == 20 and chosen["adcode"].is_unique
    assert isinstance(chosen, pd.DataFrame)


def test_stations_leave_no_county_seat_beyond_the_coverage_drive(geo):
    """Coverage-first placement leaves at most 2 county seats beyond a 1.5-h drive; a small budget gets its exact count."""
    from dispatch.synthetic import NetworkParams, Preset, generate_network
    from dispatch.synthetic.network import GENERATOR_TRAVEL  # the drive the rule is stated in

    weights = county_demand_weights(geo)
    seats = geo.counties
    lon, lat = seats["seat_lon"].to_numpy(float), seats["seat_lat"].to_numpy(float)

    def farthest_h(net):  # per county seat, the drive (h) to its nearest centre
        c_lon = np.array([c.lon for c in net]); c_lat = np.array([c.lat for c in net])
        drive = [GENERATOR_TRAVEL.legs(lon[i:i + 400, None], lat[i:i + 400, None], c_lon[None], c_lat[None])[0].min(axis=1)
            for i in range(0, len(lon), 400)]
        return np.concatenate(drive) / 3600

    covered = generate_network(geo, weights, NetworkParams(), Preset("national"))
    by_demand = generate_network(geo, weights, NetworkParams(coverage_max_drive_h=None), Preset("national"))
    assert len(covered.by_tier(Tier.COUNTY)) == len(by_demand.by_tier(Tier.COUNTY)) == 1600
    far_covered, far_demand = farthest_h(covered), farthest_h(by_demand)
    # Only 2 seats stay beyond, against hundreds by demand alone: their counties host a centre
    # (so no station) that lies far from the seat point (Sansha's Xisha district, whose city
    # centre is on another island; Shuanghu, Tibet, whose vast polygon holds Nagqu's seat).
    assert (far_covered > 1.5).sum() <= 2 < 250 < (far_demand > 1.5).sum()
    # A budget too small to cover every seat still gets exactly its stations (the cover's first).
    small = generate_network(geo, weights, NetworkParams(county_stations=100), Preset("national"))
    assert len(small.by_tier(Tier.COUNTY)) == 100


def test_a_hub_busier_than_a_centre_can_hold_gets_the_most_bench_hours_a_centre_holds():
    """At 2,000,000 national calls a day, Zhejiang's provincial lab would need more bench hours
    than a centre may have (``MAX_BENCH_HOURS_PER_DAY``): the roster gives it that many, and
    the network is built (its repairs queue) instead of failing."""
    from dispatch.model import MAX_BENCH_HOURS_PER_DAY
    from dispatch.synthetic import GeneratorParams, generate, with_calls_per_day

    ds = generate("zhejiang", days=0, seed=1, params=with_calls_per_day(GeneratorParams(), 2_000_000))
    assert max(c.bench_hours_per_day for c in ds.network) == MAX_BENCH_HOURS_PER_DAY
