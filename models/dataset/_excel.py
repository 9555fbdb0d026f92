"""Reading an .xlsx workbook with one sheet per contract file (sheet `children` for
`children.csv`, and so on; names compared in lower case, without surrounding spaces or a
`.csv` ending).

Excel cells come typed; each becomes the text the CSV path would hold for it (3.0 in a
whole-number column is `3`, a date is `YYYY-MM-DD`, TRUE is `1`), so one set of row parsers
checks both and their messages stay the same. A message names the sheet as
`book.xlsx[children]` and the row as Excel numbers it."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from models.dataset._contract import FILES, OPTIONAL_FILES
from models.dataset._reading import Table, table_from_records
from models.errors import ValidationIssue

__all__ = ["WORKBOOK_SUFFIXES", "Workbook", "cell_text"]

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


class Workbook:
    """An open workbook (read-only: rows stream from the file, so a national dataset is not
    held twice in memory); use it as a context manager so the file is closed."""

    def __init__(self, path: Path, issues: list[ValidationIssue]) -> None:
        self.path = path
        self._issues = issues
        self._book: Any = None
        self._sheets: dict[str, Any] = {}
        # openpyxl only for a workbook: it takes 0.2 s to import, a CSV dataset never needs it.
        from openpyxl import load_workbook
        from openpyxl.utils.exceptions import InvalidFileException

        try:
            self._book = load_workbook(path, read_only=True, data_only=True)
        except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            issues.append(
                ValidationIssue(
                    path.name,
                    None,
                    None,
                    None,
                    f"an .xlsx workbook Excel can open ({type(exc).__name__}: {exc})",
                )
            )
            return
        for sheet in self._book.worksheets:
            name = sheet.title.strip().lower().removesuffix(".csv")
            if name in self._sheets:
                issues.append(
                    ValidationIssue(
                        f"{path.name}[{sheet.title}]",
                        None,
                        None,
                        None,
                        f"one sheet named {name} (sheet names are compared in lower case)",
                    )
                )
            self._sheets[name] = sheet

    def __enter__(self) -> Workbook:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._book is not None:
            self._book.close()

    def read(self, key: str) -> Table:
        """The text rows of the sheet of `key`; problems go to the workbook's issues."""
        label = f"{self.path.name}[{key}]"
        if self._book is None:
            return Table(label)
        sheet = self._sheets.get(key)
        if sheet is None:
            if key not in OPTIONAL_FILES:
                found = ", ".join(s.title for s in self._book.worksheets) or "none"
                self._issues.append(
                    ValidationIssue(
                        label,
                        None,
                        None,
                        None,
                        f"a sheet named {key} is required, for {FILES[key]} (sheets: {found})",
                    )
                )
            return Table(label)
        # The stored dimension may be missing or wrong (some writers put A1); without it,
        # rows are read to the real end of the sheet.
        sheet.reset_dimensions()
        label = f"{self.path.name}[{sheet.title}]"
        return table_from_records(
            label, key, _records(sheet), self._issues, decimal_comma=True, strict_width=False
        )


def _records(sheet: Any) -> Iterator[tuple[int, list[str]]]:
    for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        yield number, _texts(values)


def _texts(values: Sequence[object]) -> list[str]:
    return [cell_text(v) for v in values]


def cell_text(value: object) -> str:
    """The CSV text of one typed cell value."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Excel keeps every number as a float: 3.0 typed in a whole-number column is 3.
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        # A date cell reads as midnight; a time of day would not be an ISO date, and stays
        # visible so the date parser names it.
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)
