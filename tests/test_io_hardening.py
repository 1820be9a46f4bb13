"""Input files as careless exports make them (issue 15, classes 7-9): misspelled and unknown
columns, Excel's encodings and formats, links and empty files, and points outside the mainland's
real boundary (in files and in the service's call schema)."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError as PydanticError

from dispatch.errors import ValidationError
from dispatch.io import read_dataset
from dispatch.mainland import inside_mainland, mainland_problem
from dispatch.service.schemas import CallIn
from dispatch.tables import write_dataset
from tests.test_io import CENTRES, REQUESTS, TECHNICIANS, write


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(ValidationError) as exc:
        read_dataset(folder)
    return [str(p) for p in exc.value.problems]


# ---- class 7: columns ---------------------------------------------------------------------------


@pytest.mark.parametrize("typo, meant", [("break_minutes", "break_min"), ("speedclass", "speed_class"),
                                         ("productline", "product_lines"), ("Speed Class", "speed_class")])
def test_a_misspelled_optional_column_is_an_error_with_did_you_mean(tmp_path, typo, meant):
    """A column that misspells an optional one (whose values would silently become the default:
    no break, a car for a scooter) is a problem naming it and the column meant."""
    folder = write(tmp_path, technicians=TECHNICIANS.replace(meant, typo, 1))
    msgs = problems_of(folder)
    assert msgs == [f"{folder / 'technicians.csv'}, column '{typo}': is not a column of a technicians file; "
                    f"did you mean '{meant}'" + msgs[0].split(f"did you mean '{meant}'")[1]]
    assert "it would be ignored" in msgs[0]


def test_a_misspelled_request_column_and_a_longitude_alias(tmp_path):
    """productline in requests means product_line; lng for a missing lon is one problem saying so."""
    folder = write(tmp_path, requests=REQUESTS.replace("product_line", "productline").replace(",lon,", ",lng,"))
    msgs = problems_of(folder)
    assert len(msgs) == 2
    assert any("column 'productline'" in m and "did you mean 'product_line'" in m for m in msgs)
    assert any("column 'lon': required column is missing; did you mean 'lng'?" in m for m in msgs)


def test_unknown_columns_are_listed_in_one_warning(tmp_path, caplog):
    """Columns no schema knows and that misspell nothing are read past, listed in one warning
    (to ``on_warning``, else the dispatch.io logger), and the dataset reads."""
    tech = TECHNICIANS.replace("speed_class\n", "speed_class,notes,工号\n").replace(",car\n", ",car,x,1\n")
    tech = tech.replace(",scooter\n", ",scooter,y,2\n")
    folder = write(tmp_path, technicians=tech)
    seen = []
    ds = read_dataset(folder, on_warning=seen.append)
    assert [t.speed_class for t in ds.technicians] == ["car", "scooter"]
    (w,) = seen
    assert w.file == str(folder / "technicians.csv")
    assert "2 column(s) not in the technicians schema are ignored: 'notes', '工号'" in w.message
    with caplog.at_level(logging.WARNING, logger="dispatch.io"):
        read_dataset(folder)
    assert any("'notes', '工号'" in r.getMessage() and r.getMessage().startswith("warning: ")
               for r in caplog.records)


# ---- class 8: encodings, formats, links, empty files ------------------------------------------


def test_a_gbk_file_with_chinese_names_reads_correctly(tmp_path):
    """Files Excel saved as GBK / GB18030 (a Chinese Windows' 'CSV') read with their Chinese ids and names."""
    folder = write(tmp_path)
    (folder / "technicians.csv").write_bytes(TECHNICIANS.replace("T1,Li", "技师甲,李四").encode("gbk"))
    (folder / "centres.csv").write_bytes(CENTRES.replace("Hangzhou lab", "杭州维修中心（省级）").encode("gb18030"))
    ds = read_dataset(folder)
    assert (ds.technicians[0].id, ds.technicians[0].name) == ("技师甲", "李四")
    assert ds.network.centres[0].name == "杭州维修中心（省级）"


def test_a_utf8_bom_and_excels_unicode_text_just_work(tmp_path):
    """A UTF-8 BOM (Excel's 'CSV UTF-8', in CSV and GeoJSON alike) and UTF-16 tab-separated text
    (Excel's 'Unicode text') give the same dataset as plain UTF-8."""
    plain = read_dataset(write(tmp_path / "plain"))
    bom = write(tmp_path / "bom")
    for kind in ("centres", "technicians", "requests"):
        p = bom / f"{kind}.csv"
        p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    utf16 = write(tmp_path / "utf16")
    (utf16 / "centres.csv").write_bytes(CENTRES.replace(",", "\t").encode("utf-16"))
    geojson = tmp_path / "geojson"
    write_dataset(plain, geojson, "geojson")
    for p in [*geojson.glob("*.geojson"), *geojson.glob("*.csv")]:
        p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    for folder in (bom, utf16, geojson):
        ds = read_dataset(folder)
        assert ds.network.centres == plain.network.centres and ds.requests == plain.requests


def test_text_in_another_encoding_names_the_row_and_how_to_resave(tmp_path):
    """Latin-1 bytes are not read as garbage: the row of the first bad byte and how to re-save
    as UTF-8, not a codec's position; a damaged GBK file is said to look GBK-encoded."""
    folder = write(tmp_path / "latin")
    (folder / "centres.csv").write_bytes(CENTRES.replace("Deqing station", "Café Deqing").encode("latin-1"))
    (msg,) = problems_of(folder)
    assert msg.startswith(f"{folder / 'centres.csv'}, row 4: is not UTF-8 text: byte 0xE9")
    assert "re-save the file as UTF-8" in msg and "codec" not in msg
    folder = write(tmp_path / "gbk")
    data = CENTRES.replace("Hangzhou lab", "杭州维修中心").replace("Huzhou centre", "湖州中心").encode("gbk")
    (folder / "centres.csv").write_bytes(data + b"\x81")  # a lead byte with no trail byte
    (msg,) = problems_of(folder)
    assert "looks GBK-encoded" in msg and "re-save the file as UTF-8" in msg


@pytest.mark.parametrize("content, what", [
    (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 22 + b"[Content_Types].xml", "an Excel workbook (.xlsx)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "an Excel 97-2003 workbook (.xls)"),
    (b"PAR1\x15\x04" + b"\x00" * 64, "a Parquet file"),
    (b"<html><body>login</body></html>", "HTML or XML"),
])
def test_a_file_of_the_wrong_format_says_what_it_is(tmp_path, content, what):
    """An Excel workbook, a Parquet file or a web page saved as centres.csv is named as such,
    with what to do."""
    folder = write(tmp_path)
    (folder / "centres.csv").write_bytes(content)
    (msg,) = problems_of(folder)
    assert msg.startswith(f"{folder / 'centres.csv'}: is {what}") and "not a CSV text file" in msg


def test_csv_text_named_parquet_and_json_that_is_not_geojson(tmp_path):
    """A CSV named .parquet, and JSON that is no FeatureCollection, each get their sentence."""
    folder = write(tmp_path / "pq")
    (folder / "centres.csv").rename(folder / "centres.parquet")
    (msg,) = problems_of(folder)
    assert "is text (a CSV file?), not a Parquet file; give it the .csv extension" in msg
    folder = write(tmp_path / "gj")
    (folder / "centres.csv").unlink()
    (folder / "centres.geojson").write_text('{"type": "Feature", "geometry": null}')
    (msg,) = problems_of(folder)
    assert "is JSON but not a GeoJSON FeatureCollection (found 'Feature')" in msg


def test_a_centres_file_with_a_header_and_no_rows_says_so(tmp_path):
    """A centres file holding only its header is one sentence about the file, not a KeyError or
    a silent empty network."""
    folder = write(tmp_path, centres=CENTRES.splitlines()[0] + "\n")
    msgs = problems_of(folder)
    assert msgs[0] == (f"{folder / 'centres.csv'}: has a header but no rows; a network needs at least one centre "
                       "(a tier-1 provincial centre, with its city and county centres below it)")


def test_an_empty_file_and_a_row_with_too_many_cells(tmp_path):
    """A 0-byte file and a row with an unquoted comma each get their own sentence and row."""
    folder = write(tmp_path / "empty", requests="")
    empty = f"{folder / 'requests.csv'}: is empty; expected a header row naming the columns, then one row per record"
    assert problems_of(folder) == [empty]
    folder = write(tmp_path / "cells", centres=CENTRES.replace("Huzhou centre", "Huzhou, centre"))
    (msg,) = problems_of(folder)
    assert msg.startswith(f"{folder / 'centres.csv'}, row 3: has 15 cells on this row where the header has 14")


def test_a_dangling_or_looping_link_says_so(tmp_path):
    """A link to a missing file and a link that loops are each named as such (not 'has no
    requests file', not a traceback)."""
    folder = write(tmp_path / "dangling")
    (folder / "requests.csv").unlink()
    os.symlink(tmp_path / "gone" / "requests.csv", folder / "requests.csv")
    (msg,) = problems_of(folder)
    assert msg.startswith(f"{folder / 'requests.csv'}: is a symbolic link to ") and "which does not exist" in msg
    folder = write(tmp_path / "loop")
    (folder / "requests.csv").unlink()
    os.symlink(folder / "requests.csv", folder / "requests.csv")
    (msg,) = problems_of(folder)
    assert msg.startswith(f"{folder / 'requests.csv'}: is a symbolic link that loops")


def test_a_folder_and_a_near_miss_name(tmp_path):
    """A folder under a file's name, and a centres.xlsx where centres.csv should be, are named."""
    folder = write(tmp_path / "dir")
    (folder / "technicians.csv").unlink()
    (folder / "technicians.csv").mkdir()
    (msg,) = problems_of(folder)
    assert "technicians.csv: is a folder, not a file" in msg
    folder = write(tmp_path / "xlsx")
    (folder / "centres.csv").rename(folder / "centres.xlsx")
    (msg,) = problems_of(folder)
    assert "has no centres file" in msg and "(found centres.xlsx: save it as CSV UTF-8 named centres.csv)" in msg


# ---- class 9: the mainland's real boundary -----------------------------------------------------

ABROAD = {"Hanoi": (105.85, 21.03), "Ulaanbaatar": (106.92, 47.92), "Seoul": (126.98, 37.57),
          "Pyongyang": (125.75, 39.03)}
ISLANDS = {"Shengsi (Zhoushan)": (122.45, 30.72), "Dongji (Zhoushan)": (122.68, 30.20),
           "Sanya (Hainan)": (109.51, 18.25), "Woody Island (Sansha)": (112.336, 16.834),
           "Fiery Cross Reef (Sansha)": (112.89, 9.55), "Weizhou (Beihai)": (109.12, 21.03),
           "Pingtan (Fujian)": (119.78, 25.50), "Hangzhou": (120.15, 30.27), "Kashgar": (75.99, 39.47),
           "Mohe": (122.53, 52.97)}


def test_points_in_neighbouring_capitals_are_refused_naming_row_and_column(tmp_path):
    """Hanoi, Ulaanbaatar, Seoul and Pyongyang are inside the bounding box but not China: each is a
    problem on its row, column 'lat', saying where the nearest mainland county is."""
    rows = REQUESTS.splitlines()
    header, r1 = rows[0], rows[1]
    body = [r1.replace("R1,", f"R{k},").replace("119.98,30.55", f"{lon},{lat}")
            for k, (lon, lat) in enumerate(ABROAD.values(), start=1)]
    folder = write(tmp_path, requests="\n".join([header, *body]) + "\n")
    msgs = problems_of(folder)
    assert len(msgs) == 4
    for row, (lon, lat) in enumerate(ABROAD.values(), start=2):
        (m,) = [m for m in msgs if f"row {row}," in m]
        assert m.startswith(f"{folder / 'requests.csv'}, row {row}, column 'lat': the point (lon {lon}, lat {lat}) "
                            "lies outside mainland China (nearest mainland county: ")
        assert m.endswith(f"km away); expected a WGS84 point on the mainland or its islands (value {lat})")


def test_a_centre_in_hong_kong_is_named_as_such(tmp_path):
    """A point in Hong Kong (outside the mainland network) says it is in Hong Kong."""
    folder = write(tmp_path, centres=CENTRES.replace("119.97,30.54", "114.17,22.28"))
    (msg,) = problems_of(folder)
    assert "row 4, column 'lat'" in msg and "(in Hong Kong; nearest mainland county: " in msg


@pytest.mark.parametrize("name", list(ISLANDS))
def test_islands_and_far_corners_still_validate(name):
    """Zhoushan's, Hainan's and Sansha's islands and reefs, and the far west and north, are inside."""
    lon, lat = ISLANDS[name]
    assert mainland_problem(lon, lat) is None


def test_the_service_schema_refuses_the_same_points_with_the_same_sentence(tmp_path):
    """POST /calls' body (CallIn) refuses Hanoi etc. at field lat with the file validator's
    sentence, and takes an island call."""
    for lon, lat in ABROAD.values():
        with pytest.raises(PydanticError) as exc:
            CallIn.model_validate({"lon": lon, "lat": lat})
        (err,) = exc.value.errors()
        assert err["loc"] == ("lat",) and err["msg"] == mainland_problem(lon, lat)
    assert CallIn.model_validate({"lon": 122.45, "lat": 30.72}).lat == 30.72


def test_every_county_seat_and_the_national_preset_validate_and_the_check_is_cheap():
    """Every county seat of the geography is inside (so every generated centre is), a generated
    national day's calls are inside, and 30,000 points take well under a second."""
    from dispatch.geodata import load_geography
    from dispatch.synthetic import generate
    from dispatch.synthetic.generate import GeneratorParams, with_calls_per_day

    counties = load_geography().counties
    assert inside_mainland(counties["seat_lon"], counties["seat_lat"]).all()
    ds = generate("national", days=1, seed=1, params=with_calls_per_day(GeneratorParams(), 3000))
    assert inside_mainland([c.lon for c in ds.network], [c.lat for c in ds.network]).all()
    assert inside_mainland([r.lon for r in ds.requests], [r.lat for r in ds.requests]).all()
    rng = np.random.default_rng(1)
    x, y = rng.uniform(73, 135, 30_000), rng.uniform(18, 53, 30_000)
    t = time.perf_counter()
    inside_mainland(x, y)
    assert time.perf_counter() - t < 0.5
