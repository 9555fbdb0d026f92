"""`placement serve`: the HTTP API and the web interface, on one or more worker processes."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from api.cli.common import (
    DbOpt,
    GeoOpt,
    PolicyOpt,
    app,
    fail,
    gazetteer,
    migrated_engine,
    user_errors,
)
from matcher.policy import AUTO, load_policy_set

__all__ = ["serve"]


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    database: DbOpt = None,
    policy: PolicyOpt = AUTO,
    geodata: GeoOpt = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Worker processes (one per core serves about twice the requests on 2 cores).",
        ),
    ] = 1,
    max_body_bytes: Annotated[
        int | None,
        typer.Option(
            "--max-body-bytes",
            min=0,
            help="Largest request body in bytes; larger ones get 413 "
            "(default $PLACEMENT_MAX_BODY_BYTES, or 1 MiB).",
        ),
    ] = None,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) on the database as it is."""
    import uvicorn

    from api.db.engine import DATABASE_ENV, database_url
    from api.http.app import MAX_BODY_ENV, POLICY_ENV, create_app
    from api.http.limits import max_body_from_environment
    from api.services.runtime import Service
    from geo.gazetteer import GEODATA_ENV

    try:
        limit = max_body_bytes if max_body_bytes is not None else max_body_from_environment()
    except ValueError as exc:
        fail(str(exc))
    with user_errors():
        service = Service(migrated_engine(database), gazetteer(geodata), load_policy_set(policy))
    # uvicorn's own access log is off: the app logs every request itself (route templates
    # only, never a path), and uvicorn's would cost a formatted record per request even
    # below the log level. httptools and uvloop are dependencies; naming them makes a
    # missing one an error instead of a silent fallback to the slower pure-Python parts.
    loop = "uvloop" if _has_uvloop() else "asyncio"
    if workers == 1:
        http_app = create_app(service, max_body_bytes=limit)
        uvicorn.run(
            http_app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            http="httptools",
            loop=loop,
        )
        return
    # Workers rebuild the service from the environment; jobs a previous server left running
    # are failed here, once, before any worker can start one.
    service.fail_interrupted_jobs()
    service.close()
    os.environ[DATABASE_ENV] = database_url(database)
    os.environ[POLICY_ENV] = policy
    os.environ[MAX_BODY_ENV] = str(limit)
    if geodata is not None:
        os.environ[GEODATA_ENV] = str(geodata)
    uvicorn.run(
        "api.http.app:app_from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        http="httptools",
        loop=loop,
    )


def _has_uvloop() -> bool:
    """uvloop is not built for Windows (pyproject installs it elsewhere)."""
    import importlib.util

    return importlib.util.find_spec("uvloop") is not None
