"""A coordinator's new case and its edits: `/ui/children/new`, `/ui/children/{id}/edit`, and
the school register's search. The form's fields are the dataset contract's column names
(children.csv, exclusions.csv, keep_away.csv); the child is created or changed through the
same use case as `POST /v1/children`, so the record, its audit and its checks are the API's."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.db.engine import DbSession as Session
from api.db.orm import UiSession
from api.http.deps import ServiceDep, SessionDep
from api.services import case_notes, children
from api.services.caller import Principal, Role
from api.services.children import StoredChild, sibling_groups
from api.services.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from api.services.inputs import ChildCreate
from api.services.runtime import Service
from api.services.schools import school_by_number, search_schools
from api.web.common import (
    PageError,
    User,
    check_csrf,
    invalid_message,
    need,
    redirect,
    render,
)
from api.web.labels import FIELDS, LEVELS, NEEDS, SERVICE_INVALID

__all__ = ["field_errors", "form_data", "router"]

router = APIRouter(prefix="/ui", include_in_schema=False)

# children.csv's columns that the form carries as text.
TEXT_FIELDS = (
    "child_id",
    "kommune_code",
    "age",
    "support_level",
    "home_postcode",
    "home_lat",
    "home_lon",
    "school_id",
    "school_lat",
    "school_lon",
    "daycare_postcode",
    "daycare_lat",
    "daycare_lon",
    "sibling_group",
)
FLAGS = ("acute", "combination_ok", "secure_decision")
NUMBERS = {"home_lat", "home_lon", "school_lat", "school_lon", "daycare_lat", "daycare_lon"}
NOTES = ("child_view", "parent_view")
EXCLUSION = ("option_id", "reason")
KEEP_AWAY = ("postcode", "lat", "lon", "min_km", "reason")
TRUE = {"true", "1", "on", "ja", "yes"}  # a checked box, or the contract's 1
BLANK_ROWS = 2  # empty exclusion and keep-away rows offered for new entries


async def form_data(request: Request) -> FormData:
    """The posted form, read once (FastAPI's Form() fields cannot take repeated names such as
    the needs' checkboxes, nor numbered rows)."""
    return await request.form()


Posted = Annotated[FormData, Depends(form_data)]


def _number_text(value: str) -> str:
    """A Danish decimal comma is a decimal point."""
    return value.strip().replace(",", ".")


def _rows(form: Mapping[str, Any], prefix: str, columns: Sequence[str]) -> list[dict[str, str]]:
    """Numbered rows `prefix.<n>.<column>` in order; rows left wholly blank are dropped."""
    numbers = sorted(
        {int(m.group(1)) for k in form if (m := re.fullmatch(rf"{prefix}\.(\d+)\.\w+", k))}
    )
    rows = []
    for n in numbers[:200]:
        row = {c: str(form.get(f"{prefix}.{n}.{c}", "")).strip() for c in columns}
        if any(row.values()):
            rows.append(row)
    return rows


def entered(form: FormData) -> dict[str, Any]:
    """What was typed, as the form shows it again."""
    values: dict[str, Any] = {k: str(form.get(k, "")).strip() for k in TEXT_FIELDS}
    # Checkboxes send one value each; a contract-style "attachment;adhd" is read as well.
    values["needs"] = [n for v in form.getlist("needs") for n in re.split(r"[;,\s]+", str(v)) if n]
    values.update({k: str(form.get(k, "")).strip().lower() in TRUE for k in FLAGS})
    values["wishes"] = str(form.get("wishes", "")).strip()
    values.update({k: str(form.get(k, "")) for k in NOTES})
    values["school_q"] = str(form.get("school_q", "")).strip()
    values["exclusions"] = _rows(form, "exclusions", EXCLUSION)
    values["keep_away"] = _rows(form, "keep_away", KEEP_AWAY)
    return values


def _flat(values: dict[str, Any]) -> dict[str, Any]:
    """The rows as the template's numbered field names."""
    flat = {k: v for k, v in values.items() if k not in ("exclusions", "keep_away")}
    for key in ("exclusions", "keep_away"):
        for n, row in enumerate(values.get(key, [])):
            flat.update({f"{key}.{n}.{c}": v for c, v in row.items()})
    return flat


def _path_field(path: str) -> str:
    """An API error path ("body.exclusions[1].option_id", "body.home_lat,home_lon or
    home_postcode") as the form's field name ("exclusions.1.option_id", "home_postcode")."""
    path = path.removeprefix("body.").removeprefix("body")
    if " or " in path:
        path = path.rsplit(" or ", 1)[1]
    path = path.split(",")[0]
    path = re.sub(r"\[(\d+)\]", r".\1", path)
    if path.startswith("wishes.") or path.startswith("needs."):
        path = path.split(".")[0]
    return path


def field_errors(
    pydantic_errors: Sequence[Mapping[str, Any]] = (),
    service_errors: Sequence[Mapping[str, Any]] = (),
) -> dict[str, str]:
    """A Danish message per form field, for the message beside it."""
    found: dict[str, str] = {}
    for error in pydantic_errors:
        loc = [str(p) for p in error.get("loc", ())]
        if loc and loc[0] in ("needs", "wishes"):
            loc = loc[:1]
        name = ".".join(loc)
        found.setdefault(name, invalid_message([error])[0])
    for error in service_errors:
        name = _path_field(str(error.get("path", "")))
        leaf = name.rsplit(".", 1)[-1]
        label = FIELDS.get(leaf, FIELDS.get(name, "Et felt"))
        found.setdefault(name, f"{label}: {SERVICE_INVALID.get(leaf, 'er ikke gyldig')}.")
    return found


def _body(values: dict[str, Any], network: list[dict[str, Any]]) -> ChildCreate:
    """The typed body of the use case; ValidationError names each invalid field."""
    data: dict[str, Any] = {}
    for key in TEXT_FIELDS:
        text = values[key]
        if text:
            data[key] = _number_text(text) if key in NUMBERS else text
    # A code typed in replaces a point kept from the stored record.
    for code, lat, lon in (
        ("school_id", "school_lat", "school_lon"),
        ("daycare_postcode", "daycare_lat", "daycare_lon"),
    ):
        if code in data:
            data.pop(lat, None)
            data.pop(lon, None)
    data["needs"] = values["needs"]
    data.update({k: values[k] for k in FLAGS})
    data["wishes"] = [w for w in re.split(r"[\s,;]+", values["wishes"]) if w]
    data["exclusions"] = values["exclusions"]
    data["keep_away"] = [
        {
            c: (_number_text(v) if c in ("lat", "lon", "min_km") else v)
            for c, v in row.items()
            if v and not (c in ("lat", "lon") and row.get("postcode"))
        }
        for row in values["keep_away"]
    ]
    data["network"] = network
    return ChildCreate.model_validate(data)


def _network_of(record: StoredChild) -> list[dict[str, Any]]:
    """The stored network, passed through unchanged by an edit of the child."""
    return [
        {
            "person_id": p.person_id,
            "relation": p.relation,
            "via": p.via,
            "lat": p.lat,
            "lon": p.lon,
            "status": p.status,
            "places": p.places,
            "willing": p.willing,
        }
        for p in record.network
    ]


def _opt(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def stored_values(session: Session, record: StoredChild) -> dict[str, Any]:
    """The stored record as the form's values. A place given by a code keeps the code only, so
    that changing the code moves the place."""
    row = record.child
    values: dict[str, Any] = {
        "child_id": row.child_id,
        "kommune_code": row.kommune_code,
        "age": str(row.age),
        "support_level": str(row.support_level),
        "home_postcode": row.home_postcode or "",
        "home_lat": "" if row.home_postcode else _opt(row.home_lat),
        "home_lon": "" if row.home_postcode else _opt(row.home_lon),
        "school_id": row.school_id or "",
        "school_lat": "" if row.school_id else _opt(row.school_lat),
        "school_lon": "" if row.school_id else _opt(row.school_lon),
        "daycare_postcode": row.daycare_postcode or "",
        "daycare_lat": "" if row.daycare_postcode else _opt(row.daycare_lat),
        "daycare_lon": "" if row.daycare_postcode else _opt(row.daycare_lon),
        "sibling_group": row.sibling_group or "",
        "needs": [n for n in row.needs.split(";") if n],
        "acute": row.acute,
        "combination_ok": row.combination_ok,
        "secure_decision": row.secure_decision,
        "wishes": ", ".join(w for w in row.wishes.split(";") if w),
        "school_q": "",
        "exclusions": [{"option_id": e.option_id, "reason": e.reason} for e in record.exclusions],
        "keep_away": [
            {
                "postcode": k.postcode or "",
                "lat": "" if k.postcode else _opt(k.lat),
                "lon": "" if k.postcode else _opt(k.lon),
                "min_km": _opt(k.min_km).replace(".", ","),
                "reason": k.reason,
            }
            for k in record.keep_away
        ],
    }
    values.update(case_notes.latest_notes(session, row.child_id))
    return values


def _show(
    request: Request,
    session: Session,
    service: Service,
    user: tuple[Principal, UiSession],
    values: dict[str, Any],
    editing: bool,
    errors: dict[str, str] | None = None,
    schools: list[Any] | None = None,
    status: int = 200,
) -> Response:
    who = user[0]
    errors = errors or {}
    groups = sibling_groups(session, who)
    school = school_by_number(service.gazetteer, values.get("school_id", ""))
    message = None
    if errors:
        fields = "felt" if len(errors) == 1 else "felter"
        message = f"Barnet er ikke gemt: ret {len(errors)} {fields} herunder."
        message += " " + " ".join(errors.values())
    context = {
        "values": _flat(values),
        "editing": editing,
        "action": f"/ui/children/{values['child_id']}/edit" if editing else "/ui/children/new",
        "kommuner": [(k, service.gazetteer.kommune_name(k) or k) for k in sorted(who.kommuner)],
        "levels": LEVELS,
        "needs": NEEDS,
        "groups": groups[:50],
        "errors": errors,
        "schools": schools,
        "school_name": f"{school.name}, {school.postcode} {school.kommune}" if school else "",
        "exclusion_rows": len(values.get("exclusions", [])) + BLANK_ROWS,
        "keep_rows": len(values.get("keep_away", [])) + BLANK_ROWS,
        "message": message,
        "message_kind": "conflict",
    }
    return render(request, "child_form.html", context, user, status=status)


def _save(
    request: Request,
    session: Session,
    service: Service,
    user: tuple[Principal, UiSession],
    form: FormData,
    stored: StoredChild | None,
) -> Response:
    """Create (stored is None) or change the child from the posted form, its views as notes,
    all in one transaction; or the form again with a message beside each invalid field."""
    who = user[0]
    check_csrf(user, str(form.get("csrf_token", "")))
    values = entered(form)
    editing = stored is not None
    if stored is not None:
        values["child_id"] = stored.child.child_id  # the id of a case never changes
    # Enter in any field presses the form's first button, the school search: with nothing to
    # search for, it saves.
    if form.get("action") == "school_search" and values["school_q"]:
        found = search_schools(service.gazetteer, values["school_q"], who.kommuner)
        return _show(request, session, service, user, values, editing, schools=found)
    try:
        body = _body(values, _network_of(stored) if stored else [])
    except ValidationError as exc:
        errors = field_errors(exc.errors(include_url=False))
        return _show(request, session, service, user, values, editing, errors, status=422)
    try:
        if stored is None:
            children.create_child(session, service, who, body)
        else:
            children.update_child(session, service, who, body.child_id, body)
        case_notes.save_notes(session, service, who, body.child_id, {k: values[k] for k in NOTES})
    except DomainError as exc:
        session.rollback()
        if isinstance(exc, Conflict):
            errors = {"child_id": "Barnets id: findes allerede – vælg et andet id."}
        elif isinstance(exc, Forbidden):
            errors = {"kommune_code": "Handlekommune: ligger uden for dine kommuner."}
        elif isinstance(exc, NotFound):
            raise PageError(404, f"Barnet {body.child_id} findes ikke i dine kommuner.") from None
        elif isinstance(exc, Invalid):
            errors = field_errors(service_errors=exc.errors) or {
                "child_id": "Barnets oplysninger: er ikke gyldige."
            }
        else:
            raise
        return _show(request, session, service, user, values, editing, errors, status=422)
    session.commit()
    return redirect(f"/ui/children/{body.child_id}?saved={'changed' if editing else 'created'}")


@router.get("/children/new", response_class=HTMLResponse)
def new_child_form(
    request: Request, session: SessionDep, service: ServiceDep, user: User
) -> Response:
    who = need(user, Role.COORDINATOR)
    values: dict[str, Any] = {k: "" for k in (*TEXT_FIELDS, "wishes", *NOTES, "school_q")}
    values.update({"needs": [], "exclusions": [], "keep_away": []})
    values.update({k: False for k in FLAGS})
    values["kommune_code"] = min(who.kommuner) if who.kommuner else ""
    return _show(request, session, service, user, values, editing=False)


@router.post("/children/new", response_class=HTMLResponse)
def create_child(
    request: Request, session: SessionDep, service: ServiceDep, user: User, form: Posted
) -> Response:
    need(user, Role.COORDINATOR)
    return _save(request, session, service, user, form, None)


def _stored(session: Session, service: Service, who: Principal, child_id: str) -> StoredChild:
    try:
        return children.open_record(session, service, who, child_id)
    except NotFound:
        raise PageError(404, f"Barnet {child_id} findes ikke i dine kommuner.") from None


@router.get("/children/{child_id}/edit", response_class=HTMLResponse)
def edit_child_form(
    request: Request, child_id: str, session: SessionDep, service: ServiceDep, user: User
) -> Response:
    who = need(user, Role.COORDINATOR)
    record = _stored(session, service, who, child_id)
    values = stored_values(session, record)
    return _show(request, session, service, user, values, editing=True)


@router.post("/children/{child_id}/edit", response_class=HTMLResponse)
def edit_child(
    request: Request,
    child_id: str,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    form: Posted,
) -> Response:
    who = need(user, Role.COORDINATOR)
    record = _stored(session, service, who, child_id)
    return _save(request, session, service, user, form, record)


@router.get("/schools", response_class=HTMLResponse)
def schools_page(request: Request, service: ServiceDep, user: User, q: str = "") -> Response:
    """The school register searched by name or number: a page that works without script."""
    who = need(user, Role.COORDINATOR)
    found = search_schools(service.gazetteer, q[:64], who.kommuner)
    return render(request, "schools.html", {"q": q[:64], "schools": found}, user)
