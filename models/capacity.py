"""Capacity: the one place that names capacity pools and decides whether a pool has room.

A capacity pool is what places are counted against: a foster family's `family_id` (one pool for
its foster and combination placements), an institution's `institution_id` (its residential
places), `combination_pool(institution_id)` (an institution's separate combination places), and
a network person's `person_id`.

`has_room` is written with plain arithmetic and comparison operators only, so that it works on
ints and equally on column expressions of a database layer, where it builds the condition of an
atomic conditional UPDATE. This module imports no database,
web or solver library.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from typing import TYPE_CHECKING, Any

from models.enums import Kind

if TYPE_CHECKING:
    from models.domain import Placement

__all__ = [
    "combination_pool",
    "free_places",
    "has_room",
    "occupancy_by_pool",
    "pool_id",
]

_COMBINATION_SUFFIX = "#combination"


def combination_pool(institution_id: str) -> str:
    """The capacity pool of an institution's combination places (its residential places are
    the pool named by its id; a family has one pool for foster and combination)."""
    return f"{institution_id}{_COMBINATION_SUFFIX}"


def pool_id(option_id: str, kind: Kind | str, institution_ids: Container[str]) -> str:
    """The pool a placement of `kind` at `option_id` counts against: an institution's
    combination placements have their own pool, everything else the option's id."""
    if kind == Kind.COMBINATION and option_id in institution_ids:
        return combination_pool(option_id)
    return option_id


def free_places(places: int, occupied: int, reserved: int = 0) -> int:
    """Places neither occupied nor reserved; never negative."""
    return max(places - occupied - reserved, 0)


def has_room(places: Any, occupied: Any, reserved: Any, wanted: Any = 1) -> Any:
    """Whether `wanted` more places fit next to the occupied and reserved ones.

    Plain operators only: on ints it is a bool, on column expressions it is the SQL
    condition `places - occupied - reserved >= wanted`."""
    return places - occupied - reserved >= wanted


def occupancy_by_pool(
    placements: Iterable[Placement], institution_ids: Container[str]
) -> dict[str, int]:
    """Active placements per capacity pool id."""
    counts: dict[str, int] = {}
    for p in placements:
        if p.active:
            pool = pool_id(p.option_id, p.kind, institution_ids)
            counts[pool] = counts.get(pool, 0) + 1
    return counts
