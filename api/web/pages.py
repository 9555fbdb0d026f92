"""The pages: sign-in and sign-out, coordinators' children and proposals with reservation,
consultants' capacity board, planners' batches. Every page applies the API's role and kommune
rules through the same functions, and every form carries the session's CSRF token."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from api.deps import ServiceDep, SessionDep
from api.errors import ApiError
from api.orm import (
    BatchJob,
    CapacityPool,
    ChildRow,
    FamilyRow,
    InstitutionRow,
    NetworkRow,
    PlacementRow,
    Reservation,
    UiSession,
)
from api.report import flatten
from api.routers.batches import own_batch, start_batch
from api.routers.children import child_or_404
from api.routers.options import (
    family_public,
    institution_public,
    patch_capacity,
    vacancy_is_stale,
)
from api.routers.reservations import create_hold
from api.schemas import BatchCreate, CapacityPatch
from api.security import Principal, Role
from api.web.mapview import Marker, svg_map
from api.web.session import COOKIE, LOGIN_COOKIE, SESSION_HOURS, current, sign_in, sign_out

__all__ = ["PageError", "SignInRequired", "install", "router"]

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/ui", include_in_schema=False)

TIERS = {
    1: "Netværkspleje",
    2: "Plejefamilie",
    3: "Kombinationsanbringelse",
    4: "Institution (døgninstitution, opholdssted)",
}
KINDS = {
    "network": "netværk",
    "foster": "plejefamilie",
    "combination": "kombination",
    "institution": "institution",
}
WARNINGS = {
    "NETWORK_UNASSESSED": "ikke vurderet",
    "STALE_VACANCY": "vakance ikke bekræftet",
    "SCHOOL_CHANGE": "skoleskift",
}
TERMS = {
    "relation": "relation til barnet",
    "school_km": "afstand til skole",
    "daycare_km": "afstand til dagtilbud",
    "home_km": "afstand til hjemmet",
    "level_overshoot": "mere indgribende end barnets behov",
    "wish": "barnets ønske ikke opfyldt",
}
REASONS = {
    "NO_CAPACITY": "ingen ledig plads",
    "AGE_OUT_OF_RANGE": "barnets alder ligger uden for godkendelsen",
    "LEVEL_TOO_LOW": "for lavt niveau til barnets støttebehov",
    "NEEDS_NOT_COVERED": "barnets behov er ikke i målgruppen",
    "NETWORK_REJECTED": "netværkspersonen er vurderet uegnet",
    "NETWORK_UNWILLING": "netværkspersonen kan eller vil ikke",
    "NOT_ACUTE": "tager ikke akutte anbringelser",
    "COMBINATION_NOT_SUITABLE": "kombinationsanbringelse er ikke egnet",
    "COMBINATION_TOO_FAR": "for langt fra hjemmet til kombinationsanbringelse",
    "SECURE_NEEDS_DECISION": "sikret afdeling kræver en afgørelse",
    "SIBLING_GROUP_TOO_LARGE": "kan ikke tage hele søskendegruppen",
    "EXCLUDED": "udelukket for dette barn",
    "KEEP_AWAY": "for tæt på en person, barnet skal holdes væk fra",
    "PAUSED": "sat på pause",
    "TOO_FAR": "for langt fra barnets hjem",
}
LEVELS = {1: "almen", 2: "forstærket", 3: "specialiseret", 4: "behandling"}
HOME = {
    Role.COORDINATOR: "/ui/children",
    Role.CONSULTANT: "/ui/capacity",
    Role.PLANNER: "/ui/batches",
    Role.ADMIN: "/ui/admin",
}
ROLE_NAMES = {
    Role.COORDINATOR: "anbringelseskoordinator",
    Role.CONSULTANT: "familieplejekonsulent",
    Role.PLANNER: "planlægger",
    Role.ADMIN: "administrator",
}
# No script runs on these pages; styles and images come from this server only.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class SignInRequired(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class PageError(Exception):
    """An error shown as a page in Danish (403 outside the role, 404 outside the kommune)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ----------------------------------------------------------------------------- plumbing


