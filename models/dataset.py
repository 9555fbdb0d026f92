"""The dataset contract (DESIGN.md §3): loading, validating and writing CSV files.

Loading reads every file as text, checks every field, and raises one `DatasetError` that
lists every problem found (file, row, column, value, what is allowed). Only a dataset with no
problems becomes domain records, so nothing downstream ever sees half-valid data.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pandas as pd

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
from models.enums import (
    NEEDS,
    FosterLevel,
    InstitutionKind,
    Kind,
    NetworkStatus,
    PlacementStatus,
    Relation,
)
from models.errors import DatasetError, ValidationIssue

__all__ = [
    "DENMARK_BBOX",
    "FILES",
    "Dataset",
    "PlaceResolver",
    "combination_pool",
    "inside_denmark",
    "load_dataset",
    "occupancy_by_pool",
    "parse_record",
    "write_dataset",
]

# Denmark incl. Bornholm and Skagen, with a small margin; Faroe Islands and Greenland excluded.
DENMARK_BBOX = (54.5, 57.8, 8.0, 15.3)  # lat_min, lat_max, lon_min, lon_max

FILES = {
    "children": "children.csv",
    "network": "network.csv",
    "families": "families.csv",
    "institutions": "institutions.csv",
    "exclusions": "exclusions.csv",
    "keep_away": "keep_away.csv",
    "placements": "placements.csv",
}
_OPTIONAL_FILES = {"exclusions", "keep_away", "placements"}
_KOMMUNE = re.compile(r"^\d{3}$")
_POSTCODE = re.compile(r"^\d{4}$")
_MAX_AGE = 22


def inside_denmark(lat: float, lon: float) -> bool:
    lat_min, lat_max, lon_min, lon_max = DENMARK_BBOX
    return lat_min <= lat <= lat_max and lon_min <= lon <= lon_max


class PlaceResolver(Protocol):
    """Offline lookups the loader needs; `geo.Gazetteer` implements it."""

    def postcode_point(self, postcode: str) -> tuple[float, float] | None: ...

    def school_point(self, school_id: str) -> tuple[float, float] | None: ...

    def has_kommune(self, kommune_code: str) -> bool: ...


@dataclass(frozen=True)
class Dataset:
    children: tuple[Child, ...]
    network: tuple[NetworkPerson, ...]
    families: tuple[Family, ...]
    institutions: tuple[Institution, ...]
    exclusions: tuple[Exclusion, ...] = ()
    keep_away: tuple[KeepAway, ...] = ()
    placements: tuple[Placement, ...] = ()

    @cached_property
    def active_placement(self) -> dict[str, Placement]:
        """Each currently placed child's active placement."""
        return {p.child_id: p for p in self.placements if p.active}

    @cached_property
    def child_by_id(self) -> dict[str, Child]:
        return {c.child_id: c for c in self.children}

    @cached_property
    def sibling_groups(self) -> dict[str, tuple[str, ...]]:
        groups: dict[str, list[str]] = {}
        for c in self.children:
            if c.sibling_group:
                groups.setdefault(c.sibling_group, []).append(c.child_id)
        return {g: tuple(ids) for g, ids in groups.items()}

    @cached_property
    def network_by_child(self) -> dict[str, tuple[NetworkPerson, ...]]:
        by_child: dict[str, list[NetworkPerson]] = {}
        for person in self.network:
            by_child.setdefault(person.child_id, []).append(person)
        return {k: tuple(v) for k, v in by_child.items()}

    def option_ids(self) -> set[str]:
        ids = {f.family_id for f in self.families}
        ids |= {i.institution_id for i in self.institutions}
        ids |= {p.person_id for p in self.network}
        return ids


# --------------------------------------------------------------------------- reading


T = TypeVar("T")
E = TypeVar("E", bound=Enum)


