"""Frozen domain records of the dataset contract (DESIGN.md §3).

Coordinates are always resolved (postcode or school id -> lat/lon) before a record is built,
so everything downstream works on points; the original postcode or school id is kept for
a lossless round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from models import capacity
from models.enums import (
    FosterLevel,
    InstitutionKind,
    Kind,
    NetworkStatus,
    PlacementStatus,
    Relation,
)

__all__ = [
    "Child",
    "Exclusion",
    "Family",
    "Institution",
    "KeepAway",
    "NetworkPerson",
    "Place",
    "Placement",
]


@dataclass(frozen=True, slots=True)
class Place:
    """A resolved point, with the postcode or school id it came from (if any)."""

    lat: float
    lon: float
    postcode: str | None = None
    school_id: str | None = None


@dataclass(frozen=True, slots=True)
class Child:
    child_id: str
    kommune_code: str
    age: int
    support_level: int
    home: Place
    needs: frozenset[str] = frozenset()
    school: Place | None = None
    daycare: Place | None = None
    sibling_group: str | None = None
    acute: bool = False
    combination_ok: bool = False
    secure_decision: bool = False
    wishes: tuple[str, ...] = ()
    arrival: int | None = None


@dataclass(frozen=True, slots=True)
class NetworkPerson:
    """One row of network.csv: a person in one child's network."""

    person_id: str
    child_id: str
    relation: Relation
    place: Place
    status: NetworkStatus
    via: str | None = None
    places: int = 1
    willing: bool = True


@dataclass(frozen=True, slots=True)
class Family:
    family_id: str
    kommune_code: str
    place: Place
    level: FosterLevel
    places: int
    occupied: int
    min_age: int
    max_age: int
    target_groups: frozenset[str] = frozenset()
    max_siblings: int = 1
    acute: bool = False
    combination: bool = False
    vacancy_confirmed: date | None = None
    paused: bool = False
    # DKK a month agreed with this family (vederlag plus tillæg), instead of the profile's fee
    # for its level. Only costs read it; never the ranking.
    monthly_rate: float | None = None

    @property
    def free_places(self) -> int:
        return capacity.free_places(self.places, self.occupied)


@dataclass(frozen=True, slots=True)
class Institution:
    institution_id: str
    kommune_code: str
    kind: InstitutionKind
    place: Place
    places: int
    occupied: int
    min_age: int
    max_age: int
    name: str | None = None
    combination_places: int = 0
    combination_occupied: int = 0
    target_groups: frozenset[str] = frozenset()
    max_level: int = 4
    acute: bool = False
    daily_rate: float | None = None
    vacancy_confirmed: date | None = None

    @property
    def free_places(self) -> int:
        return capacity.free_places(self.places, self.occupied)


@dataclass(frozen=True, slots=True)
class Exclusion:
    child_id: str
    option_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class KeepAway:
    """Barnets Lov § 105 contact restriction: no option closer than min_km to this address."""

    child_id: str
    place: Place
    min_km: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Placement:
    """One row of placements.csv: where a child lives, or lived, and since when."""

    child_id: str
    option_id: str
    kind: Kind
    start_date: date
    status: PlacementStatus = PlacementStatus.ACTIVE
    end_date: date | None = None
    end_reason: str = ""
    last_follow_up: date | None = None  # an addition to the contract: the last one held

    @property
    def active(self) -> bool:
        return self.status is PlacementStatus.ACTIVE
