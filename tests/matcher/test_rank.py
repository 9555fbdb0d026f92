"""Ranking: invariants on random datasets, and end-to-end cases a coordinator meets."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher import rank as rank_module
from matcher.policy import load_policy
from matcher.rank import Matcher, UnknownChild
from matcher.rules import CONSTRAINTS, make_view
from models.dataset import Dataset
from models.domain import KeepAway
from models.enums import NetworkStatus
from models.synthetic import SyntheticSpec, generate_dataset
from tests.factories import AS_OF

ALL_REASONS = {r.value for r, _ in CONSTRAINTS}


def _all_option_count(m: Matcher, child_id: str) -> int:
    return len(m.options) + len(m.unit_for(child_id).network)


def check_invariants(m: Matcher, child_id: str) -> None:
    r = m.rank(child_id, top=None, why_not=True, as_of=AS_OF)
    keys = [(p.tier, p.score, p.option_id) for p in r.proposals]
    assert [(t, s) for t, s, _ in keys] == sorted((t, s) for t, s, _ in keys)
    assert [p.rank for p in r.proposals] == list(range(1, len(r.proposals) + 1))
    assert r.excluded_options is not None
    assert all(row["reasons"] for row in r.excluded_options)
    assert all(set(row["reasons"]) <= ALL_REASONS for row in r.excluded_options)
    assert len(r.proposals) + len(r.excluded_options) == _all_option_count(m, child_id)
    proposed = {(p.option_id, p.tier) for p in r.proposals}
    left_out = {
        (
            row["option_id"],
            {"network": 1, "foster": 2, "combination": 3, "institution": 4}[row["kind"]],
        )
        for row in r.excluded_options
    }
    assert not proposed & left_out
    counts: dict[str, int] = {}
    for row in r.excluded_options:
        for reason in row["reasons"]:
            counts[reason] = counts.get(reason, 0) + 1
    assert counts == r.excluded
    # No proposal violates a hard constraint: re-check every rule on the proposed options.
    unit = m.unit_for(child_id)
    for table in (unit.network, m.options):
        view = make_view(unit, table, m.pools.free, AS_OF.toordinal())
        for _, rule in CONSTRAINTS:
            broken = rule(view, m.policy)
            for o, t, b in zip(table.option_id, table.tier, broken, strict=True):
                if (str(o), int(t)) in proposed:
                    assert not b, (o, t, rule.__name__)
        # The sum of terms is the score for every proposal.
    for p in r.proposals:
        assert p.score == pytest.approx(sum(p.terms.values()), abs=1e-6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    children=st.integers(1, 25),
    families=st.integers(0, 40),
    institutions=st.integers(0, 8),
)
def test_ranking_invariants_on_random_datasets(schools, seed, children, families, institutions):
    ds = generate_dataset(SyntheticSpec(children, families, institutions, seed), schools)
    m = Matcher(ds)
    for c in ds.children[:5]:
        check_invariants(m, c.child_id)


def test_identical_input_gives_identical_output(small_dataset: Dataset) -> None:
    first = [
        Matcher(small_dataset).rank(c.child_id, why_not=True, as_of=AS_OF).as_dict()
        for c in small_dataset.children[:20]
    ]
    again = [
        Matcher(small_dataset).rank(c.child_id, why_not=True, as_of=AS_OF).as_dict()
        for c in small_dataset.children[:20]
    ]
    assert first == again


def test_pruning_does_not_change_a_single_figure(small_dataset: Dataset, monkeypatch) -> None:
    full = Matcher(small_dataset)
    monkeypatch.setattr(rank_module, "PRUNE_THRESHOLD", 1)
    monkeypatch.setattr(rank_module, "PRUNE_WHEN_WITHIN", 1.01)  # query the index always
    pruned = Matcher(small_dataset)
    assert pruned._index is not None and full._index is None
    assert any(
        pruned.candidates(pruned.unit_for(c.child_id)) is not None for c in small_dataset.children
    )
    for c in small_dataset.children[:30]:
        a = full.rank(c.child_id, top=None, why_not=True, as_of=AS_OF).as_dict()
        b = pruned.rank(c.child_id, top=None, why_not=True, as_of=AS_OF).as_dict()
        assert a == b


def test_the_index_is_queried_only_where_it_prunes_most_options(
    small_dataset: Dataset, monkeypatch
) -> None:
    """Within the practical maximum of most options, a query would return nearly all of
    them: every option is screened instead. With a short maximum the index prunes."""
    monkeypatch.setattr(rank_module, "PRUNE_THRESHOLD", 1)
    m = Matcher(small_dataset)
    unit = m.unit_for(small_dataset.children[0].child_id)
    assert m.candidates(unit) is None
    short = replace(m.policy_for(unit), max_km=0.5)
    monkeypatch.setattr(m, "policy_for", lambda _unit: short)
    found = m.candidates(unit)
    assert found is not None and len(found) < len(m.options) / 2


def test_unknown_child(small_dataset: Dataset) -> None:
    with pytest.raises(UnknownChild):
        Matcher(small_dataset).rank("nobody")


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def national(schools) -> Dataset:
    return generate_dataset(
        SyntheticSpec(children=600, families=900, institutions=120, seed=11), schools
    )


@pytest.fixture(scope="module")
def national_matcher(national: Dataset) -> Matcher:
    return Matcher(national)


def _first(ds: Dataset, test) -> str:
    return next(c.child_id for c in ds.children if test(c))


def test_acute_child_gets_only_emergency_options(national, national_matcher) -> None:
    cid = _first(national, lambda c: c.acute and not c.sibling_group)
    r = national_matcher.rank(cid, top=None, why_not=True, as_of=AS_OF)
    check_invariants(national_matcher, cid)
    assert r.excluded.get("NOT_ACUTE", 0) > 0
    acute_ok = (
        {f.family_id for f in national.families if f.acute}
        | {i.institution_id for i in national.institutions if i.acute}
        | {
            p.person_id
            for p in national.network
            if p.status in (NetworkStatus.APPROVED, NetworkStatus.SUITABLE)
        }
    )
    assert all(p.option_id in acute_ok for p in r.proposals)


def test_support_level_4_child_is_offered_institutions_only(national, national_matcher) -> None:
    cid = _first(national, lambda c: c.support_level == 4)
    r = national_matcher.rank(cid, top=None, as_of=AS_OF)
    assert r.proposals, "the national instance has institutions for level 4"
    assert {p.kind for p in r.proposals} <= {"institution", "combination"}
    assert all(p.label in ("doegninstitution", "opholdssted", "sikret") for p in r.proposals)


def test_sibling_group_is_ranked_as_one_unit(national, national_matcher) -> None:
    cid = _first(national, lambda c: c.sibling_group is not None)
    r = national_matcher.rank(cid, top=None, as_of=AS_OF)
    group = national.sibling_groups[r.sibling_group]
    assert set(r.children) == set(group) and len(group) >= 2
    other = next(c for c in group if c != cid)
    assert national_matcher.rank(other, top=None, as_of=AS_OF).proposals == r.proposals
    assert all(p.free_places >= len(group) for p in r.proposals)


def test_child_with_no_school(national, national_matcher) -> None:
    cid = _first(national, lambda c: c.school is None and c.daycare is None)
    r = national_matcher.rank(cid, as_of=AS_OF)
    check_invariants(national_matcher, cid)
    for p in r.proposals:
        assert p.distance_km["school"] is None and "school_km" not in p.terms
        assert "SCHOOL_CHANGE" not in p.warnings


def test_keep_away_address_removes_nearby_options(national: Dataset) -> None:
    kid = next(c for c in national.children if not c.sibling_group and not c.acute)
    before = Matcher(national).rank(kid.child_id, top=3, as_of=AS_OF)
    assert before.proposals
    near = before.proposals[0]
    m0 = Matcher(national)
    unit = m0.unit_for(kid.child_id)
    table = unit.network if near.tier == 1 else m0.options
    i = next(i for i, o in enumerate(table.option_id) if o == near.option_id)
    keep = KeepAway(
        kid.child_id,
        replace(kid.home, lat=float(table.lat[i]), lon=float(table.lon[i])),
        2.0,
        "§ 105",
    )
    after = Matcher(replace(national, keep_away=(*national.keep_away, keep))).rank(
        kid.child_id, top=None, why_not=True, as_of=AS_OF
    )
    assert near.option_id not in {p.option_id for p in after.proposals if p.tier == near.tier}
    assert any(
        row["option_id"] == near.option_id and "KEEP_AWAY" in row["reasons"]
        for row in after.excluded_options or []
    )


def test_child_whose_network_is_all_rejected(national: Dataset) -> None:
    kid = next(
        c
        for c in national.children
        if national.network_by_child.get(c.child_id) and not c.sibling_group
    )
    rejected = tuple(
        replace(p, status=NetworkStatus.REJECTED) if p.child_id == kid.child_id else p
        for p in national.network
    )
    m = Matcher(replace(national, network=rejected))
    r = m.rank(kid.child_id, top=None, why_not=True, as_of=AS_OF)
    assert all(p.tier > 1 for p in r.proposals)
    assert r.excluded["NETWORK_REJECTED"] == len(m.unit_for(kid.child_id).network)


def test_network_care_ranks_above_any_foster_family(national, national_matcher) -> None:
    for c in national.children:
        r = national_matcher.rank(c.child_id, top=None, as_of=AS_OF)
        tiers = [p.tier for p in r.proposals]
        assert tiers == sorted(tiers)
        if 1 in tiers and 2 in tiers:
            return
    pytest.fail("no child with both network and foster proposals in the instance")


def test_capacity_update_is_seen_without_rebuilding(national, national_matcher) -> None:
    m = Matcher(national)
    cid = _first(national, lambda c: not c.sibling_group)
    top = m.rank(cid, top=1, as_of=AS_OF).proposals[0]
    if top.tier == 1:
        pytest.skip("network carer on top")
    pool = m.pools.index()[top.option_id]
    m.pools.reserved[pool] = m.pools.places[pool]
    assert top.option_id not in {
        p.option_id for p in m.rank(cid, top=None, as_of=AS_OF).proposals if p.tier == top.tier
    }


def test_stale_vacancy_depends_on_as_of(national, national_matcher) -> None:
    cid = national.children[0].child_id
    early = national_matcher.rank(cid, top=None, as_of=date(2026, 11, 1))
    late = national_matcher.rank(cid, top=None, as_of=date(2030, 1, 1))
    assert all("STALE_VACANCY" in p.warnings for p in late.proposals if p.tier > 1)
    assert sum("STALE_VACANCY" in p.warnings for p in early.proposals) <= len(early.proposals)
    assert np.isfinite([p.score for p in late.proposals]).all()


def test_policy_limits_change_the_ranking(national) -> None:
    tight = replace(load_policy(), max_km=10.0)
    cid = _first(national, lambda c: not c.sibling_group)
    loose_r = Matcher(national).rank(cid, top=None, as_of=AS_OF)
    tight_r = Matcher(national, tight).rank(cid, top=None, as_of=AS_OF)
    assert len(tight_r.proposals) < len(loose_r.proposals)
    assert all(p.distance_km["home"] <= 10.5 for p in tight_r.proposals)


def test_a_unit_built_alone_is_the_unit_built_with_all(small_dataset: Dataset) -> None:
    """`unit_for` builds only the asked child's unit until all are needed; it must be the
    same unit (members, arrival position, sibling homes, exclusions) as the full build."""
    assert small_dataset.sibling_groups  # groups are built as one unit
    lazy, full = Matcher(small_dataset), Matcher(small_dataset)
    for child in reversed(small_dataset.children):
        assert lazy.unit_for(child.child_id) == full.unit_of_child[child.child_id]
    assert "units" not in lazy.__dict__  # nothing built beyond the units asked for
    assert lazy.units == full.units
    assert lazy.unit_for(small_dataset.children[0].child_id) in lazy.units
    with pytest.raises(UnknownChild):
        Matcher(small_dataset).unit_for("no-such-child")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), children=st.integers(5, 40), families=st.integers(5, 40))
def test_screening_evaluates_the_eligible_options_as_evaluate_does(
    seed: int, children: int, families: int
) -> None:
    """`rank` computes scores, terms and warnings on the eligible options only; they are the
    numbers `evaluate` gives those options within the whole table, and the reasons are the
    same for every option. Nation-wide, so that distance rules and keep-away addresses act."""
    from geo.gazetteer import Gazetteer
    from tests.conftest import geodata_dir

    schools = Gazetteer.from_directory(geodata_dir()).schools.frame
    m = Matcher(
        generate_dataset(SyntheticSpec(children, families, 4, seed, sibling_share=0.3), schools)
    )
    for unit in m.units:
        for table in (unit.network, m.options):
            full = m.evaluate(unit, table, AS_OF)
            reasons, ev = m._screen(unit, table, AS_OF, m.pools.free)
            assert reasons.tolist() == full.reasons.tolist()
            el = full.eligible
            assert ev.opts.option_id.tolist() == table.option_id[el].tolist()
            assert ev.score.tolist() == full.score[el].tolist()
            assert ev.warnings.tolist() == full.warnings[el].tolist()
            assert ev.home_km.tolist() == full.home_km[el].tolist()
            assert ev.terms.keys() <= full.terms.keys()
            for name, values in ev.terms.items():
                assert values.tolist() == full.terms[name][el].tolist()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), children=st.integers(5, 30), families=st.integers(0, 30))
def test_excluded_counts_are_those_of_a_full_ranking(
    seed: int, children: int, families: int
) -> None:
    """The counts the batch reports for a unit left without a place (reasons alone, no
    scores) are those of `evaluate_unit`, which works out everything; nation-wide, so that
    the spatial index and the distance rules act."""
    from geo.gazetteer import Gazetteer
    from tests.conftest import geodata_dir

    schools = Gazetteer.from_directory(geodata_dir()).schools.frame
    spec = SyntheticSpec(children, families, 4, seed, sibling_share=0.3)
    m = Matcher(generate_dataset(spec, schools))
    for unit in m.units:
        network, others, pruned = m.evaluate_unit(unit, AS_OF)
        full = m._excluded_counts([(ev.opts, ev.reasons) for ev in (network, others)], pruned)
        assert m.excluded_counts(unit, AS_OF) == full


def test_only_network_proposals_list_the_relation_term() -> None:
    """The relation term (closeness in the child's network) is listed on network proposals
    only, never as a 0 on a family or an institution."""
    from geo.gazetteer import Gazetteer
    from tests.conftest import geodata_dir

    schools = Gazetteer.from_directory(geodata_dir()).schools.frame
    m = Matcher(generate_dataset(SyntheticSpec(60, 80, 10, 7), schools))
    kinds_seen = set()
    for unit in m.units:
        if not len(unit.network):
            continue
        for p in m.rank(unit.child_ids[0], top=None, as_of=AS_OF).proposals:
            assert ("relation" in p.terms) == (p.tier == 1)
            kinds_seen.add(p.tier == 1)
    assert kinds_seen == {True, False}
