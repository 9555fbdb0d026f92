"""Recording a follow-up held on a child's active placement (tilsyn): the date, with whom,
whether the child was heard and a note. It moves the placement's `last_follow_up`, which the
review's schedule counts from, and it is audited."""

from __future__ import annotations

from datetime import date

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.orm import CaseNote, PlacementRow
from api.services.caller import Principal
from api.services.children import own_child
from api.services.errors import Invalid, NotFound
from api.services.runtime import Service, now
from models.records import ContractRecord

__all__ = ["FollowUpCreate", "active_placement", "record_follow_up"]


class FollowUpCreate(ContractRecord):
    """A follow-up held: when (today when left out), with whom, whether the child was heard
    alone or with the family (Barnets Lov § 71), and a note."""

    on_date: date | None = None
    with_whom: str = Field(min_length=1, max_length=200)
    child_heard: bool
    note: str = Field(default="", max_length=4000)


def active_placement(session: Session, child_id: str) -> PlacementRow | None:
    return session.scalars(
        select(PlacementRow).where(
            PlacementRow.child_id == child_id, PlacementRow.status == "active"
        )
    ).first()


def record_follow_up(
    session: Session, service: Service, who: Principal, child_id: str, body: FollowUpCreate
) -> PlacementRow:
    """The child's active placement with `last_follow_up` set to the follow-up's date (never
    moved back by an older follow-up recorded late)."""
    own_child(session, who, child_id)
    row = active_placement(session, child_id)
    if row is None:
        raise NotFound(
            f"child {child_id!r} has no active placement to follow up",
            reason="NO_ACTIVE_PLACEMENT",
        )
    held = body.on_date or now().date()
    if held > now().date() or held < row.start_date:
        raise Invalid(
            f"on_date {held} is outside the placement ({row.start_date} to today)",
            errors=[
                {
                    "path": "body.on_date",
                    "value": held.isoformat(),
                    "allowed": f"{row.start_date} to today",
                }
            ],
        )
    if row.last_follow_up is None or held > row.last_follow_up:
        row.last_follow_up = held
    session.add(
        CaseNote(
            child_id=child_id,
            kind="follow_up",
            text=body.note.strip(),
            on_date=held,
            with_whom=body.with_whom.strip(),
            child_heard=body.child_heard,
            placement_id=row.id,
            created_at=now(),
            created_by=who.key_id,
        )
    )
    session.flush()
    # The review reads last_follow_up from the matcher's dataset.
    service.bump(session, "structure")
    service.audit(session, who, "placement.follow_up", child_id, f"{row.id} {held.isoformat()}")
    return row
