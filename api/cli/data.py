"""`placement db upgrade`, `import` and `export`: the database side."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from api.cli.common import (
    DataOpt,
    DbOpt,
    GeoOpt,
    app,
    db_app,
    err,
    load,
    migrated_engine,
    user_errors,
)
from models.dataset import write_dataset

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
def import_(data: DataOpt, database: DbOpt = None, geodata: GeoOpt = None) -> None:
    """Load a dataset (validated as for `rank`) into the database in one transaction."""
    from api.services.data import import_dataset

    with user_errors():
        dataset = load(data, geodata)
        with database_session(database) as session:
            import_dataset(session, dataset)
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

    with database_session(database) as session:
        dataset = export_dataset(session)
    write_dataset(dataset, out_dir)
    err.print(f"exported {len(dataset.children)} children to {out_dir}", highlight=False)
