"""Loading: read every file as text, check every row, then check across files; one
`DatasetError` lists every problem, and only a dataset with none becomes a `Dataset`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from models.dataset._checks import check_dataset
from models.dataset._contract import FILES, ID_COLUMNS, PlaceResolver
from models.dataset._dataset import Dataset
from models.dataset._parsers import parse_rows
from models.dataset._reading import read_rows
from models.errors import DatasetError, ValidationIssue

__all__ = ["load_dataset"]


def load_dataset(directory: str | Path, places: PlaceResolver) -> Dataset:
    """Load and validate a dataset directory; raises `DatasetError` listing every problem."""
    directory = Path(directory)
    issues: list[ValidationIssue] = []
    if not directory.is_dir():
        raise DatasetError(
            [ValidationIssue(str(directory), None, None, None, "an existing dataset directory")]
        )
    declared: dict[str, set[str]] = {}
    parsed = {key: _parse_file(directory, key, places, issues, declared) for key in FILES}
    check_dataset(parsed, declared, issues)
    if issues:
        raise DatasetError(issues)
    return Dataset(
        placements=tuple(p for _, p in parsed["placements"]),
        children=tuple(c for _, c in parsed["children"]),
        network=tuple(p for _, p in parsed["network"]),
        families=tuple(f for _, f in parsed["families"]),
        institutions=tuple(i for _, i in parsed["institutions"]),
        exclusions=tuple(e for _, e in parsed["exclusions"]),
        keep_away=tuple(k for _, k in parsed["keep_away"]),
    )


def _parse_file(
    directory: Path,
    key: str,
    places: PlaceResolver,
    issues: list[ValidationIssue],
    declared: dict[str, set[str]],
) -> list[tuple[int, Any]]:
    """Parsed records of one file with their CSV line numbers (header is line 1).

    `declared` collects the ids each file names even on rows with other problems, so that
    one bad cell does not also make every reference to that row look unknown.
    """
    rows = read_rows(directory, key, issues)
    id_column = ID_COLUMNS.get(key)
    if id_column:
        declared[key] = {str(v.get(id_column) or "").strip() for v in rows} - {""}
    return parse_rows(key, rows, places, issues)
