"""The scenario file's records: frozen, and pure data."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from matcher.simulate import SimulationParams
from models.domain import Child, Family, Institution
from models.enums import FosterLevel, Solver

__all__ = [
    "BASELINE",
    "CHANGE_TYPES",
    "SOLVERS",
    "AddFamilies",
    "Change",
    "CloseInstitution",
    "Cohort",
    "PauseOptions",
    "RemoveOptions",
    "Scenario",
    "ScenarioError",
    "ScenarioFile",
    "Selector",
    "SetPlaces",
    "scenario_seed",
]

BASELINE = "baseline"
SOLVERS: tuple[Solver, ...] = tuple(Solver)


class ScenarioError(ValueError):
    """Every problem of a scenario file, each naming the scenario, the change and the field."""

    def __init__(self, issues: list[str]) -> None:
        super().__init__("\n".join(issues))
        self.issues = issues


@dataclass(frozen=True)
class Cohort:
    """Which children the scenario matches; a sibling group comes whole if one member is in."""

    kommuner: tuple[str, ...] = ()
    min_age: int = 0
    max_age: int = 17
    support_levels: tuple[int, ...] = ()
    children: tuple[str, ...] = ()

    def admits(self, child: Child) -> bool:
        if self.children and child.child_id not in self.children:
            return False
        if self.kommuner and child.kommune_code not in self.kommuner:
            return False
        if self.support_levels and child.support_level not in self.support_levels:
            return False
        return self.min_age <= child.age <= self.max_age


@dataclass(frozen=True)
class Selector:
    """Options by id and/or filter; every given criterion must hold."""

    ids: tuple[str, ...] = ()
    kind: str | None = None
    kommuner: tuple[str, ...] = ()
    levels: tuple[int, ...] = ()

    def picks_family(self, f: Family) -> bool:
        if self.kind not in (None, "foster"):
            return False
        return self._common(f.family_id, f.kommune_code) and (
            not self.levels or int(f.level) in self.levels
        )

    def picks_institution(self, i: Institution) -> bool:
        if self.kind not in (None, "institution", i.kind.value) or self.levels:
            return False
        return self._common(i.institution_id, i.kommune_code)

    def _common(self, option_id: str, kommune: str) -> bool:
        if self.ids and option_id not in self.ids:
            return False
        return not self.kommuner or kommune in self.kommuner


@dataclass(frozen=True)
class AddFamilies:
    count: int
    level: FosterLevel
    places: tuple[tuple[int, float], ...]  # (places, share), shares sum to 1
    kommuner: tuple[str, ...] = ()
    target_groups: frozenset[str] | None = None  # None: drawn as for generated families
    min_age: int = 0
    max_age: int = 17
    max_siblings: int = 1
    acute: bool = False
    combination: bool = False
    spread_km: float = 3.0


@dataclass(frozen=True)
class RemoveOptions:
    selector: Selector


@dataclass(frozen=True)
class PauseOptions:
    """Families are paused; an institution takes no new child (its places are all occupied)."""

    selector: Selector


@dataclass(frozen=True)
class SetPlaces:
    selector: Selector
    places: int | None = None
    delta: int | None = None
    combination_places: int | None = None


@dataclass(frozen=True)
class CloseInstitution:
    ids: tuple[str, ...]


Change = AddFamilies | RemoveOptions | PauseOptions | SetPlaces | CloseInstitution
CHANGE_TYPES = ("add_families", "remove", "pause", "set_places", "close_institution")


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str = ""
    changes: tuple[Change, ...] = ()
    cohort: Cohort = field(default_factory=Cohort)
    policy: str = "auto"
    policy_overrides: Mapping[str, Any] = field(default_factory=dict)
    solver: str = "auto"
    time_limit: float | None = None
    allow_sibling_split: bool = False


@dataclass(frozen=True)
class ScenarioFile:
    path: Path
    base: Path
    as_of: date
    seed: int
    scenarios: tuple[Scenario, ...]
    # `[simulate]`: each scenario also runs the year simulation, for trajectories side by side
    simulation: SimulationParams | None = None

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.scenarios]


def scenario_seed(seed: int, name: str) -> int:
    """A seed per scenario that depends only on the file's seed and the scenario's name."""
    return (seed * 1_000_003 + zlib.crc32(name.encode("utf-8"))) % (2**32)
