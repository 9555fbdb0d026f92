"""Consultants' approval forms: a new or changed foster family (/ui/families/new, .../edit)
or institution (/ui/institutions/new, .../edit). The forms post the dataset contract's column
names and go through the same use cases as POST/PUT /v1/families and /v1/institutions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from api.db.engine import DbSession
from api.db.orm import FamilyRow, InstitutionRow, UiSession
from api.http.deps import ServiceDep, SessionDep
from api.services import options
from api.services.caller import Principal, Role
from api.services.errors import Conflict, Forbidden, Invalid, NotFound
from api.services.inputs import FamilyCreate, InstitutionCreate
from api.services.options import StoredFamily, StoredInstitution
from api.services.runtime import Service
from api.web.common import PageError, User, check_csrf, need, redirect, render
from api.web.labels import (
    FAMILY_STATUS,
    FOSTER_LEVELS,
    INSTITUTION_KINDS,
    INVALID,
    LEVELS,
    NEEDS,
    day,
    number,
)
from models.dataset import plain_kroner

router = APIRouter(prefix="/ui", include_in_schema=False)

What = Literal["families", "institutions"]

# The forms' fields: the contract's columns (DESIGN.md §3), in the order the form shows them.
FAMILY_FIELDS = (
    "family_id",
    "kommune_code",
    "postcode",
    "lat",
    "lon",
    "level",
    "places",
    "occupied",
    "min_age",
    "max_age",
    "target_groups",
    "max_siblings",
    "acute",
    "combination",
    "vacancy_confirmed",
    "status",
    "monthly_rate",
)
INSTITUTION_FIELDS = (
    "institution_id",
    "kommune_code",
    "kind",
    "name",
    "postcode",
    "lat",
    "lon",
    "places",
    "occupied",
    "combination_places",
    "combination_occupied",
    "min_age",
    "max_age",
    "target_groups",
    "max_level",
    "acute",
    "daily_rate",
    "vacancy_confirmed",
)
REQUIRED = {
    "families": ("family_id", "kommune_code", "level", "places", "min_age", "max_age"),
    "institutions": ("institution_id", "kommune_code", "kind", "places", "min_age", "max_age"),
}
LISTS = {"target_groups"}
# Decimal numbers a Danish user may write with a comma.
DECIMALS = {"lat", "lon", "daily_rate", "monthly_rate"}
# Amounts in kroner, which a Danish user writes with thousands dots: "4.250" is 4250 kr.
KRONER = {"daily_rate", "monthly_rate"}
# Each field's label on the form; messages name the field by it.
LABELS = {
    "family_id": "Familiens id",
    "institution_id": "Institutionens id",
    "kommune_code": "Kommune",
    "kind": "Type",
    "name": "Navn",
    "postcode": "Postnummer",
    "lat": "Breddegrad",
    "lon": "Længdegrad",
    "level": "Niveau",
    "places": "Godkendte pladser",
    "occupied": "Optagede pladser",
    "combination_places": "Pladser til kombinationsanbringelse",
    "combination_occupied": "Optagede kombinationspladser",
    "min_age": "Laveste alder (år)",
    "max_age": "Højeste alder (år)",
    "target_groups": "Målgrupper",
    "max_siblings": "Største søskendegruppe",
    "max_level": "Højeste støtteniveau",
    "acute": "Akutte anbringelser",
    "combination": "Kombinationsanbringelse",
    "daily_rate": "Døgntakst (kr.)",
    "monthly_rate": "Eget vederlag (kr. pr. måned)",
    "vacancy_confirmed": "Vakance",
    "status": "Status",
}
CHOICES = {
    "level": FOSTER_LEVELS,
    "kind": INSTITUTION_KINDS,
    "status": FAMILY_STATUS,
    "max_level": {str(k): v for k, v in LEVELS.items()},
    "target_groups": NEEDS,
}
# The contract's own checks (models.dataset) by the column they name, in Danish.
CONTRACT = {
    "postcode": "er ikke et kendt dansk postnummer (4 cifre)",
    "lat": "angiv både breddegrad og længdegrad",
    "lon": "angiv både breddegrad og længdegrad",
    "lat,lon": "punktet ligger ikke i Danmark (breddegrad 54,5–57,8, længdegrad 8,0–15,3)",
    "lat,lon or postcode": "skal udfyldes: et postnummer eller et punkt (bredde- og længdegrad)",
    "kommune_code": "er ikke en dansk kommunekode",
    "occupied": "må ikke være flere end de godkendte pladser",
    "combination_occupied": "må ikke være flere end pladserne til kombinationsanbringelse",
    "min_age": "må ikke være højere end den højeste alder",
    "target_groups": "kender ikke en af målgrupperne",
    "vacancy_confirmed": "skal være en dato",
}
# Where a contract check names more than one column, the field its message stands beside.
BESIDE = {"lat,lon": "lat", "lat,lon or postcode": "postcode"}


async def form_data(request: Request) -> FormData:
    """The posted form (read once here, so checkbox groups keep all their values)."""
    return await request.form()


Form = Annotated[FormData, Depends(form_data)]


def _fields(what: What) -> tuple[str, ...]:
    return FAMILY_FIELDS if what == "families" else INSTITUTION_FIELDS


def _entered(what: What, form: FormData | Mapping[str, Any]) -> dict[str, Any]:
    """The form's contract fields as entered: lists split (several boxes, or "a;b" text),
    the rest as stripped text; anything else posted (buttons, CSRF) is left out."""
    values: dict[str, Any] = {}
    for name in _fields(what):
        if name in LISTS:
            raw: Any = form.getlist(name) if isinstance(form, FormData) else form.get(name, [])
            items: list[Any] = [raw] if isinstance(raw, str) else list(raw)
            values[name] = [p.strip() for item in items for p in re.split(r"[;,]", str(item))]
            values[name] = [v for v in values[name] if v]
        else:
            values[name] = str(form.get(name) or "").strip()
    return values


def _phrase(error: Mapping[str, Any], name: str) -> str:
    context = {
        key: number(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else value
        for key, value in (error.get("ctx") or {}).items()
    }
    context["choices"] = ", ".join(CHOICES[name].values()) if name in CHOICES else "valgene"
    try:
        return INVALID.get(str(error.get("type", "")), "er ikke gyldig").format(**context)
    except (KeyError, IndexError, ValueError):
        return "er ikke gyldig"


def _typed(what: What, values: Mapping[str, Any]) -> tuple[BaseModel | None, dict[str, str]]:
    """The use case's input from the entered values, or each invalid field's Danish message."""
    errors: dict[str, str] = {}
    for name in REQUIRED[what]:
        if values.get(name, "") == "":
            errors[name] = INVALID["missing"]
    data: dict[str, Any] = {}
    for name, value in values.items():
        if value in ("", []):
            continue
        plain = plain_kroner(value.strip()) if name in KRONER else None
        if plain is not None:
            value = plain
        data[name] = value.replace(",", ".") if name in DECIMALS else value
    model: type[BaseModel] = FamilyCreate if what == "families" else InstitutionCreate
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = [p for p in error.get("loc", ()) if isinstance(p, str)]
            name = loc[0] if loc else ""
            errors.setdefault(name, _phrase(error, name))
        return None, errors
    return (None, errors) if errors else (parsed, errors)


def _domain_errors(exc: Exception) -> dict[str, str]:
    """A refusal of the use case as messages beside the fields it is about."""
    if isinstance(exc, Forbidden):
        return {"kommune_code": "ligger uden for dine kommuner"}
    if isinstance(exc, Conflict):
        if exc.reason == "HELD_PLACES":
            return {"places": "skal mindst være optagne plus reserverede pladser"}
        return {"_id": "er allerede i brug af en anden familie, institution eller person"}
    errors: dict[str, str] = {}
    for error in exc.errors if isinstance(exc, Invalid) else []:
        column = str(error.get("path", "")).removeprefix("body.")
        name = BESIDE.get(column, column)
        errors.setdefault(name, CONTRACT.get(column, "er ikke gyldig"))
    return errors or {"_form": "Oplysningerne kunne ikke godkendes."}


def _kommuner(service: Service, who: Principal) -> list[tuple[str, str]]:
    return [(c, service.gazetteer.kommune_name(c) or f"kommune {c}") for c in sorted(who.kommuner)]


def _form_page(
    request: Request,
    service: Service,
    user: tuple[Principal, UiSession],
    what: What,
    values: Mapping[str, Any],
    errors: Mapping[str, str],
    editing: str | None,
    status: int = 200,
) -> Response:
    id_field = "family_id" if what == "families" else "institution_id"
    errors = {(id_field if k == "_id" else k): v for k, v in errors.items()}
    summary = [
        (name, f"{LABELS.get(name, 'Formularen')}: {text}.") for name, text in errors.items()
    ]
    noun = "plejefamilie" if what == "families" else "institution"
    context = {
        "what": what,
        "noun": noun,
        "title": (f"Ret {noun} {editing}" if editing else f"Godkend ny {noun}"),
        "action": f"/ui/{what}/{editing}/edit" if editing else f"/ui/{what}/new",
        "editing": editing,
        "values": values,
        "errors": errors,
        "summary": summary,
        "labels": LABELS,
        "kommuner_choices": [(c, f"{n} ({c})") for c, n in _kommuner(service, user[0])],
        "support_level_choices": [(str(k), f"{k} – {v}") for k, v in LEVELS.items()],
        "levels": FOSTER_LEVELS,
        "institution_kinds": INSTITUTION_KINDS,
        "support_levels": LEVELS,
        "needs": NEEDS,
        "family_status": FAMILY_STATUS,
        "today": date.today().isoformat(),
        "today_da": day(date.today()),
    }
    template = "family_form.html" if what == "families" else "institution_form.html"
    return render(request, template, context, user, status=status)


def _blank(what: What, who: Principal) -> dict[str, Any]:
    values: dict[str, Any] = {name: "" for name in _fields(what)}
    values |= {"target_groups": [], "occupied": "0", "min_age": "0", "max_age": "17"}
    if what == "families":
        values |= {"max_siblings": "1", "status": "active"}
    else:
        values |= {"combination_places": "0", "combination_occupied": "0", "max_level": "4"}
    if len(who.kommuner) == 1:
        values["kommune_code"] = next(iter(who.kommuner))
    return values


def text_of(value: float | None) -> str:
    """A stored number as a Danish user writes it: decimal comma, no trailing zeros (five
    decimals at most: a point to the metre, so an edit never moves a home)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.5f}".rstrip("0").rstrip(".").replace(".", ",")
    return str(value)


