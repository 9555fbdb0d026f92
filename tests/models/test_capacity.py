"""models.capacity: pool ids, free places and the has-room predicate (on ints and expressions)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from models.capacity import (
    combination_pool,
    free_places,
    has_room,
    occupancy_by_pool,
    pool_id,
)
from models.dataset import combination_pool as reexported_combination_pool
from models.dataset import occupancy_by_pool as reexported_occupancy_by_pool
from models.domain import Placement
from models.enums import Kind, PlacementStatus

counts = st.integers(min_value=0, max_value=1_000)


def test_combination_pool_is_named_after_the_institution() -> None:
    assert combination_pool("I7") == "I7#combination"
    assert reexported_combination_pool is combination_pool
    assert reexported_occupancy_by_pool is occupancy_by_pool


def test_pool_id_gives_institutions_a_separate_combination_pool() -> None:
    institutions = {"I1"}
    assert pool_id("I1", Kind.COMBINATION, institutions) == "I1#combination"
    assert pool_id("I1", "combination", institutions) == "I1#combination"
    assert pool_id("I1", Kind.INSTITUTION, institutions) == "I1"
    assert pool_id("F1", Kind.COMBINATION, institutions) == "F1"  # a family: one pool
    assert pool_id("F1", Kind.FOSTER, institutions) == "F1"
    assert pool_id("P1", Kind.NETWORK, institutions) == "P1"


def test_free_places_examples() -> None:
    assert free_places(3, 1, 1) == 1
    assert free_places(3, 1) == 2
    assert free_places(2, 2, 0) == 0
    assert free_places(2, 3, 1) == 0  # over-occupied: never negative


@given(counts, counts, counts)
def test_free_places_is_never_negative_and_exact_when_room(
    places: int, occupied: int, reserved: int
) -> None:
    free = free_places(places, occupied, reserved)
    assert free >= 0
    assert free == max(places - occupied - reserved, 0)
    assert free <= places


def test_has_room_examples() -> None:
    assert has_room(3, 1, 1) is True
    assert has_room(3, 1, 1, 2) is False
    assert has_room(3, 2, 1) is False
    assert has_room(5, 0, 0, 5) is True


@given(counts, counts, counts, st.integers(min_value=1, max_value=50))
def test_has_room_agrees_with_free_places(
    places: int, occupied: int, reserved: int, wanted: int
) -> None:
    assert has_room(places, occupied, reserved, wanted) == (
        free_places(places, occupied, reserved) >= wanted
    )


class _Expr:
    """A stand-in for a database column expression: records the operators applied to it."""

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def __sub__(self, other: Any) -> _Expr:
        return _Expr(f"({self.sql} - {_sql(other)})")

    def __ge__(self, other: Any) -> _Expr:
        return _Expr(f"{self.sql} >= {_sql(other)}")


def _sql(value: Any) -> str:
    return value.sql if isinstance(value, _Expr) else repr(value)


def test_has_room_builds_an_expression_from_columns() -> None:
    condition = has_room(_Expr("places"), _Expr("occupied"), _Expr("reserved"), 2)
    assert isinstance(condition, _Expr)
    assert condition.sql == "((places - occupied) - reserved) >= 2"


def _placement(option_id: str, kind: Kind, active: bool = True) -> Placement:
    return Placement(
        child_id="c",
        option_id=option_id,
        kind=kind,
        start_date=date(2024, 1, 1),
        status=PlacementStatus.ACTIVE if active else PlacementStatus.ENDED,
        end_date=None if active else date(2024, 6, 1),
    )


def test_occupancy_by_pool_counts_active_placements_per_pool() -> None:
    placements = [
        _placement("I1", Kind.INSTITUTION),
        _placement("I1", Kind.COMBINATION),
        _placement("I1", Kind.COMBINATION),
        _placement("F1", Kind.COMBINATION),
        _placement("F1", Kind.FOSTER),
        _placement("F1", Kind.FOSTER, active=False),
        _placement("P1", Kind.NETWORK),
    ]
    assert occupancy_by_pool(placements, {"I1"}) == {
        "I1": 1,
        "I1#combination": 2,
        "F1": 2,
        "P1": 1,
    }


@given(st.lists(st.tuples(st.sampled_from(["I1", "F1", "P1"]), st.sampled_from(list(Kind)))))
def test_occupancy_by_pool_counts_every_active_placement_once(
    rows: list[tuple[str, Kind]],
) -> None:
    counts = occupancy_by_pool([_placement(o, k) for o, k in rows], {"I1"})
    assert sum(counts.values()) == len(rows)
    assert all(pool.removesuffix("#combination") in {"I1", "F1", "P1"} for pool in counts)
