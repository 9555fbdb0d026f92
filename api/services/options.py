"""Foster families and institutions, their capacity, and the capacity overview.

Consultants keep approvals, places and vacancies current in their own kommuner; the overview
holds no personal data and is open to every role but admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from api.db.mappers import family_rows, institution_rows
from api.db.orm import CapacityPool, FamilyRow, InstitutionRow, NetworkRow
from api.services.caller import Principal
from api.services.errors import Conflict, Forbidden, Invalid, NotFound
from api.services.inputs import CapacityPatch, FamilyCreate, InstitutionCreate
from api.services.runtime import Service
from api.services.validation import issues_to_errors
from models.capacity import combination_pool, free_places
from models.dataset import parse_record
from models.domain import Family, Institution

__all__ = [
    "CapacityGroup",
    "CapacityOverview",
    "StaleVacancy",
    "StoredFamily",
    "StoredInstitution",
    "capacity_overview",
    "create_family",
    "create_institution",
    "family_record",
    "institution_record",
    "list_families",
    "list_institutions",
    "option_point",
    "own_option",
    "patch_capacity",
    "read_family",
    "read_institution",
    "read_option",
    "update_family",
    "update_institution",
    "vacancy_is_stale",
]


@dataclass(frozen=True)
class StoredFamily:
    family: FamilyRow
    pool: CapacityPool

    @property
    def free_places(self) -> int:
        return free_places(self.pool.places, self.pool.occupied, self.pool.reserved)


@dataclass(frozen=True)
class StoredInstitution:
    institution: InstitutionRow
    pool: CapacityPool
    combination: CapacityPool

    @property
    def free_places(self) -> int:
        return free_places(self.pool.places, self.pool.occupied, self.pool.reserved)


def vacancy_is_stale(confirmed: date | None, stale_before: date) -> bool:
    """A vacancy never confirmed, or confirmed before `stale_before` (today - stale_days)."""
    return confirmed is None or confirmed < stale_before


def family_record(session: Session, row: FamilyRow) -> StoredFamily:
    return StoredFamily(row, session.get_one(CapacityPool, row.family_id))


def institution_record(session: Session, row: InstitutionRow) -> StoredInstitution:
    return StoredInstitution(
        row,
        session.get_one(CapacityPool, row.institution_id),
        session.get_one(CapacityPool, combination_pool(row.institution_id)),
    )


def _checked(
    service: Service, who: Principal, key: str, body: FamilyCreate | InstitutionCreate
) -> Any:
    if not who.in_scope(body.kommune_code):
        raise Forbidden(f"kommune {body.kommune_code} is outside your kommuner")
    record, issues = parse_record(key, body.model_dump(), service.gazetteer)
    if issues or record is None:
        raise Invalid(f"the {key[:-1]} record is not valid", errors=issues_to_errors(issues))
    return record


def _id_in_use(session: Session, option_id: str) -> bool:
    return (
        session.get(FamilyRow, option_id) is not None
        or session.get(InstitutionRow, option_id) is not None
        or session.scalars(select(NetworkRow).where(NetworkRow.person_id == option_id)).first()
        is not None
    )


def own_option(session: Session, who: Principal, option_id: str) -> FamilyRow | InstitutionRow:
    """A family or institution in the caller's kommuner; NotFound exactly as for a missing id."""
    row: FamilyRow | InstitutionRow | None = session.get(FamilyRow, option_id)
    if row is None:
        row = session.get(InstitutionRow, option_id)
    if row is None or not who.in_scope(row.kommune_code):
        raise NotFound(f"no family or institution {option_id!r} in your kommuner")
    return row


def option_point(session: Session, option_id: str, kind: str) -> tuple[float, float] | None:
    """Where an option is (a network person's, a family's or an institution's place)."""
    if kind == "network":
        person = session.scalars(
            select(NetworkRow).where(NetworkRow.person_id == option_id)
        ).first()
        return (person.lat, person.lon) if person else None
    family = session.get(FamilyRow, option_id)
    if family is not None:
        return family.lat, family.lon
    inst = session.get(InstitutionRow, option_id)
    return (inst.lat, inst.lon) if inst else None


def _stored(session: Session, row: FamilyRow | InstitutionRow) -> StoredFamily | StoredInstitution:
    if isinstance(row, FamilyRow):
        return family_record(session, row)
    return institution_record(session, row)


def read_option(
    session: Session, who: Principal, option_id: str
) -> StoredFamily | StoredInstitution:
    return _stored(session, own_option(session, who, option_id))


Row = TypeVar("Row", FamilyRow, InstitutionRow)
_WHAT = {FamilyRow: "family", InstitutionRow: "institution"}


def _owned(session: Session, who: Principal, model: type[Row], option_id: str) -> Row:
    """A family or an institution in the caller's kommuner; NotFound exactly as for a
    missing id."""
    row = session.get(model, option_id)
    if row is None or not who.in_scope(row.kommune_code):
        raise NotFound(f"no {_WHAT[model]} {option_id!r} in your kommuner")
    return row


