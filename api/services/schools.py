"""The school register (dk_schools.csv) searched by name or institution number, for picking a
child's school in a form."""

from __future__ import annotations

from dataclasses import dataclass

from geo.gazetteer import Gazetteer

__all__ = ["School", "school_by_number", "search_schools"]


@dataclass(frozen=True)
class School:
    number: str
    name: str
    postcode: str
    kommune: str  # the kommune's name (or code when the register has no name)


def _school(gazetteer: Gazetteer, i: int) -> School:
    row = gazetteer.schools.frame.iloc[i]
    code = str(row.get("kommune_code", ""))
    return School(
        number=str(row["institution_number"]),
        name=str(row.get("name", "")),
        postcode=str(row.get("postcode", "")),
        kommune=gazetteer.kommune_name(code) or code,
    )


def school_by_number(gazetteer: Gazetteer, number: str) -> School | None:
    i = gazetteer.schools.keys.get(number.strip())
    return None if i is None else _school(gazetteer, i)


def search_schools(
    gazetteer: Gazetteer, query: str, kommuner: frozenset[str] = frozenset(), limit: int = 25
) -> list[School]:
    """Schools whose number starts with, or whose name contains, the query (case-insensitive);
    schools in `kommuner` first, then by name. An empty query finds nothing."""
    q = query.strip().casefold()
    if not q:
        return []
    frame = gazetteer.schools.frame
    numbers = frame["institution_number"].astype(str)
    names = frame["name"].astype(str).str.casefold()
    hit = numbers.str.startswith(q) | names.str.contains(q, regex=False)
    found = frame[hit]
    local = ~found["kommune_code"].astype(str).isin(sorted(kommuner))
    order = found.assign(_away=local).sort_values(["_away", "name", "institution_number"])
    return [
        _school(gazetteer, gazetteer.schools.keys[str(n)])
        for n in order["institution_number"][:limit]
    ]
