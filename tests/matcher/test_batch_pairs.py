"""The batch's pair kernel (`matcher/batch/_pairs.py`) against the ranking core, unit by unit.

The kernel restates the core's rules and score terms over (unit, option) pairs; every test
here compares its columns with those the core gives one unit at a time (`_unit_edges`),
bit for bit, on datasets where every rule and term acts: Denmark-wide homes (distance
limits, keep-away addresses), sibling groups, networks, wishes, exclusions, acute and
secure needs, and the four kommuner whose policy profiles differ from the default."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher import rank as rank_module
from matcher.batch import _problem
from matcher.batch._pairs import STATED, pair_edges
from matcher.rank import Matcher
from matcher.rules import CONSTRAINTS
from matcher.scoring import TERMS
from matcher.tables import Unit
from models.synthetic import SyntheticSpec, generate_dataset
from tests.factories import AS_OF


def _builder(m: Matcher, units: tuple[Unit, ...]) -> _problem._EdgeBuilder:
    free = m.pools.free
    return _problem._EdgeBuilder(m, units, AS_OF, free, _problem._Offerable.of(m, free))


def _assert_same(m: Matcher, units: tuple[Unit, ...]) -> int:
    """The kernel's columns equal the core's, unit by unit; returns the number of edges.
    The kernel goes first, so that it reads the network tables it builds in one pass."""
    builder = _builder(m, units)
    got = builder._slice(0, len(units))
    want = builder.unit_by_unit(0, len(units))
    names = ("unit", "pool", "tier", "cost", "option", "order")
    for name, a, b in zip(names, want, got, strict=True):
        assert a.dtype == b.dtype, name
        assert a.tolist() == b.tolist(), name
    return len(want[0])


def test_every_rule_and_term_of_the_core_is_stated_over_pairs() -> None:
    core = (tuple(rule.__name__ for _, rule in CONSTRAINTS), tuple(name for name, _ in TERMS))
    assert core == STATED


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    children=st.integers(1, 60),
    families=st.integers(0, 60),
    institutions=st.integers(0, 8),
)
def test_pair_edges_are_the_cores_edges(schools, seed, children, families, institutions) -> None:
    spec = SyntheticSpec(children, families, institutions, seed, sibling_share=0.3)
    m = Matcher(generate_dataset(spec, schools))
    _assert_same(m, tuple(m.units))


def test_a_national_cohort_with_every_feature_gives_the_same_edges(schools) -> None:
    """A cohort large enough that each feature occurs many times over (groups with several
    schools, wishes, keep-away addresses, exclusions, kommuner with their own profile)."""
    m = Matcher(generate_dataset(SyntheticSpec(400, 600, 80, 7, sibling_share=0.3), schools))
    units = tuple(m.units)
    assert sum(len(u.schools) > 1 for u in units) > 5
    assert sum(bool(u.wishes) for u in units) > 5
    assert sum(bool(u.keep_away) for u in units) > 5
    assert sum(bool(u.excluded) for u in units) > 2
    assert len({id(m.policy_for(u)) for u in units}) > 1
    assert _assert_same(m, units) > 1000


def test_split_mode_member_units_give_the_same_edges(schools) -> None:
    m = Matcher(generate_dataset(SyntheticSpec(80, 80, 10, 3, sibling_share=0.5), schools))
    groups = [u for u in m.units if u.size > 1]
    members, _ = m.split_units(groups)
    assert members
    _assert_same(m, (*groups, *members))


def test_reach_pruned_by_the_spatial_index_gives_the_same_edges(schools, monkeypatch) -> None:
    """Units whose reach the index prunes (`Matcher.candidates`): a short practical maximum
    for some profiles, and the index queried always."""
    monkeypatch.setattr(rank_module, "PRUNE_THRESHOLD", 1)
    monkeypatch.setattr(rank_module, "PRUNE_WHEN_WITHIN", 1.01)
    m = Matcher(generate_dataset(SyntheticSpec(60, 120, 12, 11, sibling_share=0.3), schools))
    own = {p.name: replace(p, max_km=60.0) for p in m.policies.by_kommune.values()}
    monkeypatch.setattr(
        m, "policy_for", lambda unit: own.get(m.policies.for_kommune(unit.kommune).name, m.policy)
    )
    units = tuple(m.units)
    assert any(m.candidates(u) is not None for u in units)
    _assert_same(m, units)


def test_no_units_give_empty_typed_columns(schools) -> None:
    m = Matcher(generate_dataset(SyntheticSpec(3, 5, 1, 1), schools))
    offerable = _problem._Offerable.of(m, m.pools.free)
    cols = pair_edges((), [], offerable.table, [], m.pools.free)
    want = _builder(m, ()).unit_by_unit(0, 0)
    assert [c.dtype for c in cols] == [c.dtype for c in want]
    assert all(len(c) == 0 for c in cols)


def test_a_slice_of_units_numbers_its_edges_from_its_first_unit(schools) -> None:
    m = Matcher(generate_dataset(SyntheticSpec(30, 40, 4, 5), schools))
    units = tuple(m.units)
    builder = _builder(m, units)
    whole = builder._slice(0, len(units))
    half = len(units) // 2
    parts = [builder._slice(0, half), builder._slice(half, len(units))]
    for k in range(6):
        assert np.concatenate([p[k] for p in parts]).tolist() == whole[k].tolist()


def test_units_in_chunks_give_the_columns_of_one_call(schools, monkeypatch) -> None:
    """`_slice` hands the kernel `PAIR_UNITS` units at a time, to bound its memory."""
    m = Matcher(generate_dataset(SyntheticSpec(40, 50, 5, 9, sibling_share=0.3), schools))
    units = tuple(m.units)
    whole = _builder(m, units)._slice(0, len(units))
    monkeypatch.setattr(_problem, "PAIR_UNITS", 7)
    chunked = _builder(m, units)._slice(3, len(units))
    tail = np.flatnonzero(whole[0] >= 3)
    for k in range(6):
        assert chunked[k].tolist() == whole[k][tail].tolist()
