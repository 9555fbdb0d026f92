"""Tables. Capacity lives in `capacity_pools` (one row per home: a family, an institution's
residential places, its combination places, a network person), so holding a place is a
single conditional UPDATE that the database makes atomic."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Base",
    "BatchJob",
    "CapacityPool",
    "CaseNote",
    "ChildRow",
    "DataVersion",
    "ExclusionRow",
    "FamilyRow",
    "IdempotentResponse",
    "InstitutionRow",
    "KeepAwayRow",
    "LiveHold",
    "NetworkRow",
    "PlacementRow",
    "Reservation",
    "UiSession",
]


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every backend: SQLite stores no offset and returns naive values,
    which would leave the API's timestamps without their zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class ChildRow(Base):
    __tablename__ = "children"
    child_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kommune_code: Mapped[str] = mapped_column(String(3), index=True)
    age: Mapped[int] = mapped_column(Integer)
    support_level: Mapped[int] = mapped_column(Integer)
    needs: Mapped[str] = mapped_column(Text, default="")
    home_lat: Mapped[float] = mapped_column(Float)
    home_lon: Mapped[float] = mapped_column(Float)
    home_postcode: Mapped[str | None] = mapped_column(String(4))
    school_lat: Mapped[float | None] = mapped_column(Float)
    school_lon: Mapped[float | None] = mapped_column(Float)
    school_id: Mapped[str | None] = mapped_column(String(16))
    daycare_lat: Mapped[float | None] = mapped_column(Float)
    daycare_lon: Mapped[float | None] = mapped_column(Float)
    daycare_postcode: Mapped[str | None] = mapped_column(String(4))
    sibling_group: Mapped[str | None] = mapped_column(String(64), index=True)
    acute: Mapped[bool] = mapped_column(Boolean, default=False)
    combination_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    secure_decision: Mapped[bool] = mapped_column(Boolean, default=False)
    wishes: Mapped[str] = mapped_column(Text, default="")
    arrival: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)  # dataset order
    # Set when the row left the kommune's files but placements refer to it: kept as history,
    # out of matching and lists.
    retired_on: Mapped[date | None] = mapped_column(Date)


class NetworkRow(Base):
    __tablename__ = "network"
    person_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    child_id: Mapped[str] = mapped_column(
        ForeignKey("children.child_id", ondelete="CASCADE"), primary_key=True
    )
    relation: Mapped[str] = mapped_column(String(32))
    via: Mapped[str | None] = mapped_column(String(64))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    postcode: Mapped[str | None] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16))
    places: Mapped[int] = mapped_column(Integer, default=1)
    willing: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)  # dataset order
    # Set when the row left the kommune's files but placements refer to it: kept as history,
    # out of matching and lists.
    retired_on: Mapped[date | None] = mapped_column(Date)


class FamilyRow(Base):
    __tablename__ = "families"
    family_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kommune_code: Mapped[str] = mapped_column(String(3), index=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    postcode: Mapped[str | None] = mapped_column(String(4))
    level: Mapped[str] = mapped_column(String(16))
    min_age: Mapped[int] = mapped_column(Integer)
    max_age: Mapped[int] = mapped_column(Integer)
    target_groups: Mapped[str] = mapped_column(Text, default="")
    max_siblings: Mapped[int] = mapped_column(Integer, default=1)
    acute: Mapped[bool] = mapped_column(Boolean, default=False)
    combination: Mapped[bool] = mapped_column(Boolean, default=False)
    vacancy_confirmed: Mapped[date | None] = mapped_column(Date)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    monthly_rate: Mapped[float | None] = mapped_column(Float)
    position: Mapped[int] = mapped_column(Integer, default=0)  # dataset order
    # Set when the row left the kommune's files but placements refer to it: kept as history,
    # out of matching and lists.
    retired_on: Mapped[date | None] = mapped_column(Date)


class InstitutionRow(Base):
    __tablename__ = "institutions"
    institution_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kommune_code: Mapped[str] = mapped_column(String(3), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    postcode: Mapped[str | None] = mapped_column(String(4))
    min_age: Mapped[int] = mapped_column(Integer)
    max_age: Mapped[int] = mapped_column(Integer)
    target_groups: Mapped[str] = mapped_column(Text, default="")
    max_level: Mapped[int] = mapped_column(Integer, default=4)
    acute: Mapped[bool] = mapped_column(Boolean, default=False)
    daily_rate: Mapped[float | None] = mapped_column(Float)
    vacancy_confirmed: Mapped[date | None] = mapped_column(Date)
    position: Mapped[int] = mapped_column(Integer, default=0)  # dataset order
    # Set when the row left the kommune's files but placements refer to it: kept as history,
    # out of matching and lists.
    retired_on: Mapped[date | None] = mapped_column(Date)


class CapacityPool(Base):
    """places/occupied/reserved of one home: family_id, institution_id,
    institution_id#combination, or a network person's person_id."""

    __tablename__ = "capacity_pools"
    pool_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # family, institution, combination, network
    places: Mapped[int] = mapped_column(Integer)
    occupied: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)


