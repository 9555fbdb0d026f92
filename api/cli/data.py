"""`placement db upgrade`, `import` and `export`: the database side."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.common import (
    DataOpt,
    DbOpt,
    Format,
    FormatOpt,
    GeoOpt,
    app,
    db_app,
    emit_json,
    err,
    load,
    migrated_engine,
    user_errors,
)
from api.cli.render import render_sync

if TYPE_CHECKING:  # `rank` and `match` start without the database layer
    from sqlalchemy.orm import Session

__all__ = ["database_session", "db_upgrade", "export", "import_"]


@contextmanager
def database_session(database: str | None) -> Iterator[Session]:
    """One transaction on the migrated database, committed when the block succeeds."""
    from sqlalchemy.orm import sessionmaker

    from api.db.engine import session_scope

    with session_scope(sessionmaker(migrated_engine(database))) as session:
        yield session


@db_app.command("upgrade")
def db_upgrade(database: DbOpt = None) -> None:
    """Create or migrate the database schema (Alembic)."""
    engine = migrated_engine(database)
    err.print(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")


@app.command("import")
def import_(
    data: DataOpt,
    database: DbOpt = None,
    geodata: GeoOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would change; write nothing.")
    ] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Sync the database with the kommune's files, in one transaction.

    The files are validated as for `rank`. Rows are added, changed and removed; placements,
    holds, keys, sign-ins and
    the audit trail are never deleted. A child or option with a live hold or an active
    placement that is missing from the files blocks the import, and nothing is written."""
    from api.services.data import import_dataset

    with user_errors():
        dataset = load(data, geodata)
        with database_session(database) as session:
            report = import_dataset(session, dataset, dry_run=dry_run)
    if fmt is Format.json:
        emit_json({"dry_run": dry_run, **report.as_dict()})
    else:
        render_sync(report, dry_run)
    if not dry_run:
        err.print(
            f"imported {len(dataset.children)} children, {len(dataset.families)} families, "
            f"{len(dataset.institutions)} institutions, {len(dataset.placements)} placements",
            highlight=False,
        )


@app.command("export")
def export(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the dataset to.")],
    database: DbOpt = None,
) -> None:
    """Write the database back as a dataset of the CSV contract."""
    from api.services.data import export_dataset
    from models.dataset import write_dataset

    with database_session(database) as session:
        dataset = export_dataset(session)
    write_dataset(dataset, out_dir)
    err.print(f"exported {len(dataset.children)} children to {out_dir}", highlight=False)