def _mismatch(field: str, given: str, path_id: str) -> Invalid:
    return Invalid(
        f"{field} in the body must match the path",
        errors=[{"path": f"body.{field}", "value": given, "allowed": path_id}],
    )


def _position(session: Session, model: type[FamilyRow] | type[InstitutionRow]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# ------------------------------------------------------------------------------- families


def create_family(
    session: Session, service: Service, who: Principal, body: FamilyCreate
) -> StoredFamily:
    family: Family = _checked(service, who, "families", body)
    if _id_in_use(session, body.family_id):
        raise Conflict(f"id {body.family_id!r} is in use already")
    session.add_all(family_rows(family, _position(session, FamilyRow)))
    service.bump(session, "structure", "capacity")
    session.flush()
    return family_record(session, session.get_one(FamilyRow, body.family_id))


def list_families(
    session: Session, who: Principal, kommune: str | None = None
) -> list[StoredFamily]:
    codes = who.kommuner if kommune is None else who.kommuner & {kommune}
    rows = session.scalars(
        select(FamilyRow)
        .where(FamilyRow.kommune_code.in_(sorted(codes)), FamilyRow.retired_on.is_(None))
        .order_by(FamilyRow.position, FamilyRow.family_id)
    )
    return [family_record(session, r) for r in rows]


def read_family(session: Session, who: Principal, family_id: str) -> StoredFamily:
    return family_record(session, _owned(session, who, FamilyRow, family_id))


def update_family(
    session: Session, service: Service, who: Principal, family_id: str, body: FamilyCreate
) -> StoredFamily:
    row = _owned(session, who, FamilyRow, family_id)
    if body.family_id != family_id:
        raise _mismatch("family_id", body.family_id, family_id)
    family: Family = _checked(service, who, "families", body)
    pool = session.get_one(CapacityPool, family_id)
    if family.occupied + pool.reserved > family.places:
        raise Conflict(
            f"{pool.reserved} place(s) are held: places must be at least occupied + held",
            reason="HELD_PLACES",
        )
    position, reserved = row.position, pool.reserved
    session.delete(row)
    session.execute(delete(CapacityPool).where(CapacityPool.pool_id == family_id))
    session.flush()
    session.add_all(family_rows(family, position, reserved))
    service.bump(session, "structure", "capacity")
    session.flush()
    return family_record(session, session.get_one(FamilyRow, family_id))


# --------------------------------------------------------------------------- institutions


def create_institution(
    session: Session, service: Service, who: Principal, body: InstitutionCreate
) -> StoredInstitution:
    inst: Institution = _checked(service, who, "institutions", body)
    if _id_in_use(session, body.institution_id):
        raise Conflict(f"id {body.institution_id!r} is in use already")
    session.add_all(institution_rows(inst, _position(session, InstitutionRow)))
    service.bump(session, "structure", "capacity")
    session.flush()
    return institution_record(session, session.get_one(InstitutionRow, body.institution_id))


def list_institutions(
    session: Session, who: Principal, kommune: str | None = None
) -> list[StoredInstitution]:
    codes = who.kommuner if kommune is None else who.kommuner & {kommune}
    rows = session.scalars(
        select(InstitutionRow)
        .where(InstitutionRow.kommune_code.in_(sorted(codes)), InstitutionRow.retired_on.is_(None))
        .order_by(InstitutionRow.position, InstitutionRow.institution_id)
    )
    return [institution_record(session, r) for r in rows]


def read_institution(session: Session, who: Principal, institution_id: str) -> StoredInstitution:
    return institution_record(session, _owned(session, who, InstitutionRow, institution_id))


def update_institution(
    session: Session,
    service: Service,
    who: Principal,
    institution_id: str,
    body: InstitutionCreate,
) -> StoredInstitution:
    row = _owned(session, who, InstitutionRow, institution_id)
    if body.institution_id != institution_id:
        raise _mismatch("institution_id", body.institution_id, institution_id)
    inst: Institution = _checked(service, who, "institutions", body)
    pool = session.get_one(CapacityPool, institution_id)
    comb = session.get_one(CapacityPool, combination_pool(institution_id))
    if (
        inst.occupied + pool.reserved > inst.places
        or inst.combination_occupied + comb.reserved > inst.combination_places
    ):
        raise Conflict("places must be at least occupied + held", reason="HELD_PLACES")
    position, reserved = row.position, (pool.reserved, comb.reserved)
    session.delete(row)
    session.execute(
        delete(CapacityPool).where(CapacityPool.pool_id.in_([pool.pool_id, comb.pool_id]))
    )
    session.flush()
    session.add_all(institution_rows(inst, position, reserved))
    service.bump(session, "structure", "capacity")
    session.flush()
    return institution_record(session, session.get_one(InstitutionRow, institution_id))


# ------------------------------------------------------------------------------- capacity


def _patch_pool(pool: CapacityPool, places: int | None, occupied: int | None, path: str) -> None:
    new_places = pool.places if places is None else places
    new_occupied = pool.occupied if occupied is None else occupied
    if new_occupied + pool.reserved > new_places:
        raise Invalid(
            "occupied plus held places cannot exceed places",
            errors=[
                {
                    "path": f"body.{path}",
                    "value": new_occupied,
                    "allowed": f"at most places - held ({new_places} - {pool.reserved})",
                }
            ],
        )
    pool.places, pool.occupied = new_places, new_occupied


def patch_capacity(
    session: Session,
    service: Service,
    who: Principal,
    option_id: str,
    body: CapacityPatch,
    only: Literal["family", "institution"] | None = None,
) -> StoredFamily | StoredInstitution:
    """Places, occupied, pause or a vacancy confirmation of a family or an institution
    (`only`: of that kind, NotFound otherwise, the same for every id it does not own)."""
    if only == "family":
        row: FamilyRow | InstitutionRow = _owned(session, who, FamilyRow, option_id)
    elif only == "institution":
        row = _owned(session, who, InstitutionRow, option_id)
    else:
        row = own_option(session, who, option_id)
    _patch_pool(session.get_one(CapacityPool, option_id), body.places, body.occupied, "occupied")
    if isinstance(row, FamilyRow):
        if body.combination_places is not None or body.combination_occupied is not None:
            raise Invalid(
                "a family has no separate combination places",
                errors=[
                    {
                        "path": "body.combination_places",
                        "value": body.combination_places,
                        "allowed": "null for a foster family",
                    }
                ],
            )
        if body.paused is not None:
            row.paused = body.paused
            service.bump(session, "structure")
    else:
        if body.paused is not None:
            raise Invalid(
                "institutions are not paused",
                errors=[{"path": "body.paused", "value": body.paused, "allowed": "null"}],
            )
        _patch_pool(
            session.get_one(CapacityPool, combination_pool(option_id)),
            body.combination_places,
            body.combination_occupied,
            "combination_occupied",
        )
    if body.confirm_vacancy:
        row.vacancy_confirmed = date.today()
        service.bump(session, "structure")
    service.bump(session, "capacity")
    session.flush()
    return _stored(session, row)


@dataclass(frozen=True)
class CapacityGroup:
    kommune_code: str
    kind: str
    level: str
    places: int
    occupied: int
    reserved: int
    free: int


@dataclass(frozen=True)
class StaleVacancy:
    option_id: str
    kind: str
    kommune_code: str
    vacancy_confirmed: date | None


@dataclass(frozen=True)
class CapacityOverview:
    stale_days: int
    groups: list[CapacityGroup]
    stale: list[StaleVacancy]


def capacity_overview(session: Session, service: Service) -> CapacityOverview:
    """Free, reserved and occupied places by kommune, kind and level, and stale vacancies."""
    service.expire_holds(session)
    pools = {p.pool_id: p for p in session.scalars(select(CapacityPool))}
    sums: dict[tuple[str, str, str], list[int]] = {}

    def add(kommune: str, kind: str, level: str, pool: CapacityPool) -> None:
        total = sums.setdefault((kommune, kind, level), [0, 0, 0, 0])
        total[0] += pool.places
        total[1] += pool.occupied
        total[2] += pool.reserved
        total[3] += free_places(pool.places, pool.occupied, pool.reserved)

    stale_before = date.today() - timedelta(days=service.policy.stale_days)
    stale: list[StaleVacancy] = []
    # Retired options (kept for their placement history) offer no places.
    current_families = select(FamilyRow).where(FamilyRow.retired_on.is_(None))
    for f in session.scalars(current_families.order_by(FamilyRow.family_id)):
        add(f.kommune_code, "foster", f.level, pools[f.family_id])
        if not f.paused and vacancy_is_stale(f.vacancy_confirmed, stale_before):
            stale.append(StaleVacancy(f.family_id, "foster", f.kommune_code, f.vacancy_confirmed))
    current = select(InstitutionRow).where(InstitutionRow.retired_on.is_(None))
    for i in session.scalars(current.order_by(InstitutionRow.institution_id)):
        add(i.kommune_code, "institution", i.kind, pools[i.institution_id])
        comb = pools[combination_pool(i.institution_id)]
        if comb.places:
            add(i.kommune_code, "combination", i.kind, comb)
        if vacancy_is_stale(i.vacancy_confirmed, stale_before):
            stale.append(
                StaleVacancy(i.institution_id, "institution", i.kommune_code, i.vacancy_confirmed)
            )
    groups = [CapacityGroup(k, kind, level, *v) for (k, kind, level), v in sorted(sums.items())]
    return CapacityOverview(service.policy.stale_days, groups, stale)
