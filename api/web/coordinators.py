"""Coordinators' pages: their children, a child's case page (facts, views, the live hold and
the active placement with their decisions, ranked proposals with the child's wish, why-not
and a map), and reserving a place. The decisions themselves are in `decisions.py`; new cases
and edits in `cases.py`; the worklist in `worklist.py`; network and recommendation pages in
`network.py` and `recommendation.py`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from api.db.engine import DbSession
from api.db.orm import UiSession
from api.http.deps import ServiceDep, SessionDep
from api.services import case_notes, children, holds, options, placements
from api.services.caller import Principal, Role
from api.services.errors import Conflict, DomainError, NotFound
from api.services.inputs import ReservationCreate
from api.services.runtime import Service
from api.services.schools import school_by_number
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
from api.web.labels import (
    END_REASONS,
    HOLD_STATUS,
    KINDS,
    LEVELS,
    POINTS_NOTE,
    POLICY_NAMES,
    REASONS,
    TERMS,
    TIERS,
    WARNINGS,
    day,
    decimal,
    km,
    needs_da,
    option_label,
)
from api.web.mapview import Marker, local_circle, svg_map
from matcher.rank import Proposal

router = APIRouter(prefix="/ui", include_in_schema=False)


# What the child page says after a decision taken on it (?done=...).
DONE = {
    "confirmed": "Reservationen er bekræftet: barnet er anbragt.",
    "released": "Reservationen er frigivet; pladsen er ledig igen.",
    "extended": "Reservationen er forlænget.",
    "ended": "Anbringelsen er afsluttet.",
    "moved": "Barnet er flyttet; den nye anbringelse er startet.",
    "followed": "Opfølgningen er registreret.",
}


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


SAVED = {"created": "Barnet er oprettet.", "changed": "Ændringerne er gemt."}


def _proposal(
    p: Proposal, wishes: set[str], session: DbSession, markers: list[Marker]
) -> dict[str, Any]:
    """A proposal as the page shows it: Danish words, Danish numbers, the child's wish."""
    item = p.as_dict()
    item["km"] = {k: km(v) for k, v in (p.distance_km or {}).items()}
    item["score_da"] = decimal(p.score)
    item["label_da"] = option_label(p.kind, p.label)
    # The wish term is a bonus on the option the child asked for: named as the wish, never
    # as a wish left unmet.
    item["terms_da"] = [
        (TERMS.get(name, name), decimal(value)) for name, value in p.terms.items() if value
    ]
    item["wished"] = p.option_id in wishes
    item["warnings_da"] = [WARNINGS.get(w, w) for w in p.warnings]
    point = options.option_point(session, p.option_id, p.kind)
    if point is not None:
        label = f"Forslag {p.rank}: {KINDS[p.kind]} {p.option_id}"
        markers.append(Marker(point[0], point[1], label, f"tier{p.tier}", str(p.rank)))
    return item


def show_child(
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
    wishes = set(child.wishes)
    for p in ranking.proposals[:25]:
        groups.setdefault(p.tier, []).append(_proposal(p, wishes, session, markers))
    why_not = [
        {
            "option_id": r["option_id"],
            "kind": KINDS.get(r["kind"], r["kind"]),
            "reasons": [REASONS.get(x, x) for x in r["reasons"]],
        }
        for r in (ranking.excluded_options or [])[:200]
    ]
    row = case.row
    record = children.record_of(session, row)
    school = school_by_number(service.gazetteer, row.school_id or "")
    history = placements.placement_rows(session, child_id)
    active = next((p for p in history if p.status == "active"), None)
    holders = case_notes.key_labels(session, {h.created_by for h in case.holds})
    context = {
        "child": row,
        "kommune_name": service.gazetteer.kommune_name(row.kommune_code) or row.kommune_code,
        "needs": needs_da(row.needs),
        "level_name": LEVELS.get(row.support_level, str(row.support_level)),
        "school": school,
        "wishes": sorted(wishes),
        "notes": case_notes.latest_notes(session, child_id),
        "record": record,
        "network_open": sum(1 for n in record.network if n.status == "unassessed"),
        "ranking": ranking,
        "tiers": TIERS,
        "points_note": POINTS_NOTE,
        "groups": groups,
        "why_not": why_not,
        "why_not_total": len(ranking.excluded_options or []),
        "counts": [(REASONS.get(k, k), n) for k, n in ranking.excluded.items()],
        "holds": [
            {
                "id": h.id,
                "option_id": h.option_id,
                "kind": KINDS.get(h.kind, h.kind),
                "status": h.status,
                "status_da": HOLD_STATUS.get(h.status, h.status),
                "expires": day(h.expires_at),
                "expires_iso": h.expires_at.isoformat(),
                "holder": holders.get(h.created_by, ""),
            }
            for h in case.holds
            if h.status == "held"
        ],
        "active": active,
        "active_kind": KINDS.get(active.kind, active.kind) if active else "",
        "history": [p for p in history if p.status != "active"],
        "end_reasons": END_REASONS,
        "move_reasons": {k: END_REASONS[k] for k in ("step_down", "moved")},
        "move_options": [
            (p.option_id, f"{p.option_id} ({KINDS[p.kind]}, trin {p.tier})")
            for p in ranking.proposals[:25]
            if not active or p.option_id != active.option_id
        ],
        "kinds_da": KINDS,
        "day": day,
        "today": date.today().isoformat(),
        "map": svg_map(
            service.gazetteer,
            markers,
            f"Kort over barn {child_id} og forslag",
            circle=local_circle(
                child.home.lat, child.home.lon, service.policies.for_kommune(row.kommune_code)
            ),
            kommune_code=row.kommune_code,
        ),
        "message": message,
        "message_kind": message_kind,
        "profile": POLICY_NAMES.get(ranking.policy, ranking.policy),
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
    saved: Annotated[str | None, Query(max_length=16)] = None,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    who = need(user, Role.COORDINATOR)
    message = SAVED.get(saved or "") or DONE.get(done or "")
    if held:
        try:
            hold = holds.own_hold(session, who, held)
        except NotFound:
            pass
        else:
            message = f"Pladsen hos {hold.option_id} er reserveret til {day(hold.expires_at)}."
    return show_child(request, session, service, user, child_id, message, "ok")


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
        return show_child(request, session, service, user, child_id, text, "conflict", 422)
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
        return show_child(request, session, service, user, child_id, text, "conflict", status)
    session.commit()
    return redirect(f"/ui/children/{child_id}?held={hold.id}")