class _Row:
    """Typed access to one CSV row that records every problem instead of stopping."""

    def __init__(
        self,
        file: str,
        line: int | None,
        values: Mapping[str, str],
        issues: list[ValidationIssue],
    ) -> None:
        self.file = file
        self.line = line
        self.values = values
        self.issues = issues
        self.ok = True

    def _issue(self, column: str | None, value: str | None, allowed: str) -> None:
        self.ok = False
        self.issues.append(ValidationIssue(self.file, self.line, column, value, allowed))

    def raw(self, column: str) -> str:
        return (self.values.get(column) or "").strip()

    def text(self, column: str, required: bool = False) -> str | None:
        value = self.raw(column)
        if not value:
            if required:
                self._issue(column, None, "a value is required")
            return None
        return value

    def integer(
        self, column: str, lo: int, hi: int | None, required: bool = False, default: int = 0
    ) -> int:
        value = self.raw(column)
        if not value:
            if required:
                self._issue(column, None, f"a whole number {_range(lo, hi)} is required")
            return default
        try:
            number = int(value)
        except ValueError:
            self._issue(column, value, f"a whole number {_range(lo, hi)}")
            return default
        if number < lo or (hi is not None and number > hi):
            self._issue(column, value, f"a whole number {_range(lo, hi)}")
            return default
        return number

    def real(self, column: str, lo: float, hi: float | None = None) -> float | None:
        value = self.raw(column)
        if not value:
            return None
        try:
            number = float(value)
        except ValueError:
            self._issue(column, value, f"a number {_range(lo, hi)}")
            return None
        if not math.isfinite(number) or number < lo or (hi is not None and number > hi):
            self._issue(column, value, f"a number {_range(lo, hi)}")
            return None
        return number

    def flag(self, column: str, default: bool = False) -> bool:
        value = self.raw(column)
        if not value:
            return default
        if value not in ("0", "1"):
            self._issue(column, value, "0 or 1")
            return default
        return value == "1"

    def choice(self, column: str, enum: type[E], required: bool = True) -> E | None:
        value = self.raw(column)
        allowed = ", ".join(
            str(m.value) if not isinstance(m.value, int) else m.name.lower() for m in enum
        )
        if not value:
            if required:
                self._issue(column, None, f"one of {allowed} is required")
            return None
        for member in enum:
            if value == (member.name.lower() if isinstance(member.value, int) else member.value):
                return member
        self._issue(column, value, f"one of {allowed}")
        return None

    def kommune(self, column: str, places: PlaceResolver) -> str:
        value = self.raw(column)
        if not _KOMMUNE.match(value):
            self._issue(column, value or None, "a 3-digit kommune code, e.g. 860")
        elif not places.has_kommune(value):
            self._issue(column, value, "a kommune code from dk_kommuner.csv (98 kommuner)")
        return value

    def needs(self, column: str) -> frozenset[str]:
        items = _split(self.raw(column))
        unknown = [n for n in items if n not in NEEDS]
        if unknown:
            self._issue(column, ";".join(unknown), "needs from: " + ", ".join(NEEDS))
        return frozenset(n for n in items if n in NEEDS)

    def iso_date(self, column: str) -> date | None:
        value = self.raw(column)
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self._issue(column, value, "an ISO date YYYY-MM-DD")
            return None

    def place(
        self,
        places: PlaceResolver,
        lat_col: str,
        lon_col: str,
        code_col: str,
        code_kind: str,
        required: bool,
    ) -> Place | None:
        """lat/lon when both are given, else the postcode (or school id) resolved offline."""
        lat_raw, lon_raw, code = self.raw(lat_col), self.raw(lon_col), self.raw(code_col)
        lookup = places.postcode_point if code_kind == "postcode" else places.school_point
        resolved: tuple[float, float] | None = None
        if code:
            if code_kind == "postcode" and not _POSTCODE.match(code):
                self._issue(code_col, code, "a 4-digit Danish postcode")
            else:
                resolved = lookup(code)
                if resolved is None:
                    what = (
                        "postcode in dk_postcodes.csv"
                        if code_kind == "postcode"
                        else ("institution number in dk_schools.csv")
                    )
                    self._issue(code_col, code, f"a known {what}")
        postcode = code if code_kind == "postcode" and code else None
        school_id = code if code_kind == "school" and code else None
        if lat_raw or lon_raw:
            lat = self.real(lat_col, -90.0, 90.0)
            lon = self.real(lon_col, -180.0, 180.0)
            if not lat_raw or not lon_raw:
                missing = lat_col if not lat_raw else lon_col
                self._issue(missing, None, f"{lat_col} and {lon_col} are given together")
                return None
            if lat is None or lon is None:
                return None
            if not inside_denmark(lat, lon):
                self._issue(
                    f"{lat_col},{lon_col}",
                    f"{lat_raw},{lon_raw}",
                    "a point inside Denmark (lat 54.5-57.8, lon 8.0-15.3)",
                )
                return None
            return Place(lat, lon, postcode, school_id)
        if resolved is not None:
            return Place(resolved[0], resolved[1], postcode, school_id)
        if not code and required:
            self._issue(
                f"{lat_col},{lon_col} or {code_col}",
                None,
                f"a location is required: {lat_col} and {lon_col}, or {code_col}",
            )
        return None


