"""The step-down review on hand-made placements: cadence dates, thresholds, proposals."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from itertools import pairwise
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from matcher.policy import load_policy
from matcher.rank import Matcher
from matcher.review import (
    NO_ELIGIBLE_OPTION,
    NO_LESS_INTRUSIVE_TIER,
    PLACEMENT_SETTLED,
    add_months,
    follow_up,
    review,
    review_placement,
)
from models.domain import Placement
from models.enums import Kind, NetworkStatus
from tests.factories import at, child, dataset, family, institution, person

# Profiles whose follow-up and step-down settings are probed here (see test_policy_profiles).
PROBED_THERE = {"hvidovre", "odder", "hjoerring"}

START = date(2026, 1, 5)  # a Monday


def placed(kind: Kind = Kind.INSTITUTION, option: str = "i1", **kw: Any) -> Placement:
    return replace(Placement("c1", option, kind, START), **kw)


def test_hvidovre_cadence_is_4_weeks_then_every_6() -> None:
    hvidovre = load_policy("hvidovre")
    fu = follow_up(START, date(2026, 4, 1), hvidovre)
    assert fu.overdue == [date(2026, 2, 2), date(2026, 3, 16)]
    assert fu.next == date(2026, 4, 27)
    assert fu.status == "overdue"
    held = follow_up(START, date(2026, 4, 1), hvidovre, held_until=date(2026, 3, 16))
    assert held.overdue == [] and held.status == "ok"


def test_default_cadence_is_13_weeks_then_every_26() -> None:
    default = load_policy("default")
    fu = follow_up(START, date(2026, 4, 1), default)
    assert fu.overdue == [] and fu.next == date(2026, 4, 6) and fu.status == "due"
    later = follow_up(START, date(2026, 11, 1), default)
    assert later.overdue == [date(2026, 4, 6), date(2026, 10, 5)]


@given(st.dates(date(2020, 1, 1), date(2030, 1, 1)), st.integers(0, 400))
def test_follow_ups_keep_the_cadence_exactly(start: date, days: int) -> None:
    from datetime import timedelta

    policy = load_policy("hvidovre")
    fu = follow_up(start, start + timedelta(days=days), policy)
    dates = [*fu.overdue, fu.next]
    assert dates[0] == start + timedelta(weeks=4) or fu.overdue == []
    for a, b in pairwise(dates):
        assert (b - a).days == 42


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 8, 15), 6) == date(2027, 2, 15)


def test_institution_past_threshold_with_an_eligible_family_gets_a_proposal() -> None:
    ds = dataset(
        children=[child(kommune_code="167")],
        institutions=[institution(occupied=1)],
        families=[family(place=at(2))],
        placements=[placed()],
    )
    row = review_placement(Matcher(ds), placed(), date(2026, 7, 6))
    step = row.step_down
    assert row.policy == "hvidovre" and step.review_date == date(2026, 7, 5)
    assert step.reached and step.reason is None
    shown = row.as_dict()
    assert shown["step_down"]["review_date"] == "2026-07-05" and shown["kind"] == "institution"
    top = step.proposals[0]
    assert (top["option_id"], top["kind"]) == ("f1", "foster")
    assert top["changes"]["school_kept"] is True  # school 1 km north, family 2 km north
    assert top["changes"]["km_to_home"]["after"] < top["changes"]["km_to_home"]["now"]


def test_institution_past_threshold_without_options_gets_the_reason() -> None:
    ds = dataset(
        children=[child(kommune_code="167")],
        institutions=[institution(occupied=1)],
        families=[family(place=at(2), places=1, occupied=1)],
        placements=[placed()],
    )
    step = review_placement(Matcher(ds), placed(), date(2026, 7, 6)).step_down
    assert step.reached and step.proposals == []
    assert step.reason == NO_ELIGIBLE_OPTION
    assert step.excluded == {"NO_CAPACITY": 1}


def test_a_proposal_is_only_for_less_intrusive_tiers() -> None:
    # A foster placement: another institution is eligible but is a step up, not down.
    ds = dataset(
        children=[child(kommune_code="167")],
        institutions=[institution()],
        families=[family(occupied=1)],
        placements=[placed(Kind.FOSTER, "f1")],
    )
    step = review_placement(Matcher(ds), placed(Kind.FOSTER, "f1"), date(2026, 8, 1)).step_down
    assert step.reached and step.proposals == [] and step.reason == NO_ELIGIBLE_OPTION


def test_network_care_past_threshold_points_home() -> None:
    ds = dataset(
        children=[child(kommune_code="167")],
        network=[person("p1")],
        placements=[placed(Kind.NETWORK, "p1")],
    )
    step = review_placement(Matcher(ds), placed(Kind.NETWORK, "p1"), date(2026, 7, 6)).step_down
    assert step.reached and step.reason == NO_LESS_INTRUSIVE_TIER


def test_odder_reviews_institution_placements_after_3_months_default_after_6() -> None:
    for kommune, reached in (("727", True), ("751", False)):
        ds = dataset(
            children=[child(kommune_code=kommune)],
            institutions=[institution(occupied=1)],
            families=[family()],
            placements=[placed()],
        )
        step = review_placement(Matcher(ds), placed(), date(2026, 5, 1)).step_down
        assert step.reached is reached, kommune
        assert bool(step.proposals) is reached


def test_review_lists_active_placements_of_the_kommune_only() -> None:
    kids = [child("c1", kommune_code="167"), child("c2", kommune_code="727")]
    ds = dataset(
        children=kids,
        institutions=[institution(occupied=2)],
        placements=[placed(), replace(placed(), child_id="c2")],
    )
    out = review(Matcher(ds), date(2026, 7, 6), kommuner=["167"])
    assert [r.child_id for r in out.placements] == ["c1"]
    assert out.summary.active == 1
    shown = out.as_dict()
    assert list(shown) == ["as_of", "kommuner", "summary", "placements"]
    assert shown["summary"]["active"] == 1 and shown["placements"][0]["child_id"] == "c1"


def test_from_a_combination_placement_home_comes_first_and_full_time_care_is_flagged() -> None:
    site = institution(occupied=1, combination_places=1, max_level=3)
    ds = dataset(
        children=[child(combination_ok=True)],
        institutions=[site],
        families=[family(place=at(2))],
        placements=[placed(Kind.COMBINATION, "i1")],
    )
    row = review_placement(Matcher(ds), placed(Kind.COMBINATION, "i1"), date(2026, 7, 6))
    step = row.step_down
    assert step.reached and step.return_home_first and step.reason is None
    assert [p["option_id"] for p in step.proposals] == ["f1"]
    assert "FEWER_DAYS_AT_HOME" in step.proposals[0]["warnings"]
    assert row.as_dict()["step_down"]["return_home_first"] is True


def test_a_step_down_proposal_carries_its_continuity_cost() -> None:
    ds = dataset(
        children=[child(kommune_code="167")],
        institutions=[institution(occupied=1)],
        families=[family(place=at(40))],
        network=[person("p1", place=at(3), status=NetworkStatus.REJECTED)],
        placements=[placed()],
    )
    top = review_placement(Matcher(ds), placed(), date(2026, 9, 6)).step_down.proposals[0]
    assert top["continuity"]["months_in_placement"] == 8
    assert top["continuity"]["school_changes"] is True  # the family is 39 km from the school


def test_hvidovre_assesses_the_return_home_at_6_months_default_never() -> None:
    for kommune, due in (("167", True), ("751", False)):
        ds = dataset(
            children=[child(kommune_code=kommune)],
            families=[family(occupied=1)],
            placements=[placed(Kind.FOSTER, "f1")],
        )
        before = review_placement(Matcher(ds), placed(Kind.FOSTER, "f1"), date(2026, 7, 4))
        after = review_placement(Matcher(ds), placed(Kind.FOSTER, "f1"), date(2026, 7, 5))
        assert "HOME_ASSESSMENT_DUE" not in before.warnings
        assert ("HOME_ASSESSMENT_DUE" in after.warnings) is due, kommune


def test_hjoerring_keeps_a_settled_placement_from_being_proposed_for_a_move() -> None:
    for kommune, months, settled in (("860", 25, True), ("860", 13, False), ("751", 25, False)):
        ds = dataset(
            children=[child(kommune_code=kommune)],
            institutions=[institution(occupied=1)],
            families=[family(place=at(2))],
            placements=[placed()],
        )
        as_of = date(2026 + (months // 12), 1 + months % 12, 6)
        step = review_placement(Matcher(ds), placed(), as_of).step_down
        assert step.reached
        assert (step.reason == PLACEMENT_SETTLED) is settled, (kommune, months)
        assert bool(step.proposals) is not settled


def test_the_review_shows_the_cost_now_and_after_each_step_down() -> None:
    from matcher.economy import DAYS_PER_MONTH, Rates
    from matcher.review import review
    from models.enums import FosterLevel

    ds = dataset(
        children=[child(kommune_code="167")],
        institutions=[institution(occupied=1, daily_rate=4000.0)],
        # its own fee is its kommune's business: a proposal is priced at the level's fee
        families=[family(place=at(2), level=FosterLevel.FORSTAERKET, monthly_rate=99999.0)],
        placements=[placed()],
    )
    matcher = Matcher(ds)
    rates = Rates.if_costed(ds, matcher.policies)
    assert rates is not None  # hvidovre has no [costs]: the default profile's apply
    row = review_placement(matcher, placed(), date(2026, 7, 6), rates=rates)
    fees = matcher.policies.default.costs.foster_monthly_dkk  # type: ignore[union-attr]
    assert row.monthly_cost == round(4000.0 * DAYS_PER_MONTH)
    top = row.step_down.proposals[0]
    assert top["monthly_cost"] == round(fees["forstaerket"])
    assert top["monthly_cost_change"] == top["monthly_cost"] - row.monthly_cost < 0
    shown = review(matcher, date(2026, 7, 6)).as_dict()["placements"][0]
    assert shown["monthly_cost"] == row.monthly_cost
    assert shown["step_down"]["proposals"][0]["monthly_cost_change"] == top["monthly_cost_change"]
    # without rates (a caller without costs) nothing is invented
    assert review_placement(matcher, placed(), date(2026, 7, 6)).monthly_cost is None
