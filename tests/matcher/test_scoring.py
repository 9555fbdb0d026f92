"""Each score term alone, and the score as the exact sum of its weighted terms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher import scoring
from matcher.policy import load_policy
from matcher.rank import Matcher
from matcher.rules import make_view
from matcher.scoring import score_terms
from models.enums import FosterLevel, Kind, Relation
from tests.factories import AS_OF, at, child, dataset, family, person
from tests.matcher.helpers import by_option, view_of
from tests.matcher.test_batch import tiny


def test_relation_is_the_shortest_weighted_path_in_the_network_graph() -> None:
    policy = load_policy()
    ds = dataset(
        network=[
            person("p1", relation=Relation.GRANDPARENT),
            person("p2", relation=Relation.FAMILY_FRIEND, via="p1"),
            person("p3", relation=Relation.PROFESSIONAL),
        ]
    )
    network, _, _ = view_of(ds)
    got = by_option(network, scoring.relation(network))
    w = policy.relation_weights
    assert got[("p1", 1)] == pytest.approx(w[Relation.GRANDPARENT])
    assert got[("p2", 1)] == pytest.approx(w[Relation.GRANDPARENT] + w[Relation.FAMILY_FRIEND])
    assert got[("p3", 1)] == pytest.approx(w[Relation.PROFESSIONAL])


def test_school_and_daycare_km_are_absent_without_school_or_daycare() -> None:
    _, with_school, _ = view_of(dataset([child(school=at(10))], families=[family(place=at(0))]))
    assert scoring.school_km(with_school)[0] == pytest.approx(10.0, rel=0.01)
    assert scoring.daycare_km(with_school) is None
    _, small, _ = view_of(
        dataset([child(age=3, school=None, daycare=at(4))], families=[family(place=at(0))])
    )
    assert scoring.school_km(small) is None
    assert scoring.daycare_km(small)[0] == pytest.approx(4.0, rel=0.01)


def test_home_km() -> None:
    _, view, _ = view_of(dataset(families=[family(place=at(7))]))
    assert scoring.home_km(view)[0] == pytest.approx(7.0, rel=0.01)


def test_level_overshoot() -> None:
    ds = dataset(
        [child(support_level=1)],
        families=[
            family("f1", level=FosterLevel.ALMEN),
            family("f2", level=FosterLevel.SPECIALISERET),
        ],
    )
    _, view, _ = view_of(ds)
    got = by_option(view, scoring.level_overshoot(view))
    assert got[("f1", 2)] == 0.0 and got[("f2", 2)] == 2.0


def test_wish_weighs_by_age() -> None:
    policy = load_policy()  # default steps: 0.25 under 7, 0.5 from 7, 1.0 from 12
    for age, weight in ((4, 0.25), (7, 0.5), (11, 0.5), (12, 1.0), (17, 1.0)):
        ds = dataset([child(wishes=("f2",), age=age)], families=[family("f1"), family("f2")])
        _, view, _ = view_of(ds)
        got = by_option(view, scoring.wish(view, policy))
        assert got[("f1", 2)] == 0.0 and got[("f2", 2)] == weight, age
    _, no_wish, _ = view_of(dataset(families=[family("f1")]))
    assert scoring.wish(no_wish, policy) is None


def test_the_proposal_shows_the_wish_weight() -> None:
    ds = dataset([child(wishes=("f2",), age=8)], families=[family("f1"), family("f2")])
    ranking = Matcher(ds).rank("c1", as_of=AS_OF)
    asked = next(p for p in ranking.proposals if p.option_id == "f2")
    assert asked.as_dict()["wish_weight"] == 0.5
    assert asked.terms["wish"] == round(0.5 * load_policy().weight(Kind.FOSTER, "wish"), 2)
    plain = Matcher(dataset(families=[family("f1")])).rank("c1", as_of=AS_OF).proposals[0]
    assert "wish_weight" not in plain.as_dict()


def test_score_is_the_sum_of_the_reported_terms() -> None:
    ds = dataset(
        [child(wishes=("f1",))],
        families=[
            family("f1", place=at(3, 2), level=FosterLevel.FORSTAERKET),
            family("f2", place=at(-8)),
        ],
        network=[person("p1")],
    )
    policy = load_policy()
    for view in view_of(ds)[:2]:
        score, terms = score_terms(view, policy)
        assert np.allclose(score, np.sum(list(terms.values()), axis=0), atol=1e-9)
        assert np.allclose(score, np.round(score, 2))


def test_home_takes_the_school_weight_when_the_child_has_neither_school_nor_daycare() -> None:
    policy = load_policy()
    _, view, _ = view_of(dataset([child(age=0, school=None)], families=[family(place=at(10))]))
    _, terms = score_terms(view, policy)
    expected = max(policy.weight(Kind.FOSTER, "home_km"), policy.weight(Kind.FOSTER, "school_km"))
    assert terms["home_km"][0] == pytest.approx(expected * 10.0, rel=0.01)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6))
def test_score_equals_the_terms_weighed_rounded_and_added_one_by_one(seed: int) -> None:
    """The score of a whole table at once is, bit for bit, each term weighed by its tier's
    weight, rounded to 0.01 and added in the order of TERMS (the plain loop, with the
    weights read from the policy itself)."""
    m = Matcher(tiny(seed, 12, 30, 4, siblings=0.3))
    kinds = {k.tier: k for k in Kind}
    for unit in m.units:
        policy = m.policy_for(unit)
        for table in (unit.network, m.options):
            view = make_view(unit, table, m.pools.free, AS_OF.toordinal())
            score, terms = score_terms(view, policy)
            total = np.zeros(len(table))
            anchorless = view.school_km is None and view.daycare_km is None
            for name, term in scoring.TERMS:
                raw = term(view, policy)
                if raw is None:
                    assert name not in terms
                    continue
                weight = np.array(
                    [
                        max(policy.weight(kinds[t], name), policy.weight(kinds[t], "school_km"))
                        if name == "home_km" and anchorless
                        else policy.weight(kinds[t], name)
                        for t in table.tier
                    ]
                )
                weighted = np.round(weight * raw, 2) + 0.0
                assert np.array_equal(terms[name], weighted), name
                total += weighted
            assert np.array_equal(score, np.round(total, 2))