def _range(lo: float, hi: float | None) -> str:
    return f">= {lo}" if hi is None else f"from {lo} to {hi}"


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()]


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
    return frame.to_dict("records")  # type: ignore[return-value]


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


def _check_columns(
    file: str, rows: list[dict[str, str]], header: Iterable[str], issues: list[ValidationIssue]
) -> bool:
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


def _parse_child(r: _Row, places: PlaceResolver) -> Child | None:
    child_id = r.text("child_id", required=True)
    kommune = r.kommune("kommune_code", places)
    age = r.integer("age", 0, _MAX_AGE, required=True)
    support = r.integer("support_level", 1, 4, required=True, default=1)
    needs = r.needs("needs")
    home = r.place(places, "home_lat", "home_lon", "home_postcode", "postcode", required=True)
    school = r.place(places, "school_lat", "school_lon", "school_id", "school", required=False)
    daycare = r.place(
        places, "daycare_lat", "daycare_lon", "daycare_postcode", "postcode", required=False
    )
    arrival_raw = r.raw("arrival")
    arrival = r.integer("arrival", 0, None) if arrival_raw else None
    child = Child(
        child_id=child_id or "",
        kommune_code=kommune,
        age=age,
        support_level=support,
        home=home or Place(0.0, 0.0),
        needs=needs,
        school=school,
        daycare=daycare,
        sibling_group=r.text("sibling_group"),
        acute=r.flag("acute"),
        combination_ok=r.flag("combination_ok"),
        secure_decision=r.flag("secure_decision"),
        wishes=tuple(_split(r.raw("wishes"))),
        arrival=arrival,
    )
    return child if r.ok else None


def _parse_person(r: _Row, places: PlaceResolver) -> NetworkPerson | None:
    person = NetworkPerson(
        person_id=r.text("person_id", required=True) or "",
        child_id=r.text("child_id", required=True) or "",
        relation=r.choice("relation", Relation) or Relation.OTHER_RELATIVE,
        place=r.place(places, "lat", "lon", "postcode", "postcode", required=True)
        or Place(0.0, 0.0),
        status=r.choice("status", NetworkStatus) or NetworkStatus.UNASSESSED,
        via=r.text("via"),
        places=r.integer("places", 1, 10, default=1),
        willing=r.flag("willing", default=True),
    )
    return person if r.ok else None


def _capacity(r: _Row) -> tuple[int, int, int, int]:
    places = r.integer("places", 0, 500, required=True)
    occupied = r.integer("occupied", 0, 500, required=True)
    min_age = r.integer("min_age", 0, _MAX_AGE, required=True)
    max_age = r.integer("max_age", 0, _MAX_AGE, required=True, default=_MAX_AGE)
    if r.ok and occupied > places:
        r._issue("occupied", str(occupied), f"at most places ({places})")
    if r.ok and min_age > max_age:
        r._issue("min_age", str(min_age), f"at most max_age ({max_age})")
    return places, occupied, min_age, max_age


