"""Between the dataset contract and the database: rows of domain records (written by the
import, `api.db.sync`), and the Dataset the matcher is built from."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.orm import (
    Base,
    CapacityPool,
    ChildRow,
    DataVersion,
    ExclusionRow,
    FamilyRow,
    InstitutionRow,
    KeepAwayRow,
    NetworkRow,
    PlacementRow,
)
from models.dataset import Dataset, combination_pool, split_list
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

__all__ = [
    "TRACKED",
    "child_from_row",
    "child_rows",
    "combination_pool",
    "family_rows",
    "institution_rows",
    "load_from_db",
    "placement_from_row",
    "placements_tracked",
]

# A data_versions row (0/1): whether occupied places are derived from placements, i.e. the
# imported dataset carried placements.csv. Only then does export write placements.csv, since
# otherwise the placements confirmed through the service cover only part of `occupied` and the
# file would contradict it.
TRACKED = "placements"  # data_versions.name holds at most 16 characters


def _join(values: frozenset[str] | tuple[str, ...]) -> str:
    return ";".join(sorted(values) if isinstance(values, frozenset) else values)


def child_rows(
    c: Child,
    network: tuple[NetworkPerson, ...],
    exclusions: list[Exclusion],
    keep: list[KeepAway],
    position: int = 0,
    network_positions: dict[tuple[str, str], int] | None = None,
) -> list[Base]:
    """A child's row with its network, exclusion and keep-away rows."""
    positions = network_positions or {}
    rows: list[Base] = [
        ChildRow(
            position=position,
            child_id=c.child_id,
            kommune_code=c.kommune_code,
            age=c.age,
            support_level=c.support_level,
            needs=_join(c.needs),
            home_lat=c.home.lat,
            home_lon=c.home.lon,
            home_postcode=c.home.postcode,
            school_lat=c.school.lat if c.school else None,
            school_lon=c.school.lon if c.school else None,
            school_id=c.school.school_id if c.school else None,
            daycare_lat=c.daycare.lat if c.daycare else None,
            daycare_lon=c.daycare.lon if c.daycare else None,
            daycare_postcode=c.daycare.postcode if c.daycare else None,
            sibling_group=c.sibling_group,
            acute=c.acute,
            combination_ok=c.combination_ok,
            secure_decision=c.secure_decision,
            wishes=_join(c.wishes),
            arrival=c.arrival,
        )
    ]
    rows += [
        NetworkRow(
            position=positions.get((p.person_id, p.child_id), 0),
            person_id=p.person_id,
            child_id=p.child_id,
            relation=p.relation.value,
            via=p.via,
            lat=p.place.lat,
            lon=p.place.lon,
            postcode=p.place.postcode,
            status=p.status.value,
            places=p.places,
            willing=p.willing,
        )
        for p in network
    ]
    rows += [
        ExclusionRow(child_id=e.child_id, option_id=e.option_id, reason=e.reason)
        for e in exclusions
    ]
    rows += [
        KeepAwayRow(
            child_id=k.child_id,
            lat=k.place.lat,
            lon=k.place.lon,
            postcode=k.place.postcode,
            min_km=k.min_km,
            reason=k.reason,
        )
        for k in keep
    ]
    return rows


def family_rows(f: Family, position: int = 0, reserved: int = 0) -> tuple[FamilyRow, CapacityPool]:
    """A family's row and its capacity pool (`reserved`: the holds it keeps on an update)."""
    return (
        FamilyRow(
            position=position,
            family_id=f.family_id,
            kommune_code=f.kommune_code,
            lat=f.place.lat,
            lon=f.place.lon,
            postcode=f.place.postcode,
            level=f.level.label,
            min_age=f.min_age,
            max_age=f.max_age,
            target_groups=_join(f.target_groups),
            max_siblings=f.max_siblings,
            acute=f.acute,
            combination=f.combination,
            vacancy_confirmed=f.vacancy_confirmed,
            paused=f.paused,
            monthly_rate=f.monthly_rate,
        ),
        CapacityPool(
            pool_id=f.family_id,
            kind="family",
            places=f.places,
            occupied=f.occupied,
            reserved=reserved,
        ),
    )


def institution_rows(
    i: Institution, position: int = 0, reserved: tuple[int, int] = (0, 0)
) -> tuple[InstitutionRow, CapacityPool, CapacityPool]:
    """An institution's row, its pool and its combination pool (`reserved`: the holds of
    both pools that an update keeps)."""
    return (
        InstitutionRow(
            position=position,
            institution_id=i.institution_id,
            kommune_code=i.kommune_code,
            kind=i.kind.value,
            name=i.name,
            lat=i.place.lat,
            lon=i.place.lon,
            postcode=i.place.postcode,
            min_age=i.min_age,
            max_age=i.max_age,
            target_groups=_join(i.target_groups),
            max_level=i.max_level,
            acute=i.acute,
            daily_rate=i.daily_rate,
            vacancy_confirmed=i.vacancy_confirmed,
        ),
        CapacityPool(
            pool_id=i.institution_id,
            kind="institution",
            places=i.places,
            occupied=i.occupied,
            reserved=reserved[0],
        ),
        CapacityPool(
            pool_id=combination_pool(i.institution_id),
            kind="combination",
            places=i.combination_places,
            occupied=i.combination_occupied,
            reserved=reserved[1],
        ),
    )


def placements_tracked(session: Session) -> bool:
    row = session.get(DataVersion, TRACKED)
    return row is not None and bool(row.value)


