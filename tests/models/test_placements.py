"""placements.csv: round trip, and every disagreement named by file, row and column."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from models.dataset import Dataset, load_dataset, write_dataset
from models.enums import Kind
from models.errors import DatasetError
from models.synthetic import SyntheticSpec, generate_dataset
from tests.models.test_dataset import _edit


@pytest.fixture(scope="module")
def placed_dataset(schools) -> Dataset:
    return generate_dataset(
        SyntheticSpec(children=40, families=60, institutions=10, seed=4, placements=True), schools
    )


@pytest.fixture(scope="module")
def placed_dir(placed_dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("placed")
    write_dataset(placed_dataset, path)
    return path


def issues_of(directory: Path, gazetteer) -> list[str]:
    with pytest.raises(DatasetError) as caught:
        load_dataset(directory, gazetteer)
    return [str(i) for i in caught.value.issues]


def test_generated_placements_agree_and_round_trip(placed_dataset, placed_dir, gazetteer) -> None:
    loaded = load_dataset(placed_dir, gazetteer)
    assert loaded.placements == placed_dataset.placements
    occupied = sum(f.occupied for f in loaded.families) + sum(
        i.occupied + i.combination_occupied for i in loaded.institutions
    )
    assert len(loaded.active_placement) == occupied > 0
    assert all(p.child_id in loaded.child_by_id for p in loaded.placements)


def test_occupied_must_agree_with_active_placements(placed_dir, tmp_path, gazetteer) -> None:
    rows = list(csv.DictReader((placed_dir / "families.csv").open(encoding="utf-8")))
    line = next(n for n, r in enumerate(rows, start=2) if int(r["occupied"]) > 0)
    family_id = rows[line - 2]["family_id"]
    _edit(placed_dir, tmp_path, "families.csv", line, "occupied", "0")
    found = issues_of(tmp_path, gazetteer)
    assert any(
        f"families.csv, row {line}, column occupied" in i
        and f"active placements of {family_id}" in i
        for i in found
    ), found


@pytest.mark.parametrize(
    ("column", "value", "named", "words"),
    [
        ("kind", "castle", "kind", "network, foster, combination, institution"),
        ("start_date", "yesterday", "start_date", "ISO date"),
        ("status", "ended", "end_date", "when status is ended"),
        ("option_id", "nobody", "option_id", "family_id from families.csv"),
        ("child_id", "c-unknown", "child_id", "a child_id from children.csv"),
    ],
)
def test_each_placement_problem_is_named(
    placed_dir, tmp_path, gazetteer, column, value, named, words
):
    _edit(placed_dir, tmp_path, "placements.csv", 2, column, value)
    found = issues_of(tmp_path, gazetteer)
    assert any(f"placements.csv, row 2, column {named}" in i and words in i for i in found), found


def test_without_the_file_occupied_is_taken_as_given(placed_dir, tmp_path, gazetteer) -> None:
    shutil.copytree(placed_dir, tmp_path, dirs_exist_ok=True)
    (tmp_path / "placements.csv").unlink()
    assert load_dataset(tmp_path, gazetteer).placements == ()


def test_placed_children_are_not_in_the_default_cohort(placed_dataset) -> None:
    from matcher.cohort import select_units
    from matcher.rank import Matcher

    m = Matcher(placed_dataset)
    chosen = {c for u in select_units(m) for c in u.child_ids}
    assert not chosen & set(placed_dataset.active_placement)
    named = next(iter(placed_dataset.active_placement))
    assert named in {c for u in select_units(m, children=[named]) for c in u.child_ids}
    assert {p.kind for p in placed_dataset.placements} <= set(Kind)