def _parse_family(r: _Row, places: PlaceResolver) -> Family | None:
    family_id = r.text("family_id", required=True) or ""
    kommune = r.kommune("kommune_code", places)
    place = r.place(places, "lat", "lon", "postcode", "postcode", required=True)
    level = r.choice("level", FosterLevel)
    n_places, occupied, min_age, max_age = _capacity(r)
    status = r.raw("status") or "active"
    if status not in ("active", "paused"):
        r._issue("status", status, "active or paused")
    family = Family(
        family_id=family_id,
        kommune_code=kommune,
        place=place or Place(0.0, 0.0),
        level=level or FosterLevel.ALMEN,
        places=n_places,
        occupied=occupied,
        min_age=min_age,
        max_age=max_age,
        target_groups=r.needs("target_groups"),
        max_siblings=r.integer("max_siblings", 1, 10, default=1),
        acute=r.flag("acute"),
        combination=r.flag("combination"),
        vacancy_confirmed=r.iso_date("vacancy_confirmed"),
        paused=status == "paused",
    )
    return family if r.ok else None


def _parse_institution(r: _Row, places: PlaceResolver) -> Institution | None:
    institution_id = r.text("institution_id", required=True) or ""
    kommune = r.kommune("kommune_code", places)
    kind = r.choice("kind", InstitutionKind)
    place = r.place(places, "lat", "lon", "postcode", "postcode", required=True)
    n_places, occupied, min_age, max_age = _capacity(r)
    combination_places = r.integer("combination_places", 0, 500, default=0)
    combination_occupied = r.integer("combination_occupied", 0, 500, default=0)
    if r.ok and combination_occupied > combination_places:
        r._issue(
            "combination_occupied",
            str(combination_occupied),
            f"at most combination_places ({combination_places})",
        )
    institution = Institution(
        institution_id=institution_id,
        kommune_code=kommune,
        kind=kind or InstitutionKind.DOEGNINSTITUTION,
        place=place or Place(0.0, 0.0),
        places=n_places,
        occupied=occupied,
        min_age=min_age,
        max_age=max_age,
        name=r.text("name"),
        combination_places=combination_places,
        combination_occupied=combination_occupied,
        target_groups=r.needs("target_groups"),
        max_level=r.integer("max_level", 1, 4, default=4),
        acute=r.flag("acute"),
        daily_rate=r.real("daily_rate", 0.0),
        vacancy_confirmed=r.iso_date("vacancy_confirmed"),
    )
    return institution if r.ok else None


def _parse_exclusion(r: _Row, places: PlaceResolver) -> Exclusion | None:
    exclusion = Exclusion(
        child_id=r.text("child_id", required=True) or "",
        option_id=r.text("option_id", required=True) or "",
        reason=r.raw("reason"),
    )
    return exclusion if r.ok else None


def _parse_keep_away(r: _Row, places: PlaceResolver) -> KeepAway | None:
    keep = KeepAway(
        child_id=r.text("child_id", required=True) or "",
        place=r.place(places, "lat", "lon", "postcode", "postcode", required=True)
        or Place(0.0, 0.0),
        min_km=r.real("min_km", 0.0, 500.0) or 0.0,
        reason=r.raw("reason"),
    )
    if not r.raw("min_km"):
        r._issue("min_km", None, "a distance in km from 0 to 500 is required")
    return keep if r.ok else None