def _cookie(response: Response, request: Request, name: str, value: str, hours: float) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(hours * 3600),
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    user: tuple[Principal, UiSession] | None = None,
    status: int = 200,
) -> HTMLResponse:
    who = user[0] if user else None
    base = {
        "who": who,
        "role_name": ROLE_NAMES.get(who.role) if who else None,
        "csrf": user[1].csrf if user else "",
        "path": request.url.path,
        "kinds": KINDS,
    }
    response = templates.TemplateResponse(request, name, base | dict(context), status_code=status)
    _secure(response)
    return response


def signed_in(request: Request, session: SessionDep) -> tuple[Principal, UiSession]:
    found = current(session, request.cookies.get(COOKIE))
    if found is None:
        raise SignInRequired(request.url.path)
    return found


User = Annotated[tuple[Principal, UiSession], Depends(signed_in)]
CsrfField = Annotated[str, Form()]


def need(user: tuple[Principal, UiSession], role: Role) -> Principal:
    who = user[0]
    if who.role is not role:
        raise PageError(
            403,
            f"Siden er for en {ROLE_NAMES[role]}; du er logget ind som {ROLE_NAMES[who.role]}.",
        )
    return who


def check_csrf(user: tuple[Principal, UiSession], token: str) -> None:
    if not token or not secrets.compare_digest(token, user[1].csrf):
        raise PageError(
            403, "Formularen kunne ikke godkendes (CSRF). Genindlæs siden og prøv igen."
        )


def install(app: FastAPI) -> None:
    """Mount the pages, their static files and their error pages on the app."""
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")

    @app.exception_handler(SignInRequired)
    def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return _secure(RedirectResponse("/ui/login", status_code=303))

    @app.exception_handler(PageError)
    def _page_error(request: Request, exc: PageError) -> Response:
        user = None
        with request.app.state.service.sessions() as session:
            user = current(session, request.cookies.get(COOKIE))
        return render(
            request,
            "error.html",
            {"status": exc.status, "message": exc.message},
            user,
            status=exc.status,
        )


# ----------------------------------------------------------------------------- sign-in


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> Response:
    found = current(session, request.cookies.get(COOKIE))
    target = HOME[found[0].role] if found else "/ui/login"
    return _secure(RedirectResponse(target, status_code=303))


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", {"login_token": token, "message": None})
    _cookie(response, request, LOGIN_COOKIE, token, 1)
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    api_key: Annotated[str, Form()] = "",
    login_token: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(login_token, expected):
        raise PageError(403, "Log-ind-formularen er udløbet. Åbn siden igen og prøv igen.")
    made = sign_in(session, api_key)
    if made is None:
        return render(
            request,
            "login.html",
            {"login_token": expected, "message": "Nøglen er ikke gyldig."},
            status=401,
        )
    token, who = made
    redirect = RedirectResponse(HOME[who.role], status_code=303)
    _cookie(redirect, request, COOKIE, token, SESSION_HOURS)
    redirect.delete_cookie(LOGIN_COOKIE, path="/ui")
    return _secure(redirect)


@router.post("/logout")
def logout(
    request: Request, session: SessionDep, user: User, csrf_token: CsrfField = ""
) -> Response:
    check_csrf(user, csrf_token)
    sign_out(session, request.cookies.get(COOKIE))
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return _secure(response)


@router.get("/admin", response_class=HTMLResponse)
def admin_home(request: Request, user: User) -> Response:
    need(user, Role.ADMIN)
    return render(request, "admin.html", {}, user)


# ----------------------------------------------------------------------------- coordinators


