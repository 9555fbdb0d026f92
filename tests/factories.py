"""Tiny hand-made datasets around Aarhus for tests of one rule or term at a time."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from models.dataset import Dataset
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
from models.enums import FosterLevel, InstitutionKind, NetworkStatus, Relation

AARHUS = (56.1567, 10.2108)
AS_OF = date(2026, 11, 1)


def at(km_north: float, km_east: float = 0.0) -> Place:
    """A point km_north / km_east of central Aarhus (flat-earth offsets, fine at this scale)."""
    import math

    lat = AARHUS[0] + km_north / 111.2
    lon = AARHUS[1] + km_east / (111.2 * math.cos(math.radians(AARHUS[0])))
    return Place(lat, lon)


def child(child_id: str = "c1", **kw: object) -> Child:
    base = Child(
        child_id=child_id,
        kommune_code="751",
        age=10,
        support_level=1,
        home=at(0),
        school=at(1),
        needs=frozenset(),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def family(family_id: str = "f1", **kw: object) -> Family:
    base = Family(
        family_id=family_id,
        kommune_code="751",
        place=at(2),
        level=FosterLevel.ALMEN,
        places=1,
        occupied=0,
        min_age=0,
        max_age=17,
        target_groups=frozenset(),
        max_siblings=1,
        acute=False,
        combination=False,
        vacancy_confirmed=AS_OF,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def institution(institution_id: str = "i1", **kw: object) -> Institution:
    base = Institution(
        institution_id=institution_id,
        kommune_code="751",
        kind=InstitutionKind.DOEGNINSTITUTION,
        place=at(5),
        places=4,
        occupied=0,
        min_age=0,
        max_age=17,
        target_groups=frozenset(),
        vacancy_confirmed=AS_OF,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def person(person_id: str = "p1", child_id: str = "c1", **kw: object) -> NetworkPerson:
    base = NetworkPerson(
        person_id=person_id,
        child_id=child_id,
        relation=Relation.GRANDPARENT,
        place=at(3),
        status=NetworkStatus.APPROVED,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def dataset(
    children: list[Child] | None = None,
    families: list[Family] | None = None,
    institutions: list[Institution] | None = None,
    network: list[NetworkPerson] | None = None,
    exclusions: list[Exclusion] | None = None,
    keep_away: list[KeepAway] | None = None,
    placements: list[Placement] | None = None,
) -> Dataset:
    return Dataset(
        tuple(children or [child()]),
        tuple(network or ()),
        tuple(families or ()),
        tuple(institutions or ()),
        tuple(exclusions or ()),
        tuple(keep_away or ()),
        tuple(placements or ()),
    )
