"""The decisions on a child page: a hold confirmed (the placement starts), released or
extended; an active placement ended or moved (a step-down). Each calls the API's use case
and returns to the child page, which says what happened or, in Danish, why not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from api.db.engine import DbSession as Session
from api.db.orm import UiSession
from api.http.deps import ServiceDep, SessionDep
from api.services import holds, placements
from api.services.caller import Principal, Role
from api.services.errors import Conflict, DomainError, Invalid, NotFound
from api.services.hold_extension import HoldExtend, extend_hold
from api.services.inputs import PlacementEnd, PlacementMove
from api.services.runtime import Service
from api.web.cases import field_errors
from api.web.common import CsrfField, FormInvalid, PageError, User, check_csrf, need, parse_form
from api.web.common import redirect as go
from api.web.coordinators import show_child
from api.web.labels import REASONS

__all__ = ["router"]

router = APIRouter(prefix="/ui", include_in_schema=False)
HoldId = Annotated[str, Path(max_length=36)]
PlacementId = Annotated[int, Path(ge=1, le=2**31 - 1)]

# Why a decision could not be taken, by the use case's reason.
CONFLICTS = {
    "NOT_HELD": "Reservationen er ikke længere aktiv (udløbet, frigivet eller bekræftet).",
    "ALREADY_PLACED": "Barnet er allerede anbragt; en ændring er en flytning af anbringelsen.",
    "NOT_ACTIVE": "Anbringelsen er allerede afsluttet.",
    "NO_CAPACITY": "Der er ikke længere en ledig plads hos det valgte tilbud.",
    "CHILD_HAS_HOLD": "Barnet har allerede en reservation; bekræft eller frigiv den først.",
}


def _refused(
    request: Request,
    session: Session,
    service: Service,
    user: tuple[Principal, UiSession],
    child_id: str,
    exc: DomainError,
) -> Response:
    """The child page again with the reason in Danish; nothing of the decision is kept."""
    session.rollback()
    if isinstance(exc, Conflict):
        text, status = CONFLICTS.get(exc.reason or "", "Det kunne ikke lade sig gøre."), 409
    elif isinstance(exc, Invalid):
        reasons = [REASONS.get(r, r) for r in exc.extra.get("reasons", [])]
        found = field_errors(service_errors=exc.errors)
        text = " ".join([*found.values(), *(f"Ikke muligt: {r}." for r in reasons)])
        text, status = text or "Valget er ikke gyldigt.", 422
    else:
        raise exc
    return show_child(request, session, service, user, child_id, text, "conflict", status)


def _hold_child(session: Session, who: Principal, hold_id: str) -> str:
    try:
        return holds.own_hold(session, who, hold_id).child_ids.split(";")[0]
    except NotFound:
        raise PageError(404, "Reservationen findes ikke i dine kommuner.") from None


def _placement_child(session: Session, who: Principal, placement_id: int) -> str:
    try:
        return placements.own_placement(session, who, placement_id).child_id
    except NotFound:
        raise PageError(404, "Anbringelsen findes ikke i dine kommuner.") from None


def _decide(
    request: Request,
    session: Session,
    service: Service,
    user: tuple[Principal, UiSession],
    child_id: str,
    decision: Callable[[], object],
    done: str,
) -> Response:
    """Carry out one decision on the child's case: committed and back to the child page, or
    refused with the reason and nothing kept."""
    try:
        decision()
    except DomainError as exc:
        return _refused(request, session, service, user, child_id, exc)
    session.commit()
    return go(f"/ui/children/{child_id}?done={done}")


@router.post("/holds/{hold_id}/confirm", response_class=HTMLResponse)
def confirm(
    request: Request,
    hold_id: HoldId,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.COORDINATOR)
    check_csrf(user, csrf_token)
    child_id = _hold_child(session, who, hold_id)
    return _decide(
        request,
        session,
        service,
        user,
        child_id,
        lambda: holds.confirm_hold(session, service, who, hold_id),
        "confirmed",
    )


@router.post("/holds/{hold_id}/release", response_class=HTMLResponse)
def release(
    request: Request,
    hold_id: HoldId,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.COORDINATOR)
    check_csrf(user, csrf_token)
    child_id = _hold_child(session, who, hold_id)
    return _decide(
        request,
        session,
        service,
        user,
        child_id,
        lambda: holds.release_hold(session, service, who, hold_id),
        "released",
    )


@router.post("/holds/{hold_id}/extend", response_class=HTMLResponse)
def extend(
    request: Request,
    hold_id: HoldId,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    hours: Annotated[str, Form()] = "24",
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.COORDINATOR)
    check_csrf(user, csrf_token)
    child_id = _hold_child(session, who, hold_id)
    try:
        body = parse_form(HoldExtend, {"hours": hours}, required=("hours",))
    except FormInvalid as exc:
        return show_child(request, session, service, user, child_id, exc.message, "conflict", 422)
    return _decide(
        request,
        session,
        service,
        user,
        child_id,
        lambda: extend_hold(session, service, who, hold_id, body),
        "extended",
    )


@router.post("/placements/{placement_id}/end", response_class=HTMLResponse)
def end(
    request: Request,
    placement_id: PlacementId,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    end_reason: Annotated[str, Form()] = "",
    end_date: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.COORDINATOR)
    check_csrf(user, csrf_token)
    child_id = _placement_child(session, who, placement_id)
    values = {"end_reason": end_reason, "end_date": end_date}
    try:
        body = parse_form(PlacementEnd, values, required=("end_reason",))
    except FormInvalid as exc:
        return show_child(request, session, service, user, child_id, exc.message, "conflict", 422)
    return _decide(
        request,
        session,
        service,
        user,
        child_id,
        lambda: placements.end_placement(session, service, who, placement_id, body),
        "ended",
    )


@router.post("/placements/{placement_id}/move", response_class=HTMLResponse)
def move(
    request: Request,
    placement_id: PlacementId,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    option_id: Annotated[str, Form()] = "",
    end_reason: Annotated[str, Form()] = "",
    start_date: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.COORDINATOR)
    check_csrf(user, csrf_token)
    child_id = _placement_child(session, who, placement_id)
    values = {"option_id": option_id, "end_reason": end_reason, "start_date": start_date}
    try:
        body = parse_form(PlacementMove, values, required=("option_id",))
    except FormInvalid as exc:
        return show_child(request, session, service, user, child_id, exc.message, "conflict", 422)
    return _decide(
        request,
        session,
        service,
        user,
        child_id,
        lambda: placements.move_placement(session, service, who, placement_id, body),
        "moved",
    )
