"""What every page shares: templates, security headers, sign-in, roles, CSRF and the Danish
error page."""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from api.db.engine import session_scope
from api.db.orm import UiSession
from api.http.deps import SessionDep
from api.services.caller import Principal, Role
from api.services.signin import current
from api.web.labels import (
    CHOICES,
    FIELDS,
    INVALID,
    KINDS,
    ROLE_NAMES,
    STATUS_PAGES,
    number,
    size,
)

__all__ = [
    "COOKIE",
    "HOME",
    "LOGIN_COOKIE",
    "CsrfField",
    "FormInvalid",
    "PageError",
    "SignInRequired",
    "User",
    "check_csrf",
    "install_errors",
    "invalid_message",
    "need",
    "parse_form",
    "redirect",
    "render",
    "set_cookie",
    "status_page",
]

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
COOKIE = "placement_session"
LOGIN_COOKIE = "placement_login"  # double-submit token of the sign-in form
HOME = {
    Role.COORDINATOR: "/ui/children",
    Role.CONSULTANT: "/ui/capacity",
    Role.PLANNER: "/ui/batches",
    Role.ADMIN: "/ui/admin",
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


class FormInvalid(Exception):
    """A form value that the use case's typed input refuses: `message` says in Danish what is
    wrong, naming each field by its label; `fields` are the names of the invalid fields."""

    def __init__(self, message: str, fields: frozenset[str]) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields


M = TypeVar("M", bound=BaseModel)


def invalid_message(errors: Sequence[Mapping[str, Any]]) -> tuple[str, frozenset[str]]:
    """Validation errors (pydantic's or FastAPI's) in Danish, e.g. "Pladser: skal være et helt
    tal.", and the names of the fields they are about."""
    parts: list[str] = []
    fields: set[str] = set()
    for error in errors:
        name = next((p for p in reversed(tuple(error.get("loc", ()))) if isinstance(p, str)), "")
        context = {
            key: number(value)
            if isinstance(value, int | float) and not isinstance(value, bool)
            else value
            for key, value in (error.get("ctx") or {}).items()
        }
        context["choices"] = ", ".join(CHOICES[name].values()) if name in CHOICES else "valgene"
        try:
            phrase = INVALID.get(str(error.get("type", "")), "er ikke gyldig").format(**context)
        except (KeyError, IndexError, ValueError):
            phrase = "er ikke gyldig"
        text = f"{FIELDS.get(name, 'Et felt')}: {phrase}."
        if text not in parts:
            parts.append(text)
        fields.add(name)
    return " ".join(parts), frozenset(fields)


def parse_form(model: type[M], values: Mapping[str, Any], required: Collection[str] = ()) -> M:
    """A form's values as the use case's typed input. A blank value counts as left out (the
    model's default applies), except in a `required` field. `FormInvalid` says what is wrong
    with every invalid field at once."""
    errors: list[Mapping[str, Any]] = [
        {"type": "missing", "loc": (name,)} for name in required if values.get(name, "") == ""
    ]
    try:
        parsed = model.model_validate({k: v for k, v in values.items() if v != ""})
    except ValidationError as exc:
        errors += exc.errors(include_url=False)
    if errors:
        raise FormInvalid(*invalid_message(errors))
    return parsed


def set_cookie(response: Response, request: Request, name: str, value: str, hours: float) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(hours * 3600),
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def redirect(url: str) -> Response:
    return secure(RedirectResponse(url, status_code=303))


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
    secure(response)
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


def _is_page(request: Request) -> bool:
    path = request.url.path
    return path == "/ui" or path.startswith("/ui/")


def _user_of(request: Request) -> tuple[Principal, UiSession] | None:
    """The signed-in user of an error page (for its header), if any."""
    with session_scope(request.app.state.service.read_sessions) as session:
        return current(session, request.cookies.get(COOKIE))


def status_page(
    request: Request,
    status: int,
    message: str | None = None,
    user: tuple[Principal, UiSession] | None = None,
) -> HTMLResponse:
    """The Danish page of an HTTP error under /ui (also for api.http.limits, which refuses
    before any route runs, so without looking the user up)."""
    if message is None:
        limit = size(getattr(request.app.state, "max_body_bytes", 0))
        text = STATUS_PAGES.get(status, STATUS_PAGES[400] if status < 500 else STATUS_PAGES[500])
        message = text.format(limit=limit)
    return render(request, "error.html", {"status": status, "message": message}, user, status)


def _pages_first(
    app: FastAPI, kind: type[Exception], page: Callable[[Request, Exception, int], Response]
) -> None:
    """Keep the API's handler of `kind` (it decides the status and logs), but show a page in
    Danish instead of its JSON under /ui."""
    api = app.exception_handlers[kind]

    async def handler(request: Request, exc: Exception) -> Response:
        response = api(request, exc)
        if inspect.isawaitable(response):
            response = await response
        if not _is_page(request):
            return response
        return await run_in_threadpool(page, request, exc, response.status_code)

    app.add_exception_handler(kind, handler)


def _invalid_page(request: Request, exc: Exception, status: int) -> Response:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    message = invalid_message(errors)[0] or STATUS_PAGES[422]
    return status_page(request, status, f"{message} Gå tilbage og ret det.", _user_of(request))


def _http_page(request: Request, exc: Exception, status: int) -> Response:
    return status_page(request, status, None, _user_of(request))


def _unexpected_page(request: Request, exc: Exception, status: int) -> Response:
    return status_page(request, status)  # the database may be what failed


def install_errors(app: FastAPI) -> None:
    """Static files and the error pages of /ui: a page in Danish for every error there, never
    JSON (the API's handlers must be installed first)."""
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")

    @app.exception_handler(SignInRequired)
    def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return redirect("/ui/login")

    @app.exception_handler(PageError)
    def _page_error(request: Request, exc: PageError) -> Response:
        return status_page(request, exc.status, exc.message, _user_of(request))

    _pages_first(app, RequestValidationError, _invalid_page)
    _pages_first(app, HTTPException, _http_page)
    _pages_first(app, Exception, _unexpected_page)
