"""An app on a fresh database with a small two-kommune dataset and one key per role."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import sessionmaker

from api.db.engine import make_engine, session_scope
from api.db.migrate import upgrade
from api.db.orm import Base
from api.db.sync import sync_dataset
from api.http.app import create_app
from api.services.caller import Role
from api.services.keys import create_key
from api.services.runtime import Service
from geo.gazetteer import Gazetteer
from models.dataset import Dataset
from models.enums import NEEDS
from models.synthetic import SyntheticSpec, generate_dataset

PG_ENV = "PLACEMENT_TEST_DATABASE_URL"
KOMMUNER = ("751", "727")  # Aarhus, Odder


def database_backends() -> list[str]:
    return ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])


@dataclass
class Env:
    client: TestClient
    keys: dict[str, str]
    dataset: Dataset
    engine: Engine
    service: Service

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def add_last_place(self, family_id: str) -> list[str]:
        """A family in 751 with one free place that takes any child; returns the single
        children of 751 it is offered to."""
        made = self.client.post(
            "/v1/families",
            json={
                "family_id": family_id,
                "kommune_code": "751",
                "postcode": "8000",
                "level": "specialiseret",
                "places": 1,
                "occupied": 0,
                "min_age": 0,
                "max_age": 22,
                "target_groups": list(NEEDS),
                "acute": True,
                "vacancy_confirmed": "2026-11-01",
            },
            headers=self.auth("consultant"),
        )
        assert made.status_code == 201, made.text
        return [
            c.child_id
            for c in self.dataset.children
            if c.kommune_code == "751"
            and not c.sibling_group
            and any(
                p["option_id"] == family_id
                for p in self.client.post(
                    f"/v1/children/{c.child_id}/proposals",
                    json={"top": 500},
                    headers=self.auth("coordinator"),
                ).json()["proposals"]
            )
        ]

    def child_in(self, kommune: str, alone: bool = True) -> str:
        return next(
            c.child_id
            for c in self.dataset.children
            if c.kommune_code == kommune and (not alone or not c.sibling_group)
        )


@pytest.fixture(scope="session")
def api_dataset(gazetteer: Gazetteer) -> Dataset:
    schools = gazetteer.schools.frame
    schools = schools[schools["kommune_code"].isin(KOMMUNER)]
    return generate_dataset(SyntheticSpec(40, 60, 8, seed=4), schools)


def _worker_database(url: str) -> str:
    """Under pytest-xdist each worker gets its own PostgreSQL database (created once), since
    every test drops and recreates the schema."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).first()
        if exists is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def fresh_engine(backend: str, tmp_path: Path) -> Engine:
    if backend == "sqlite":
        return make_engine(f"sqlite:///{tmp_path / 'placement.sqlite3'}")
    engine = make_engine(_worker_database(os.environ[PG_ENV]))
    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    return engine


def make_keys(engine: Engine) -> dict[str, str]:
    with session_scope(sessionmaker(engine)) as session:
        return {
            "coordinator": create_key(session, Role.COORDINATOR, ["751"]),
            "coordinator_727": create_key(session, Role.COORDINATOR, ["727"]),
            "consultant": create_key(session, Role.CONSULTANT, ["751"]),
            "consultant_727": create_key(session, Role.CONSULTANT, ["727"]),
            "planner": create_key(session, Role.PLANNER, ["751"]),
            "planner_727": create_key(session, Role.PLANNER, ["727"]),
            "admin": create_key(session, Role.ADMIN, []),
        }


def load(engine: Engine, dataset: Dataset) -> None:
    upgrade(engine)
    with session_scope(sessionmaker(engine)) as session:
        sync_dataset(session, dataset)
        Service.bump(session, "structure", "capacity")


@pytest.fixture(params=database_backends())
def env(
    request: pytest.FixtureRequest, tmp_path: Path, api_dataset: Dataset, gazetteer: Gazetteer
) -> Iterator[Env]:
    engine = fresh_engine(request.param, tmp_path)
    load(engine, api_dataset)
    keys = make_keys(engine)
    service = Service(engine, gazetteer)
    with TestClient(create_app(service)) as client:
        yield Env(client, keys, api_dataset, engine, service)
    engine.dispose()
