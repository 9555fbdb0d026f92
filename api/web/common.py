"""What every page shares: templates, security headers, sign-in, roles, CSRF and the Danish
error page."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.db.orm import UiSession
from api.http.deps import SessionDep
from api.services.caller import Principal, Role
from api.services.signin import current
from api.web.labels import KINDS, ROLE_NAMES

__all__ = [
    "COOKIE",
    "HOME",
    "LOGIN_COOKIE",
    "CsrfField",
    "PageError",
    "SignInRequired",
    "User",
    "check_csrf",
    "install_errors",
    "need",
    "redirect",
    "render",
    "set_cookie",
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


def install_errors(app: FastAPI) -> None:
    """Static files and the error pages of /ui."""
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")

    @app.exception_handler(SignInRequired)
    def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return redirect("/ui/login")

    @app.exception_handler(PageError)
    def _page_error(request: Request, exc: PageError) -> Response:
        with request.app.state.service.sessions() as session:
            user = current(session, request.cookies.get(COOKIE))
        return render(
            request,
            "error.html",
            {"status": exc.status, "message": exc.message},
            user,
            status=exc.status,
        )