def _parse_placement(r: _Row, places: PlaceResolver) -> Placement | None:
    status = r.choice("status", PlacementStatus, required=False) or PlacementStatus.ACTIVE
    start = r.iso_date("start_date")
    end = r.iso_date("end_date")
    if start is None and r.ok:
        r._issue("start_date", None, "an ISO date YYYY-MM-DD is required")
    if status is PlacementStatus.ENDED and end is None and r.ok:
        r._issue("end_date", None, "an ISO date YYYY-MM-DD when status is ended")
    if status is PlacementStatus.ACTIVE and end is not None:
        r._issue("end_date", r.raw("end_date"), "empty while status is active")
    if start is not None and end is not None and end < start:
        r._issue("end_date", r.raw("end_date"), f"on or after start_date ({start.isoformat()})")
    end_reason = r.raw("end_reason")
    if len(end_reason) > 200:
        r._issue("end_reason", end_reason[:20] + "...", "at most 200 characters")
    placement = Placement(
        child_id=r.text("child_id", required=True) or "",
        option_id=r.text("option_id", required=True) or "",
        kind=r.choice("kind", Kind) or Kind.FOSTER,
        start_date=start or date.min,
        status=status,
        end_date=end,
        end_reason=end_reason,
        last_follow_up=r.iso_date("last_follow_up"),
    )
    return placement if r.ok else None


_ID_COLUMNS = {
    "children": "child_id",
    "network": "person_id",
    "families": "family_id",
    "institutions": "institution_id",
}

_PARSERS: dict[str, Callable[[_Row, PlaceResolver], Any]] = {
    "children": _parse_child,
    "network": _parse_person,
    "families": _parse_family,
    "institutions": _parse_institution,
    "exclusions": _parse_exclusion,
    "keep_away": _parse_keep_away,
    "placements": _parse_placement,
}


def parse_record(
    key: str, values: Mapping[str, object], places: PlaceResolver
) -> tuple[Any | None, list[ValidationIssue]]:
    """One record of `key` (children, network, families, institutions, exclusions,
    keep_away) from JSON-like values, checked exactly as a CSV row is. Issues name the
    field in `column` and have no row."""
    issues: list[ValidationIssue] = []
    text = {k: _as_text(v) for k, v in values.items()}
    row = _Row(FILES[key], None, text, issues)
    record = _PARSERS[key](row, places)
    return record, issues


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple | set | frozenset):
        return ";".join(str(v) for v in value)
    return str(value)


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
    file = FILES[key]
    path = directory / file
    if not path.exists():
        if key not in _OPTIONAL_FILES:
            issues.append(ValidationIssue(file, None, None, None, "the file is required"))
        return []
    rows = _read_csv(path, issues)
    if rows is None:
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        header = [c.strip() for c in next(csv.reader(handle), [])]
    if not _check_columns(file, rows, header, issues):
        return []
    id_column = _ID_COLUMNS.get(key)
    if id_column:
        declared[key] = {str(v.get(id_column) or "").strip() for v in rows} - {""}
    parsed: list[tuple[int, Any]] = []
    for index, values in enumerate(rows):
        row = _Row(file, index + 2, values, issues)
        record = _PARSERS[key](row, places)
        if record is not None:
            parsed.append((index + 2, record))
    return parsed


