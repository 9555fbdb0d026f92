"""The FastAPI application: routers, problem+json errors, structured logs, job recovery."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi

from api import web
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

__all__ = ["POLICY_ENV", "app_from_environment", "create_app"]

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
                for code in codes:
                    if path != "/healthz" or code in responses:
                        responses[code] = {
                            "description": TITLES.get(int(code), "Error"),
                            "content": ref,
                        }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(service: Service, recover_jobs: bool = True) -> FastAPI:
    """The app on `service`. With `recover_jobs`, starting it marks jobs left queued or
    running as failed; a worker of a multi-process server must not (its siblings' jobs are
    running), so there the parent does it once before the workers start."""
    configure_logging()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if recover_jobs:
            failed = service.fail_interrupted_jobs()
            if failed:
                log.info("batch jobs interrupted by a restart marked failed", extra={"job": failed})
        service.start_reaper()
        yield
        service.close()

    app = FastAPI(
        title="placement",
        version="0.1.0",
        lifespan=lifespan,
        description="Placement matching for Danish child welfare.",
    )
    app.state.service = service
    install_handlers(app)
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

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.middleware("http")
    async def refuse_nul(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if "\x00" in request.url.path or b"%00" in request.scope.get("query_string", b""):
            return problem(
                422,
                "NUL characters are not allowed in paths or queries",
                errors=[{"path": "path", "allowed": "text without NUL"}],
            )
        return await call_next(request)

    @app.middleware("http")
    async def access_log(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        log.info(
            "request",
            extra={
                "route": route,
                "method": request.method,
                "status": response.status_code,
                "ms": round((time.perf_counter() - start) * 1000, 2),
            },
        )
        return response

    return app


POLICY_ENV = "PLACEMENT_POLICY"


def app_from_environment() -> FastAPI:
    """The app of one worker process of `placement serve --workers N` (a uvicorn factory):
    database from $PLACEMENT_DATABASE_URL, geodata from $PLACEMENT_GEODATA_DIR, policy from
    $PLACEMENT_POLICY. Every worker keeps its own matcher and refreshes it from the data
    versions in the database, so capacity changed through one worker reaches the others."""
    from api.db.engine import make_engine
    from geo.gazetteer import default_gazetteer
    from matcher.policy import AUTO, load_policy_set

    service = Service(
        make_engine(), default_gazetteer(), load_policy_set(os.environ.get(POLICY_ENV, AUTO))
    )
    return create_app(service, recover_jobs=False)