class ExclusionRow(Base):
    __tablename__ = "exclusions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    child_id: Mapped[str] = mapped_column(
        ForeignKey("children.child_id", ondelete="CASCADE"), index=True
    )
    option_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")


class KeepAwayRow(Base):
    __tablename__ = "keep_away"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    child_id: Mapped[str] = mapped_column(
        ForeignKey("children.child_id", ondelete="CASCADE"), index=True
    )
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    postcode: Mapped[str | None] = mapped_column(String(4))
    min_km: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")


class PlacementRow(Base):
    """Where a child lives or lived (placements.csv); a confirmed reservation adds one."""

    __tablename__ = "placements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # No foreign key: a child who leaves the kommune's files keeps its history.
    child_id: Mapped[str] = mapped_column(String(64), index=True)
    option_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    start_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), index=True)  # active ended
    end_date: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str] = mapped_column(Text, default="")
    last_follow_up: Mapped[date | None] = mapped_column(Date)
    reservation_id: Mapped[str | None] = mapped_column(String(36))


class Reservation(Base):
    __tablename__ = "reservations"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    child_ids: Mapped[str] = mapped_column(Text)
    sibling_group: Mapped[str | None] = mapped_column(String(64))
    kommune_code: Mapped[str] = mapped_column(String(3), index=True)
    option_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    pool_id: Mapped[str] = mapped_column(ForeignKey("capacity_pools.pool_id"))
    places: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)  # held confirmed released expired
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    created_by: Mapped[int] = mapped_column(Integer)


class LiveHold(Base):
    """A child of a live hold. The primary key is the rule "one live hold per child", kept by
    the database against racing workers; the row goes when the hold is confirmed, released or
    expires (the hold itself stays in `reservations`)."""

    __tablename__ = "live_holds"
    child_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reservation_id: Mapped[str] = mapped_column(ForeignKey("reservations.id"), index=True)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    kommuner: Mapped[str] = mapped_column(Text, default="")
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_by: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(Integer)  # None: made on the command line


class AuditEntry(Base):
    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    key_id: Mapped[int | None] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(40))
    child_id: Mapped[str | None] = mapped_column(String(64), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")


class BatchJob(Base):
    __tablename__ = "batch_jobs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # queued running done failed
    stage: Mapped[str] = mapped_column(String(32), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    params: Mapped[dict] = mapped_column(JSON)
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(Integer)
    kommuner: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class IdempotentResponse(Base):
    __tablename__ = "idempotency"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    key_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route: Mapped[str] = mapped_column(String(200), primary_key=True)
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    body_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")


class UiSession(Base):
    """A signed-in browser: the cookie carries a random token, the table only its hash."""

    __tablename__ = "ui_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[int] = mapped_column(Integer, index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CaseNote(Base):
    """A dated note on a child's case, written by a coordinator: the child's or the parents'
    views (Barnets Lov § 46-47), the placement's purpose and expected duration, or a
    follow-up held (with whom, whether the child was heard)."""

    __tablename__ = "case_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    child_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # child_view parent_view purpose follow_up
    text: Mapped[str] = mapped_column(Text, default="")
    on_date: Mapped[date | None] = mapped_column(Date)
    with_whom: Mapped[str] = mapped_column(String(200), default="")
    child_heard: Mapped[bool | None] = mapped_column(Boolean)
    placement_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[int] = mapped_column(Integer)


class DataVersion(Base):
    """Counters bumped in the same transaction as a change, so every server process can tell
    whether its in-memory matcher is stale: `structure` (children, options) or `capacity`."""

    __tablename__ = "data_versions"
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


Index("ix_reservations_held", Reservation.status, Reservation.expires_at)
# At most one active placement per child, kept by the database against racing workers.
_ACTIVE = text("status = 'active'")
Index(
    "ux_placements_active_child",
    PlacementRow.child_id,
    unique=True,
    sqlite_where=_ACTIVE,
    postgresql_where=_ACTIVE,
)
