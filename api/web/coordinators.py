"""Coordinators' pages: their children, a child's ranked proposals with why-not and a map,
and reserving a place."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from api.db.engine import DbSession
from api.db.orm import UiSession
from api.http.deps import ServiceDep, SessionDep
from api.services import children, holds, options
from api.services.caller import Principal, Role
from api.services.errors import Conflict, DomainError, NotFound
from api.services.inputs import ReservationCreate
from api.services.runtime import Service
from api.web.common import (
    CsrfField,
    FormInvalid,
    PageError,
    User,
    check_csrf,
    need,
    parse_form,
    redirect,
    render,
)
from api.web.labels import KINDS, LEVELS, REASONS, TERMS, TIERS, WARNINGS, decimal, km
from api.web.mapview import Marker, svg_map

router = APIRouter(prefix="/ui", include_in_schema=False)


def _not_here(child_id: str) -> PageError:
    return PageError(404, f"Barnet {child_id} findes ikke i dine kommuner.")


class ChildFilters(BaseModel):
    """The search form of the children list."""

    q: str = Field(default="", max_length=64)
    acute: bool = False
    sibling: bool = False
    level: int | None = Field(default=None, ge=1, le=4)


@router.get("/children", response_class=HTMLResponse)
def children_page(
    request: Request,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    q: str = "",
    acute: str = "",
    sibling: str = "",
    level: str = "",
) -> Response:
    who = need(user, Role.COORDINATOR)
    values = {"q": q, "acute": acute, "sibling": sibling, "level": level}
    message, status = None, 200
    try:
        filters = parse_form(ChildFilters, values)
    except FormInvalid as exc:
        # The list by the valid filters; the refused one is named in the message.
        message, status = exc.message, 422
        filters = ChildFilters.model_validate(
            {k: v for k, v in values.items() if k not in exc.fields and v != ""}
        )
    rows, placed = children.search_children(
        session, service, who, filters.q, filters.acute, filters.sibling, filters.level
    )
    context = {
        "rows": rows,
        "placed": placed,
        "q": q,
        "acute": filters.acute,
        "sibling": filters.sibling,
        "level": filters.level,
        "levels": LEVELS,
        "message": message,
    }
    return render(request, "children.html", context, user, status=status)


def _child_page(
    request: Request,
    session: DbSession,
    service: Service,
    user: tuple[Principal, UiSession],
    child_id: str,
    message: str | None = None,
    message_kind: str = "info",
    status: int = 200,
) -> Response:
    try:
        case = children.open_case(session, service, user[0], child_id)
    except NotFound:
        raise _not_here(child_id) from None
    child, ranking = case.child, case.ranking
    groups: dict[int, list[dict[str, Any]]] = {}
    markers = [Marker(child.home.lat, child.home.lon, "Barnets hjem", "home", "H")]
    if child.school:
        markers.append(Marker(child.school.lat, child.school.lon, "Barnets skole", "school", "S"))
    if child.daycare:
        markers.append(
            Marker(child.daycare.lat, child.daycare.lon, "Barnets dagtilbud", "daycare", "D")
        )
    for p in ranking.proposals[:25]:
        item = p.as_dict()
        item["km"] = {k: km(v) for k, v in (p.distance_km or {}).items()}
        item["score_da"] = decimal(p.score)
        item["terms_da"] = [
            (TERMS.get(name, name), decimal(value)) for name, value in p.terms.items() if value
        ]
        item["warnings_da"] = [WARNINGS.get(w, w) for w in p.warnings]
        groups.setdefault(p.tier, []).append(item)
        point = options.option_point(session, p.option_id, p.kind)
        if point is not None:
            label = f"Forslag {p.rank}: {KINDS[p.kind]} {p.option_id}"
            markers.append(Marker(point[0], point[1], label, f"tier{p.tier}", str(p.rank)))
    why_not = [
        {
            "option_id": r["option_id"],
            "kind": KINDS.get(r["kind"], r["kind"]),
            "reasons": [REASONS.get(x, x) for x in r["reasons"]],
        }
        for r in (ranking.excluded_options or [])[:200]
    ]
    row = case.row
    context = {
        "child": row,
        "needs": [n for n in row.needs.split(";") if n],
        "level_name": LEVELS.get(row.support_level, str(row.support_level)),
        "ranking": ranking,
        "tiers": TIERS,
        "groups": groups,
        "why_not": why_not,
        "why_not_total": len(ranking.excluded_options or []),
        "counts": [(REASONS.get(k, k), n) for k, n in ranking.excluded.items()],
        "holds": case.holds,
        "map": svg_map(service.gazetteer, markers, f"Kort over barn {child_id} og forslag"),
        "message": message,
        "message_kind": message_kind,
    }
    return render(request, "child.html", context, user, status=status)


@router.get("/children/{child_id}", response_class=HTMLResponse)
def child_page(
    request: Request,
    child_id: str,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    held: Annotated[str | None, Query(max_length=36)] = None,
) -> Response:
    who = need(user, Role.COORDINATOR)
    message = None
    if held:
        try:
            hold = holds.own_hold(session, who, held)
        except NotFound:
            pass
        else:
            until = hold.expires_at.astimezone().strftime("%d-%m-%Y kl. %H:%M")
            message = f"Pladsen hos {hold.option_id} er reserveret til {until}."
    return _child_page(request, session, service, user, child_id, message, "ok")


@router.post("/children/{child_id}/reserve", response_class=HTMLResponse)
def reserve(
    request: Request,
    child_id: str,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    option_id: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.COORDINATOR)
    check_csrf(user, csrf_token)
    values = {"child_id": child_id, "option_id": option_id, "kind": kind, "hours": 24}
    try:
        body = parse_form(ReservationCreate, values, required=("option_id", "kind"))
    except FormInvalid as exc:
        text = f"{exc.message} Vælg et af forslagene herunder."
        return _child_page(request, session, service, user, child_id, text, "conflict", 422)
    try:
        hold = holds.create_hold(session, service, who, body)
    except NotFound:
        raise _not_here(child_id) from None
    except DomainError as exc:
        session.rollback()
        if isinstance(exc, Conflict):
            text = (
                f"Pladsen hos {option_id} er allerede taget – en anden har reserveret den "
                "sidste ledige plads. Vælg et andet forslag."
            )
            status = 409
        else:
            text = f"{option_id} er ikke længere et muligt tilbud til barnet."
            status = 422
        return _child_page(request, session, service, user, child_id, text, "conflict", status)
    session.commit()
    return redirect(f"/ui/children/{child_id}?held={hold.id}")
