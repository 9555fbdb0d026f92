"""Municipal profiles: each loads, cites its policy passage, and changes the ranking where
its setting differs from default (one probe per differing setting)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from matcher.policy import (
    AUTO,
    PolicyError,
    list_policies,
    load_policy,
    load_policy_set,
    policy_sources,
)
from matcher.rank import Matcher, Ranking
from models.domain import Place
from models.enums import Relation
from tests.factories import AS_OF, at, child, dataset, family, institution, person

POLICY_TEXTS = Path(__file__).resolve().parents[3] / "shared" / "policies"
MUNICIPAL = {"hjoerring": "860", "odder": "727", "hvidovre": "167", "norddjurs": "707"}


def flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def differing(name: str) -> list[str]:
    mine = flat(load_policy(name).as_dict())
    default = flat(load_policy("default").as_dict())
    return sorted(
        k
        for k in mine
        if k not in ("name", "description", "kommune_code") and mine[k] != default[k]
    )


def test_every_bundled_profile_is_listed_and_loads() -> None:
    names = [p.stem for p in list_policies()]
    assert names[0] == "default" and set(MUNICIPAL) <= set(names)
    for name, code in MUNICIPAL.items():
        assert load_policy(name).kommune == code


@pytest.mark.parametrize("name", sorted(MUNICIPAL))
def test_every_setting_cites_a_passage_that_is_really_there(name: str) -> None:
    sources = policy_sources(name)
    header = sources["name"]
    cited = re.search(r"\.\./shared/policies/(\S+?\.txt)", header)
    assert cited, header
    lines = (POLICY_TEXTS / cited.group(1)).read_text(encoding="utf-8").splitlines()
    for key, note in sources.items():
        if key in ("name", "kommune", "description"):
            continue
        assert re.search(r"line \d+", note), f"{name}: {key} cites no line: {note!r}"
        for number, quote in re.findall(r'line (\d+)[^"]*?"([^"]+)"', note):
            text = " ".join(lines[int(number) - 1].split())
            for fragment in quote.split("..."):
                fragment = " ".join(fragment.split()).strip(" .,")
                assert fragment in text, f"{name}: {key}: {fragment!r} not on line {number}"


@pytest.mark.parametrize("name", sorted(MUNICIPAL))
def test_only_cited_settings_differ_from_default(name: str) -> None:
    sources = policy_sources(name)
    for key in differing(name):
        assert key in sources, f"{name}: {key} differs from default but is not in its file"


def test_auto_selects_the_childs_kommune_and_unknown_names_are_refused() -> None:
    policies = load_policy_set(AUTO)
    assert policies.for_kommune("167").name == "hvidovre"
    assert policies.for_kommune("101").name == "default"
    assert load_policy_set("odder").for_kommune("167").name == "odder"
    with pytest.raises(PolicyError, match="does not exist; allowed: default"):
        load_policy("aarhus")
    with pytest.raises(PolicyError, match=r"limits_km\.fooster"):
        load_policy("default", {"limits_km": {"fooster": 3}})


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_weight_that_is_no_finite_number_is_refused(value: float) -> None:
    """TOML reads `inf` and `nan` as floats; either would make a term's zeros NaN costs."""
    with pytest.raises(PolicyError, match=r"weights\.foster\.school_km: .*a finite number"):
        load_policy("default", {"weights": {"foster": {"school_km": value}}})


# --------------------------------------------------------------------------- probes


def rank_both(kommune: str, **data: Any) -> tuple[Ranking, Ranking]:
    """The first child's ranking under default and under its kommune's profile (auto)."""
    children = data.pop("children", [child()])
    children = [c.__class__(**{**_fields(c), "kommune_code": kommune}) for c in children]
    ds = dataset(children=children, **data)
    default = Matcher(ds, load_policy("default")).rank("c1", why_not=True, as_of=AS_OF)
    profile = Matcher(ds).rank("c1", why_not=True, as_of=AS_OF)
    return default, profile


def _fields(record: Any) -> dict[str, Any]:
    return {f: getattr(record, f) for f in record.__slots__}