def _duplicates(
    file: str, column: str, rows: list[tuple[int, str]], issues: list[ValidationIssue]
) -> None:
    seen: dict[str, int] = {}
    for line, key in rows:
        if key in seen:
            issues.append(
                ValidationIssue(
                    file, line, column, key, f"a unique id (already used on row {seen[key]})"
                )
            )
        else:
            seen[key] = line


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
    children = parsed["children"]
    network = parsed["network"]
    families = parsed["families"]
    institutions = parsed["institutions"]

    _duplicates("children.csv", "child_id", [(ln, c.child_id) for ln, c in children], issues)
    _duplicates("families.csv", "family_id", [(ln, f.family_id) for ln, f in families], issues)
    _duplicates(
        "institutions.csv",
        "institution_id",
        [(ln, i.institution_id) for ln, i in institutions],
        issues,
    )
    _duplicates(
        "network.csv",
        "person_id,child_id",
        [(ln, f"{p.person_id},{p.child_id}") for ln, p in network],
        issues,
    )

    child_ids = declared.get("children", set())
    family_ids = declared.get("families", set())
    institution_ids = declared.get("institutions", set())
    person_ids = declared.get("network", set())
    for line, inst in institutions:
        if inst.institution_id in family_ids:
            issues.append(
                ValidationIssue(
                    "institutions.csv",
                    line,
                    "institution_id",
                    inst.institution_id,
                    "an id not already used by a foster family",
                )
            )
    for line, person in network:
        if person.person_id in family_ids | institution_ids:
            issues.append(
                ValidationIssue(
                    "network.csv",
                    line,
                    "person_id",
                    person.person_id,
                    "an id not already used by a family or institution",
                )
            )
    option_ids = family_ids | institution_ids | person_ids
    _check_network(network, child_ids, issues)
    for line, child in children:
        unknown = [w for w in child.wishes if w not in option_ids]
        if unknown:
            issues.append(
                ValidationIssue(
                    "children.csv",
                    line,
                    "wishes",
                    ";".join(unknown),
                    "ids of families, institutions or network persons",
                )
            )
    for line, excl in parsed["exclusions"]:
        if excl.child_id not in child_ids:
            issues.append(
                ValidationIssue(
                    "exclusions.csv",
                    line,
                    "child_id",
                    excl.child_id,
                    "a child_id from children.csv",
                )
            )
        if excl.option_id not in option_ids:
            issues.append(
                ValidationIssue(
                    "exclusions.csv",
                    line,
                    "option_id",
                    excl.option_id,
                    "an id of a family, institution or network person",
                )
            )
    for line, keep in parsed["keep_away"]:
        if keep.child_id not in child_ids:
            issues.append(
                ValidationIssue(
                    "keep_away.csv", line, "child_id", keep.child_id, "a child_id from children.csv"
                )
            )
    _check_placements(parsed["placements"], children, network, families, institutions, issues)
    if issues:
        raise DatasetError(issues)
    return Dataset(
        placements=tuple(p for _, p in parsed["placements"]),
        children=tuple(c for _, c in children),
        network=tuple(p for _, p in network),
        families=tuple(f for _, f in families),
        institutions=tuple(i for _, i in institutions),
        exclusions=tuple(e for _, e in parsed["exclusions"]),
        keep_away=tuple(k for _, k in parsed["keep_away"]),
    )


def combination_pool(institution_id: str) -> str:
    """The capacity pool of an institution's combination places (its residential places are
    the pool named by its id; a family has one pool for foster and combination)."""
    return f"{institution_id}#combination"


def occupancy_by_pool(
    placements: Iterable[Placement], institution_ids: Container[str]
) -> dict[str, int]:
    """Active placements per capacity pool id."""
    counts: dict[str, int] = {}
    for p in placements:
        if p.active:
            pool = (
                combination_pool(p.option_id)
                if p.kind is Kind.COMBINATION and p.option_id in institution_ids
                else p.option_id
            )
            counts[pool] = counts.get(pool, 0) + 1
    return counts