def _stored_values(record: StoredFamily | StoredInstitution) -> dict[str, Any]:
    """An option's stored record as the form's values (a point only when no postcode)."""
    pool = record.pool
    if isinstance(record, StoredFamily):
        f = record.family
        values: dict[str, Any] = {
            "family_id": f.family_id,
            "level": f.level,
            "max_siblings": str(f.max_siblings),
            "combination": "true" if f.combination else "",
            "status": "paused" if f.paused else "active",
            "monthly_rate": text_of(f.monthly_rate),
        }
        row: FamilyRow | InstitutionRow = f
    else:
        i = record.institution
        values = {
            "institution_id": i.institution_id,
            "kind": i.kind,
            "name": i.name or "",
            "combination_places": str(record.combination.places),
            "combination_occupied": str(record.combination.occupied),
            "max_level": str(i.max_level),
            "daily_rate": text_of(i.daily_rate),
        }
        row = i
    values |= {
        "kommune_code": row.kommune_code,
        "postcode": row.postcode or "",
        "lat": "" if row.postcode else text_of(row.lat),
        "lon": "" if row.postcode else text_of(row.lon),
        "places": str(pool.places),
        "occupied": str(pool.occupied),
        "min_age": str(row.min_age),
        "max_age": str(row.max_age),
        "target_groups": [t for t in row.target_groups.split(";") if t],
        "acute": "true" if row.acute else "",
        "vacancy_confirmed": "",
        "confirmed_before": row.vacancy_confirmed,
    }
    return values


