"""Extending a live hold: the coordinator needs more time before confirming (a visit, the
committee's meeting). The hold keeps its places; only its expiry moves. Audited."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from sqlalchemy.orm import Session

from api.db.orm import Reservation
from api.services.caller import Principal
from api.services.errors import Conflict
from api.services.holds import hold_state, own_hold
from api.services.runtime import Service, now
from models.records import ContractRecord

__all__ = ["HoldExtend", "extend_hold"]

MAX_HOURS = 24 * 14  # as for a new hold


class HoldExtend(ContractRecord):
    """How many hours from now the hold should last."""

    hours: float = Field(default=24, gt=0, le=MAX_HOURS)


def extend_hold(
    session: Session, service: Service, who: Principal, reservation_id: str, body: HoldExtend
) -> Reservation:
    """The live hold, now expiring `hours` from now (never earlier than it did)."""
    service.expire_holds(session)
    hold = own_hold(session, who, reservation_id)
    session.refresh(hold)
    if hold.status != "held" or hold.expires_at < now():
        raise Conflict(
            f"reservation is {hold_state(hold)}; only a live hold can be extended",
            reason="NOT_HELD",
        )
    hold.expires_at = max(hold.expires_at, now() + timedelta(hours=body.hours))
    session.flush()
    for cid in hold.child_ids.split(";"):
        service.audit(session, who, "reservation.extend", cid, f"{hold.id} {body.hours:g}h")
    return hold
