"""One exception hierarchy for everything a user can get wrong.

Messages name the file, row, field, value and what would be valid, so a dispatcher can fix the
input without reading code. The CLI turns these into an exit code and a readable report.
"""

from __future__ import annotations

from dataclasses import dataclass


class DispatchError(Exception):
    """Base of every error the planner raises on purpose."""


class ModelError(DispatchError, ValueError):
    """A domain value was built with an invalid field."""

    def __init__(self, entity: str, field: str, value: object, expected: str) -> None:
        self.entity = entity
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{entity}: field '{field}' has value {value!r}; expected {expected}")


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file.

    ``row`` is the line number a spreadsheet shows (the header is row 1, the first record row 2);
    ``None`` when the problem concerns the whole file."""

    file: str
    row: int | None
    column: str | None
    value: object
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        value = "" if self.value is None else f" (value {self.value!r})"
        return f"{where}: {self.message}{value}"


class ValidationError(DispatchError):
    """An input failed validation; carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        head = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = len(self.problems) - 50
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{len(self.problems)} problem(s) in the input:\n{head}{tail}")


class InputError(DispatchError):
    """A value the user gave (an option, a name, an id) is not one the planner knows; the
    message says what would be valid. The CLI exits with the invalid-input code."""


class BenchmarkDataError(DispatchError):
    """A benchmark instance file is malformed."""
