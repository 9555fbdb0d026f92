"""Each hard constraint and warning alone: a case that passes and a case that fails."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher import rules
from matcher.policy import load_policy
from matcher.rank import Matcher
from models.domain import Exclusion, KeepAway
from models.enums import FosterLevel, InstitutionKind, NetworkStatus
from tests.factories import AS_OF, at, child, dataset, family, institution, person
from tests.matcher.helpers import rule_on
from tests.matcher.test_batch import tiny

F, C, INST, N = 2, 3, 4, 1  # tiers


def test_no_capacity() -> None:
    ds = dataset(families=[family("f1", places=2, occupied=1), family("f2", places=2, occupied=2)])
    got = rule_on(rules.no_capacity, ds)
    assert got[("f1", F)] is False and got[("f2", F)] is True


def test_no_capacity_counts_the_whole_sibling_group() -> None:
    kids = [child("c1", sibling_group="g"), child("c2", sibling_group="g")]
    ds = dataset(
        kids,
        families=[
            family("f1", places=2, occupied=1, max_siblings=2),
            family("f2", places=2, occupied=0, max_siblings=2),
        ],
    )
    got = rule_on(rules.no_capacity, ds)
    assert got[("f1", F)] is True and got[("f2", F)] is False


def test_age_out_of_range() -> None:
    ds = dataset(
        [child(age=10)],
        families=[family("f1", min_age=0, max_age=12), family("f2", min_age=12, max_age=17)],
    )
    got = rule_on(rules.age_out_of_range, ds)
    assert got[("f1", F)] is False and got[("f2", F)] is True


def test_level_too_low_for_families_network_and_institutions() -> None:
    ds = dataset(
        [child(support_level=2)],
        families=[
            family("f1", level=FosterLevel.ALMEN),
            family("f2", level=FosterLevel.FORSTAERKET),
        ],
        institutions=[institution("i1", max_level=1), institution("i2")],
        network=[person("p1")],
    )
    got = rule_on(rules.level_too_low, ds)
    assert got[("f1", F)] is True and got[("f2", F)] is False
    assert got[("i1", INST)] is True and got[("i2", INST)] is False
    assert got[("p1", N)] is False


def test_support_level_4_excludes_families_and_network() -> None:
    ds = dataset(
        [child(support_level=4)],
        families=[family("f1", level=FosterLevel.SPECIALISERET)],
        institutions=[institution("i1", max_level=4)],
        network=[person("p1")],
    )
    got = rule_on(rules.level_too_low, ds)
    assert got[("f1", F)] is True and got[("p1", N)] is True and got[("i1", INST)] is False


def test_needs_not_covered() -> None:
    kid = child(needs=frozenset({"adhd", "trauma"}))
    ds = dataset(
        [kid],
        families=[
            family("f1", target_groups=frozenset({"adhd"})),
            family("f2", target_groups=frozenset({"adhd", "trauma"})),
        ],
        network=[person("p1")],
    )
    got = rule_on(rules.needs_not_covered, ds)
    assert got[("f1", F)] is True and got[("f2", F)] is False
    assert got[("p1", N)] is False  # network carers are approved for the child itself


def test_network_rejected_and_unwilling() -> None:
    ds = dataset(
        network=[
            person("p1", status=NetworkStatus.REJECTED),
            person("p2", willing=False),
            person("p3"),
        ]
    )
    rejected = rule_on(rules.network_rejected, ds)
    unwilling = rule_on(rules.network_unwilling, ds)
    assert rejected[("p1", N)] is True and rejected[("p3", N)] is False
    assert unwilling[("p2", N)] is True and unwilling[("p3", N)] is False


def test_not_acute() -> None:
    ds = dataset(
        [child(acute=True)],
        families=[family("f1", acute=True), family("f2", acute=False)],
        network=[
            person("p1", status=NetworkStatus.SUITABLE),
            person("p2", status=NetworkStatus.UNASSESSED),
        ],
    )
    got = rule_on(rules.not_acute, ds)
    assert got[("f1", F)] is False and got[("f2", F)] is True
    assert got[("p1", N)] is False and got[("p2", N)] is True
    calm = rule_on(rules.not_acute, dataset([child(acute=False)], families=[family("f2")]))
    assert calm[("f2", F)] is False


def test_combination_not_suitable_and_too_far() -> None:
    near, far = (
        family("f1", combination=True, place=at(5)),
        family("f2", combination=True, place=at(50)),
    )
    ok = dataset([child(combination_ok=True)], families=[near, far])
    not_ok = dataset([child(combination_ok=False)], families=[near])
    assert rule_on(rules.combination_not_suitable, ok)[("f1", C)] is False
    assert rule_on(rules.combination_not_suitable, not_ok)[("f1", C)] is True
    assert rule_on(rules.combination_not_suitable, not_ok)[("f1", F)] is False
    too_far = rule_on(rules.combination_too_far, ok)
    assert too_far[("f1", C)] is False and too_far[("f2", C)] is True
    assert too_far[("f2", F)] is False  # the same family as a foster home is not a commute


def test_secure_needs_decision() -> None:
    secure = institution("i1", kind=InstitutionKind.SIKRET)
    assert (
        rule_on(rules.secure_needs_decision, dataset([child()], institutions=[secure]))[
            ("i1", INST)
        ]
        is True
    )
    assert (
        rule_on(
            rules.secure_needs_decision,
            dataset([child(secure_decision=True)], institutions=[secure]),
        )[("i1", INST)]
        is False
    )


def test_sibling_group_too_large() -> None:
    kids = [child("c1", sibling_group="g"), child("c2", sibling_group="g")]
    ds = dataset(
        kids,
        families=[family("f1", places=2, max_siblings=1), family("f2", places=2, max_siblings=2)],
    )
    got = rule_on(rules.sibling_group_too_large, ds)
    assert got[("f1", F)] is True and got[("f2", F)] is False


def test_excluded() -> None:
    ds = dataset(
        families=[family("f1"), family("f2")], exclusions=[Exclusion("c1", "f1", "breakdown")]
    )
    got = rule_on(rules.excluded, ds)
    assert got[("f1", F)] is True and got[("f2", F)] is False


def test_keep_away() -> None:
    ds = dataset(
        families=[family("f1", place=at(2)), family("f2", place=at(30))],
        keep_away=[KeepAway("c1", at(0, 1), 10.0)],
    )
    got = rule_on(rules.keep_away, ds)
    assert got[("f1", F)] is True and got[("f2", F)] is False


def test_paused() -> None:
    ds = dataset(families=[family("f1", paused=True), family("f2")])
    got = rule_on(rules.paused, ds)
    assert got[("f1", F)] is True and got[("f2", F)] is False


def test_too_far_is_one_maximum_for_every_tier() -> None:
    # The staircase is law: one practical maximum for all tiers, so a family is never excluded
    # by distance while an institution as far away or farther stays eligible.
    policy = load_policy()
    ds = dataset(
        families=[
            family("f1", place=at(policy.max_km - 5)),
            family("f2", place=at(policy.max_km + 5)),
        ],
        institutions=[
            institution("i1", place=at(policy.max_km - 5)),
            institution("i2", place=at(policy.max_km + 5)),
        ],
    )
    got = rule_on(rules.too_far, ds)
    assert got[("f1", F)] is False and got[("f2", F)] is True
    assert got[("i1", INST)] is False and got[("i2", INST)] is True


def test_warning_outside_local_area_uses_the_tier_radius() -> None:
    policy = load_policy()
    radius = policy.local_km[next(k for k in policy.local_km if k.tier == 2)]
    ds = dataset(
        families=[family("f1", place=at(radius - 5)), family("f2", place=at(radius + 5))],
        institutions=[institution("i1", place=at(radius + 5))],
    )
    got = rule_on(rules.outside_local_area, ds)
    assert got[("f1", F)] is False and got[("f2", F)] is True and got[("i1", INST)] is False


def test_warning_network_unassessed() -> None:
    ds = dataset(network=[person("p1", status=NetworkStatus.UNASSESSED), person("p2")])
    got = rule_on(rules.network_unassessed, ds)
    assert got[("p1", N)] is True and got[("p2", N)] is False


def test_warning_stale_vacancy() -> None:
    old = replace(family("f1"), vacancy_confirmed=AS_OF.replace(year=AS_OF.year - 1))
    never = replace(family("f3"), vacancy_confirmed=None)
    ds = dataset(families=[old, family("f2"), never])
    got = rule_on(rules.stale_vacancy, ds)
    assert got[("f1", F)] is True and got[("f2", F)] is False and got[("f3", F)] is True


def test_warning_school_change() -> None:
    ds = dataset(
        [child(school=at(1))], families=[family("f1", place=at(3)), family("f2", place=at(40))]
    )
    got = rule_on(rules.school_change, ds)
    assert got[("f1", F)] is False and got[("f2", F)] is True
    no_school = rule_on(
        rules.school_change, dataset([child(school=None)], families=[family("f2", place=at(40))])
    )
    assert no_school[("f2", F)] is False


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), full=st.floats(0.0, 1.0))
def test_no_unit_passes_the_distance_free_rules_outside_the_offerable_rows(
    seed: int, full: float
) -> None:
    """The batch matcher screens units against `offerable_rows` alone; that is only exact if
    every other row is left out for every unit, whatever its size, age or needs."""
    m = Matcher(tiny(seed, 15, 25, 4, siblings=0.4))
    rng = np.random.default_rng(seed)
    # Some homes full, so that no_capacity has rows to leave out.
    free = np.where(rng.random(len(m.pools.free)) < full, 0, m.pools.free)
    offered = np.zeros(len(m.options), dtype=bool)
    offered[rules.offerable_rows(m.options, free)] = True
    assert not offered[free[m.options.pool] == 0].any()
    assert not offered[m.options.paused].any()
    for unit in m.units:
        view = rules.make_view(unit, m.options, free, AS_OF.toordinal())
        passing = rules.passes(view, m.policy_for(unit), rules.DISTANCE_FREE)
        assert not (passing & ~offered).any()