@router.get("/children", response_class=HTMLResponse)
def children_page(
    request: Request,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    q: Annotated[str, Query(max_length=64)] = "",
    acute: bool = False,
    sibling: bool = False,
    level: Annotated[int | None, Query(ge=1, le=4)] = None,
) -> Response:
    who = need(user, Role.COORDINATOR)
    query = select(ChildRow).where(ChildRow.kommune_code.in_(sorted(who.kommuner)))
    if q:
        query = query.where(ChildRow.child_id.contains(q.strip()))
    if acute:
        query = query.where(ChildRow.acute.is_(True))
    if sibling:
        query = query.where(ChildRow.sibling_group.is_not(None))
    if level is not None:
        query = query.where(ChildRow.support_level == level)
    rows = session.scalars(query.order_by(ChildRow.position, ChildRow.child_id)).all()
    placed = set(
        session.scalars(
            select(PlacementRow.child_id).where(
                PlacementRow.status == "active",
                PlacementRow.child_id.in_([r.child_id for r in rows]),
            )
        )
    )
    for row in rows:
        service.audit(session, who, "ui.child.list", row.child_id)
    return render(
        request,
        "children.html",
        {
            "rows": rows,
            "placed": placed,
            "q": q,
            "acute": acute,
            "sibling": sibling,
            "level": level,
            "levels": LEVELS,
        },
        user,
    )


def _option_point(session: Any, option_id: str, kind: str) -> tuple[float, float] | None:
    if kind == "network":
        person = session.scalars(
            select(NetworkRow).where(NetworkRow.person_id == option_id)
        ).first()
        return (person.lat, person.lon) if person else None
    family = session.get(FamilyRow, option_id)
    if family is not None:
        return family.lat, family.lon
    inst = session.get(InstitutionRow, option_id)
    return (inst.lat, inst.lon) if inst else None


def _km(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}".replace(".", ",") + " km"


def _child_page(
    request: Request,
    session: Any,
    service: Any,
    user: tuple[Principal, UiSession],
    child_id: str,
    message: str | None = None,
    message_kind: str = "info",
    status: int = 200,
) -> Response:
    who = user[0]
    try:
        row = child_or_404(session, who, child_id)
    except ApiError:
        raise PageError(404, f"Barnet {child_id} findes ikke i dine kommuner.") from None
    service.audit(session, who, "ui.child.read", child_id)
    service.audit(session, who, "ui.proposals", child_id)
    service.expire_holds(session)
    matcher = service.matcher(session)
    ranking = matcher.rank(child_id, top=None, why_not=True, as_of=date.today())
    child = matcher.dataset.child_by_id[child_id]
    shown = ranking.proposals[:25]
    groups: dict[int, list[dict[str, Any]]] = {}
    markers = [Marker(child.home.lat, child.home.lon, "Barnets hjem", "home", "H")]
    if child.school:
        markers.append(Marker(child.school.lat, child.school.lon, "Barnets skole", "school", "S"))
    if child.daycare:
        markers.append(
            Marker(child.daycare.lat, child.daycare.lon, "Barnets dagtilbud", "daycare", "D")
        )
    for p in shown:
        item = p.as_dict()
        item["km"] = {k: _km(v) for k, v in (p.distance_km or {}).items()}
        item["score_da"] = f"{p.score:.1f}".replace(".", ",")
        item["terms_da"] = [
            (TERMS.get(name, name), f"{value:.1f}".replace(".", ","))
            for name, value in p.terms.items()
            if value
        ]
        item["warnings_da"] = [WARNINGS.get(w, w) for w in p.warnings]
        groups.setdefault(p.tier, []).append(item)
        point = _option_point(session, p.option_id, p.kind)
        if point is not None:
            markers.append(
                Marker(
                    point[0],
                    point[1],
                    f"Forslag {p.rank}: {KINDS[p.kind]} {p.option_id}",
                    f"tier{p.tier}",
                    str(p.rank),
                )
            )
    why_not = [
        {
            "option_id": r["option_id"],
            "kind": KINDS.get(r["kind"], r["kind"]),
            "reasons": [REASONS.get(x, x) for x in r["reasons"]],
        }
        for r in (ranking.excluded_options or [])[:200]
    ]
    counts = [(REASONS.get(k, k), n) for k, n in ranking.excluded.items()]
    holds = [
        h
        for h in session.scalars(
            select(Reservation)
            .where(
                Reservation.child_ids.contains(child_id),
                Reservation.status.in_(["held", "confirmed"]),
            )
            .order_by(Reservation.created_at.desc())
        )
        if child_id in h.child_ids.split(";")
    ]
    return render(
        request,
        "child.html",
        {
            "child": row,
            "needs": [n for n in row.needs.split(";") if n],
            "level_name": LEVELS.get(row.support_level, str(row.support_level)),
            "ranking": ranking,
            "tiers": TIERS,
            "groups": groups,
            "why_not": why_not,
            "why_not_total": len(ranking.excluded_options or []),
            "counts": counts,
            "holds": holds,
            "map": svg_map(service.gazetteer, markers, f"Kort over barn {child_id} og forslag"),
            "message": message,
            "message_kind": message_kind,
        },
        user,
        status=status,
    )