def read_own(session: DbSession, who: Principal, what: What, option_id: str) -> Any:
    try:
        if what == "families":
            return options.read_family(session, who, option_id)
        return options.read_institution(session, who, option_id)
    except NotFound:
        noun = "Plejefamilien" if what == "families" else "Institutionen"
        raise PageError(404, f"{noun} {option_id} findes ikke i dine kommuner.") from None


def _save(
    request: Request,
    session: SessionDep,
    service: Service,
    user: tuple[Principal, UiSession],
    what: What,
    form: FormData,
    editing: str | None,
) -> Response:
    who = need(user, Role.CONSULTANT)
    check_csrf(user, str(form.get("csrf_token") or ""))
    values = _entered(what, form)
    id_field = "family_id" if what == "families" else "institution_id"
    if editing:
        values[id_field] = editing  # the id is the page's; it cannot be changed here
        before = read_own(session, who, what, editing)
        row = before.family if what == "families" else before.institution
        if not values["vacancy_confirmed"] and row.vacancy_confirmed:
            # Left unticked: the vacancy keeps the date it was last confirmed.
            values["vacancy_confirmed"] = row.vacancy_confirmed.isoformat()
        # Occupancy follows the placements (a confirmed hold raises it): the stored count is
        # kept, so a form opened before a placement cannot undo it.
        values["occupied"] = str(before.pool.occupied)
        if isinstance(before, StoredInstitution):
            values["combination_occupied"] = str(before.combination.occupied)
    elif values["occupied"] == "":
        values["occupied"] = "0"  # a newly approved home has nobody placed yet
    if values["kommune_code"] == "" and len(who.kommuner) == 1:
        values["kommune_code"] = next(iter(who.kommuner))
    body, errors = _typed(what, values)
    if body is None:
        return _form_page(request, service, user, what, values, errors, editing, 422)
    try:
        if what == "families":
            assert isinstance(body, FamilyCreate)
            if editing:
                options.update_family(session, service, who, editing, body)
            else:
                options.create_family(session, service, who, body)
        else:
            assert isinstance(body, InstitutionCreate)
            if editing:
                options.update_institution(session, service, who, editing, body)
            else:
                options.create_institution(session, service, who, body)
    except NotFound:
        session.rollback()
        raise PageError(404, f"{editing} findes ikke i dine kommuner.") from None
    except (Invalid, Conflict, Forbidden) as exc:
        session.rollback()  # nothing half-written
        status = 409 if isinstance(exc, Conflict) else 422
        errors = _domain_errors(exc)
        return _form_page(request, service, user, what, values, errors, editing, status)
    option_id = str(values[id_field])
    service.audit(session, who, f"ui.{what}.{'update' if editing else 'create'}", None, option_id)
    session.commit()
    done = "er gemt" if editing else "er godkendt og kan nu foreslås"
    return redirect(f"/ui/{what}/{option_id}?message={quote(f'{option_id} {done}.')}")


