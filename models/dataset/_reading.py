"""Reading: a contract file as a `Table` of text rows (one dict of column -> text per row),
with the file-level checks (present, readable text, a delimiter, a header with the required
columns).

CSV files are read as Excel writes them: UTF-8 with or without a byte-order mark, or Windows
cp1252 when the bytes are not UTF-8 (with a `DatasetEncodingWarning`); `;` or `,` as the
delimiter, detected per file from the header row; header names in any case and with
surrounding spaces. The workbook reader (`_excel`) hands its cells to `table_from_records`,
so both paths end in the same text rows and the same row parsers."""

from __future__ import annotations

import codecs
import csv
import io
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from models.dataset._contract import FILES, OPTIONAL_FILES
from models.errors import ValidationIssue

__all__ = [
    "DELIMITERS",
    "DatasetEncodingWarning",
    "Table",
    "read_rows",
    "table_from_records",
]

# The delimiters a file may use: `,` (the contract's, and Excel's "CSV UTF-8") and `;`
# (Excel's default wherever the decimal separator is a comma, as in Danish).
DELIMITERS = (",", ";")

_EXPORT_HINT = "save from Excel as 'CSV UTF-8 (kommasepareret)'"


class DatasetEncodingWarning(UserWarning):
    """A dataset file was read in an encoding other than UTF-8 (a guess the user should know
    about: the same bytes would read differently in another code page)."""


