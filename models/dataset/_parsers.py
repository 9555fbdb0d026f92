"""Per-row validation, one parser per contract file: a text row becomes a domain record, or
None with its problems recorded; `parse_record` checks one JSON-like record the same way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from models.dataset._contract import FILES, MAX_AGE, PlaceResolver
from models.dataset._row import Row, split_list
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
    FosterLevel,
    InstitutionKind,
    Kind,
    NetworkStatus,
    PlacementStatus,
    Relation,
)
from models.errors import ValidationIssue

__all__ = ["PARSERS", "parse_record", "parse_rows"]


def _parse_child(r: Row, places: PlaceResolver) -> Child | None:
    child_id = r.text("child_id", required=True)
    kommune = r.kommune("kommune_code", places)
    age = r.integer("age", 0, MAX_AGE, required=True)
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
        wishes=tuple(split_list(r.raw("wishes"))),
        arrival=arrival,
    )
    return child if r.ok else None


def _parse_person(r: Row, places: PlaceResolver) -> NetworkPerson | None:
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


def _capacity(r: Row) -> tuple[int, int, int, int]:
    places = r.integer("places", 0, 500, required=True)
    occupied = r.integer("occupied", 0, 500, required=True)
    min_age = r.integer("min_age", 0, MAX_AGE, required=True)
    max_age = r.integer("max_age", 0, MAX_AGE, required=True, default=MAX_AGE)
    if r.ok and occupied > places:
        r.issue("occupied", str(occupied), f"at most places ({places})")
    if r.ok and min_age > max_age:
        r.issue("min_age", str(min_age), f"at most max_age ({max_age})")
    return places, occupied, min_age, max_age


def _parse_family(r: Row, places: PlaceResolver) -> Family | None:
    family_id = r.text("family_id", required=True) or ""
    kommune = r.kommune("kommune_code", places)
    place = r.place(places, "lat", "lon", "postcode", "postcode", required=True)
    level = r.choice("level", FosterLevel)
    n_places, occupied, min_age, max_age = _capacity(r)
    status = r.raw("status") or "active"
    if status not in ("active", "paused"):
        r.issue("status", status, "active or paused")
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
        monthly_rate=_own_rate(r),
    )
    return family if r.ok else None


def _own_rate(r: Row) -> float | None:
    """A family's own monthly fee: above 0, or empty for the profile's fee for its level."""
    rate = r.kroner("monthly_rate")
    if rate == 0:
        r.issue(
            "monthly_rate",
            r.raw("monthly_rate"),
            "a number above 0, or empty for the profile's fee",
        )
        return None
    return rate


def _parse_institution(r: Row, places: PlaceResolver) -> Institution | None:
    institution_id = r.text("institution_id", required=True) or ""
    kommune = r.kommune("kommune_code", places)
    kind = r.choice("kind", InstitutionKind)
    place = r.place(places, "lat", "lon", "postcode", "postcode", required=True)
    n_places, occupied, min_age, max_age = _capacity(r)
    combination_places = r.integer("combination_places", 0, 500, default=0)
    combination_occupied = r.integer("combination_occupied", 0, 500, default=0)
    if r.ok and combination_occupied > combination_places:
        r.issue(
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
        daily_rate=r.kroner("daily_rate"),
        vacancy_confirmed=r.iso_date("vacancy_confirmed"),
    )
    return institution if r.ok else None


def _parse_exclusion(r: Row, places: PlaceResolver) -> Exclusion | None:
    exclusion = Exclusion(
        child_id=r.text("child_id", required=True) or "",
        option_id=r.text("option_id", required=True) or "",
        reason=r.raw("reason"),
    )
    return exclusion if r.ok else None


def _parse_keep_away(r: Row, places: PlaceResolver) -> KeepAway | None:
    keep = KeepAway(
        child_id=r.text("child_id", required=True) or "",
        place=r.place(places, "lat", "lon", "postcode", "postcode", required=True)
        or Place(0.0, 0.0),
        min_km=r.real("min_km", 0.0, 500.0) or 0.0,
        reason=r.raw("reason"),
    )
    if not r.raw("min_km"):
        r.issue("min_km", None, "a distance in km from 0 to 500 is required")
    return keep if r.ok else None


def _parse_placement(r: Row, places: PlaceResolver) -> Placement | None:
    status = r.choice("status", PlacementStatus, required=False) or PlacementStatus.ACTIVE
    start = r.iso_date("start_date")
    end = r.iso_date("end_date")
    if start is None and r.ok:
        r.issue("start_date", None, "an ISO date YYYY-MM-DD is required")
    if status is PlacementStatus.ENDED and end is None and r.ok:
        r.issue("end_date", None, "an ISO date YYYY-MM-DD when status is ended")
    if status is PlacementStatus.ACTIVE and end is not None:
        r.issue("end_date", r.raw("end_date"), "empty while status is active")
    if start is not None and end is not None and end < start:
        r.issue("end_date", r.raw("end_date"), f"on or after start_date ({start.isoformat()})")
    end_reason = r.raw("end_reason")
    if len(end_reason) > 200:
        r.issue("end_reason", end_reason[:20] + "...", "at most 200 characters")
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


PARSERS: dict[str, Callable[[Row, PlaceResolver], Any]] = {
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
    row = Row(FILES[key], None, text, issues)
    record = PARSERS[key](row, places)
    return record, issues


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple | set | frozenset):
        return ";".join(str(v) for v in value)
    return str(value)


def parse_rows(
    key: str,
    rows: list[dict[str, str]],
    places: PlaceResolver,
    issues: list[ValidationIssue],
    *,
    lines: list[int] | None = None,
    decimal_comma: bool = False,
) -> list[tuple[int, Any]]:
    """The records of the rows of file `key` that have no problems, with their line numbers
    (`lines`, or the CSV lines of consecutive rows: the header is line 1); the problems of
    the others go to `issues`. `decimal_comma`: numbers may be written `55,67`."""
    file = FILES[key]
    parser = PARSERS[key]
    numbers = lines if lines is not None else range(2, len(rows) + 2)
    parsed: list[tuple[int, Any]] = []
    for line, values in zip(numbers, rows, strict=True):
        row = Row(file, line, values, issues, decimal_comma)
        record = parser(row, places)
        if record is not None:
            parsed.append((line, record))
    return parsed
