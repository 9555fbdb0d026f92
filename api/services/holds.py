"""Holding a place for a child (or its sibling group) until it expires, confirming it as a
placement, releasing it. Two coordinators can never both get the last place: a hold takes its
places in one conditional UPDATE (`models.capacity.has_room`)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.db.capacity import (
    active_placements,
    end_hold,
    live_hold_of,
    lock_children,
    occupy_held,
    release_held,
    reserve,
)
from api.db.orm import (
    ChildRow,
    FamilyRow,
    InstitutionRow,
    NetworkRow,
    PlacementRow,
    Reservation,
)
from api.services.caller import Principal
from api.services.children import own_child
from api.services.errors import Conflict, Invalid, NotFound
from api.services.inputs import ReservationCreate
from api.services.runtime import Service, now
from matcher.rank import OptionCheck, UnknownChild
from models.capacity import combination_pool

__all__ = [
    "already_placed",
    "child_has_hold",
    "confirm_hold",
    "create_hold",
    "hold_state",
    "option_pool",
    "own_hold",
    "read_hold",
    "release_hold",
]


def child_has_hold(hold_id: str) -> Conflict:
    return Conflict(
        f"the child already has a live hold ({hold_id}): confirm or release it first",
        reason="CHILD_HAS_HOLD",
        reservation_id=hold_id,
        hold_id=hold_id,
    )


def already_placed(placements: list[PlacementRow]) -> Conflict:
    where = ", ".join(f"{p.child_id} at {p.option_id}" for p in placements)
    return Conflict(
        f"already placed ({where}): a change of placement is a move of the placement "
        "(POST /v1/placements/{id}/move)",
        reason="ALREADY_PLACED",
        placement_ids=[p.id for p in placements],
    )


def option_pool(
    session: Session, option_id: str, kind: str | None, child: ChildRow
) -> tuple[str, str]:
    """(kind, pool_id) of an option, the kind inferred when not given."""
    if session.get(FamilyRow, option_id) is not None:
        kind = kind or "foster"
        if kind not in ("foster", "combination"):
            raise Invalid(
                f"{option_id} is a foster family",
                errors=[{"path": "body.kind", "value": kind, "allowed": "foster or combination"}],
            )
        return kind, option_id
    if session.get(InstitutionRow, option_id) is not None:
        kind = kind or "institution"
        if kind not in ("institution", "combination"):
            raise Invalid(
                f"{option_id} is an institution",
                errors=[
                    {"path": "body.kind", "value": kind, "allowed": "institution or combination"}
                ],
            )
        return kind, option_id if kind == "institution" else combination_pool(option_id)
    # A network person is an option only for the child (or its siblings) whose network they
    # are in; anyone else's answers as an unknown id, so no other child's network shows.
    unit = [child.child_id]
    if child.sibling_group:
        unit = list(
            session.scalars(
                select(ChildRow.child_id).where(ChildRow.sibling_group == child.sibling_group)
            )
        )
    if session.scalars(
        select(NetworkRow).where(NetworkRow.person_id == option_id, NetworkRow.child_id.in_(unit))
    ).first():
        if kind not in (None, "network"):
            raise Invalid(
                f"{option_id} is a network person",
                errors=[{"path": "body.kind", "value": kind, "allowed": "network"}],
            )
        return "network", option_id
    raise NotFound(f"no option {option_id!r}")


def own_hold(session: Session, who: Principal, reservation_id: str) -> Reservation:
    hold = session.get(Reservation, reservation_id)
    if hold is None or not who.in_scope(hold.kommune_code):
        raise NotFound(f"no reservation {reservation_id!r} in your kommuner")
    return hold


def hold_state(hold: Reservation) -> str:
    """The hold's status, with a hold past its expiry shown as expired before the reaper runs."""
    if hold.status == "held" and hold.expires_at < now():
        return "expired"
    return hold.status


def _first_child(session: Session, who: Principal, body: ReservationCreate) -> ChildRow:
    if body.child_id:
        return own_child(session, who, body.child_id)
    if not body.sibling_group:
        raise Invalid(
            "name the child or the sibling group",
            errors=[
                {"path": "body.child_id", "value": None, "allowed": "a child_id or sibling_group"}
            ],
        )
    first = session.scalars(
        select(ChildRow)
        .where(ChildRow.sibling_group == body.sibling_group)
        .order_by(ChildRow.child_id)
    ).first()
    if first is None or not who.in_scope(first.kommune_code):
        raise NotFound(f"no sibling group {body.sibling_group!r} in your kommuner")
    return first


