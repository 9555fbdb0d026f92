"""The step-down review for coordinators: each active placement's follow-ups and, past its
review threshold, the less intrusive options (per child or per kommune). Every child read is
audited, as for the child's record."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from api.services.caller import Principal
from api.services.children import own_child
from api.services.errors import Forbidden, NotFound
from api.services.runtime import Service, now
from matcher.economy import Rates
from matcher.review import ReviewReport, ReviewRow, review, review_placement

__all__ = ["review_child", "review_kommuner"]


def review_kommuner(
    session: Session,
    service: Service,
    who: Principal,
    kommuner: list[str] | None = None,
    as_of: date | None = None,
    top: int = 5,
) -> ReviewReport:
    """Every active placement of children acting in the caller's kommuner (or the named ones
    among them), with a summary."""
    asked = set(kommuner or ())
    outside = sorted(asked - who.kommuner)
    if outside:
        raise Forbidden(
            f"kommune {outside[0]} is outside your kommuner ({', '.join(sorted(who.kommuner))})"
        )
    report = review(
        service.matcher(session), as_of or now().date(), asked or set(who.kommuner), top=top
    )
    service.audit_read(who, "review.read", [row.child_id for row in report.placements])
    return report


def review_child(
    session: Session,
    service: Service,
    who: Principal,
    child_id: str,
    as_of: date | None = None,
    top: int = 5,
) -> ReviewRow:
    """One child's active placement under review."""
    own_child(session, who, child_id)
    service.audit_read(who, "review.read", [child_id])
    matcher = service.matcher(session)
    placement = matcher.dataset.active_placement.get(child_id)
    if placement is None:
        raise NotFound(
            f"child {child_id!r} has no active placement to review", reason="NO_ACTIVE_PLACEMENT"
        )
    rates = Rates.if_costed(matcher.dataset, matcher.policies)
    return review_placement(matcher, placement, as_of or now().date(), top, rates)