@router.get("/children/{child_id}", response_class=HTMLResponse)
def child_page(
    request: Request,
    child_id: str,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    held: Annotated[str | None, Query(max_length=36)] = None,
) -> Response:
    need(user, Role.COORDINATOR)
    message = None
    if held:
        hold = session.get(Reservation, held)
        if hold is not None and user[0].in_scope(hold.kommune_code):
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
    option_id: Annotated[str, Form(max_length=64)],
    kind: Annotated[str, Form(max_length=16)],
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.COORDINATOR)
    check_csrf(user, csrf_token)
    try:
        hold = create_hold(session, service, who, child_id, None, option_id, kind, 24)
    except ApiError as exc:
        if exc.status == 404:
            raise PageError(404, f"Barnet {child_id} findes ikke i dine kommuner.") from None
        session.rollback()
        if exc.status == 409:
            text = (
                f"Pladsen hos {option_id} er allerede taget – en anden har reserveret den "
                "sidste ledige plads. Vælg et andet forslag."
            )
        else:
            text = f"{option_id} er ikke længere et muligt tilbud til barnet."
        return _child_page(
            request, session, service, user, child_id, text, "conflict", status=exc.status
        )
    session.commit()
    return _secure(RedirectResponse(f"/ui/children/{child_id}?held={hold.id}", status_code=303))


# ----------------------------------------------------------------------------- consultants


