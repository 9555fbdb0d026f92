"""Request and response bodies. Field names follow the dataset contract (DESIGN.md §3).

Bodies are typed here for the OpenAPI schema; the domain parsers of `models.dataset` then
check them exactly as a CSV row is checked (ranges, vocabularies, postcodes, Denmark)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
    "NetworkPersonIn",
    "ProposalRequest",
    "ReservationCreate",
    "ReservationPublic",
]

Lat = Field(default=None, ge=-90, le=90)
Lon = Field(default=None, ge=-180, le=180)
Code = Field(default=None, max_length=16)
Id = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("NUL characters are not allowed in text")
    if isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


class _Body(BaseModel):
    """Request bodies: unknown fields are refused; text may not hold NUL characters
    (PostgreSQL cannot store them, and no real input has them)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _text_without_nul(cls, value: Any) -> Any:
        return _no_nul(value)


class NetworkPersonIn(_Body):
    person_id: str = Id
    relation: str = Field(max_length=32)
    via: str | None = Field(default=None, max_length=64)
    lat: float | None = Lat
    lon: float | None = Lon
    postcode: str | None = Code
    status: str = Field(max_length=16)
    places: int = Field(default=1, ge=1, le=10)
    willing: bool = True


class ExclusionIn(_Body):
    option_id: str = Id
    reason: str = Field(default="", max_length=500)


class KeepAwayIn(_Body):
    lat: float | None = Lat
    lon: float | None = Lon
    postcode: str | None = Code
    min_km: float = Field(ge=0, le=500)
    reason: str = Field(default="", max_length=500)


class ChildCreate(_Body):
    child_id: str = Id
    kommune_code: str = Field(max_length=3)
    age: int = Field(ge=0, le=22)
    support_level: int = Field(ge=1, le=4)
    needs: list[str] = Field(default_factory=list, max_length=10)
    home_lat: float | None = Lat
    home_lon: float | None = Lon
    home_postcode: str | None = Code
    school_lat: float | None = Lat
    school_lon: float | None = Lon
    school_id: str | None = Code
    daycare_lat: float | None = Lat
    daycare_lon: float | None = Lon
    daycare_postcode: str | None = Code
    sibling_group: str | None = Field(default=None, max_length=64)
    acute: bool = False
    combination_ok: bool = False
    secure_decision: bool = False
    wishes: list[str] = Field(default_factory=list, max_length=20)
    arrival: int | None = Field(default=None, ge=0)
    network: list[NetworkPersonIn] = Field(default_factory=list, max_length=50)
    exclusions: list[ExclusionIn] = Field(default_factory=list, max_length=200)
    keep_away: list[KeepAwayIn] = Field(default_factory=list, max_length=20)


class ChildPublic(ChildCreate):
    model_config = ConfigDict(extra="ignore")


class FamilyCreate(_Body):
    family_id: str = Id
    kommune_code: str = Field(max_length=3)
    lat: float | None = Lat
    lon: float | None = Lon
    postcode: str | None = Code
    level: Literal["almen", "forstaerket", "specialiseret"]
    places: int = Field(ge=0, le=500)
    occupied: int = Field(ge=0, le=500)
    min_age: int = Field(ge=0, le=22)
    max_age: int = Field(ge=0, le=22)
    target_groups: list[str] = Field(default_factory=list, max_length=10)
    max_siblings: int = Field(default=1, ge=1, le=10)
    acute: bool = False
    combination: bool = False
    vacancy_confirmed: date | None = None
    status: Literal["active", "paused"] = "active"


class FamilyPublic(FamilyCreate):
    model_config = ConfigDict(extra="ignore")
    reserved: int = 0
    free_places: int = 0


class InstitutionCreate(_Body):
    institution_id: str = Id
    kommune_code: str = Field(max_length=3)
    kind: Literal["doegninstitution", "opholdssted", "sikret"]
    name: str | None = Field(default=None, max_length=200)
    lat: float | None = Lat
    lon: float | None = Lon
    postcode: str | None = Code
    places: int = Field(ge=0, le=500)
    occupied: int = Field(ge=0, le=500)
    combination_places: int = Field(default=0, ge=0, le=500)
    combination_occupied: int = Field(default=0, ge=0, le=500)
    min_age: int = Field(ge=0, le=22)
    max_age: int = Field(ge=0, le=22)
    target_groups: list[str] = Field(default_factory=list, max_length=10)
    max_level: int = Field(default=4, ge=1, le=4)
    acute: bool = False
    daily_rate: float | None = Field(default=None, ge=0)
    vacancy_confirmed: date | None = None


class InstitutionPublic(InstitutionCreate):
    model_config = ConfigDict(extra="ignore")
    reserved: int = 0
    free_places: int = 0
    combination_reserved: int = 0


class CapacityPatch(_Body):
    """Any of: places, occupied, paused (families), combination places, a vacancy
    confirmation (stamps vacancy_confirmed with today)."""

    places: int | None = Field(default=None, ge=0, le=500)
    occupied: int | None = Field(default=None, ge=0, le=500)
    combination_places: int | None = Field(default=None, ge=0, le=500)
    combination_occupied: int | None = Field(default=None, ge=0, le=500)
    paused: bool | None = None
    confirm_vacancy: bool = False


class ProposalRequest(_Body):
    top: int = Field(default=10, ge=1, le=500)
    why_not: bool = False
    as_of: date | None = None


class ReservationCreate(_Body):
    child_id: str | None = Field(default=None, max_length=64)
    sibling_group: str | None = Field(default=None, max_length=64)
    option_id: str = Field(min_length=1, max_length=64)
    kind: Literal["network", "foster", "combination", "institution"] | None = None
    hours: float = Field(default=24, gt=0, le=24 * 14)


class ReservationPublic(BaseModel):
    id: str
    child_ids: list[str]
    sibling_group: str | None
    option_id: str
    kind: str
    places: int
    status: str
    created_at: datetime
    expires_at: datetime


class BatchCreate(_Body):
    kommuner: list[str] = Field(default_factory=list, max_length=98)
    child_ids: list[str] = Field(default_factory=list, max_length=20_000)
    solver: Literal["auto", "flow", "cpsat", "greedy"] = "auto"
    time_limit: float | None = Field(default=60, gt=0, le=3600)
    allow_sibling_split: bool = False
    as_of: date | None = None


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


class KeyCreate(_Body):
    role: Literal["coordinator", "consultant", "planner", "admin"]
    kommuner: list[str] = Field(default_factory=list, max_length=98)
    label: str = Field(default="", max_length=100)


class KeyCreated(BaseModel):
    id: int
    role: str
    kommuner: list[str]
    key: str
