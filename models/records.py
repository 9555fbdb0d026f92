"""One pydantic record model per file of the dataset contract (DESIGN.md §3).

Each model describes its file's columns with their types, ranges and defaults as the API's JSON
carries them (same field names as the CSV columns; lists are lists, booleans are booleans).
Unknown fields are refused and text may not hold NUL characters (PostgreSQL cannot store them,
and no real input has them).

The HTTP layer subclasses these for its request bodies, e.g. `class ChildCreate(ChildRecord)`
adding the nested network/exclusions/keep_away lists, which take the `...Fields` bases (the
record without `child_id`, which the nesting supplies).

These models check shape and ranges only; the contract's own parsers (`models.dataset`) still
check each record exactly as a CSV row is checked (vocabularies, postcodes, kommune codes,
Denmark) and produce the contract's error messages. `load_dataset` does not go through these
models: its messages are part of the contract and pydantic's are not the same. The API's
constraints are also a little stricter than the CSV parsers' (ids match `[A-Za-z0-9_.:-]+`,
list and text lengths are capped). `record_from_row` turns one CSV text row into its model
when a caller wants the typed record; it raises pydantic's `ValidationError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Literal, get_origin

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.dataset._row import split_list

__all__ = [
    "RECORDS",
    "ChildRecord",
    "ContractRecord",
    "ExclusionFields",
    "ExclusionRecord",
    "FamilyRecord",
    "InstitutionRecord",
    "KeepAwayFields",
    "KeepAwayRecord",
    "NetworkPersonFields",
    "NetworkPersonRecord",
    "PlacementRecord",
    "no_nul",
    "record_from_row",
]

Lat = Field(default=None, ge=-90, le=90)
Lon = Field(default=None, ge=-180, le=180)
Code = Field(default=None, max_length=16)
Id = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


def no_nul(value: Any) -> Any:
    """`value` unchanged; a ValueError when it (or an item of a list) is text with NUL."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("NUL characters are not allowed in text")
    if isinstance(value, list):
        for item in value:
            no_nul(item)
    return value


class ContractRecord(BaseModel):
    """Base of every record: unknown fields are refused; text may not hold NUL characters."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _text_without_nul(cls, value: Any) -> Any:
        return no_nul(value)


# --------------------------------------------------------------------------- network.csv


class NetworkPersonFields(ContractRecord):
    """A person in a child's network, without the child (nested under a child)."""

    person_id: str = Id
    relation: str = Field(max_length=32)
    via: str | None = Field(default=None, max_length=64)
    lat: float | None = Lat
    lon: float | None = Lon
    postcode: str | None = Code
    status: str = Field(max_length=16)
    places: int = Field(default=1, ge=1, le=10)
    willing: bool = True


class NetworkPersonRecord(NetworkPersonFields):
    """One row of network.csv."""

    child_id: str = Id


# --------------------------------------------------------------------------- exclusions.csv


class ExclusionFields(ContractRecord):
    """An option never to propose, without the child (nested under a child)."""

    option_id: str = Id
    reason: str = Field(default="", max_length=500)


class ExclusionRecord(ExclusionFields):
    """One row of exclusions.csv."""

    child_id: str = Id


# --------------------------------------------------------------------------- keep_away.csv


class KeepAwayFields(ContractRecord):
    """A contact restriction (Barnets Lov § 105), without the child (nested under a child)."""

    lat: float | None = Lat
    lon: float | None = Lon
    postcode: str | None = Code
    min_km: float = Field(ge=0, le=500)
    reason: str = Field(default="", max_length=500)


class KeepAwayRecord(KeepAwayFields):
    """One row of keep_away.csv."""

    child_id: str = Id


# --------------------------------------------------------------------------- children.csv


class ChildRecord(ContractRecord):
    """One row of children.csv."""

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


# --------------------------------------------------------------------------- families.csv


class FamilyRecord(ContractRecord):
    """One row of families.csv."""

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
    monthly_rate: float | None = Field(default=None, gt=0)


# --------------------------------------------------------------------------- institutions.csv


class InstitutionRecord(ContractRecord):
    """One row of institutions.csv."""

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


# --------------------------------------------------------------------------- placements.csv


class PlacementRecord(ContractRecord):
    """One row of placements.csv: where a child lives, or lived, and since when."""

    child_id: str = Id
    option_id: str = Id
    kind: Literal["network", "foster", "combination", "institution"]
    start_date: date
    status: Literal["active", "ended"] = "active"
    end_date: date | None = None
    end_reason: str = Field(default="", max_length=200)
    last_follow_up: date | None = None


RECORDS: dict[str, type[ContractRecord]] = {
    "children": ChildRecord,
    "network": NetworkPersonRecord,
    "families": FamilyRecord,
    "institutions": InstitutionRecord,
    "exclusions": ExclusionRecord,
    "keep_away": KeepAwayRecord,
    "placements": PlacementRecord,
}
"""The record model of each contract file, keyed like `models.dataset.FILES`."""


def record_from_row(key: str, values: Mapping[str, str | None]) -> ContractRecord:
    """The record of file `key` (a `models.dataset.FILES` key) from one CSV text row.

    Empty cells take the field's default; `;`-separated cells become lists; 0/1, numbers and
    ISO dates are converted by the model. Columns the record does not have are ignored, as
    the loader ignores them. Raises `pydantic.ValidationError` (not the contract's messages)."""
    model = RECORDS[key]
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        text = (values.get(name) or "").strip()
        if not text:
            continue
        if get_origin(info.annotation) is list:
            data[name] = split_list(text)
        else:
            data[name] = text
    return model.model_validate(data)