def create_hold(
    session: Session, service: Service, who: Principal, body: ReservationCreate
) -> Reservation:
    """Hold an eligible option's places for a child (and its sibling group): NotFound outside
    the caller's kommuner, Invalid when not eligible, Conflict when the last place went to
    someone else."""
    first = _first_child(session, who, body)
    kind, pool_id = option_pool(session, body.option_id, body.kind, first)
    service.expire_holds(session)
    matcher = service.matcher(session)
    try:
        check = matcher.evaluate_option(first.child_id, body.option_id, kind, as_of=date.today())
    except UnknownChild:  # retired: kept for its placement history, no longer a case
        raise NotFound(f"no child {first.child_id!r} in your kommuner") from None
    # One child, one decision: checked before eligibility, so the answer names the hold or
    # placement that stands in the way rather than a capacity the child itself uses.
    other = live_hold_of(session, check.children)
    if other is not None:
        raise child_has_hold(other)
    placed = active_placements(session, check.children)
    if placed:
        raise already_placed(placed)
    if not check.eligible:
        if check.reasons == ["NO_CAPACITY"]:
            raise Conflict(f"no free place left at {body.option_id}", reason="NO_CAPACITY")
        raise Invalid(
            f"{body.option_id} ({kind}) is not an eligible option for this child",
            reasons=check.reasons,
        )
    hold = _take_places(session, service, who, check, first.kommune_code, body, kind, pool_id)
    for cid in check.children:
        service.audit(session, who, "reservation.create", cid, f"{hold.id} {body.option_id}")
    return hold


def _take_places(
    session: Session,
    service: Service,
    who: Principal,
    check: OptionCheck,
    kommune: str,
    body: ReservationCreate,
    kind: str,
    pool_id: str,
) -> Reservation:
    """Hold a place for each child of the checked unit in one atomic conditional UPDATE: of
    two coordinators racing for the last place, exactly one wins."""
    n = len(check.children)
    moment = now()
    hold = Reservation(
        id=str(uuid.uuid4()),
        child_ids=";".join(check.children),
        sibling_group=check.sibling_group,
        kommune_code=kommune,
        option_id=body.option_id,
        kind=kind,
        pool_id=pool_id,
        places=n,
        status="held",
        created_at=moment,
        expires_at=moment + timedelta(hours=body.hours),
        created_by=who.key_id,
    )
    session.add(hold)
    session.flush()
    # The children first, then the places: a second hold of the same child fails here
    # whichever option it is for; a placement that committed while this request waited for
    # the children is seen by the check after the lock.
    other = lock_children(session, hold.id, check.children)
    if other is not None:
        raise child_has_hold(other)
    placed = active_placements(session, check.children)
    if placed:
        raise already_placed(placed)
    if not reserve(session, pool_id, n):
        raise Conflict(
            f"no free place left at {body.option_id}: another reservation or placement took "
            "it first",
            reason="NO_CAPACITY",
        )
    service.bump(session, "capacity")
    return hold


def read_hold(
    session: Session, service: Service, who: Principal, reservation_id: str
) -> Reservation:
    service.expire_holds(session)
    hold = own_hold(session, who, reservation_id)
    session.refresh(hold)
    # This route writes (it expires holds), so its audit goes in its own transaction.
    for cid in hold.child_ids.split(";"):
        service.audit(session, who, "reservation.read", cid, hold.id)
    return hold


def confirm_hold(
    session: Session, service: Service, who: Principal, reservation_id: str
) -> Reservation:
    """The hold becomes a placement of each of its children, atomically."""
    hold = own_hold(session, who, reservation_id)
    if hold.status != "held" or hold.expires_at < now():
        raise Conflict(
            f"reservation is {hold_state(hold)} and cannot be confirmed", reason="NOT_HELD"
        )
    placed = active_placements(session, hold.child_ids.split(";"))
    if placed:
        raise already_placed(placed)
    if not end_hold(session, hold.id, "confirmed"):
        raise Conflict("reservation changed meanwhile", reason="NOT_HELD")
    occupy_held(session, hold.pool_id, hold.places)
    hold.status = "confirmed"
    session.add_all(
        PlacementRow(
            child_id=cid,
            option_id=hold.option_id,
            kind=hold.kind,
            start_date=now().date(),
            status="active",
            end_reason="",
            reservation_id=hold.id,
        )
        for cid in hold.child_ids.split(";")
    )
    try:
        session.flush()
    except IntegrityError:
        # Another worker placed one of the children in the meantime; raising rolls the
        # whole confirmation back, hold included.
        raise Conflict(
            "one of the children was placed meanwhile", reason="ALREADY_PLACED"
        ) from None
    # "structure" too: the matcher's dataset carries the active placements (the default batch
    # cohort leaves placed children out; the review reads them).
    service.bump(session, "capacity", "structure")
    for cid in hold.child_ids.split(";"):
        service.audit(session, who, "reservation.confirm", cid, hold.id)
    return hold


def release_hold(
    session: Session, service: Service, who: Principal, reservation_id: str
) -> Reservation:
    hold = own_hold(session, who, reservation_id)
    if hold.status != "held":
        raise Conflict(
            f"reservation is {hold_state(hold)}; only a hold can be released", reason="NOT_HELD"
        )
    if end_hold(session, hold.id, "released"):
        release_held(session, hold.pool_id, hold.places)
        hold.status = "released"
        service.bump(session, "capacity")
    for cid in hold.child_ids.split(";"):
        service.audit(session, who, "reservation.release", cid, hold.id)
    return hold
