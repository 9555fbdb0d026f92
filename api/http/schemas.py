"""Response bodies of the HTTP API. Request bodies are the use cases' typed input
(`api.services.inputs`), re-exported here so that the routes import one module."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from api.services.inputs import (
    BatchCreate,
    CapacityPatch,
    ChildCreate,
    ExclusionIn,
    FamilyCreate,
    InstitutionCreate,
    KeepAwayIn,
    KeyCreate,
    NetworkPersonIn,
    PlacementEnd,
    PlacementMove,
    ProposalRequest,
    ReservationCreate,
)
from models.dataset import split_list

__all__ = [
    "AuditPublic",
    "BatchCreate",
    "BatchPublic",
    "CapacityPatch",
    "ChildCreate",
    "ChildPublic",
    "ExclusionIn",
    "FamilyCreate",
    "FamilyPublic",
    "InstitutionCreate",
    "InstitutionPublic",
    "KeepAwayIn",
    "KeyCreate",
    "KeyCreated",
    "KeyPublic",
    "NetworkPersonIn",
    "PlacementEnd",
    "PlacementMove",
    "PlacementMoved",
    "PlacementPublic",
    "ProposalRequest",
    "ReservationCreate",
    "ReservationPublic",
]


class ChildPublic(ChildCreate):
    model_config = ConfigDict(extra="ignore")


class FamilyPublic(FamilyCreate):
    model_config = ConfigDict(extra="ignore")
    reserved: int = 0
    free_places: int = 0


class InstitutionPublic(InstitutionCreate):
    model_config = ConfigDict(extra="ignore")
    reserved: int = 0
    free_places: int = 0
    combination_reserved: int = 0


class ReservationPublic(BaseModel):
    id: str
    child_ids: list[str]  # stored as one `;`-separated text
    sibling_group: str | None
    option_id: str
    kind: str
    places: int
    status: str
    created_at: datetime
    expires_at: datetime

    @field_validator("child_ids", mode="before")
    @classmethod
    def _split_stored(cls, value: Any) -> Any:
        return split_list(value) if isinstance(value, str) else value


class PlacementPublic(BaseModel):
    """One placement: placements.csv's fields, its id and the hold it was confirmed from."""

    id: int
    child_id: str
    option_id: str
    kind: str
    start_date: date
    status: str
    end_date: date | None
    end_reason: str
    last_follow_up: date | None
    reservation_id: str | None

    model_config = ConfigDict(from_attributes=True)


class PlacementMoved(BaseModel):
    ended: list[PlacementPublic]
    started: list[PlacementPublic]


class BatchPublic(BaseModel):
    id: str
    status: str
    stage: str
    progress: float
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    result: dict[str, Any] | None


class AuditPublic(BaseModel):
    id: int
    at: datetime
    key_id: int | None
    role: str
    action: str
    child_id: str | None
    detail: str


class KeyCreated(BaseModel):
    """A new key: its clear text is shown this once; only its hash is stored."""

    id: int
    role: str
    kommuner: list[str]
    label: str = ""
    key: str


class KeyPublic(BaseModel):
    """A key as listed: never its hash nor its clear text."""

    id: int
    role: str
    kommuner: list[str]
    label: str
    created_at: datetime
    revoked: bool
    revoked_at: datetime | None