def eligible(r: Ranking) -> set[tuple[str, str]]:
    return {(p.option_id, p.kind) for p in r.proposals}


def warned(r: Ranking, option_id: str) -> list[str]:
    return next(p.warnings for p in r.proposals if p.option_id == option_id)


def probe_foster_limit(name: str) -> None:
    # The local area is nearness as score: a family between the two radii stays eligible under
    # both profiles and carries OUTSIDE_LOCAL_AREA only under the one with the smaller radius.
    limit = load_policy(name).local_km[
        next(k for k in load_policy(name).local_km if k.value == "foster")
    ]
    default_limit = 80.0
    km = (limit + default_limit) / 2  # between the two radii
    default, profile = rank_both(
        MUNICIPAL[name], children=[child(school=None)], families=[family(place=at(km))]
    )
    farther = limit > default_limit
    assert ("f1", "foster") in eligible(profile) and ("f1", "foster") in eligible(default)
    assert ("OUTSIDE_LOCAL_AREA" in warned(profile, "f1")) is not farther
    assert ("OUTSIDE_LOCAL_AREA" in warned(default, "f1")) is farther


def probe_commute(name: str) -> None:
    site = institution(place=at(35), combination_places=2, max_level=3)
    default, profile = rank_both(
        MUNICIPAL[name], children=[child(combination_ok=True)], institutions=[site]
    )
    assert ("i1", "combination") in eligible(profile)
    assert ("i1", "combination") not in eligible(default)


def probe_school_keep(name: str) -> None:
    # School 1 km north, family 18 km north: 17 km from the school.
    default, profile = rank_both(MUNICIPAL[name], families=[family(place=at(18))])
    assert "SCHOOL_CHANGE" in profile.proposals[0].warnings
    assert "SCHOOL_CHANGE" not in default.proposals[0].warnings


def probe_institution_home_weight(name: str) -> None:
    # Home at 0, school 20 km north. A at the school; B 2 km south of the home.
    kid = child(school=Place(at(20).lat, at(20).lon))
    near_school = institution("iA", place=at(20))
    near_home = institution("iB", place=at(-2))
    default, profile = rank_both(
        MUNICIPAL[name], children=[kid], institutions=[near_school, near_home]
    )
    assert default.proposals[0].option_id == "iA"
    assert profile.proposals[0].option_id == "iB"


def probe_relation_weight(name: str) -> None:
    kid = child(school=None, age=17)
    grandparent = person("p1", place=at(10), relation=Relation.GRANDPARENT)
    friend = person("p2", place=at(1), relation=Relation.FAMILY_FRIEND)
    default, profile = rank_both(MUNICIPAL[name], children=[kid], network=[grandparent, friend])
    assert default.proposals[0].option_id == "p2"
    assert profile.proposals[0].option_id == "p1"


def probe_review(name: str) -> None:
    """Follow-up cadence, step-down months and targets act in the review and the
    simulation; they are probed there (tests/matcher/test_review.py)."""
    from tests.matcher.test_review import PROBED_THERE

    assert name in PROBED_THERE


PROBES: dict[str, Callable[[str], None]] = {
    "local_km.foster": probe_foster_limit,
    "combination.max_commute_km": probe_commute,
    "school.keep_km": probe_school_keep,
    "weights.institution.home_km": probe_institution_home_weight,
    "weights.network.relation": probe_relation_weight,
    "follow_up.first_weeks": probe_review,
    "follow_up.every_weeks": probe_review,
    "step_down.review_months.network": probe_review,
    "step_down.review_months.foster": probe_review,
    "step_down.review_months.combination": probe_review,
    "step_down.review_months.institution": probe_review,
    "step_down.home_assessment_months": probe_review,
    "step_down.settled_after_months": probe_review,
}

CASES = [(name, key) for name in sorted(MUNICIPAL) for key in differing(name)]


@pytest.mark.parametrize(("name", "key"), CASES, ids=[f"{n}:{k}" for n, k in CASES])
def test_each_differing_setting_changes_what_it_should(name: str, key: str) -> None:
    assert key in PROBES, f"{name}: {key} differs from default and has no probe"
    PROBES[key](name)
