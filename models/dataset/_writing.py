"""Writing: a `Dataset` in the contract's CSV form; loading it again gives the same records."""

from __future__ import annotations

import csv
from dataclasses import fields
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any

from models.dataset._contract import FILES
from models.dataset._dataset import Dataset
from models.domain import (
    Child,
    Exclusion,
    Family,
    Institution,
    KeepAway,
    NetworkPerson,
    Place,
    Placement,
)
from models.enums import FosterLevel

__all__ = ["write_dataset"]


def _fmt(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, FosterLevel):
        return value.label
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, frozenset):
        return ";".join(sorted(value))
    if isinstance(value, tuple):
        return ";".join(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _place_columns(place: Place | None, lat: str, lon: str, code: str) -> dict[str, str]:
    if place is None:
        return {lat: "", lon: "", code: ""}
    return {
        lat: _fmt(place.lat),
        lon: _fmt(place.lon),
        code: place.postcode or place.school_id or "",
    }


def _child_row(c: Child) -> dict[str, str]:
    row = {
        "child_id": c.child_id,
        "kommune_code": c.kommune_code,
        "age": _fmt(c.age),
        "support_level": _fmt(c.support_level),
        "needs": _fmt(c.needs),
    }
    row |= _place_columns(c.home, "home_lat", "home_lon", "home_postcode")
    row |= _place_columns(c.school, "school_lat", "school_lon", "school_id")
    row |= _place_columns(c.daycare, "daycare_lat", "daycare_lon", "daycare_postcode")
    row |= {
        "sibling_group": _fmt(c.sibling_group),
        "acute": _fmt(c.acute),
        "combination_ok": _fmt(c.combination_ok),
        "secure_decision": _fmt(c.secure_decision),
        "wishes": _fmt(c.wishes),
        "arrival": _fmt(c.arrival),
    }
    return row


def _generic_row(record: Any) -> dict[str, str]:
    row: dict[str, str] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if f.name == "place":
            row |= _place_columns(value, "lat", "lon", "postcode")
        elif f.name == "paused":
            row["status"] = "paused" if value else "active"
        else:
            row[f.name] = _fmt(value)
    return row


def write_dataset(dataset: Dataset, directory: str | Path) -> None:
    """Write a dataset in the contract's CSV form; loading it again gives the same records."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[dict[str, str]]] = {
        "children": [_child_row(c) for c in dataset.children],
        "network": [_generic_row(p) for p in dataset.network],
        "families": [_generic_row(f) for f in dataset.families],
        "institutions": [_generic_row(i) for i in dataset.institutions],
        "exclusions": [_generic_row(e) for e in dataset.exclusions],
        "keep_away": [_generic_row(k) for k in dataset.keep_away],
    }
    if dataset.placements:
        tables["placements"] = [_generic_row(p) for p in dataset.placements]
    elif (directory / FILES["placements"]).exists():
        (directory / FILES["placements"]).unlink()  # a stale file would contradict occupied
    columns = {
        "children": list(_child_row(_EMPTY_CHILD)),
        "network": _record_columns(NetworkPerson),
        "families": _record_columns(Family),
        "institutions": _record_columns(Institution),
        "exclusions": _record_columns(Exclusion),
        "keep_away": _record_columns(KeepAway),
        "placements": _record_columns(Placement),
    }
    for key, rows in tables.items():
        path = directory / FILES[key]
        tmp = path.with_suffix(".csv.tmp")
        with tmp.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns[key], lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(path)


def _record_columns(cls: type) -> list[str]:
    names: list[str] = []
    for f in fields(cls):
        if f.name == "place":
            names += ["lat", "lon", "postcode"]
        elif f.name == "paused":
            names.append("status")
        else:
            names.append(f.name)
    return names


_EMPTY_CHILD = Child("", "", 0, 1, Place(0.0, 0.0))
