"""The Alembic migrations build exactly the schema the ORM declares, on every backend, and
the one-decision rules live in the database itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from api.db.migrate import upgrade
from api.db.orm import Base
from tests.api.conftest import database_backends, fresh_engine


@pytest.mark.parametrize("backend", database_backends())
def test_migrations_match_the_orm(backend: str, tmp_path: Path) -> None:
    engine = fresh_engine(backend, tmp_path)
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    indexes = {i["name"]: i for i in inspect(engine).get_indexes("placements")}
    assert indexes["ux_placements_active_child"]["unique"]
    assert inspect(engine).get_foreign_keys("placements") == []  # history outlives a child
    assert inspect(engine).get_pk_constraint("live_holds")["constrained_columns"] == ["child_id"]
    engine.dispose()