@dataclass(frozen=True)
class Table:
    """The text rows of one contract file or sheet.

    `label` names the source in messages (`children.csv`, `book.xlsx[children]`); `lines[i]`
    is the line (or sheet row) of `rows[i]`, the header being 1; `decimal_comma` says whether
    numbers may use `,` as the decimal separator (not where `,` is the delimiter)."""

    label: str
    rows: list[dict[str, str]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    decimal_comma: bool = False


def read_rows(directory: Path, key: str, issues: list[ValidationIssue]) -> Table:
    """The text rows of the CSV file of `key` in `directory`.

    Problems with the file as a whole go to `issues`, and then the table has no rows: a
    missing required file, bytes that are neither UTF-8 nor cp1252, no delimiter, or a header
    without a required column. A row wider than the header is a problem and left out."""
    file = FILES[key]
    path = directory / file
    if not path.exists():
        if key not in OPTIONAL_FILES:
            issues.append(ValidationIssue(file, None, None, None, "the file is required"))
        return Table(file)
    text = _decode(path.read_bytes(), file, issues)
    if text is None:
        return Table(file)
    first_line = _first_line(text)
    if not first_line.strip():
        issues.append(ValidationIssue(file, None, None, None, "a header row is required"))
        return Table(file)
    delimiter = _delimiter(first_line, file, issues)
    if delimiter is None:
        return Table(file)
    records = _numbered(text, delimiter)
    return table_from_records(
        file, key, records, issues, decimal_comma=delimiter == ";", strict_width=True
    )


def _first_line(text: str) -> str:
    # Excel for Mac ends lines with a bare CR, so both ends count.
    ends = [i for i in (text.find("\n"), text.find("\r")) if i >= 0]
    return text[: min(ends)] if ends else text


def _numbered(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on: a quoted value may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    for record in reader:
        yield start, record
        start = reader.line_num + 1


def _decode(data: bytes, file: str, issues: list[ValidationIssue]) -> str | None:
    """The text of a file: UTF-8 (a BOM is dropped), else cp1252 with a warning."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        issues.append(
            ValidationIssue(
                file,
                None,
                None,
                "UTF-16 text (Excel's 'Unicode Text')",
                f"a CSV file in UTF-8 or Windows cp1252; {_EXPORT_HINT}",
            )
        )
        return None
    bom = data.startswith(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    if bom:  # the file says it is UTF-8, so a cp1252 reading would only hide the damage
        issues.append(_bad_bytes(file, data, utf8_error.start, "UTF-8 text, as its BOM says"))
        return None
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        issues.append(
            _bad_bytes(file, data, exc.start, f"UTF-8 or Windows cp1252 text; {_EXPORT_HINT}")
        )
        return None
    line = data.count(b"\n", 0, utf8_error.start) + 1
    warnings.warn(
        f"{file}: not UTF-8 (first non-UTF-8 byte on line {line}); read as Windows cp1252. "
        f"Check letters such as æ, ø, å, or {_EXPORT_HINT}",
        DatasetEncodingWarning,
        stacklevel=2,
    )
    return text


def _bad_bytes(file: str, data: bytes, position: int, allowed: str) -> ValidationIssue:
    line = data.count(b"\n", 0, position) + 1
    column = position - (data.rfind(b"\n", 0, position) + 1) + 1
    got = f"byte 0x{data[position]:02X} at byte {column} of the line"
    return ValidationIssue(file, line, None, got, allowed)


def _delimiter(first_line: str, file: str, issues: list[ValidationIssue]) -> str | None:
    """`;` or `,`, whichever separates the header's names: names never contain either, so
    the one that occurs more often is the delimiter."""
    counts = {d: _count_outside_quotes(first_line, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    if counts[best]:
        return best
    seen = "tabs" if "\t" in first_line else "neither"
    issues.append(
        ValidationIssue(
            file,
            1,
            None,
            first_line if len(first_line) <= 60 else first_line[:57] + "...",
            f"a header row of column names separated by ';' or ',' (found {seen}); "
            f"{_EXPORT_HINT} or 'CSV (semikolonsepareret)'",
        )
    )
    return None


def _count_outside_quotes(line: str, char: str) -> int:
    if '"' not in line:
        return line.count(char)
    return sum(part.count(char) for part in line.split('"')[::2])


def table_from_records(
    label: str,
    key: str,
    records: Iterable[tuple[int, Sequence[str]]],
    issues: list[ValidationIssue],
    *,
    decimal_comma: bool,
    strict_width: bool,
) -> Table:
    """A `Table` from numbered records of text, the first being the header.

    Header names are compared in lower case without surrounding spaces. Blank records (an
    empty line, or only empty fields as Excel writes for a formatted empty row) are skipped.
    With `strict_width` a record wider than the header is a problem (in CSV it means a value
    with the delimiter in it was not quoted); without, cells beyond the header are ignored.
    A shorter record has empty values in the columns it lacks."""
    numbered = iter(records)
    first = next(numbered, None)
    if first is None:
        issues.append(ValidationIssue(label, None, None, None, "a header row is required"))
        return Table(label)
    header = [name.strip().lower() for name in first[1]]
    width = len(header)  # with any trailing empty names, which Excel also writes in rows
    while header and not header[-1]:
        header.pop()
    if not _check_header(label, key, header, issues):
        return Table(label)
    rows: list[dict[str, str]] = []
    lines: list[int] = []
    for line, record in numbered:
        if not record or not "".join(record).strip():
            continue
        if strict_width and len(record) > width:
            # Its values are shifted, so parsing it would only add misleading problems.
            issues.append(_too_wide(label, line, len(record), width, decimal_comma))
            continue
        rows.append(dict(zip(header, record, strict=False)))
        lines.append(line)
    return Table(label, rows, lines, decimal_comma)


def _too_wide(label: str, line: int, got: int, width: int, semicolon: bool) -> ValidationIssue:
    delimiter = ";" if semicolon else ","
    return ValidationIssue(
        label,
        line,
        None,
        f"{got} fields",
        f"at most {width} fields, as in the header; a value containing '{delimiter}' "
        f"(a list such as needs, or a decimal comma) must be in double quotes",
    )


@dataclass(frozen=True)
class _Schema:
    required: tuple[str, ...]
    place_groups: tuple[tuple[str, ...], ...] = ()  # at least one column of each group present


_SCHEMAS = {
    "children": _Schema(
        ("child_id", "kommune_code", "age", "support_level"),
        (("home_lat", "home_postcode"),),
    ),
    "network": _Schema(("person_id", "child_id", "relation", "status"), (("lat", "postcode"),)),
    "families": _Schema(
        ("family_id", "kommune_code", "level", "places", "occupied", "min_age", "max_age"),
        (("lat", "postcode"),),
    ),
    "institutions": _Schema(
        ("institution_id", "kommune_code", "kind", "places", "occupied", "min_age", "max_age"),
        (("lat", "postcode"),),
    ),
    "exclusions": _Schema(("child_id", "option_id")),
    "keep_away": _Schema(("child_id", "min_km"), (("lat", "postcode"),)),
    "placements": _Schema(("child_id", "option_id", "kind", "start_date")),
}


def _check_header(label: str, key: str, header: list[str], issues: list[ValidationIssue]) -> bool:
    schema = _SCHEMAS[key]
    present = set(header)
    ok = True
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            issues.append(ValidationIssue(label, 1, name, None, "each column once"))
            ok = False
        seen.add(name)
    for column in schema.required:
        if column not in present:
            issues.append(ValidationIssue(label, 1, column, None, "a required column is missing"))
            ok = False
    for group in schema.place_groups:
        if not present.intersection(group):
            issues.append(
                ValidationIssue(
                    label,
                    1,
                    " or ".join(group),
                    None,
                    "a location column is required (lat,lon or the code column)",
                )
            )
            ok = False
    return ok
