"""A child's network (`/ui/children/{id}/network`): the persons with their relation, through
whom, where, whether assessed and willing, and how many children they can take; who is still
unassessed is where a netværksafdækning starts. Add or change a person in one form."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.db.engine import DbSession as Session
from api.db.orm import UiSession
from api.http.deps import ServiceDep, SessionDep
from api.services import children, network
from api.services.caller import Principal, Role
from api.services.errors import DomainError, Invalid, NotFound
from api.services.inputs import NetworkPersonIn
from api.services.runtime import Service
from api.web.cases import field_errors
from api.web.common import CsrfField, PageError, User, check_csrf, need, redirect, render
from api.web.labels import NETWORK_STATUS, RELATIONS, km
from geo.distance import haversine_km

__all__ = ["router"]

router = APIRouter(prefix="/ui", include_in_schema=False)
FIELDS = ("person_id", "relation", "via", "postcode", "lat", "lon", "status", "places")


def _page(
    request: Request,
    session: Session,
    service: Service,
    user: tuple[Principal, UiSession],
    child_id: str,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    saved: str | None = None,
    status: int = 200,
) -> Response:
    who = user[0]
    try:
        record = children.open_record(session, service, who, child_id)
    except NotFound:
        raise PageError(404, f"Barnet {child_id} findes ikke i dine kommuner.") from None
    row = record.child
    persons = []
    for p in record.network:
        home = km(_distance(row.home_lat, row.home_lon, p.lat, p.lon))
        persons.append(
            {
                "person_id": p.person_id,
                "relation": RELATIONS.get(p.relation, p.relation),
                "via": p.via or "–",
                "place": f"postnummer {p.postcode}" if p.postcode else "punkt på kortet",
                "home": home,
                "status": NETWORK_STATUS.get(p.status, p.status),
                "unassessed": p.status == "unassessed",
                "willing": "ja" if p.willing else "nej",
                "places": p.places,
            }
        )
    if values is None:
        values = {k: "" for k in FIELDS} | {"places": "1", "willing": True, "status": "unassessed"}
    message = None
    if errors:
        message = "Personen er ikke gemt: " + " ".join(errors.values())
    elif saved:
        message = f"{saved} er gemt i barnets netværk."
    context = {
        "child_id": child_id,
        "persons": persons,
        "unassessed": [p for p in persons if p["unassessed"]],
        "values": values,
        "errors": errors or {},
        "relations": RELATIONS,
        "statuses": NETWORK_STATUS,
        "message": message,
        "message_kind": "conflict" if errors else "ok",
    }
    return render(request, "network.html", context, user, status=status)


def _distance(lat1: float, lon1: float, lat2: float, lon2: float) -> float:

    return float(haversine_km(lat1, lon1, np.array([lat2]), np.array([lon2]))[0])


@router.get("/children/{child_id}/network", response_class=HTMLResponse)
def network_page(
    request: Request,
    child_id: str,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    edit: Annotated[str | None, Query(max_length=64)] = None,
    saved: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    who = need(user, Role.COORDINATOR)
    values = None
    if edit:
        try:
            record = children.record_of(session, children.own_child(session, who, child_id))
        except NotFound:
            raise PageError(404, f"Barnet {child_id} findes ikke i dine kommuner.") from None
        person = next((p for p in record.network if p.person_id == edit), None)
        if person is not None:
            values = {
                "person_id": person.person_id,
                "relation": person.relation,
                "via": person.via or "",
                "postcode": person.postcode or "",
                "lat": "" if person.postcode else repr(person.lat),
                "lon": "" if person.postcode else repr(person.lon),
                "status": person.status,
                "places": str(person.places),
                "willing": person.willing,
            }
    return _page(request, session, service, user, child_id, values, saved=saved)


@router.post("/children/{child_id}/network", response_class=HTMLResponse)
def save_person(
    request: Request,
    child_id: str,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    person_id: Annotated[str, Form()] = "",
    relation: Annotated[str, Form()] = "",
    via: Annotated[str, Form()] = "",
    postcode: Annotated[str, Form()] = "",
    lat: Annotated[str, Form()] = "",
    lon: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    places: Annotated[str, Form()] = "",
    willing: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.COORDINATOR)
    check_csrf(user, csrf_token)
    texts = {
        "person_id": person_id.strip(),
        "relation": relation,
        "via": via.strip(),
        "postcode": postcode.strip(),
        "lat": lat.strip().replace(",", "."),
        "lon": lon.strip().replace(",", "."),
        "status": status,
        "places": places.strip(),
    }
    values: dict[str, Any] = texts | {"willing": willing == "true"}
    try:
        person = NetworkPersonIn.model_validate(
            {k: v for k, v in texts.items() if v} | {"willing": willing == "true"}
        )
    except ValidationError as exc:
        errors = field_errors(exc.errors(include_url=False))
        return _page(request, session, service, user, child_id, values, errors, status=422)
    try:
        network.save_person(session, service, who, child_id, person)
    except DomainError as exc:
        session.rollback()
        if isinstance(exc, NotFound):
            raise PageError(404, f"Barnet {child_id} findes ikke i dine kommuner.") from None
        if not isinstance(exc, Invalid):
            raise
        found = field_errors(service_errors=exc.errors)
        errors = {
            k.rsplit(".", 1)[-1] if k.startswith("network.") else k: v for k, v in found.items()
        }
        errors = errors or {"person_id": "Personen: er ikke gyldig."}
        return _page(request, session, service, user, child_id, values, errors, status=422)
    session.commit()
    return redirect(f"/ui/children/{child_id}/network?saved={person.person_id}")
