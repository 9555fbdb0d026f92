"""Validation errors that name the file, row and column, the bad value and what is allowed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["DatasetError", "ValidationIssue"]


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One problem in the input. `row` is the line number in the CSV file (the header is 1)."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    allowed: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column}"
        got = "" if self.value is None else f": got {self.value!r}"
        return f"{where}{got}; {self.allowed}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "allowed": self.allowed,
        }


class DatasetError(ValueError):
    """Raised once with every problem found, so a user can fix them all in one go."""

    def __init__(self, issues: Iterable[ValidationIssue]) -> None:
        self.issues: tuple[ValidationIssue, ...] = tuple(issues)
        super().__init__(self._summary())

    def _summary(self) -> str:
        lines = [f"{len(self.issues)} problem(s) in the dataset:"]
        lines += [f"  - {issue}" for issue in self.issues]
        return "\n".join(lines)
