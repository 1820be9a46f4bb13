"""The one id rule (issue 15, class 10): the file validator and the service accept and refuse
the same ids, with the same sentence; the service's path parameters and Idempotency-Key too."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import Field, TypeAdapter
from pydantic import ValidationError as PydanticError

from dispatch.errors import ValidationError
from dispatch.ids import ID_MAX_LEN, ID_PATTERN, id_message, is_valid_id
from dispatch.io import read_dataset
from dispatch.service.schemas import CallIn, Idem, JobId, TechnicianId
from tests.test_io import TECHNICIANS, write

GOOD = ["T1", "技师甲", "TP330000-01", "R01-000001", "Ｒ１２", "阿卜杜·热合曼", "a.b:c_d-e", "क्षत्रिय",
        "x" * ID_MAX_LEN, "0", "工单123"]
BAD = {
    "T\u202e1": "U+202E (RIGHT-TO-LEFT OVERRIDE)",
    "a\u200bb": "U+200B (ZERO WIDTH SPACE)",
    "\ufeffT1": "U+FEFF",
    "a\u2066b": "U+2066 (LEFT-TO-RIGHT ISOLATE)",
    "a\u200db": "U+200D (ZERO WIDTH JOINER)",
    "a\u2060b": "U+2060 (WORD JOINER)",
    "T\x071": "a control character U+0007",
    "T1\n": "a control character U+000A",
    " T1": "leading whitespace",
    "T1 ": "trailing whitespace",
    "T1\u3000": "trailing whitespace U+3000 (IDEOGRAPHIC SPACE)",
    "技师 甲": "whitespace U+0020 (SPACE) at position 3",
    "a/b": "'/'",
    "a#b": "'#'",
    "-T1": "'-' at the start",
    "=cmd": "'='",
    "": "it is empty",
    "x" * (ID_MAX_LEN + 1): f"it is {ID_MAX_LEN + 1} characters long",
}


@pytest.mark.parametrize("value", GOOD)
def test_the_rule_accepts_letters_and_digits_of_any_script(value):
    """Letters and digits of any script (CJK names, full-width digits, Devanagari with its marks)
    and - _ . : · inside are ids, up to 100 characters."""
    assert id_message(value) is None


@pytest.mark.parametrize("value, why", list(BAD.items()))
def test_the_rule_refuses_invisible_direction_changing_and_url_characters(value, why):
    """Bidi overrides and isolates, zero-width characters, control characters, whitespace
    anywhere, URL-significant punctuation, a leading punctuation mark, empty and over-long ids
    are refused, each saying which character and where."""
    message = id_message(value)
    assert message is not None and why in message
    assert message.startswith("is not a valid id: ") and "letters or digits of any script" in message


def test_the_openapi_pattern_is_the_same_rule():
    """The pattern shown to clients in the OpenAPI document (Unicode classes, as pydantic's Rust
    regex and ECMA-262's u flag read them) accepts and refuses what the rule does."""
    pattern = TypeAdapter(Annotated[str, Field(pattern=ID_PATTERN)])
    for value in [*GOOD, *BAD, "\u0301a", "a\u0301", "①", "Ⅻ"]:
        try:
            pattern.validate_python(value)
            matched = True
        except PydanticError:
            matched = False
        assert matched == is_valid_id(value), repr(value)


def _file_message(tmp_path, tech_id: str) -> list[str]:
    folder = write(tmp_path, technicians=TECHNICIANS.replace("T1,Li", f"{tech_id},Li"))
    with pytest.raises(ValidationError) as exc:
        read_dataset(folder)
    return [p.message for p in exc.value.problems if p.column == "id"]


def _api_message(tech_id: str) -> str:
    with pytest.raises(PydanticError) as exc:
        CallIn.model_validate({"id": tech_id, "lon": 120.1, "lat": 30.9})
    (err,) = exc.value.errors()
    assert err["loc"] == ("id",)
    return err["msg"]


def test_a_chinese_id_is_accepted_by_the_file_validator_and_the_api(tmp_path):
    """技师甲 reads from a technicians file and is a valid call id, job id and technician id."""
    ds = read_dataset(write(tmp_path, technicians=TECHNICIANS.replace("T1,Li", "技师甲,李")))
    assert ds.technicians[0].id == "技师甲"
    assert CallIn.model_validate({"id": "技师甲", "lon": 120.1, "lat": 30.9}).id == "技师甲"


@pytest.mark.parametrize("value", ["T\u202e1", "a\u200bb", "T1\u3000"])
def test_a_bad_id_is_refused_by_both_with_the_same_sentence(tmp_path, value):
    """An id with a bidi override, a zero-width space or a trailing ideographic space is refused by
    the technicians file and by the API with one and the same sentence."""
    assert _file_message(tmp_path, value) == [_api_message(value)]


def test_reference_columns_follow_the_rule(tmp_path):
    """A home centre id or parent id with an invisible character is named as an invalid id."""
    folder = write(tmp_path, technicians=TECHNICIANS.replace("T1,Li,S330521", "T1,Li,S33\u200b0521"))
    with pytest.raises(ValidationError) as exc:
        read_dataset(folder)
    (p,) = exc.value.problems
    assert p.column == "home_centre_id" and "U+200B" in p.message and p.row == 2


@pytest.fixture(scope="module")
def id_client() -> TestClient:
    app = FastAPI()

    @app.post("/technicians/{technician_id}/unavailable")
    def unavailable(technician_id: TechnicianId, idem: Idem = None) -> dict:
        return {"technician_id": technician_id, "idem": idem}

    @app.post("/jobs/{job_id}/status")
    def status(job_id: JobId) -> dict:
        return {"job_id": job_id}

    return TestClient(app)


def test_path_parameters_and_idempotency_key_follow_the_rule(id_client):
    """A Chinese technician id can be reported unavailable; a path id or an Idempotency-Key with a
    bidi override or a zero-width space is 422 with the rule's sentence."""
    r = id_client.post("/technicians/技师甲/unavailable")
    assert r.status_code == 200 and r.json()["technician_id"] == "技师甲"
    assert id_client.post("/jobs/R01-000001/status").json() == {"job_id": "R01-000001"}
    for value in ("T\u202e1", "a\u200bb"):
        r = id_client.post(f"/jobs/{value}/status")
        assert r.status_code == 422
        assert r.json()["detail"][0]["msg"] == id_message(value)
    r = id_client.post("/technicians/T1/unavailable", headers={"Idempotency-Key": "key with space"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    ok = id_client.post("/technicians/T1/unavailable", headers={"Idempotency-Key": "c-123"})
    assert ok.json()["idem"] == "c-123"
