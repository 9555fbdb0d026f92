"""The `Dataset` type: the validated records of one dataset, with the lookups built on them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from models.domain import (
    Child,
    Exclusion,
    Family,
    Institution,
    KeepAway,
    NetworkPerson,
    Placement,
)

__all__ = ["Dataset"]


@dataclass(frozen=True)
class Dataset:
    children: tuple[Child, ...]
    network: tuple[NetworkPerson, ...]
    families: tuple[Family, ...]
    institutions: tuple[Institution, ...]
    exclusions: tuple[Exclusion, ...] = ()
    keep_away: tuple[KeepAway, ...] = ()
    placements: tuple[Placement, ...] = ()

    @cached_property
    def active_placement(self) -> dict[str, Placement]:
        """Each currently placed child's active placement."""
        return {p.child_id: p for p in self.placements if p.active}

    @cached_property
    def child_by_id(self) -> dict[str, Child]:
        return {c.child_id: c for c in self.children}

    @cached_property
    def sibling_groups(self) -> dict[str, tuple[str, ...]]:
        groups: dict[str, list[str]] = {}
        for c in self.children:
            if c.sibling_group:
                groups.setdefault(c.sibling_group, []).append(c.child_id)
        return {g: tuple(ids) for g, ids in groups.items()}

    @cached_property
    def network_by_child(self) -> dict[str, tuple[NetworkPerson, ...]]:
        by_child: dict[str, list[NetworkPerson]] = {}
        for person in self.network:
            by_child.setdefault(person.child_id, []).append(person)
        return {k: tuple(v) for k, v in by_child.items()}

    def option_ids(self) -> set[str]:
        ids = {f.family_id for f in self.families}
        ids |= {i.institution_id for i in self.institutions}
        ids |= {p.person_id for p in self.network}
        return ids
