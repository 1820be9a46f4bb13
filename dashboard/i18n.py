"""The dashboard's language: Chinese first, English as a switch; lookups in ``catalogue``.

The language is set once at the top of every script run (``app.py``, from the sidebar's choice
or the ``lang`` query parameter) for the thread that runs it: Streamlit runs each session's
script in its own thread, so two tabs in two languages never see each other's choice. Code
outside a script run (tests, the CLI) gets the default unless it sets one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from dashboard import catalogue as C

LANGUAGES: dict[str, str] = {"zh": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"
_INDEX = {"zh": 0, "en": 1}
_local = threading.local()


def set_language(lang: str) -> str:
    """Use ``lang`` in this thread (an unknown one falls back to the default); returns it."""
    _local.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    return _local.lang


def language() -> str:
    return getattr(_local, "lang", DEFAULT_LANGUAGE)


def pick(entry: tuple[str, str]) -> str:
    return entry[_INDEX[language()]]


def t(key: str, **fields: Any) -> str:
    """The message ``key`` in the current language, with its fields filled in."""
    text = pick(C.MESSAGES[key])
    return text.format(**fields) if fields else text


def kpi_label(key: str) -> str:
    """A KPI's label (``dispatch.kpis`` key, or a scenario row such as ``plan_<kpi>``)."""
    if key in C.KPI_LABELS:
        return pick(C.KPI_LABELS[key])
    if key.startswith("plan_") and key[5:] in C.KPI_LABELS:
        return pick(C.KPI_LABELS["plan_prefix"]) + pick(C.KPI_LABELS[key[5:]])
    return key


def reason(code: str, fallback: str = "") -> str:
    """The sentence of a reason code (``dispatch.reasons.Reason``); the engine's own text when the
    code is unknown (it may carry detail the code does not)."""
    return pick(C.REASONS[code]) if code in C.REASONS else (fallback or code)


def state(code: str) -> str:
    return pick(C.STATES[code]) if code in C.STATES else code


def risk(code: str) -> str:
    return pick(C.RISKS[code]) if code in C.RISKS else code


def tier(level: int) -> str:
    return pick(C.TIERS[int(level)])


def mode(code: str) -> str:
    return pick(C.MODES[str(code)]) if str(code) in C.MODES else str(code)


def priority(level: int) -> str:
    return pick(C.PRIORITIES[int(level)]) if int(level) in C.PRIORITIES else str(level)


def weekday(index: int) -> str:
    """Monday is 0."""
    names = t("weekday")
    return ("周" + names[index]) if language() == "zh" else names.split()[index]


def place(places: Mapping[str, tuple[str, str]], adcode: str) -> str:
    """An administrative area's name (``places``: adcode -> (Chinese, pinyin)); the code if unknown."""
    return pick(places[adcode]) if adcode in places else adcode


def centre_name(centre: Any, places: Mapping[str, tuple[str, str]]) -> str:
    """A centre as a dispatcher names it: its place and kind (杭州市 市级中心, Hangzhou city centre),
    from its own adcodes; its name in the data when its place is not in the geography."""
    code = {1: centre.province_adcode, 2: centre.prefecture_adcode}.get(int(centre.tier), centre.county_adcode)
    if code not in places:
        return str(centre.name)
    sep = " " if language() == "zh" else " "
    return f"{place(places, code)}{sep}{pick(C.CENTRE_KINDS[int(centre.tier)])}"


class ProgressLabel:
    """A planner's progress report (stage, done, total, note), worded when it is shown, in the
    language of the script run showing it: a plan in a background thread reports it, the page
    shows it. A stage or a note the catalogue lacks is shown as reported."""

    def __init__(self, stage: str, done: int, total: int, note: str = "") -> None:
        self.stage, self.done, self.total, self.note = stage, done, total, note

    def __str__(self) -> str:
        stage = pick(C.PROGRESS[self.stage]) if self.stage in C.PROGRESS else self.stage
        key = "note." + str(getattr(self.note, "key", ""))
        note = pick(C.PROGRESS[key]).format(**self.note.fields) if key in C.PROGRESS else str(self.note)  # type: ignore[attr-defined]
        return f"{stage}: {self.done:,}/{self.total:,}" + (f" · {note}" if note else "")

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def frozen(func: Callable[[Any], str]) -> Callable[[Any], str]:
    """``func`` bound to the language in use now: a widget's ``format_func`` may be called again
    outside the script run that made it (Streamlit's test harness does), in another thread."""
    lang = language()

    def call(value: Any) -> str:
        before = getattr(_local, "lang", None)
        _local.lang = lang
        try:
            return func(value)
        finally:
            if before is None:
                del _local.lang
            else:
                _local.lang = before

    return call
