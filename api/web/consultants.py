"""Consultants' capacity board: places, live holds (which child, held by whom, until when),
active placements and vacancy ages of their families and institutions, with vacancy
confirmation and place edits."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.db.engine import DbSession
from api.db.orm import UiSession
from api.http.deps import ServiceDep, SessionDep
from api.services import options
from api.services.caller import Principal, Role
from api.services.errors import Invalid, NotFound
from api.services.inputs import CapacityPatch
from api.services.option_activity import Activity, option_activity
from api.services.options import StoredFamily, StoredInstitution
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
from api.web.labels import FOSTER_LEVELS, INSTITUTION_KINDS, day
from api.web.optionview import held_da, placed_da

router = APIRouter(prefix="/ui", include_in_schema=False)


def _board_row(
    record: StoredFamily | StoredInstitution,
    today: date,
    stale_before: date,
    activity: Activity,
    kommune_names: dict[str, str],
) -> dict[str, Any]:
    """One option of the board, every code in Danish."""
    pool = record.pool
    if isinstance(record, StoredFamily):
        row: Any = record.family
        option_id, family, paused = row.family_id, True, row.paused
        what = f"plejefamilie, {FOSTER_LEVELS.get(row.level, row.level)}"
        page = f"/ui/families/{option_id}"
    else:
        row = record.institution
        option_id, family, paused = row.institution_id, False, False
        what = INSTITUTION_KINDS.get(row.kind, row.kind) + (f" ({row.name})" if row.name else "")
        page = f"/ui/institutions/{option_id}"
    confirmed = row.vacancy_confirmed
    return {
        "option_id": option_id,
        "page": page,
        "kommune_code": row.kommune_code,
        "kommune": kommune_names.get(row.kommune_code, row.kommune_code),
        "what": what,
        "places": pool.places,
        "occupied": pool.occupied,
        "reserved": pool.reserved,
        "free_places": record.free_places,
        "days": None if confirmed is None else (today - confirmed).days,
        "confirmed": day(confirmed) if confirmed else "",
        "stale": options.vacancy_is_stale(confirmed, stale_before) and not paused,
        "paused": paused,
        "family": family,
        "holds": [held_da(h) for h in activity.holds],
        "placed": [placed_da(p) for p in activity.placed],
    }


@router.get("/capacity", response_class=HTMLResponse)
def capacity_page(
    request: Request,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    kommune: str = "",
    message: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    who = need(user, Role.CONSULTANT)
    if kommune and kommune not in who.kommuner:
        raise PageError(404, f"Kommune {kommune} er ikke blandt dine kommuner.")
    return _board(request, session, service, user, kommune or None, message)


def _board(
    request: Request,
    session: DbSession,
    service: Service,
    user: tuple[Principal, UiSession],
    kommune: str | None,
    message: str | None,
    entered: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    """The board; `entered` re-shows a row's refused form values with the message."""
    who = user[0]
    service.expire_holds(session)
    today = date.today()
    stale_before = today - timedelta(days=service.policy.stale_days)
    records: list[StoredFamily | StoredInstitution] = [
        *options.list_families(session, who, kommune),
        *options.list_institutions(session, who, kommune),
    ]
    activity = option_activity(session, service, who, [_option_id(r) for r in records])
    names = {k: service.gazetteer.kommune_name(k) or f"kommune {k}" for k in who.kommuner}
    rows = [_board_row(r, today, stale_before, activity[_option_id(r)], names) for r in records]
    # Families first, then institutions, each by kommune and id.
    rows.sort(key=lambda r: (not r["family"], r["kommune_code"], r["option_id"]))
    context = {
        "rows": rows,
        "kommune": kommune,
        "kommuner": [(k, names[k]) for k in sorted(who.kommuner)],
        "stale_days": service.policy.stale_days,
        "message": message,
        "message_kind": "conflict" if entered else "ok",
        "entered": entered,
    }
    return render(request, "capacity.html", context, user, status=status)


def _option_id(record: StoredFamily | StoredInstitution) -> str:
    if isinstance(record, StoredFamily):
        return record.family.family_id
    return record.institution.institution_id


def _back_to_board(message: str) -> Response:
    return redirect(f"/ui/capacity?message={quote(message)}")


def _own(session: DbSession, who: Principal, option_id: str) -> StoredFamily | StoredInstitution:
    try:
        return options.read_option(session, who, option_id)
    except NotFound:
        raise PageError(404, f"{option_id} findes ikke i dine kommuner.") from None


@router.post("/options/{option_id}/confirm")
def confirm_vacancy(
    option_id: str,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.CONSULTANT)
    check_csrf(user, csrf_token)
    _own(session, who, option_id)
    options.patch_capacity(session, service, who, option_id, CapacityPatch(confirm_vacancy=True))
    session.commit()
    return _back_to_board(f"Vakance bekræftet for {option_id}.")


@router.post("/options/{option_id}/capacity")
def edit_capacity(
    request: Request,
    option_id: str,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    places: Annotated[str, Form()] = "",
    paused: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.CONSULTANT)
    check_csrf(user, csrf_token)
    family = isinstance(_own(session, who, option_id), StoredFamily)
    # An unticked box is not sent: a family's pause is then off; institutions have none.
    values = {"places": places, "paused": (paused or "false") if family else ""}
    try:
        body = parse_form(CapacityPatch, values, required=("places",))
    except FormInvalid as exc:
        entered: dict[str, Any] = {
            "option_id": option_id,
            "places": places,
            "paused": bool(paused),
            "invalid": exc.fields,
        }
        text = f"{option_id}: {exc.message}"
        return _board(request, session, service, user, None, text, entered, status=422)
    try:
        options.patch_capacity(session, service, who, option_id, body)
    except Invalid:
        session.rollback()
        pool = _own(session, who, option_id).pool
        return _back_to_board(
            f"{option_id}: pladser kan ikke sættes under optagne plus reserverede "
            f"({pool.occupied} + {pool.reserved})."
        )
    session.commit()
    return _back_to_board(f"{option_id} er opdateret.")
