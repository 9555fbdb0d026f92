"""Edges reused from a kept build (`matcher/batch/_reuse.py`) give the problem a cold build
gives, column for column, after every kind of scenario change and for any cohort."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher import rank as rank_module
from matcher.batch import BatchProblem, EdgeMemo, _reuse, build_problem
from matcher.policy import load_policy_set
from matcher.rank import Matcher
from matcher.scenario import (
    AddFamilies,
    CloseInstitution,
    PauseOptions,
    RemoveOptions,
    Scenario,
    Selector,
    SetPlaces,
    apply_changes,
)
from models.dataset import Dataset
from models.enums import FosterLevel
from models.synthetic import SyntheticSpec, generate_dataset
from tests.factories import AS_OF

_COLUMNS = ("e_unit", "e_pool", "e_tier", "e_cost", "e_option", "e_order")


def _assert_same(got: BatchProblem, want: BatchProblem) -> None:
    assert got.units == want.units
    for name in _COLUMNS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype, name
        assert a.tolist() == b.tolist(), name
    assert got.pool_free.tolist() == want.pool_free.tolist()


def _warm_and_cold(
    base: Dataset, changed: Dataset, cohort: slice = slice(None), split: bool = False
) -> tuple[BatchProblem, BatchProblem, EdgeMemo]:
    memo = EdgeMemo()
    first = Matcher(base)
    build_problem(first, first.units, AS_OF, allow_split=split, memo=memo)
    assert memo.reused == 0  # nothing kept yet
    units = Matcher(changed).units[cohort]
    warm = build_problem(Matcher(changed), units, AS_OF, allow_split=split, memo=memo)
    cold = build_problem(Matcher(changed), units, AS_OF, allow_split=split)
    return warm, cold, memo


@pytest.fixture(scope="module")
def base(schools) -> Dataset:
    return generate_dataset(SyntheticSpec(150, 220, 30, 5, sibling_share=0.3), schools)


def _changed(base: Dataset, *changes: object) -> Dataset:
    return apply_changes(base, Scenario("s", changes=tuple(changes)), 7, AS_OF)  # type: ignore[arg-type]


def test_added_families_reuse_the_edges_to_every_other_home(base: Dataset) -> None:
    change = AddFamilies(25, FosterLevel.ALMEN, ((2, 1.0),))
    warm, cold, memo = _warm_and_cold(base, _changed(base, change))
    _assert_same(warm, cold)
    # The new homes' edges are the only ones built: most edges come from the kept build.
    assert memo.reused > 0.8 * len(cold.e_unit)
    assert any(str(o).startswith("new1-") for o in cold.e_option)


@pytest.mark.parametrize(
    "kind",
    ["remove", "pause", "set_places", "close", "all"],
)
def test_every_change_of_homes_gives_the_cold_edges(base: Dataset, kind: str) -> None:
    families = [f.family_id for f in base.families[:12]]
    institutions = [i.institution_id for i in base.institutions[:3]]
    some = Selector(ids=(*families[:6], *institutions[:1]))
    changes: dict[str, tuple[object, ...]] = {
        "remove": (RemoveOptions(some),),
        "pause": (PauseOptions(some),),
        "set_places": (SetPlaces(Selector(ids=tuple(families[6:])), 3),),
        "close": (CloseInstitution(tuple(institutions[1:])),),
    }
    changes["all"] = (
        AddFamilies(10, FosterLevel.FORSTAERKET, ((1, 0.5), (2, 0.5))),
        *changes["remove"],
        *changes["set_places"],
        *changes["close"],
    )
    warm, cold, memo = _warm_and_cold(base, _changed(base, *changes[kind]))
    _assert_same(warm, cold)
    if kind in ("remove", "pause", "close"):  # homes only leave: every edge is a kept one
        assert memo.reused == len(cold.e_unit)
    else:
        assert 0.5 * len(cold.e_unit) < memo.reused < len(cold.e_unit)


def test_a_home_edited_in_place_is_built_again(base: Dataset) -> None:
    """Homes that keep their rows offerable but change what the rules read (level, ages,
    target groups, siblings) or their free places: their edges are built again."""
    free = [f for f in base.families if f.free_places >= 1]
    edited = {
        f.family_id: replace(f, level=FosterLevel.SPECIALISERET, min_age=0, max_age=17)
        for f in free[:8]
    }
    edited |= {
        f.family_id: replace(f, target_groups=frozenset(), max_siblings=3) for f in free[8:16]
    }
    # Free places alone: a sibling group now fits where it did not.
    roomy = [f for f in free[16:] if f.max_siblings >= 2 and f.free_places < f.max_siblings]
    assert len(roomy) >= 3
    edited |= {f.family_id: replace(f, places=f.places + 2) for f in roomy}
    changed = replace(base, families=tuple(edited.get(f.family_id, f) for f in base.families))
    warm, cold, memo = _warm_and_cold(base, changed)
    _assert_same(warm, cold)
    assert memo.reused < len(cold.e_unit)
    # The edits mattered: the cold edges to those homes differ from the base's.
    before = build_problem(Matcher(base), Matcher(base).units, AS_OF)
    at_edited = np.isin(cold.e_option.astype(str), list(edited))
    was_edited = np.isin(before.e_option.astype(str), list(edited))
    assert at_edited.sum() != was_edited.sum()


def test_a_cohort_takes_its_units_edges(base: Dataset) -> None:
    warm, cold, memo = _warm_and_cold(base, base, cohort=slice(10, 90))
    _assert_same(warm, cold)
    assert memo.reused == len(cold.e_unit)  # no home changed, no unit is new


def test_split_mode_reuses_group_and_member_edges(base: Dataset) -> None:
    change = AddFamilies(10, FosterLevel.ALMEN, ((3, 1.0),), max_siblings=3)
    warm, cold, _ = _warm_and_cold(base, _changed(base, change), split=True)
    assert warm.split
    _assert_same(warm, cold)
    assert warm.parent.tolist() == cold.parent.tolist()


def test_nothing_is_reused_under_another_policy_or_date(base: Dataset) -> None:
    memo = EdgeMemo()
    first = Matcher(base)
    build_problem(first, first.units, AS_OF, memo=memo)
    tight = Matcher(base, load_policy_set(overrides={"distance": {"max_km": 20.0}}))
    got = build_problem(tight, tight.units, AS_OF, memo=memo)
    assert memo.reused == 0
    _assert_same(got, build_problem(tight, tight.units, AS_OF))
    later = Matcher(base)
    build_problem(later, later.units, AS_OF.replace(day=2), memo=memo)
    assert memo.reused == 0


def test_nothing_is_reused_from_other_network_records(base: Dataset) -> None:
    """The units' network tables are never rebuilt for kept units: other network records
    (even equal ones) reuse nothing; one person no longer willing changes the edges."""
    memo = EdgeMemo()
    first = Matcher(base)
    build_problem(first, first.units, AS_OF, memo=memo)
    other = Matcher(replace(base, network=tuple(list(base.network))))
    build_problem(other, other.units, AS_OF, memo=memo)
    assert memo.reused == 0
    person = next(p for p in base.network if p.willing)
    unwilling = tuple(replace(p, willing=False) if p is person else p for p in base.network)
    changed = Matcher(replace(base, network=unwilling))
    got = build_problem(changed, changed.units, AS_OF, memo=memo)
    assert memo.reused == 0
    _assert_same(
        got, build_problem(Matcher(replace(base, network=unwilling)), changed.units, AS_OF)
    )


def test_a_smaller_cohort_does_not_displace_the_kept_build(base: Dataset) -> None:
    memo = EdgeMemo()
    m = Matcher(base)
    build_problem(m, m.units, AS_OF, memo=memo)
    build_problem(m, m.units[:20], AS_OF, memo=memo)
    whole = build_problem(m, m.units, AS_OF, memo=memo)
    assert memo.reused == len(whole.e_unit)


def test_each_scenario_is_compared_with_the_first_build_not_the_last(base: Dataset) -> None:
    """A scenario that resizes every institution, then one that recruits: the second's
    changed homes are its own new families, not also the institutions of the first."""
    memo = EdgeMemo()
    first = Matcher(base)
    build_problem(first, first.units, AS_OF, memo=memo)
    smaller = _changed(base, SetPlaces(Selector(kind="institution"), delta=-1))
    m = Matcher(smaller)
    build_problem(m, m.units, AS_OF, memo=memo)
    recruited = Matcher(_changed(base, AddFamilies(5, FosterLevel.ALMEN, ((1, 1.0),))))
    got = build_problem(recruited, recruited.units, AS_OF, memo=memo)
    _assert_same(got, build_problem(recruited, recruited.units, AS_OF))
    assert (got.e_tier == 4).any()
    to_new_homes = np.char.startswith(got.e_option.astype(str), "new1-")
    assert to_new_homes.any()
    assert memo.reused == int((~to_new_homes).sum())


def test_units_the_kept_build_lacks_are_built_in_full(base: Dataset) -> None:
    memo = EdgeMemo()
    m = Matcher(base)
    build_problem(m, m.units[::2], AS_OF, memo=memo)
    changed = Matcher(_changed(base, AddFamilies(8, FosterLevel.ALMEN, ((2, 1.0),))))
    got = build_problem(changed, changed.units, AS_OF, memo=memo)
    _assert_same(got, build_problem(changed, changed.units, AS_OF))
    assert 0 < memo.reused < len(got.e_unit) // 2 + len(got.e_unit) // 4


def test_pruned_reach_and_chunks_of_units_give_the_cold_edges(
    base: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spatial index queried for every unit (a short practical maximum), and the kernel
    asked a few units at a time for the changed homes."""
    monkeypatch.setattr(rank_module, "PRUNE_THRESHOLD", 1)
    monkeypatch.setattr(rank_module, "PRUNE_WHEN_WITHIN", 1.01)
    monkeypatch.setattr(_reuse, "_UNITS_PER_CALL", 7)
    short = load_policy_set(overrides={"distance": {"max_km": 60.0}})
    memo = EdgeMemo()
    first = Matcher(base, short)
    build_problem(first, first.units, AS_OF, memo=memo)
    changed = _changed(base, AddFamilies(20, FosterLevel.ALMEN, ((2, 1.0),)))
    m = Matcher(changed, short)
    assert any(m.candidates(u) is not None for u in m.units)
    got = build_problem(m, m.units, AS_OF, memo=memo)
    assert memo.reused > 0
    _assert_same(got, build_problem(Matcher(changed, short), m.units, AS_OF))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    added=st.integers(0, 15),
    removed=st.integers(0, 15),
    resized=st.integers(0, 15),
    places=st.integers(0, 4),
    first=st.integers(0, 60),
)
def test_any_changes_and_cohort_give_the_cold_problem(
    schools, seed, added, removed, resized, places, first
) -> None:
    base = generate_dataset(SyntheticSpec(60, 90, 12, seed, sibling_share=0.3), schools)
    rng = np.random.default_rng(seed)
    ids = [f.family_id for f in base.families] + [i.institution_id for i in base.institutions]
    picked = rng.permutation(ids)
    changes: list[object] = []
    if added:
        changes.append(AddFamilies(added, FosterLevel.ALMEN, ((2, 1.0),), max_siblings=2))
    if removed:
        changes.append(RemoveOptions(Selector(ids=tuple(picked[:removed].tolist()))))
    if resized:
        chosen = tuple(picked[removed : removed + resized].tolist())
        changes.append(SetPlaces(Selector(ids=chosen), places))
    changed = _changed(base, *changes)
    warm, cold, _ = _warm_and_cold(base, changed, cohort=slice(first, None))
    _assert_same(warm, cold)
