"""The coordinator's worklist: the review of every active placement in their kommuner,
sorted into what needs doing, most urgent first: follow-ups overdue, follow-ups due within
14 days, step-down reviews reached, return-home assessments. Every child listed is audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from api.services.caller import Principal
from api.services.runtime import Service, now
from matcher.review import NO_LESS_INTRUSIVE_TIER, ReviewRow, review
from models.enums import Kind

__all__ = ["Worklist", "worklist"]


@dataclass
class Worklist:
    as_of: date
    overdue: list[ReviewRow] = field(default_factory=list)
    due: list[ReviewRow] = field(default_factory=list)
    step_down: list[ReviewRow] = field(default_factory=list)
    return_home: list[ReviewRow] = field(default_factory=list)
    active: int = 0


def _home_next(row: ReviewRow) -> bool:
    """A return-home assessment: the review is reached and the next step down is home (network
    care), or the review itself flags it."""
    flagged = "HOME_ASSESSMENT_DUE" in getattr(row, "warnings", ())
    return flagged or (
        row.step_down.reached
        and (row.step_down.reason == NO_LESS_INTRUSIVE_TIER or row.kind is Kind.NETWORK)
    )


def worklist(
    session: Session, service: Service, who: Principal, as_of: date | None = None
) -> Worklist:
    day = as_of or now().date()
    report = review(service.matcher(session), day, set(who.kommuner), top=3)
    work = Worklist(day, active=len(report.placements))
    for row in report.placements:
        service.audit(session, who, "ui.review.read", row.child_id)
        if row.follow_up.status == "overdue":
            work.overdue.append(row)
        elif row.follow_up.status == "due":
            work.due.append(row)
        if _home_next(row):
            work.return_home.append(row)
        elif row.step_down.reached:
            work.step_down.append(row)
    work.overdue.sort(key=lambda r: r.follow_up.overdue[0] if r.follow_up.overdue else day)
    work.due.sort(key=lambda r: r.follow_up.next)
    work.step_down.sort(key=lambda r: r.step_down.review_date or day)
    work.return_home.sort(key=lambda r: r.step_down.review_date or day)
    return work
