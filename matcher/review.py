"""The step-down review: follow-ups due under the profile, and less intrusive options.

A placement is not an end state (indsatstrappen). For every active placement the review
gives its follow-up dates under the child's profile and, once the profile's review
threshold for the placement's kind is reached, the ranking core's proposals restricted to
less intrusive tiers, or why there is none. A step-down is a proposal, never a move.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from geo.distance import haversine_km
from matcher.economy import Rates
from matcher.policy import Policy
from matcher.rank import Matcher
from matcher.rules import REASON_ORDER
from models.domain import Child, Placement
from models.enums import Kind, NetworkStatus, Warning

__all__ = [
    "NO_ELIGIBLE_OPTION",
    "NO_LESS_INTRUSIVE_TIER",
    "PLACEMENT_SETTLED",
    "FollowUp",
    "ReviewReport",
    "ReviewRow",
    "ReviewSummary",
    "StepDown",
    "add_months",
    "follow_up",
    "review",
    "review_placement",
]

# Why a placement past its threshold gets no step-down proposal.
NO_LESS_INTRUSIVE_TIER = "NO_LESS_INTRUSIVE_TIER"  # network care: the next step is home
NO_ELIGIBLE_OPTION = "NO_ELIGIBLE_OPTION"  # every less intrusive option is excluded
PLACEMENT_SETTLED = "PLACEMENT_SETTLED"  # settled long placement: continuity before a move
SOON_DAYS = 14  # a follow-up this close ahead is reported as due


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has no such day."""
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _months_between(start: date, end: date) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - 1 if add_months(start, months) > end else months


@dataclass(frozen=True)
class FollowUp:
    first_weeks: int
    every_weeks: int
    overdue: list[date]  # scheduled after the last follow-up held and before as_of
    next: date  # the first scheduled on or after as_of
    status: str  # overdue, due (within SOON_DAYS) or ok

    def as_dict(self) -> dict[str, Any]:
        return {
            "first_weeks": self.first_weeks,
            "every_weeks": self.every_weeks,
            "overdue": [d.isoformat() for d in self.overdue],
            "next": self.next.isoformat(),
            "status": self.status,
        }


@dataclass(frozen=True)
class StepDown:
    """Whether the review threshold is reached, and the less intrusive proposals or why none."""

    review_months: int
    review_date: date | None
    reached: bool
    proposals: list[dict[str, Any]] = field(default_factory=list)  # Proposal + "changes"
    reason: str | None = None
    excluded: dict[str, int] = field(default_factory=dict)
    # From a combination placement the first proposal is to go home: the least intrusive step.
    return_home_first: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "review_months": self.review_months,
            "review_date": self.review_date and self.review_date.isoformat(),
            "reached": self.reached,
            "return_home_first": self.return_home_first,
            "proposals": self.proposals,
            "reason": self.reason,
            "excluded": self.excluded,
        }


@dataclass(frozen=True)
class ReviewRow:
    """The review of one active placement."""

    child_id: str
    kommune_code: str
    option_id: str
    kind: Kind
    tier: int
    start_date: date
    months_in_placement: int
    policy: str
    follow_up: FollowUp
    step_down: StepDown
    warnings: list[str] = field(default_factory=list)  # HOME_ASSESSMENT_DUE
    home_assessment_date: date | None = None
    # DKK a month, from the policy profile's [costs] (None without them). Shown to planners and
    # caseworkers; never read by the ranking.
    monthly_cost: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "child_id": self.child_id,
            "kommune_code": self.kommune_code,
            "option_id": self.option_id,
            "kind": self.kind.value,
            "tier": self.tier,
            "start_date": self.start_date.isoformat(),
            "months_in_placement": self.months_in_placement,
            "policy": self.policy,
            "follow_up": self.follow_up.as_dict(),
            "step_down": self.step_down.as_dict(),
            "warnings": self.warnings,
            "home_assessment_date": self.home_assessment_date
            and self.home_assessment_date.isoformat(),
            "monthly_cost": self.monthly_cost,
        }


