"""Reason codes (dispatch.reasons): each has its own sentence, and each is the plain string that
frames, the store and the service carry."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from dispatch.reasons import SENTENCES, Reason


@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_has_a_sentence_a_dispatcher_can_read(reason):
    """Every code has a sentence of words, not the code again: what a dispatcher reads."""
    sentence = reason.sentence
    assert isinstance(sentence, str) and len(sentence.split()) >= 5, sentence
    assert sentence != reason.value and reason.value not in sentence


def test_sentences_are_one_per_reason_and_all_different():
    """The sentence table holds exactly the enum's codes, and no two codes share a sentence."""
    assert set(SENTENCES) == set(Reason)
    assert len({r.sentence for r in Reason}) == len(Reason)


@pytest.mark.parametrize("reason", list(Reason))
def test_a_code_is_its_string(reason):
    """A code compares, hashes, formats and parses as its lower-snake-case string, as stored rows carry it."""
    code = reason.value
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", code), code
    assert reason == code and code == reason
    assert str(reason) == code and f"{reason}" == code
    assert {code: 1}[reason] == 1 and {reason: 1}[code] == 1
    assert Reason(code) is reason


STORED_CODES = {
    Reason.NEXT_DAY: "next_day",
    Reason.NO_TECHNICIAN_IN_REACH: "no_technician_in_reach",
    Reason.NO_CAPABLE_CENTRE: "no_capable_centre",
    Reason.CAPACITY_FULL: "capacity_full",
    Reason.NO_SKILL: "no_skill",
    Reason.UNREACHABLE_WINDOW: "unreachable_window",
    Reason.DEADLINE_UNREACHABLE: "deadline_unreachable",
    Reason.OUT_OF_REACH_TODAY: "out_of_reach_today",
    Reason.NO_FREE_TECHNICIAN: "no_free_technician",
}


@pytest.mark.parametrize("reason, stored", STORED_CODES.items())
def test_known_codes_keep_their_spelling(reason, stored):
    """The codes stored plans, KPIs and the service's answers already carry keep their spelling."""
    assert reason == stored


def test_codes_travel_as_plain_strings_in_json_and_frames():
    """JSON writes a code as its string, and a frame column of codes equals the same strings."""
    assert json.dumps({"reason_code": Reason.LATE}) == '{"reason_code": "late"}'
    frame = pd.DataFrame({"reason_code": [Reason.CAPACITY, Reason.NO_SKILL]})
    assert frame["reason_code"].eq(["capacity", "no_skill"]).all()
    assert frame["reason_code"].value_counts().to_dict() == {"capacity": 1, "no_skill": 1}


def test_an_unknown_code_is_refused():
    """A string that is no reason code does not parse."""
    with pytest.raises(ValueError):
        Reason("teleported")