@router.get("/capacity", response_class=HTMLResponse)
def capacity_page(
    request: Request,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    kommune: Annotated[str | None, Query(max_length=3)] = None,
    message: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    who = need(user, Role.CONSULTANT)
    if kommune and kommune not in who.kommuner:
        raise PageError(404, f"Kommune {kommune} er ikke blandt dine kommuner.")
    codes = [kommune] if kommune else sorted(who.kommuner)
    service.expire_holds(session)
    today = date.today()
    stale_days = service.policy.stale_days
    stale_before = today - timedelta(days=stale_days)

    def age(confirmed: date | None) -> tuple[int | None, bool]:
        days = None if confirmed is None else (today - confirmed).days
        return days, vacancy_is_stale(confirmed, stale_before)

    rows: list[dict[str, Any]] = []
    for f in session.scalars(
        select(FamilyRow)
        .where(FamilyRow.kommune_code.in_(codes))
        .order_by(FamilyRow.kommune_code, FamilyRow.family_id)
    ):
        days, stale = age(f.vacancy_confirmed)
        data = family_public(session, f)
        rows.append(
            data
            | {
                "option_id": f.family_id,
                "what": f"plejefamilie, {f.level}",
                "days": days,
                "stale": stale and not f.paused,
                "paused": f.paused,
                "family": True,
            }
        )
    for i in session.scalars(
        select(InstitutionRow)
        .where(InstitutionRow.kommune_code.in_(codes))
        .order_by(InstitutionRow.kommune_code, InstitutionRow.institution_id)
    ):
        days, stale = age(i.vacancy_confirmed)
        data = institution_public(session, i)
        rows.append(
            data
            | {
                "option_id": i.institution_id,
                "what": f"{i.kind}" + (f" ({i.name})" if i.name else ""),
                "days": days,
                "stale": stale,
                "paused": False,
                "family": False,
            }
        )
    return render(
        request,
        "capacity.html",
        {
            "rows": rows,
            "kommune": kommune,
            "kommuner": sorted(who.kommuner),
            "stale_days": stale_days,
            "message": message,
        },
        user,
    )


def _option_or_404(session: Any, who: Principal, option_id: str) -> Any:
    row: Any = session.get(FamilyRow, option_id) or session.get(InstitutionRow, option_id)
    if row is None or not who.in_scope(row.kommune_code):
        raise PageError(404, f"{option_id} findes ikke i dine kommuner.")
    return row


def _back_to_board(message: str) -> Response:
    return _secure(RedirectResponse(f"/ui/capacity?message={quote(message)}", status_code=303))


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
    row = _option_or_404(session, who, option_id)
    public = family_public if isinstance(row, FamilyRow) else institution_public
    patch_capacity(session, service, who, option_id, CapacityPatch(confirm_vacancy=True), public)
    session.commit()
    return _back_to_board(f"Vakance bekræftet for {option_id}.")


@router.post("/options/{option_id}/capacity")
def edit_capacity(
    option_id: str,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    places: Annotated[int, Form(ge=0, le=500)],
    paused: Annotated[bool, Form()] = False,
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.CONSULTANT)
    check_csrf(user, csrf_token)
    row = _option_or_404(session, who, option_id)
    family = isinstance(row, FamilyRow)
    public = family_public if family else institution_public
    body = CapacityPatch(places=places, paused=paused if family else None)
    try:
        patch_capacity(session, service, who, option_id, body, public)
    except ApiError:
        session.rollback()
        pool = session.get_one(CapacityPool, option_id)
        return _back_to_board(
            f"{option_id}: pladser kan ikke sættes under optagne plus reserverede "
            f"({pool.occupied} + {pool.reserved})."
        )
    session.commit()
    return _back_to_board(f"{option_id} er opdateret.")


# ----------------------------------------------------------------------------- planners


@router.get("/batches", response_class=HTMLResponse)
def batches_page(request: Request, session: SessionDep, user: User) -> Response:
    who = need(user, Role.PLANNER)
    jobs = session.scalars(
        select(BatchJob)
        .where(BatchJob.created_by == who.key_id)
        .order_by(BatchJob.created_at.desc())
        .limit(20)
    ).all()
    return render(request, "batches.html", {"jobs": jobs, "kommuner": sorted(who.kommuner)}, user)


@router.post("/batches")
def start_batch_page(
    session: SessionDep,
    service: ServiceDep,
    user: User,
    kommune: Annotated[str, Form(max_length=3)] = "",
    solver: Annotated[str, Form(max_length=8)] = "auto",
    time_limit: Annotated[float, Form(gt=0, le=3600)] = 60,
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.PLANNER)
    check_csrf(user, csrf_token)
    if kommune and kommune not in who.kommuner:
        raise PageError(403, f"Kommune {kommune} er ikke blandt dine kommuner.")
    if solver not in ("auto", "flow", "cpsat", "greedy"):
        raise PageError(422, "Vælg en løser: auto, flow, cpsat eller greedy.")
    body = BatchCreate(
        kommuner=[kommune] if kommune else [],
        solver=solver,  # type: ignore[arg-type]
        time_limit=time_limit,
    )
    job = start_batch(session, service, who, body)
    return _secure(RedirectResponse(f"/ui/batches/{job.id}", status_code=303))


@router.get("/batches/{batch_id}", response_class=HTMLResponse)
def batch_page(request: Request, batch_id: str, session: SessionDep, user: User) -> Response:
    who = need(user, Role.PLANNER)
    try:
        job = own_batch(session, who, batch_id)
    except ApiError:
        raise PageError(404, f"Kørslen {batch_id} findes ikke i dine kommuner.") from None
    result = job.result or {}
    kpis = flatten(result.get("kpis", {})) if result else {}
    return render(
        request,
        "batch.html",
        {
            "job": job,
            "running": job.status in ("queued", "running"),
            "result": result,
            "objective": result.get("objective", {}),
            "kpis": kpis,
            "unassigned": len(result.get("unassigned", [])),
        },
        user,
    )