@dataclass(frozen=True)
class ReviewSummary:
    active: int
    follow_ups_overdue: int
    follow_ups_due: int
    reviews_reached: int
    with_proposal: int
    without_proposal: int

    @classmethod
    def of(cls, rows: list[ReviewRow]) -> ReviewSummary:
        return cls(
            active=len(rows),
            follow_ups_overdue=sum(r.follow_up.status == "overdue" for r in rows),
            follow_ups_due=sum(r.follow_up.status == "due" for r in rows),
            reviews_reached=sum(r.step_down.reached for r in rows),
            with_proposal=sum(bool(r.step_down.proposals) for r in rows),
            without_proposal=sum(r.step_down.reached and not r.step_down.proposals for r in rows),
        )

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class ReviewReport:
    """Every reviewed placement, with the summary counts."""

    as_of: date
    kommuner: list[str]
    summary: ReviewSummary
    placements: list[ReviewRow]

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "kommuner": self.kommuner,
            "summary": self.summary.as_dict(),
            "placements": [r.as_dict() for r in self.placements],
        }


def follow_up(start: date, as_of: date, policy: Policy, held_until: date | None = None) -> FollowUp:
    """Follow-ups fall `first_weeks` after the start, then every `every_weeks`."""
    first = start + timedelta(weeks=policy.follow_up_first_weeks)
    every = timedelta(weeks=policy.follow_up_every_weeks)
    done = held_until or start
    overdue: list[date] = []
    day = first
    while day < as_of:
        if day > done:
            overdue.append(day)
        day += every
    status = "overdue" if overdue else ("due" if day - as_of <= timedelta(SOON_DAYS) else "ok")
    return FollowUp(
        policy.follow_up_first_weeks, policy.follow_up_every_weeks, overdue, day, status
    )


def _km(a: tuple[float, float], points: Iterable[tuple[float, float]]) -> float | None:
    pts = list(points)
    if not pts:
        return None
    lat = np.array([p[0] for p in pts])
    lon = np.array([p[1] for p in pts])
    return round(float(haversine_km(a[0], a[1], lat, lon).min()), 1)


def _what_changes(
    matcher: Matcher, child: Child, current: tuple[float, float] | None, option: dict[str, Any]
) -> dict[str, Any]:
    """School kept or not, and km to home and to the nearest network carer, now and after."""
    policy = matcher.policy_for(matcher.unit_for(child.child_id))
    network = [
        (p.place.lat, p.place.lon)
        for p in matcher.dataset.network_by_child.get(child.child_id, ())
        if p.status is not NetworkStatus.REJECTED and p.person_id != option["option_id"]
    ]
    home = (child.home.lat, child.home.lon)
    school = (child.school.lat, child.school.lon) if child.school else None
    new = option["point"]
    out: dict[str, Any] = {
        "km_to_home": {"now": current and _km(current, [home]), "after": _km(new, [home])},
        "km_to_network": {
            "now": current and _km(current, network),
            "after": _km(new, network),
        },
    }
    if school is not None:
        after = _km(new, [school])
        out["km_to_school"] = {"now": current and _km(current, [school]), "after": after}
        out["school_kept"] = after is not None and after <= policy.school_keep_km
    else:
        out["school_kept"] = None
    return out


def _point(
    matcher: Matcher, option_id: str, tier: int, child_id: str
) -> tuple[float, float] | None:
    """Where an option is: its row of that tier, else any row of it (a current option may no
    longer offer the kind, e.g. its combination places were cut)."""
    for table in (matcher.options, matcher.unit_for(child_id).network):
        rows = np.flatnonzero(table.option_id == option_id)
        if len(rows):
            same_tier = rows[table.tier[rows] == tier]
            k = int(same_tier[0] if len(same_tier) else rows[0])
            return float(table.lat[k]), float(table.lon[k])
    return None


