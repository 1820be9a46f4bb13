"""Progress of long work: a callback ``(stage, done, total)``, optionally with a running note
(``note=...``, e.g. the share dispatched within the hour so far) that the CLI shows on its bar
and the dashboard on ``st.progress``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Self

Progress = Callable[[str, int, int], None]
# What the stages call: (stage, done, total, note=""); ``noting`` turns a Progress into one.
Report = Callable[..., None]

class Note(str):
    """A running note: its English text (what the CLI's bar shows), with a key and the figures in
    it, so that an interface in another language words it itself (the dashboard's catalogue)."""

    key: str
    fields: dict[str, Any]

    def __new__(cls, key: str, text: str, **fields: Any) -> Self:
        note = super().__new__(cls, text)
        note.key, note.fields = key, fields
        return note


def noting(progress: Progress | None) -> Callable[..., None]:
    """The caller's progress callback as ``(stage, done, total, note="")``: the running-KPI note
    goes to a callback taking a ``note`` keyword (the CLI's bar and the dashboard do); a plain
    (stage, done, total) callback is called without it."""
    if progress is None:
        return lambda stage, done, total, note="": None
    try:
        params = inspect.signature(progress).parameters.values()
        takes_note = any(p.name == "note" or p.kind == p.VAR_KEYWORD for p in params)
    except (TypeError, ValueError):  # a builtin without a signature
        takes_note = False
    if takes_note:
        return lambda stage, done, total, note="": progress(stage, done, total, note=note)  # type: ignore[call-arg]
    return lambda stage, done, total, note="": progress(stage, done, total)
