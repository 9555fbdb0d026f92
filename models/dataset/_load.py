"""Loading: read every file as text, check every row, then check across files; one
`DatasetError` lists every problem, and only a dataset with none becomes a `Dataset`.

A dataset is a directory of CSV files or an .xlsx workbook with one sheet per file; both are
read into the same text tables (`_reading`, `_excel`), so the checks do not know which."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from models.dataset._checks import check_dataset
from models.dataset._contract import FILES, ID_COLUMNS, PlaceResolver
from models.dataset._dataset import Dataset
from models.dataset._excel import WORKBOOK_SUFFIXES, Workbook
from models.dataset._parsers import parse_rows
from models.dataset._reading import Table, read_rows
from models.errors import DatasetError, ValidationIssue

__all__ = ["load_dataset"]


def load_dataset(directory: str | Path, places: PlaceResolver) -> Dataset:
    """Load and validate a dataset directory of CSV files, or an .xlsx workbook with one
    sheet per contract file; raises `DatasetError` listing every problem.

    A file read as Windows cp1252 rather than UTF-8 gives one `DatasetEncodingWarning`."""
    path = Path(directory)
    issues: list[ValidationIssue] = []
    tables = _read_tables(path, issues)
    declared: dict[str, set[str]] = {}
    parsed = {key: _parse_table(key, tables[key], places, issues, declared) for key in FILES}
    check_dataset(parsed, declared, issues)
    if issues:
        raise DatasetError(_relabelled(issues, tables))
    return Dataset(
        placements=tuple(p for _, p in parsed["placements"]),
        children=tuple(c for _, c in parsed["children"]),
        network=tuple(p for _, p in parsed["network"]),
        families=tuple(f for _, f in parsed["families"]),
        institutions=tuple(i for _, i in parsed["institutions"]),
        exclusions=tuple(e for _, e in parsed["exclusions"]),
        keep_away=tuple(k for _, k in parsed["keep_away"]),
    )


def _read_tables(path: Path, issues: list[ValidationIssue]) -> dict[str, Table]:
    if path.is_dir():
        return {key: read_rows(path, key, issues) for key in FILES}
    if path.is_file() and path.suffix.lower() in WORKBOOK_SUFFIXES:
        with Workbook(path, issues) as book:
            tables = {key: book.read(key) for key in FILES}
        if any(i.file == path.name for i in issues):
            raise DatasetError(issues)  # the workbook itself is unreadable
        return tables
    allowed = "an existing dataset directory, or an .xlsx workbook with one sheet per file"
    if path.suffix.lower() == ".xls":
        allowed = "an .xlsx workbook: Excel 97-2003 .xls cannot be read, save it as .xlsx"
    raise DatasetError([ValidationIssue(str(path), None, None, None, allowed)])


def _parse_table(
    key: str,
    table: Table,
    places: PlaceResolver,
    issues: list[ValidationIssue],
    declared: dict[str, set[str]],
) -> list[tuple[int, Any]]:
    """Parsed records of one file with their line numbers (header is line 1).

    `declared` collects the ids each file names even on rows with other problems, so that
    one bad cell does not also make every reference to that row look unknown.
    """
    id_column = ID_COLUMNS.get(key)
    if id_column:
        declared[key] = {str(v.get(id_column) or "").strip() for v in table.rows} - {""}
    return parse_rows(
        key,
        table.rows,
        places,
        issues,
        lines=table.lines,
        decimal_comma=table.decimal_comma,
    )


def _relabelled(issues: list[ValidationIssue], tables: dict[str, Table]) -> list[ValidationIssue]:
    """Issues naming a contract file name the sheet it was read from instead (the row and
    cross-file checks speak of `children.csv` whatever the source)."""
    labels = {FILES[key]: t.label for key, t in tables.items() if t.label != FILES[key]}
    if not labels:
        return issues
    return [replace(i, file=labels[i.file]) if i.file in labels else i for i in issues]