def _check_placements(
    placements: list[tuple[int, Placement]],
    children: list[tuple[int, Child]],
    network: list[tuple[int, NetworkPerson]],
    families: list[tuple[int, Family]],
    institutions: list[tuple[int, Institution]],
    issues: list[ValidationIssue],
) -> None:
    """Every placement names a known child and an option of its kind; a child has at most one
    active placement; and when the file is there, each option's occupied places are exactly
    its active placements."""
    if not placements:
        return
    file = "placements.csv"
    child_ids = {c.child_id for _, c in children}
    family = {f.family_id: f for _, f in families}
    institution = {i.institution_id: i for _, i in institutions}
    network_of = {(p.person_id, p.child_id) for _, p in network}
    active_row: dict[str, int] = {}
    for line, p in placements:
        if p.child_id not in child_ids:
            issues.append(
                ValidationIssue(file, line, "child_id", p.child_id, "a child_id from children.csv")
            )
        kind = p.kind
        if kind is Kind.NETWORK:
            ok = (p.option_id, p.child_id) in network_of
            allowed = "a person_id of this child's network (network.csv)"
        elif kind is Kind.FOSTER:
            ok = p.option_id in family
            allowed = "a family_id from families.csv"
        elif kind is Kind.INSTITUTION:
            ok = p.option_id in institution
            allowed = "an institution_id from institutions.csv"
        else:
            ok = (p.option_id in family and family[p.option_id].combination) or (
                p.option_id in institution and institution[p.option_id].combination_places > 0
            )
            allowed = "a family with combination=true or an institution with combination_places"
        if not ok:
            issues.append(
                ValidationIssue(
                    file, line, "option_id", p.option_id, f"{allowed} (kind {kind.value})"
                )
            )
        if not p.active:
            continue
        if p.child_id in active_row:
            issues.append(
                ValidationIssue(
                    file,
                    line,
                    "status",
                    "active",
                    f"one active placement per child (row {active_row[p.child_id]} is active too)",
                )
            )
        active_row.setdefault(p.child_id, line)
    counts = occupancy_by_pool((p for _, p in placements), institution)
    for line, f in families:
        n = counts.get(f.family_id, 0)
        if n != f.occupied:
            issues.append(
                ValidationIssue(
                    "families.csv",
                    line,
                    "occupied",
                    str(f.occupied),
                    f"{n} (the active placements of {f.family_id} in placements.csv)",
                )
            )
    for line, i in institutions:
        for pool, column, have, what in (
            (i.institution_id, "occupied", i.occupied, ""),
            (
                combination_pool(i.institution_id),
                "combination_occupied",
                i.combination_occupied,
                "combination ",
            ),
        ):
            n = counts.get(pool, 0)
            if n != have:
                issues.append(
                    ValidationIssue(
                        "institutions.csv",
                        line,
                        column,
                        str(have),
                        f"{n} (the active {what}placements of {i.institution_id} "
                        "in placements.csv)",
                    )
                )


def _check_network(
    network: list[tuple[int, NetworkPerson]], child_ids: set[str], issues: list[ValidationIssue]
) -> None:
    persons_of_child: dict[str, set[str]] = {}
    places_of_person: dict[str, tuple[int, int]] = {}
    via_of_child: dict[str, dict[str, str | None]] = {}
    for _, person in network:
        persons_of_child.setdefault(person.child_id, set()).add(person.person_id)
        via_of_child.setdefault(person.child_id, {})[person.person_id] = person.via
    for line, person in network:
        if person.child_id not in child_ids:
            issues.append(
                ValidationIssue(
                    "network.csv", line, "child_id", person.child_id, "a child_id from children.csv"
                )
            )
        if person.via is not None:
            if person.via == person.person_id:
                issues.append(
                    ValidationIssue(
                        "network.csv",
                        line,
                        "via",
                        person.via,
                        "another person in the child's network",
                    )
                )
            elif person.via not in persons_of_child.get(person.child_id, set()):
                issues.append(
                    ValidationIssue(
                        "network.csv",
                        line,
                        "via",
                        person.via,
                        "a person_id in the same child's network",
                    )
                )
        if _via_cycle(person, via_of_child[person.child_id]):
            issues.append(
                ValidationIssue(
                    "network.csv",
                    line,
                    "via",
                    person.via,
                    "a chain of via persons that ends at the child (this one loops)",
                )
            )
        first = places_of_person.setdefault(person.person_id, (line, person.places))
        if first[1] != person.places:
            issues.append(
                ValidationIssue(
                    "network.csv",
                    line,
                    "places",
                    str(person.places),
                    f"the same places as on row {first[0]} ({first[1]}): a person is one household",
                )
            )


def _via_cycle(person: NetworkPerson, via_of: dict[str, str | None]) -> bool:
    seen = {person.person_id}
    current = person.via
    while current is not None:
        if current in seen:
            return True
        seen.add(current)
        current = via_of.get(current)
    return False


# --------------------------------------------------------------------------- writing


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


def _generic_row(record: object) -> dict[str, str]:
    row: dict[str, str] = {}
    for f in fields(record):  # type: ignore[arg-type]
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
