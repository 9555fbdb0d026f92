"""The coordinator's worklist (`/ui/review`) and the follow-up form it links to
(`/ui/children/{id}/follow-up`), which records a follow-up through the same use case as
`POST /v1/children/{id}/follow-ups`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.db.engine import DbSession as Session
from api.db.orm import UiSession
from api.http.deps import ServiceDep, SessionDep
from api.services import case_notes, worklist
from api.services.caller import Principal, Role
from api.services.children import own_child
from api.services.errors import DomainError, Invalid, NotFound
from api.services.follow_ups import FollowUpCreate, active_placement, record_follow_up
from api.services.runtime import Service
from api.web.cases import field_errors
from api.web.common import (
    CsrfField,
    PageError,
    User,
    check_csrf,
    need,
    redirect,
    render,
)
from api.web.labels import FOLLOW_UP_STATUS, KINDS, STEP_DOWN_REASONS, day, kroner
from matcher.review import ReviewRow

__all__ = ["router"]

router = APIRouter(prefix="/ui", include_in_schema=False)


def _item(row: ReviewRow) -> dict[str, Any]:
    """A review row in Danish words and dates."""
    f, s = row.follow_up, row.step_down
    return {
        "child_id": row.child_id,
        "option_id": row.option_id,
        "kind": KINDS.get(row.kind.value, row.kind.value),
        "start": day(row.start_date),
        "months": row.months_in_placement,
        "status": FOLLOW_UP_STATUS.get(f.status, f.status),
        "overdue_since": day(f.overdue[0]) if f.overdue else "",
        "overdue_n": len(f.overdue),
        "next": day(f.next),
        "review_date": day(s.review_date) if s.review_date else "",
        "proposals": [_proposal(p) for p in s.proposals],
        "cost": kroner(row.monthly_cost) if row.monthly_cost is not None else "",
        "reason": STEP_DOWN_REASONS.get(s.reason or "", "") if s.reason else "",
    }


def _proposal(p: dict[str, Any]) -> str:
    """ "f0203 (plejefamilie, −17.500 kr./md.)": the step and what it changes in cost."""
    text = f"{p['option_id']} ({KINDS.get(p['kind'], p['kind'])}"
    change = p.get("monthly_cost_change")
    if change is not None:
        sign = "+" if change > 0 else "−" if change < 0 else "±"
        text += f", {sign}{kroner(abs(change))}/md."
    return text + ")"


@router.get("/review", response_class=HTMLResponse)
def review_page(
    request: Request,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    done: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    who = need(user, Role.COORDINATOR)
    work = worklist.worklist(session, service, who)
    sections = [
        ("overdue", "Opfølgning overskredet", [_item(r) for r in work.overdue]),
        ("due", "Opfølgning inden for 14 dage", [_item(r) for r in work.due]),
        (
            "step-down",
            "Revurdering: et trin ned ad indsatstrappen",
            [_item(r) for r in work.step_down],
        ),
        ("home", "Vurdering af hjemgivelse", [_item(r) for r in work.return_home]),
    ]
    message = f"Opfølgningen for barn {done} er registreret." if done else None
    context = {
        "sections": sections,
        "as_of": day(work.as_of),
        "active": work.active,
        "message": message,
    }
    return render(request, "review.html", context, user)


def _form(
    request: Request,
    session: Session,
    service: Service,
    user: tuple[Principal, UiSession],
    child_id: str,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    who = user[0]
    try:
        own_child(session, who, child_id)
    except NotFound:
        raise PageError(404, f"Barnet {child_id} findes ikke i dine kommuner.") from None
    service.audit(session, who, "ui.follow_up.read", child_id)
    placement = active_placement(session, child_id)
    held = case_notes.notes_of(session, child_id, "follow_up")
    context = {
        "child_id": child_id,
        "placement": placement,
        "kind": KINDS.get(placement.kind, placement.kind) if placement else "",
        "values": values,
        "errors": errors or {},
        "held": held[:20],
        "day": day,
        "today": date.today().isoformat(),
        "message": " ".join((errors or {}).values()) or None,
    }
    return render(request, "follow_up.html", context, user, status=status)


@router.get("/children/{child_id}/follow-up", response_class=HTMLResponse)
def follow_up_form(
    request: Request, child_id: str, session: SessionDep, service: ServiceDep, user: User
) -> Response:
    need(user, Role.COORDINATOR)
    values = {"on_date": date.today().isoformat(), "with_whom": "", "child_heard": "", "note": ""}
    return _form(request, session, service, user, child_id, values)


@router.post("/children/{child_id}/follow-up", response_class=HTMLResponse)
def follow_up(
    request: Request,
    child_id: str,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    on_date: Annotated[str, Form()] = "",
    with_whom: Annotated[str, Form()] = "",
    child_heard: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.COORDINATOR)
    check_csrf(user, csrf_token)
    values = {"on_date": on_date, "with_whom": with_whom, "child_heard": child_heard, "note": note}
    missing = [
        {"type": "missing", "loc": (name,)}
        for name in ("with_whom", "child_heard")
        if not values[name].strip()
    ]
    try:
        body = FollowUpCreate.model_validate({k: v for k, v in values.items() if v.strip()})
    except ValidationError as exc:
        errors = field_errors([*missing, *exc.errors(include_url=False)])
        return _form(request, session, service, user, child_id, values, errors, 422)
    try:
        record_follow_up(session, service, who, child_id, body)
    except DomainError as exc:
        session.rollback()
        if isinstance(exc, NotFound) and exc.reason == "NO_ACTIVE_PLACEMENT":
            errors = {"on_date": "Barnet er ikke anbragt; der er ingen anbringelse at følge op på."}
        elif isinstance(exc, Invalid):
            errors = field_errors(service_errors=exc.errors)
        elif isinstance(exc, NotFound):
            raise PageError(404, f"Barnet {child_id} findes ikke i dine kommuner.") from None
        else:
            raise
        return _form(request, session, service, user, child_id, values, errors, 422)
    session.commit()
    return redirect(f"/ui/review?done={child_id}")
