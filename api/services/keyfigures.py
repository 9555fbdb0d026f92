"""Key figures for the børne- og ungeudvalg: per month and kommune, over the placements
recorded in the service (placements.csv as imported, and every placement confirmed or ended
through the service).

Per month (its last day, or the period's last day) and kommune of the child:

- active placements by kind, and the family-based share (network and foster care of all
  active placements);
- new placements in the month, and how many of them were acute (the child is marked acute);
- follow-ups on time: of the active placements, the share with no follow-up overdue at the
  month's end under the child's kommune's policy (first after `first_weeks`, then every
  `every_weeks`, counted from the last follow-up held);
- stepped down within 8 months (Hvidovre's goal of 80 %): of the institution placements
  that started in the twelve months up to `within_months` before the month's end, the share
  that ended with a step-down, or with the child going home, within `within_months`;
- moves and breakdowns: placements ended in the month with end reason `moved` or
  `breakdown`;
- cost: the monthly cost of the active placements (matcher.economy, the policy's rates and
  each institution's own daily rate).

Figures are counts over children; reading them is audited as one child-less row naming the
kommuner (`keyfigures.read`), since no child's details leave.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.orm import AuditEntry, ChildRow, PlacementRow
from api.services.audit import scope_detail
from api.services.caller import Principal
from api.services.errors import Invalid
from api.services.runtime import Service, now
from matcher.economy import KINDS, Rates
from matcher.review import add_months, follow_up

__all__ = ["KeyFigures", "MonthFigures", "key_figures", "months_between"]

MAX_MONTHS = 120
_HOME = {"home", "step_down"}


@dataclass(frozen=True)
class MonthFigures:
    month: str  # YYYY-MM
    kommune: str
    active_by_kind: dict[str, int]
    active: int
    family_based_share: float | None
    new: int
    acute: int
    follow_ups_on_time: int
    follow_ups_on_time_share: float | None
    stepped_down_within: int
    stepped_down_of: int
    stepped_down_share: float | None
    moves: int
    breakdowns: int
    monthly_cost_dkk: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class KeyFigures:
    start: date
    end: date
    kommuner: list[str]
    within_months: int
    target_share: float
    rows: list[MonthFigures]

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "kommuner": self.kommuner,
            "step_down": {"within_months": self.within_months, "target_share": self.target_share},
            "rows": [r.as_dict() for r in self.rows],
        }


def months_between(start: date, end: date) -> list[tuple[date, date]]:
    """(first day, last day) of each month from `start`'s to `end`'s, the last day capped
    at `end`."""
    out = []
    first = start.replace(day=1)
    while first <= end:
        nxt = add_months(first, 1)
        out.append((first, min(nxt - timedelta(days=1), end)))
        first = nxt
    return out


def _check_period(start: date, end: date) -> None:
    if end < start:
        raise Invalid(
            "the period ends before it starts",
            errors=[{"path": "to", "value": end.isoformat(), "allowed": f">= {start}"}],
        )
    if len(months_between(start, end)) > MAX_MONTHS:
        raise Invalid(
            "the period is too long",
            errors=[{"path": "to", "value": end.isoformat(), "allowed": f"≤ {MAX_MONTHS} months"}],
        )


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def key_figures(
    session: Session,
    service: Service,
    who: Principal,
    start: date,
    end: date,
    kommuner: Iterable[str] | None = None,
) -> KeyFigures:
    """The key figures of the caller's kommuner (or those named among them)."""
    _check_period(start, end)
    named = set(kommuner or ())
    chosen = sorted(named or who.kommuner)
    outside = sorted(named - who.kommuner)
    if outside:
        raise Invalid(
            "kommuner outside yours",
            errors=[{"path": "kommune", "value": outside, "allowed": sorted(who.kommuner)}],
        )
    rows = session.execute(
        select(PlacementRow, ChildRow.kommune_code, ChildRow.acute)
        .join(ChildRow, ChildRow.child_id == PlacementRow.child_id)
        .where(ChildRow.kommune_code.in_(chosen))
    ).all()
    matcher = service.matcher(session)
    rates = Rates(matcher.dataset, service.policies)
    policy = service.policies.default
    within = policy.step_down_within_months
    figures: list[MonthFigures] = []
    for first, last in months_between(start, end):
        for kommune in chosen:
            mine = [(p, bool(acute)) for p, k, acute in rows if k == kommune]
            local = service.policies.for_kommune(kommune)
            active = [
                p
                for p, _ in mine
                if p.start_date <= last and (p.end_date is None or p.end_date > last)
            ]
            by_kind = dict.fromkeys(KINDS, 0)
            for p in active:
                by_kind[p.kind] = by_kind.get(p.kind, 0) + 1
            new = [(p, acute) for p, acute in mine if first <= p.start_date <= last]
            on_time = sum(
                not follow_up(p.start_date, last, local, p.last_follow_up).overdue for p in active
            )
            cohort_end = add_months(last, -within)
            cohort_start = add_months(cohort_end, -12)
            cohort = [
                p
                for p, _ in mine
                if p.kind == "institution" and cohort_start < p.start_date <= cohort_end
            ]
            stepped = sum(
                p.end_date is not None
                and p.end_date <= add_months(p.start_date, within)
                and p.end_reason in _HOME
                for p in cohort
            )
            ended = [p for p, _ in mine if p.end_date is not None and first <= p.end_date <= last]
            cost = sum(rates.monthly(p.kind, p.option_id, kommune) for p in active)
            figures.append(
                MonthFigures(
                    month=first.strftime("%Y-%m"),
                    kommune=kommune,
                    active_by_kind=by_kind,
                    active=len(active),
                    family_based_share=_share(by_kind["network"] + by_kind["foster"], len(active)),
                    new=len(new),
                    acute=sum(acute for _, acute in new),
                    follow_ups_on_time=on_time,
                    follow_ups_on_time_share=_share(on_time, len(active)),
                    stepped_down_within=stepped,
                    stepped_down_of=len(cohort),
                    stepped_down_share=_share(stepped, len(cohort)),
                    moves=sum(p.end_reason == "moved" for p in ended),
                    breakdowns=sum(p.end_reason == "breakdown" for p in ended),
                    monthly_cost_dkk=round(cost, 0),
                )
            )
    service.audit_log.write([_entry(who, chosen)])
    return KeyFigures(start, end, chosen, within, policy.step_down_target_share, figures)


def _entry(who: Principal, kommuner: list[str]) -> AuditEntry:
    return AuditEntry(
        at=now(),
        key_id=who.key_id,
        role=who.role.value,
        action="keyfigures.read",
        child_id=None,
        detail=scope_detail(kommuner, ""),
    )
