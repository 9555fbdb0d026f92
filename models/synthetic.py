"""Synthetic Denmark: a deterministic, realistic dataset for demos, tests and benchmarks.

Everything is drawn from one seeded generator. Homes, families and institutions are placed
near real schools of the national register, so kommuner get options roughly in proportion to
their number of schools (a fair proxy for population). The proportions follow the published
figures quoted in README.md ("Synthetic Denmark").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np

from models.dataset import DENMARK_BBOX, Dataset
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
from models.enums import NEEDS, FosterLevel, InstitutionKind, Kind, NetworkStatus, Relation

if TYPE_CHECKING:  # annotations only: importing pandas costs every CLI command 0.2 s
    import pandas as pd

__all__ = ["REFERENCE_DATE", "SyntheticSpec", "generate_dataset"]

REFERENCE_DATE = date(2026, 11, 1)

# Foster families holding 1, 2, 3, 4 children: 2221 : 1288 : 314 : 63.
_HOLDING = np.array([2221, 1288, 314, 63], dtype=float)
_HOLDING /= _HOLDING.sum()
# Current placements: 63 % foster family, 17 % døgninstitution, 14 % opholdssted; the
# institution kinds are drawn in the 17 : 14 proportion, with a few secure units on top.
_INSTITUTION_KINDS = (
    InstitutionKind.DOEGNINSTITUTION,
    InstitutionKind.OPHOLDSSTED,
    InstitutionKind.SIKRET,
)
_INSTITUTION_P = np.array([17.0, 14.0, 1.0]) / 32.0
_LEVELS = (FosterLevel.ALMEN, FosterLevel.FORSTAERKET, FosterLevel.SPECIALISERET)
_LEVEL_P = (0.6, 0.3, 0.1)
_RELATIONS = tuple(Relation)
_RELATION_P = (0.3, 0.25, 0.1, 0.15, 0.15, 0.05)
_STATUSES = (
    NetworkStatus.UNASSESSED,
    NetworkStatus.SUITABLE,
    NetworkStatus.APPROVED,
    NetworkStatus.REJECTED,
)
_STATUS_P = (0.35, 0.2, 0.2, 0.25)
# Placed children are mostly teenagers; weights for ages 0..17.
_AGE_W = np.array([3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 7, 8, 9, 9, 8, 6], dtype=float)
_AGE_W /= _AGE_W.sum()
_AGE_BANDS = ((0, 17), (0, 17), (0, 17), (0, 6), (0, 12), (6, 17), (10, 17), (12, 17))


@dataclass(frozen=True)
class SyntheticSpec:
    children: int = 400
    families: int = 600
    institutions: int = 80
    seed: int = 0
    kommuner: tuple[str, ...] = ()
    reference_date: date = REFERENCE_DATE
    sibling_share: float = 0.25  # share of children in sibling groups of 2-3
    # Also a child (and placements.csv row) for every occupied place, placed 0-24 months ago.
    placements: bool = False


class _Draw:
    """Seeded helpers; every random choice of the generator goes through here."""

    def __init__(self, seed: int, schools: pd.DataFrame) -> None:
        self.rng = np.random.default_rng(seed)
        self.schools = schools.reset_index(drop=True)
        self.lat = self.schools["lat"].to_numpy(float)
        self.lon = self.schools["lon"].to_numpy(float)

    def school(self) -> int:
        return int(self.rng.integers(len(self.schools)))

    def near(self, lat: float, lon: float, km: float) -> tuple[float, float]:
        dlat = self.rng.normal(0.0, km / 111.0)
        dlon = self.rng.normal(0.0, km / (111.0 * np.cos(np.radians(lat))))
        lat_min, lat_max, lon_min, lon_max = DENMARK_BBOX
        return (
            round(float(np.clip(lat + dlat, lat_min + 0.01, lat_max - 0.01)), 6),
            round(float(np.clip(lon + dlon, lon_min + 0.01, lon_max - 0.01)), 6),
        )

    def needs(self, low: int, high: int, pool: tuple[str, ...] = NEEDS) -> frozenset[str]:
        k = int(self.rng.integers(low, high + 1))
        return frozenset(
            str(n) for n in self.rng.choice(pool, size=min(k, len(pool)), replace=False)
        )

    def pick(self, items: tuple, p: tuple[float, ...] | np.ndarray) -> object:
        return items[int(self.rng.choice(len(items), p=p))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def confirmed(self, ref: date) -> date | None:
        if self.chance(0.05):
            return None
        return ref - timedelta(days=int(self.rng.integers(0, 150)))


def generate_dataset(spec: SyntheticSpec, schools: pd.DataFrame) -> Dataset:
    """A dataset of the contract, identical for identical spec and school register."""
    kommune_schools = schools
    if spec.kommuner:
        kommune_schools = schools[schools["kommune_code"].astype(str).isin(spec.kommuner)]
        if kommune_schools.empty:
            raise ValueError(f"no schools in kommuner {', '.join(spec.kommuner)}")
    kommune_schools = kommune_schools.sort_values("institution_number")
    draw = _Draw(spec.seed, kommune_schools)
    children, network, exclusions, keep_away = _children(draw, spec)
    families = _families(draw, spec)
    institutions = _institutions(draw, spec)
    exclusions += _exclusions(draw, children, families)
    placements: list[Placement] = []
    if spec.placements:  # drawn last, so the rest of the dataset is the same either way
        placed, more_network, placements = _placed(draw, spec, families, institutions)
        children += placed
        network += more_network
    return Dataset(
        tuple(children),
        tuple(network),
        tuple(families),
        tuple(institutions),
        tuple(exclusions),
        tuple(keep_away),
        tuple(placements),
    )


def _placed(
    draw: _Draw, spec: SyntheticSpec, families: list[Family], institutions: list[Institution]
) -> tuple[list[Child], list[NetworkPerson], list[Placement]]:
    """A child for every occupied place, living within reach of the option before."""
    seats: list[tuple[str, Kind, Place, int, int, int, frozenset[str]]] = []
    for f in families:
        kind = Kind.COMBINATION if f.combination and draw.chance(0.2) else Kind.FOSTER
        seats += [
            (f.family_id, kind, f.place, f.min_age, f.max_age, int(f.level), f.target_groups)
        ] * f.occupied
    for i in institutions:
        seats += [
            (
                i.institution_id,
                Kind.INSTITUTION,
                i.place,
                i.min_age,
                i.max_age,
                i.max_level,
                i.target_groups,
            )
        ] * i.occupied
        seats += [
            (
                i.institution_id,
                Kind.COMBINATION,
                i.place,
                i.min_age,
                i.max_age,
                min(i.max_level, 3),
                i.target_groups,
            )
        ] * i.combination_occupied
    children: list[Child] = []
    network: list[NetworkPerson] = []
    placements: list[Placement] = []
    width = len(str(max(len(seats), 1)))
    person_no = 10**6
    for n, (option_id, kind, place, lo, hi, level, groups) in enumerate(seats):
        home = draw.near(place.lat, place.lon, 12.0)
        s = int(np.argmin((draw.lat - home[0]) ** 2 + (draw.lon - home[1]) ** 2))
        row = draw.schools.iloc[s]
        age = int(draw.rng.integers(lo, min(hi, 17) + 1)) if lo <= 17 else 17
        cid = f"pc{n + 1:0{width}d}"
        needs = draw.needs(0, 1, tuple(sorted(groups))) if groups else frozenset()
        children.append(
            Child(
                child_id=cid,
                kommune_code=str(row["kommune_code"]),
                age=age,
                support_level=int(draw.rng.integers(1, max(level, 1) + 1)),
                home=Place(*home),
                needs=needs,
                school=Place(
                    float(row["lat"]), float(row["lon"]), school_id=str(row["institution_number"])
                )
                if 6 <= age <= 16
                else None,
                combination_ok=kind is Kind.COMBINATION,
            )
        )
        for pid, relation, p, status, via, places, willing in _network_persons(
            draw, home, 1, person_no
        ):
            network.append(NetworkPerson(pid, cid, relation, p, status, via, places, willing))
            person_no += 1
        start = spec.reference_date - timedelta(days=int(draw.rng.integers(0, 730)))
        placements.append(Placement(cid, option_id, kind, start))
    return children, network, placements


def _children(
    draw: _Draw, spec: SyntheticSpec
) -> tuple[list[Child], list[NetworkPerson], list[Exclusion], list[KeepAway]]:
    children: list[Child] = []
    network: list[NetworkPerson] = []
    keep_away: list[KeepAway] = []
    width = len(str(spec.children))
    group_p = spec.sibling_share / (2.4 - 1.4 * spec.sibling_share)  # units that are groups
    person_no = 0
    group_no = 0
    while len(children) < spec.children:
        left = spec.children - len(children)
        size = 1
        if left >= 2 and draw.chance(group_p):
            size = 2 if left == 2 or draw.chance(0.6) else 3
        s = draw.school()
        row = draw.schools.iloc[s]
        home = draw.near(draw.lat[s], draw.lon[s], 1.5)
        group = None
        if size > 1:
            group_no += 1
            group = f"g{group_no:0{width}d}"
        # One network per household: siblings share their grandparents.
        persons = _network_persons(draw, home, size, person_no)
        person_no += len(persons)
        unit_acute = draw.chance(0.1)
        for _ in range(size):
            cid = f"c{len(children) + 1:0{width}d}"
            age = int(draw.rng.choice(18, p=_AGE_W))
            support = int(draw.rng.choice([1, 2, 3, 4], p=[0.35, 0.35, 0.2, 0.1]))
            school = (
                Place(
                    float(row["lat"]), float(row["lon"]), school_id=str(row["institution_number"])
                )
                if 6 <= age <= 16
                else None
            )
            daycare = None
            if 1 <= age <= 5:
                daycare = Place(*draw.near(home[0], home[1], 0.8))
            wishes: tuple[str, ...] = ()
            if persons and draw.chance(0.1):
                wishes = (persons[int(draw.rng.integers(len(persons)))][0],)
            children.append(
                Child(
                    child_id=cid,
                    kommune_code=str(row["kommune_code"]),
                    age=age,
                    support_level=support,
                    home=Place(*home),
                    needs=draw.needs(0, 2),
                    school=school,
                    daycare=daycare,
                    sibling_group=group,
                    acute=unit_acute,
                    combination_ok=support <= 3 and draw.chance(0.2),
                    secure_decision=support == 4 and age >= 12 and draw.chance(0.3),
                    wishes=wishes,
                )
            )
            for pid, relation, place, status, via, places, willing in persons:
                network.append(
                    NetworkPerson(pid, cid, relation, place, status, via, places, willing)
                )
            if draw.chance(0.03):
                away = draw.near(home[0], home[1], 6.0)
                keep_away.append(
                    KeepAway(cid, Place(*away), float(draw.rng.integers(5, 21)), "§ 105")
                )
    return children, network, [], keep_away


def _network_persons(
    draw: _Draw, home: tuple[float, float], group_size: int, first_no: int
) -> list[tuple[str, Relation, Place, NetworkStatus, str | None, int, bool]]:
    count = int(draw.rng.choice(5, p=[0.2, 0.3, 0.25, 0.15, 0.1]))
    persons: list[tuple[str, Relation, Place, NetworkStatus, str | None, int, bool]] = []
    for k in range(count):
        pid = f"p{first_no + k + 1:06d}"
        relation = draw.pick(_RELATIONS, _RELATION_P)
        via = None
        if persons and draw.chance(0.2):
            via = persons[int(draw.rng.integers(len(persons)))][0]
            relation = Relation.FAMILY_FRIEND if draw.chance(0.6) else Relation.OTHER_RELATIVE
        if draw.chance(0.75):
            lat, lon = draw.near(home[0], home[1], 8.0)
        else:
            s = draw.school()
            lat, lon = draw.near(draw.lat[s], draw.lon[s], 2.0)
        places = 1 if draw.chance(0.7) else int(draw.rng.integers(2, 4))
        if group_size > 1 and draw.chance(0.5):
            places = max(places, group_size)
        persons.append(
            (
                pid,
                relation,
                Place(lat, lon),  # type: ignore[arg-type]
                draw.pick(_STATUSES, _STATUS_P),
                via,
                places,
                draw.chance(0.9),
            )
        )
    return persons


def _families(draw: _Draw, spec: SyntheticSpec) -> list[Family]:
    families: list[Family] = []
    width = len(str(spec.families))
    for n in range(spec.families):
        s = draw.school()
        lat, lon = draw.near(draw.lat[s], draw.lon[s], 3.0)
        level = draw.pick(_LEVELS, _LEVEL_P)
        held = 1 + int(draw.rng.choice(4, p=_HOLDING))
        if draw.chance(0.15):  # between placements: approved places, nobody placed
            places, occupied = held, 0
        else:
            places, occupied = held + (1 if draw.chance(0.25) else 0), held
        places = min(places, 4)
        occupied = min(occupied, places)
        lo, hi = _AGE_BANDS[int(draw.rng.integers(len(_AGE_BANDS)))]
        pool = NEEDS[:4] if level == FosterLevel.ALMEN else NEEDS
        families.append(
            Family(
                family_id=f"f{n + 1:0{width}d}",
                kommune_code=str(draw.schools.iloc[s]["kommune_code"]),
                place=Place(lat, lon),
                level=level,  # type: ignore[arg-type]
                places=places,
                occupied=occupied,
                min_age=lo,
                max_age=hi,
                target_groups=draw.needs(2, 6, pool),
                max_siblings=1
                if places == 1 or draw.chance(0.5)
                else int(draw.rng.integers(2, places + 1)),
                acute=draw.chance(0.6 if level == FosterLevel.FORSTAERKET else 0.1),
                combination=draw.chance(0.15),
                vacancy_confirmed=draw.confirmed(spec.reference_date),
                paused=draw.chance(0.04),
            )
        )
    return families


def _institutions(draw: _Draw, spec: SyntheticSpec) -> list[Institution]:
    institutions: list[Institution] = []
    width = len(str(spec.institutions))
    for n in range(spec.institutions):
        s = draw.school()
        lat, lon = draw.near(draw.lat[s], draw.lon[s], 4.0)
        kind = draw.pick(_INSTITUTION_KINDS, _INSTITUTION_P)
        places = int(draw.rng.integers(3, 10))
        occupied = min(places, int(draw.rng.binomial(places, 0.85)))
        combination_places = int(draw.rng.integers(1, 5)) if draw.chance(0.3) else 0
        lo, hi = (
            (12, 17)
            if kind == InstitutionKind.SIKRET
            else _AGE_BANDS[int(draw.rng.integers(len(_AGE_BANDS)))]
        )
        rate = {
            InstitutionKind.DOEGNINSTITUTION: (4500, 8000),
            InstitutionKind.OPHOLDSSTED: (3500, 6500),
            InstitutionKind.SIKRET: (9000, 14000),
        }[kind]  # type: ignore[index]
        institutions.append(
            Institution(
                institution_id=f"i{n + 1:0{width}d}",
                kommune_code=str(draw.schools.iloc[s]["kommune_code"]),
                kind=kind,  # type: ignore[arg-type]
                place=Place(lat, lon),
                places=places,
                occupied=occupied,
                min_age=lo,
                max_age=hi,
                name=f"Børne- og ungehjem {n + 1}",
                combination_places=combination_places,
                combination_occupied=int(draw.rng.integers(0, combination_places + 1)),
                target_groups=draw.needs(3, 8),
                max_level=4 if draw.chance(0.6) else 3,
                acute=draw.chance(0.4),
                daily_rate=float(draw.rng.integers(*rate)),
                vacancy_confirmed=draw.confirmed(spec.reference_date),
            )
        )
    return institutions


def _exclusions(draw: _Draw, children: list[Child], families: list[Family]) -> list[Exclusion]:
    if not families:
        return []
    exclusions = []
    for child in children:
        if draw.chance(0.02):
            family = families[int(draw.rng.integers(len(families)))]
            exclusions.append(Exclusion(child.child_id, family.family_id, "earlier breakdown"))
    return exclusions