def placement_from_row(r: PlacementRow) -> Placement:
    return Placement(
        child_id=r.child_id,
        option_id=r.option_id,
        kind=Kind(r.kind),
        start_date=r.start_date,
        status=PlacementStatus(r.status),
        end_date=r.end_date,
        end_reason=r.end_reason,
        last_follow_up=r.last_follow_up,
    )


def _place(
    lat: float, lon: float, postcode: str | None = None, school_id: str | None = None
) -> Place:
    return Place(lat, lon, postcode, school_id)


def child_from_row(r: ChildRow) -> Child:
    return Child(
        child_id=r.child_id,
        kommune_code=r.kommune_code,
        age=r.age,
        support_level=r.support_level,
        home=_place(r.home_lat, r.home_lon, r.home_postcode),
        needs=frozenset(split_list(r.needs)),
        school=_place(r.school_lat, r.school_lon, school_id=r.school_id)
        if r.school_lat is not None and r.school_lon is not None
        else None,
        daycare=_place(r.daycare_lat, r.daycare_lon, r.daycare_postcode)
        if r.daycare_lat is not None and r.daycare_lon is not None
        else None,
        sibling_group=r.sibling_group,
        acute=r.acute,
        combination_ok=r.combination_ok,
        secure_decision=r.secure_decision,
        wishes=tuple(split_list(r.wishes)),
        arrival=r.arrival,
    )


def person_from_row(r: NetworkRow) -> NetworkPerson:
    return NetworkPerson(
        person_id=r.person_id,
        child_id=r.child_id,
        relation=Relation(r.relation),
        place=_place(r.lat, r.lon, r.postcode),
        status=NetworkStatus(r.status),
        via=r.via,
        places=r.places,
        willing=r.willing,
    )


def family_from_row(r: FamilyRow, pool: CapacityPool) -> Family:
    return Family(
        family_id=r.family_id,
        kommune_code=r.kommune_code,
        place=_place(r.lat, r.lon, r.postcode),
        level=FosterLevel.parse(r.level),
        places=pool.places,
        occupied=pool.occupied,
        min_age=r.min_age,
        max_age=r.max_age,
        target_groups=frozenset(split_list(r.target_groups)),
        max_siblings=r.max_siblings,
        acute=r.acute,
        combination=r.combination,
        vacancy_confirmed=r.vacancy_confirmed,
        paused=r.paused,
        monthly_rate=r.monthly_rate,
    )


def institution_from_row(r: InstitutionRow, pool: CapacityPool, comb: CapacityPool) -> Institution:
    return Institution(
        institution_id=r.institution_id,
        kommune_code=r.kommune_code,
        kind=InstitutionKind(r.kind),
        place=_place(r.lat, r.lon, r.postcode),
        places=pool.places,
        occupied=pool.occupied,
        min_age=r.min_age,
        max_age=r.max_age,
        name=r.name,
        combination_places=comb.places,
        combination_occupied=comb.occupied,
        target_groups=frozenset(split_list(r.target_groups)),
        max_level=r.max_level,
        acute=r.acute,
        daily_rate=r.daily_rate,
        vacancy_confirmed=r.vacancy_confirmed,
    )


def load_from_db(session: Session) -> Dataset:
    """The whole dataset as domain records, in id order (deterministic)."""
    pools = {p.pool_id: p for p in session.scalars(select(CapacityPool))}
    children = tuple(
        child_from_row(r)
        for r in session.scalars(
            select(ChildRow)
            .where(ChildRow.retired_on.is_(None))
            .order_by(ChildRow.position, ChildRow.child_id)
        )
    )
    # Rows of retired children (kept for their placement history) stay out of the dataset.
    child_ids = {c.child_id for c in children}
    network = tuple(
        person_from_row(r)
        for r in session.scalars(
            select(NetworkRow)
            .where(NetworkRow.retired_on.is_(None))
            .order_by(NetworkRow.position, NetworkRow.child_id, NetworkRow.person_id)
        )
        if r.child_id in child_ids
    )
    families = tuple(
        family_from_row(r, pools[r.family_id])
        for r in session.scalars(
            select(FamilyRow)
            .where(FamilyRow.retired_on.is_(None))
            .order_by(FamilyRow.position, FamilyRow.family_id)
        )
    )
    institutions = tuple(
        institution_from_row(r, pools[r.institution_id], pools[combination_pool(r.institution_id)])
        for r in session.scalars(
            select(InstitutionRow)
            .where(InstitutionRow.retired_on.is_(None))
            .order_by(InstitutionRow.position, InstitutionRow.institution_id)
        )
    )
    exclusions = tuple(
        Exclusion(r.child_id, r.option_id, r.reason)
        for r in session.scalars(select(ExclusionRow).order_by(ExclusionRow.id))
        if r.child_id in child_ids
    )
    keep = tuple(
        KeepAway(r.child_id, _place(r.lat, r.lon, r.postcode), r.min_km, r.reason)
        for r in session.scalars(select(KeepAwayRow).order_by(KeepAwayRow.id))
        if r.child_id in child_ids
    )
    # Placements of children gone from the kommune's files stay as history in the database,
    # outside the dataset.
    placements = tuple(
        placement_from_row(r)
        for r in session.scalars(select(PlacementRow).order_by(PlacementRow.id))
        if r.child_id in child_ids
    )
    return Dataset(children, network, families, institutions, exclusions, keep, placements)
