"""The one id rule: what a centre, technician, call or job id may be, in files and in the API alike.

An id is 1 to ``ID_MAX_LEN`` characters (the store's key column is ``String(100)``): letters and
digits of any script (``T1``, ``技师甲``, ``Ｒ１``), combining marks after them, and the
punctuation ``- _ . : ·`` inside. It starts with a letter or a digit, so it is never empty,
never ``.``/``..``, and never starts a spreadsheet formula.

Refused, each with its own reason: control characters, bidirectional overrides and isolates
(U+202A-U+202E, U+2066-U+2069) that make an id display as another, zero-width characters
(U+200B-U+200D, U+2060, U+FEFF) that make two ids look alike, any whitespace (leading, trailing
or inside: an id travels in URL paths and log lines), ``/ # ?`` and other URL-significant
punctuation, unassigned and private-use code points.

``id_problem`` says what is wrong (or None); ``check_id`` raises ``ValueError`` with the full
sentence; the file validator (``dispatch.io``) and the service's schemas
(``dispatch.service.schemas``) both use them, so a file and a request get the same sentence.
``ID_PATTERN`` is the same rule as a regular expression for the OpenAPI document (ECMA-262 with
the ``u`` flag / Rust syntax: ``\\p{L}`` letters, ``\\p{M}`` marks, ``\\p{N}`` digits).
"""

from __future__ import annotations

import re
import unicodedata

ID_MAX_LEN = 100

# Punctuation allowed inside an id (never first).
ID_PUNCTUATION = "-_.:·"

ID_RULE = (
    f"an id is 1 to {ID_MAX_LEN} letters or digits of any script (e.g. T1, 技师甲), with - _ . : · "
    "allowed inside, starting with a letter or digit; no spaces, control, invisible or "
    "direction-changing characters"
)

ID_PATTERN = (
    r"^[\p{L}\p{N}][\p{L}\p{M}\p{N}" + "".join("\\" + c if c in "-." else c for c in ID_PUNCTUATION)
    + r"]{0," + str(ID_MAX_LEN - 1) + r"}$"
)

# The common case, checked at C speed: letters and digits (str.isalnum) and the punctuation.
_FAST = re.compile(r"[^\W_][\w\-.:·]{0," + str(ID_MAX_LEN - 1) + r"}")

_BIDI = frozenset(range(0x202A, 0x202F)) | frozenset(range(0x2066, 0x206A)) | {0x200E, 0x200F, 0x061C}
_ZERO_WIDTH = frozenset({0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x180E})


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


def _bad_char(ch: str, first: bool) -> str | None:
    """Why ``ch`` may not stand in an id (at the start, when ``first``), or None."""
    cp = ord(ch)
    cat = unicodedata.category(ch)
    if cp in _BIDI:
        return f"a direction-changing character {_describe(ch)}"
    if cp in _ZERO_WIDTH:
        return f"an invisible zero-width character {_describe(ch)}"
    if cat == "Cc":
        return f"a control character {_describe(ch)}"
    if cat[0] == "Z" or ch.isspace():
        return f"whitespace {_describe(ch)}"
    if cat == "Cf":
        return f"an invisible formatting character {_describe(ch)}"
    if cat in ("Co", "Cn", "Cs"):
        return f"an unassigned or private-use code point {_describe(ch)}"
    if cat[0] in "LN":
        return None
    if cat[0] == "M":
        return "a combining mark with no letter before it" if first else None
    if ch in ID_PUNCTUATION:
        return f"{ch!r} at the start (an id starts with a letter or digit)" if first else None
    return f"the character {ch!r} ({_describe(ch)})"


def id_problem(value: object) -> str | None:
    """What makes ``value`` an invalid id, in a few words; None for a valid id."""
    if not isinstance(value, str):
        return f"it is a {type(value).__name__}, not text"
    if _FAST.fullmatch(value):
        return None
    if value == "":
        return "it is empty"
    if len(value) > ID_MAX_LEN:
        return f"it is {len(value)} characters long"
    for pos, ch in enumerate(value):
        why = _bad_char(ch, pos == 0)
        if why is not None:
            if why.startswith("whitespace") and pos in (0, len(value) - 1):
                where = "leading" if pos == 0 else "trailing"
                return f"it has {where} {why}"
            return f"it contains {why} at position {pos + 1}"
    return None


def id_message(value: object) -> str | None:
    """The full sentence for an invalid id (the same in files and in the API), or None."""
    why = id_problem(value)
    return None if why is None else f"is not a valid id: {why}; {ID_RULE}"


def is_valid_id(value: object) -> bool:
    return id_problem(value) is None


def check_id(value: str) -> str:
    """``value`` if it is a valid id, else ``ValueError`` with the sentence (a pydantic validator)."""
    message = id_message(value)
    if message is not None:
        raise ValueError(message)
    return value