def review_placement(
    matcher: Matcher,
    placement: Placement,
    as_of: date,
    top: int = 5,
    rates: Rates | None = None,
) -> ReviewRow:
    """The review of one active placement (see the module docstring). With `rates`, the
    placement's monthly cost and each step-down proposal's cost and change against it."""
    child = matcher.dataset.child_by_id[placement.child_id]
    cost_now = (
        None
        if rates is None
        else round(rates.monthly(placement.kind.value, placement.option_id, child.kommune_code))
    )
    unit = matcher.unit_for(child.child_id)
    policy = matcher.policy_for(unit)
    tier = placement.kind.tier
    months = policy.step_down_months.get(placement.kind, 0)
    review_date = add_months(placement.start_date, months) if months else None
    reached = review_date is not None and review_date <= as_of
    in_placement = _months_between(placement.start_date, as_of)
    settled = bool(policy.settled_after_months) and in_placement >= policy.settled_after_months
    proposals: list[dict[str, Any]] = []
    reason: str | None = None
    excluded: dict[str, int] = {}
    home_first = reached and placement.kind is Kind.COMBINATION
    if reached and settled:
        reason = PLACEMENT_SETTLED  # Hjørring 2016: "Kontinuitet i anbringelsen"
    elif reached and tier == Kind.NETWORK.tier:
        reason = NO_LESS_INTRUSIVE_TIER
    elif reached:
        ranking = matcher.rank(child.child_id, top=None, as_of=as_of)
        lower = [p for p in ranking.proposals if p.tier < tier]
        current = _point(matcher, placement.option_id, tier, child.child_id)
        for p in lower[:top]:
            proposal = p.as_dict()
            point = _point(matcher, p.option_id, p.tier, child.child_id)
            changes = _what_changes(
                matcher, child, current, {"option_id": p.option_id, "point": point}
            )
            proposal["changes"] = changes
            proposal["continuity"] = _continuity(in_placement, changes)
            if rates is not None and cost_now is not None:
                # At the profile's fee for a family's level: its own fee is not for others.
                cost = round(rates.monthly(p.kind, p.option_id, child.kommune_code, own_fee=False))
                proposal["monthly_cost"] = cost
                proposal["monthly_cost_change"] = cost - cost_now
            if home_first:
                # Full-time care is fewer days with the parents than a combination placement.
                proposal["warnings"] = [*proposal["warnings"], Warning.FEWER_DAYS_AT_HOME.value]
            proposals.append(proposal)
        if not lower and not home_first:
            reason = NO_ELIGIBLE_OPTION
            excluded = _lower_tier_reasons(matcher, child.child_id, tier, as_of)
    assessment = (
        add_months(placement.start_date, policy.home_assessment_months)
        if policy.home_assessment_months
        else None
    )
    warnings = (
        [Warning.HOME_ASSESSMENT_DUE.value]
        if assessment is not None and assessment <= as_of
        else []
    )
    return ReviewRow(
        child_id=child.child_id,
        kommune_code=child.kommune_code,
        option_id=placement.option_id,
        kind=placement.kind,
        tier=tier,
        start_date=placement.start_date,
        months_in_placement=in_placement,
        policy=policy.name,
        follow_up=follow_up(placement.start_date, as_of, policy, placement.last_follow_up),
        step_down=StepDown(months, review_date, reached, proposals, reason, excluded, home_first),
        warnings=warnings,
        home_assessment_date=assessment,
        monthly_cost=cost_now,
    )


def _continuity(months: int, changes: dict[str, Any]) -> dict[str, Any]:
    """What a move costs the child in continuity: time settled, school, distance to network."""
    network = changes["km_to_network"]
    delta = (
        round(network["after"] - network["now"], 1)
        if network["after"] is not None and network["now"] is not None
        else None
    )
    return {
        "months_in_placement": months,
        "school_changes": None if changes["school_kept"] is None else not changes["school_kept"],
        "km_to_network_change": delta,
    }


def _lower_tier_reasons(matcher: Matcher, child_id: str, tier: int, as_of: date) -> dict[str, int]:
    """How many less intrusive options each reason leaves out (options pruned unexamined
    as beyond every limit count as TOO_FAR)."""
    network, others, pruned = matcher.evaluate_unit(matcher.unit_for(child_id), as_of)
    counts: dict[str, int] = {}
    for ev in (network, others):
        lower = ev.opts.tier < tier
        for bit, reason in enumerate(REASON_ORDER):
            n = int(np.count_nonzero(lower & ((ev.reasons >> bit) & 1).astype(bool)))
            if n:
                counts[reason.value] = counts.get(reason.value, 0) + n
    if pruned:
        counts["TOO_FAR"] = counts.get("TOO_FAR", 0) + pruned
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def review(
    matcher: Matcher,
    as_of: date,
    kommuner: Iterable[str] | None = None,
    children: Iterable[str] | None = None,
    top: int = 5,
) -> ReviewReport:
    """Every active placement (of children acting in `kommuner`, or the named children)."""
    codes = set(kommuner or ())
    ids = set(children or ())
    rates = Rates.if_costed(matcher.dataset, matcher.policies)
    rows = []
    for placement in sorted(matcher.dataset.active_placement.values(), key=lambda p: p.child_id):
        child = matcher.dataset.child_by_id[placement.child_id]
        if codes and child.kommune_code not in codes:
            continue
        if ids and child.child_id not in ids:
            continue
        rows.append(review_placement(matcher, placement, as_of, top, rates))
    return ReviewReport(as_of, sorted(codes), ReviewSummary.of(rows), rows)