@router.get("/families/new", response_class=HTMLResponse)
def new_family_form(request: Request, service: ServiceDep, user: User) -> Response:
    who = need(user, Role.CONSULTANT)
    return _form_page(request, service, user, "families", _blank("families", who), {}, None)


@router.post("/families/new", response_class=HTMLResponse)
def create_family(
    request: Request, session: SessionDep, service: ServiceDep, user: User, form: Form
) -> Response:
    return _save(request, session, service, user, "families", form, None)


@router.get("/institutions/new", response_class=HTMLResponse)
def new_institution_form(request: Request, service: ServiceDep, user: User) -> Response:
    who = need(user, Role.CONSULTANT)
    values = _blank("institutions", who)
    return _form_page(request, service, user, "institutions", values, {}, None)


@router.post("/institutions/new", response_class=HTMLResponse)
def create_institution(
    request: Request, session: SessionDep, service: ServiceDep, user: User, form: Form
) -> Response:
    return _save(request, session, service, user, "institutions", form, None)


@router.get("/families/{family_id}/edit", response_class=HTMLResponse)
def edit_family_form(
    request: Request, family_id: str, session: SessionDep, service: ServiceDep, user: User
) -> Response:
    who = need(user, Role.CONSULTANT)
    values = _stored_values(read_own(session, who, "families", family_id))
    return _form_page(request, service, user, "families", values, {}, family_id)


@router.post("/families/{family_id}/edit", response_class=HTMLResponse)
def update_family(
    request: Request,
    family_id: str,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    form: Form,
) -> Response:
    return _save(request, session, service, user, "families", form, family_id)


@router.get("/institutions/{institution_id}/edit", response_class=HTMLResponse)
def edit_institution_form(
    request: Request, institution_id: str, session: SessionDep, service: ServiceDep, user: User
) -> Response:
    who = need(user, Role.CONSULTANT)
    values = _stored_values(read_own(session, who, "institutions", institution_id))
    return _form_page(request, service, user, "institutions", values, {}, institution_id)


@router.post("/institutions/{institution_id}/edit", response_class=HTMLResponse)
def update_institution(
    request: Request,
    institution_id: str,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    form: Form,
) -> Response:
    return _save(request, session, service, user, "institutions", form, institution_id)
