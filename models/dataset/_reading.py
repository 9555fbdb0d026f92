"""Reading: a contract file as text rows (CSV -> one dict of column -> text per row), with the
file-level checks (present, UTF-8, a header with the required columns)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pandas as pd

from models.dataset._contract import FILES, OPTIONAL_FILES
from models.errors import ValidationIssue

__all__ = ["read_rows"]


def read_rows(directory: Path, key: str, issues: list[ValidationIssue]) -> list[dict[str, str]]:
    """The text rows of file `key` in `directory` (header excluded; row i is CSV line i + 2).

    Problems with the file as a whole go to `issues`, and then there are no rows: a missing
    required file, an unreadable file, or a header without a required column."""
    file = FILES[key]
    path = directory / file
    if not path.exists():
        if key not in OPTIONAL_FILES:
            issues.append(ValidationIssue(file, None, None, None, "the file is required"))
        return []
    rows = _read_csv(path, issues)
    if rows is None:
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        header = [c.strip() for c in next(csv.reader(handle), [])]
    if not _check_columns(file, header, issues):
        return []
    return rows


def _read_csv(path: Path, issues: list[ValidationIssue]) -> list[dict[str, str]] | None:
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError:
        issues.append(ValidationIssue(path.name, None, None, None, "a UTF-8 encoded CSV file"))
        return None
    except pd.errors.EmptyDataError:
        issues.append(ValidationIssue(path.name, None, None, None, "a header row is required"))
        return None
    except pd.errors.ParserError as exc:
        issues.append(ValidationIssue(path.name, None, None, None, f"a valid CSV file ({exc})"))
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    return cast(list[dict[str, str]], frame.to_dict("records"))


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


def _check_columns(file: str, header: list[str], issues: list[ValidationIssue]) -> bool:
    schema = _SCHEMAS[file.removesuffix(".csv")]
    present = set(header)
    ok = True
    for column in schema.required:
        if column not in present:
            issues.append(ValidationIssue(file, 1, column, None, "a required column is missing"))
            ok = False
    for group in schema.place_groups:
        if not present.intersection(group):
            issues.append(
                ValidationIssue(
                    file,
                    1,
                    " or ".join(group),
                    None,
                    "a location column is required (lat,lon or the code column)",
                )
            )
            ok = False
    return ok
