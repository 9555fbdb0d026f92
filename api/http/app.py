"""The FastAPI application: routers, problem+json errors, structured logs, job recovery."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import swagger_ui_bundle
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import web
from api.http.limits import MAX_BODY_ENV, RequestGuard, max_body_from_environment
from api.http.problems import TITLES, install_handlers, problem
from api.http.routers import (
    admin,
    batches,
    children,
    options,
    placements,
    policies,
    reservations,
    review,
)
from api.services.runtime import Service
from api.web.common import status_page

__all__ = ["MAX_BODY_ENV", "POLICY_ENV", "app_from_environment", "create_app"]

log = logging.getLogger("placement.http")


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Only route templates are logged, never concrete paths,
    bodies or query strings, so no child's details reach a log."""

    def format(self, record: logging.LogRecord) -> str:
        base = {
            "at": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("route", "method", "status", "ms", "error", "job"):
            if hasattr(record, key):
                base[key] = getattr(record, key)
        return json.dumps(base)


def configure_logging() -> None:
    root = logging.getLogger("placement")
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False


PROBLEM_SCHEMA = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `errors` lists each invalid field's path.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "reason": {"type": "string", "description": "the rule that refused, e.g. NO_CAPACITY"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["title", "status", "detail"],
}


def _problem_openapi(app: FastAPI) -> None:
    """Document every error of every operation as application/problem+json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        schema["components"]["schemas"].pop("HTTPValidationError", None)
        schema["components"]["schemas"].pop("ValidationError", None)
        ref = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                codes = ["422"] if path == "/healthz" else ["401", "403", "404", "409", "422"]
                if "requestBody" in operation:
                    codes.append("413")
                for code in codes:
                    if path != "/healthz" or code in responses:
                        responses[code] = {
                            "description": TITLES.get(int(code), "Error"),
                            "content": ref,
                        }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


class AccessLog:
    """One log line per request: the route template, method, status and time; never a path,
    body or query. (Pure ASGI: BaseHTTPMiddleware runs the app in a task group, which wraps
    an error raised while reading the body, and costs a task and a stream per request.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watched)
        log.info(
            "request",
            extra={
                "route": getattr(scope.get("route"), "path", "unmatched"),
                "method": scope["method"],
                "status": status,
                "ms": round((time.perf_counter() - start) * 1000, 2),
            },
        )


class RefuseNul:
    """422 for NUL characters in the path or query (PostgreSQL cannot store them)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")
        ):
            refusal = problem(
                422,
                "NUL characters are not allowed in paths or queries",
                errors=[{"path": "path", "allowed": "text without NUL"}],
            )
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


DOCS_ASSETS = "/docs-assets"


def _offline_docs(app: FastAPI) -> None:
    """/docs from Swagger UI's files in the installed swagger-ui-bundle package, so the page
    works without the internet (FastAPI's default loads them from a CDN). No ReDoc: there
    is no offline copy of it to serve."""
    app.mount(
        DOCS_ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets"
    )

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        assets = root + DOCS_ASSETS
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} – API",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon-32x32.png",
            # No badge from validator.swagger.io: nothing on the page leaves this server.
            swagger_ui_parameters={"validatorUrl": None},
        )


def _prepare_matcher(service: Service) -> None:
    try:
        service.matcher()
    except Exception as exc:  # the first request that needs the matcher meets it again
        log.warning(
            "the matcher could not be built at start; it will be on first use",
            extra={"error": type(exc).__name__},
        )


def create_app(
    service: Service, recover_jobs: bool = True, max_body_bytes: int | None = None
) -> FastAPI:
    """The app on `service`. With `recover_jobs`, starting it marks jobs left queued or
    running as failed; a worker of a multi-process server must not (its siblings' jobs are
    running), so there the parent does it once before the workers start.

    `max_body_bytes` limits every request body (413 beyond it); None takes
    $PLACEMENT_MAX_BODY_BYTES, or 1 MiB."""
    configure_logging()
    limit = max_body_from_environment() if max_body_bytes is None else max_body_bytes
    if limit < 0:
        raise ValueError(f"max_body_bytes: got {limit}; allowed: a whole number >= 0")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if recover_jobs:
            failed = service.fail_interrupted_jobs()
            if failed:
                log.info("batch jobs interrupted by a restart marked failed", extra={"job": failed})
        service.start_reaper()
        # The matcher is built before the first request is accepted (uvicorn serves after the
        # lifespan starts), not by that request: nationally the build takes two seconds, in
        # which every request to this worker would wait.
        await asyncio.to_thread(_prepare_matcher, service)
        yield
        service.close()

    app = FastAPI(
        title="placement",
        version="0.1.0",
        lifespan=lifespan,
        description="Placement matching for Danish child welfare.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    app.state.max_body_bytes = limit
    install_handlers(app)

    # First among the routes (each request is matched against them in order), and on the
    # event loop: the floor of the HTTP stack in the API benchmark.
    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for module in (
        children,
        options,
        reservations,
        placements,
        review,
        batches,
        admin,
        policies,
    ):
        app.include_router(module.router)
    web.install(app)

    _problem_openapi(app)
    _offline_docs(app)

    # Pure ASGI middleware, outermost last: the access log sees every answer, the guard
    # checks the key and the size before anything reads the body.
    app.add_middleware(RefuseNul)
    app.add_middleware(RequestGuard, max_body_bytes=limit, page=status_page)
    app.add_middleware(AccessLog)
    return app


POLICY_ENV = "PLACEMENT_POLICY"


def app_from_environment() -> FastAPI:
    """The app of one worker process of `placement serve --workers N` (a uvicorn factory):
    database from $PLACEMENT_DATABASE_URL, geodata from $PLACEMENT_GEODATA_DIR, policy from
    $PLACEMENT_POLICY, body limit from $PLACEMENT_MAX_BODY_BYTES. Every worker keeps its own
    matcher and refreshes it from the data versions in the database, so capacity changed
    through one worker reaches the others."""
    from api.db.engine import make_engine
    from geo.gazetteer import default_gazetteer
    from matcher.policy import AUTO, load_policy_set

    service = Service(
        make_engine(), default_gazetteer(), load_policy_set(os.environ.get(POLICY_ENV, AUTO))
    )
    return create_app(service, recover_jobs=False)
