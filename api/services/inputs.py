"""Typed input of the use cases: request bodies and form values. Field names follow the
dataset contract (DESIGN.md §3); the contract's own parsers (`models.dataset`) then check each
record exactly as a CSV row is checked (ranges, vocabularies, postcodes, Denmark)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from models.enums import EndReason, Kind, Solver
from models.records import (
    ChildRecord,
    ContractRecord,
    ExclusionFields,
    FamilyRecord,
    InstitutionRecord,
    KeepAwayFields,
    NetworkPersonFields,
)

__all__ = [
    "BatchCreate",
    "CapacityPatch",
    "ChildCreate",
    "ExclusionIn",
    "FamilyCreate",
    "InstitutionCreate",
    "KeepAwayIn",
    "KeyCreate",
    "NetworkPersonIn",
    "PlacementEnd",
    "PlacementMove",
    "ProposalRequest",
    "ReservationCreate",
]


class _Body(ContractRecord):
    """Request bodies that are not a contract record (the same refusals of unknown fields
    and NUL characters)."""


class NetworkPersonIn(NetworkPersonFields):
    """A person of the child's network (network.csv without `child_id`, which the child
    supplies)."""


class ExclusionIn(ExclusionFields):
    """An option left out for the child (exclusions.csv without `child_id`)."""


class KeepAwayIn(KeepAwayFields):
    """An address the child must be kept away from (keep_away.csv without `child_id`)."""


class ChildCreate(ChildRecord):
    """A child's record (children.csv) with its network, exclusions and keep-away rows."""

    network: list[NetworkPersonIn] = Field(default_factory=list, max_length=50)
    exclusions: list[ExclusionIn] = Field(default_factory=list, max_length=200)
    keep_away: list[KeepAwayIn] = Field(default_factory=list, max_length=20)


class FamilyCreate(FamilyRecord):
    """A foster family's record (families.csv)."""


class InstitutionCreate(InstitutionRecord):
    """An institution's record (institutions.csv)."""


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
    kind: Kind | None = None
    hours: float = Field(default=24, gt=0, le=24 * 14)


class PlacementEnd(_Body):
    """End an active placement: the day it ended (today when left out) and why."""

    end_reason: EndReason
    end_date: date | None = None


class PlacementMove(_Body):
    """Move a placed child (with its sibling group) to another option in one transaction:
    the old placement ends with `end_reason` on `start_date`, the new one starts that day."""

    option_id: str = Field(min_length=1, max_length=64)
    kind: Kind | None = None
    end_reason: Literal[EndReason.MOVED, EndReason.STEP_DOWN] = EndReason.MOVED
    start_date: date | None = None


class BatchCreate(_Body):
    kommuner: list[str] = Field(default_factory=list, max_length=98)
    child_ids: list[str] = Field(default_factory=list, max_length=20_000)
    solver: Solver = Solver.AUTO
    time_limit: float | None = Field(default=60, gt=0, le=3600)
    allow_sibling_split: bool = False
    as_of: date | None = None
    # Explain every child not given its first-ranked option (first_choice, held_by,
    # cost_if_forced: one exact re-solve per such option), or only `explain_child_ids`.
    explain: bool = False
    explain_child_ids: list[str] = Field(default_factory=list, max_length=200)


class KeyCreate(_Body):
    role: Literal["coordinator", "consultant", "planner", "admin"]
    kommuner: list[str] = Field(default_factory=list, max_length=98)
    label: str = Field(default="", max_length=100)
