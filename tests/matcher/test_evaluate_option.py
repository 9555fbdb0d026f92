"""`Matcher.evaluate_option`, the single-option check a hold makes, against the full ranking:
for every child and every option, eligible exactly when ranked, with the same why-not reasons
(pruning of far options included)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.rank import Matcher
from models.synthetic import SyntheticSpec, generate_dataset
from tests.factories import AS_OF


def _agrees_with_rank(m: Matcher, child_id: str) -> None:
    ranking = m.rank(child_id, top=None, why_not=True, as_of=AS_OF)
    ranked = {(p.option_id, p.kind) for p in ranking.proposals}
    for p in ranking.proposals:
        check = m.evaluate_option(child_id, p.option_id, p.kind, as_of=AS_OF)
        assert check.eligible and check.reasons == []
        assert check.children == ranking.children
        assert check.sibling_group == ranking.sibling_group
    for row in ranking.excluded_options or []:
        check = m.evaluate_option(child_id, row["option_id"], row["kind"], as_of=AS_OF)
        assert (row["option_id"], row["kind"]) not in ranked
        assert not check.eligible
        assert check.reasons == row["reasons"]


def test_every_option_of_a_dozen_children(small_dataset) -> None:
    m = Matcher(small_dataset)
    for child in small_dataset.children[:12]:
        _agrees_with_rank(m, child.child_id)


def test_an_option_the_child_cannot_have_at_all(small_dataset) -> None:
    m = Matcher(small_dataset)
    child = small_dataset.children[0].child_id
    check = m.evaluate_option(child, "no-such-option", "foster", as_of=AS_OF)
    assert not check.eligible and check.reasons == []


@pytest.mark.slow
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000))
def test_agrees_with_rank_on_random_datasets(schools, seed: int) -> None:
    dataset = generate_dataset(SyntheticSpec(12, 30, 6, seed=seed), schools)
    m = Matcher(dataset)
    for child in dataset.children:
        _agrees_with_rank(m, child.child_id)
