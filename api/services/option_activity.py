"""What is going on at a consultant's families and institutions: the live holds on each (which
children, held by which coordinator's key, until when), the active placements, and an option's
whole placement history. Every child id it hands out is audited as a read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.orm import ApiKey, PlacementRow, Reservation
from api.services.caller import Principal
from api.services.options import StoredFamily, StoredInstitution, read_option
from api.services.runtime import Service

__all__ = [
    "Activity",
    "HeldPlace",
    "OptionHistory",
    "PlacedChild",
    "option_activity",
    "option_history",
]


@dataclass(frozen=True)
class HeldPlace:
    reservation_id: str
    child_ids: list[str]
    kind: str
    places: int
    created_at: datetime
    expires_at: datetime
    key_id: int
    key_label: str  # the coordinator key's label; "" when the key has none


@dataclass(frozen=True)
class PlacedChild:
    placement_id: int
    child_id: str
    kind: str
    start_date: date
    status: str
    end_date: date | None
    end_reason: str
    last_follow_up: date | None


@dataclass
class Activity:
    holds: list[HeldPlace] = field(default_factory=list)
    placed: list[PlacedChild] = field(default_factory=list)


@dataclass(frozen=True)
class OptionHistory:
    record: StoredFamily | StoredInstitution
    activity: Activity
    history: list[PlacedChild]  # every placement there, newest first (ended ones too)


def _labels(session: Session, key_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(key_ids))
    if not ids:
        return {}
    rows = session.execute(select(ApiKey.id, ApiKey.label).where(ApiKey.id.in_(ids)))
    return {key_id: label or "" for key_id, label in rows}


def _placed(row: PlacementRow) -> PlacedChild:
    return PlacedChild(
        row.id,
        row.child_id,
        row.kind,
        row.start_date,
        row.status,
        row.end_date,
        row.end_reason or "",
        row.last_follow_up,
    )


def _audit(session: Session, service: Service, who: Principal, action: str, ids: set[str]) -> None:
    for child_id in sorted(ids):
        service.audit(session, who, action, child_id)


def option_activity(
    session: Session, service: Service, who: Principal, option_ids: Iterable[str]
) -> dict[str, Activity]:
    """Live holds and active placements of the given options (the caller's own: the ids come
    from its listing), by option id. Expired holds are freed first, so none shows as live."""
    wanted = sorted(set(option_ids))
    result: dict[str, Activity] = {oid: Activity() for oid in wanted}
    if not wanted:
        return result
    service.expire_holds(session)
    holds = list(
        session.scalars(
            select(Reservation)
            .where(Reservation.option_id.in_(wanted), Reservation.status == "held")
            .order_by(Reservation.expires_at, Reservation.id)
        )
    )
    labels = _labels(session, (h.created_by for h in holds))
    seen: set[str] = set()
    for h in holds:
        children = [c for c in h.child_ids.split(";") if c]
        seen.update(children)
        result[h.option_id].holds.append(
            HeldPlace(
                h.id,
                children,
                h.kind,
                h.places,
                h.created_at,
                h.expires_at,
                h.created_by,
                labels.get(h.created_by, ""),
            )
        )
    for p in session.scalars(
        select(PlacementRow)
        .where(PlacementRow.option_id.in_(wanted), PlacementRow.status == "active")
        .order_by(PlacementRow.start_date, PlacementRow.id)
    ):
        seen.add(p.child_id)
        result[p.option_id].placed.append(_placed(p))
    _audit(session, service, who, "ui.capacity.children", seen)
    return result


def option_history(
    session: Session, service: Service, who: Principal, option_id: str
) -> OptionHistory:
    """A family's or institution's record, its live holds and active placements, and every
    placement it has had (NotFound outside the caller's kommuner, as for a missing id)."""
    record = read_option(session, who, option_id)
    activity = option_activity(session, service, who, [option_id])[option_id]
    rows = session.scalars(
        select(PlacementRow)
        .where(PlacementRow.option_id == option_id)
        .order_by(PlacementRow.start_date.desc(), PlacementRow.id.desc())
    )
    history = [_placed(r) for r in rows]
    _audit(session, service, who, "ui.option.history", {p.child_id for p in history})
    return OptionHistory(record, activity, history)
