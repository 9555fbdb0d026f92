"""Signing in and out of /ui with an API key, and the start page of each role."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.http.deps import SessionDep
from api.services.caller import Role
from api.services.signin import SESSION_HOURS, current, sign_in, sign_out
from api.web.common import (
    COOKIE,
    HOME,
    LOGIN_COOKIE,
    CsrfField,
    PageError,
    User,
    check_csrf,
    need,
    redirect,
    render,
    secure,
    set_cookie,
)

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep) -> Response:
    found = current(session, request.cookies.get(COOKIE))
    return redirect(HOME[found[0].role] if found else "/ui/login")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", {"login_token": token, "message": None})
    set_cookie(response, request, LOGIN_COOKIE, token, 1)
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
    response = RedirectResponse(HOME[who.role], status_code=303)
    set_cookie(response, request, COOKIE, token, SESSION_HOURS)
    response.delete_cookie(LOGIN_COOKIE, path="/ui")
    return secure(response)


@router.post("/logout")
def logout(
    request: Request, session: SessionDep, user: User, csrf_token: CsrfField = ""
) -> Response:
    check_csrf(user, csrf_token)
    sign_out(session, request.cookies.get(COOKIE))
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return secure(response)


@router.get("/admin", response_class=HTMLResponse)
def admin_home(request: Request, user: User) -> Response:
    need(user, Role.ADMIN)
    return render(request, "admin.html", {}, user)
