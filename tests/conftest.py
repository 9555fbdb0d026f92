"""Shared fixtures: the real geodata directory and small named datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from geo.gazetteer import GEODATA_ENV, Gazetteer
from models.dataset import Dataset, load_dataset
from models.synthetic import SyntheticSpec, generate_dataset

REPO = Path(__file__).resolve().parents[1]
_SHARED = REPO.parent / "shared" / "geodata"


def geodata_dir() -> Path:
    configured = os.environ.get(GEODATA_ENV)
    path = Path(configured) if configured else _SHARED
    if not (path / "dk_postcodes.csv").exists():
        pytest.fail(f"geodata not found: set {GEODATA_ENV} (expected {_SHARED})")
    return path


@pytest.fixture(scope="session")
def gazetteer() -> Gazetteer:
    return Gazetteer.from_directory(geodata_dir())


@pytest.fixture(scope="session")
def schools(gazetteer: Gazetteer):
    frame = gazetteer.schools.frame
    return frame[frame["kommune_code"].astype(str).map(gazetteer.has_kommune)]


@pytest.fixture(scope="session")
def small_dataset(schools) -> Dataset:
    return generate_dataset(
        SyntheticSpec(children=120, families=200, institutions=30, seed=3), schools
    )


@pytest.fixture(scope="session")
def small_dir(small_dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from models.dataset import write_dataset

    path = tmp_path_factory.mktemp("small")
    write_dataset(small_dataset, path)
    return path


@pytest.fixture(scope="session")
def loaded_small(small_dir: Path, gazetteer: Gazetteer) -> Dataset:
    return load_dataset(small_dir, gazetteer)
