"""Loading, validation (every problem at once, named by file, row and column) and writing."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from geo.gazetteer import Gazetteer
from models.dataset import Dataset, load_dataset, write_dataset
from models.errors import DatasetError


def test_round_trip_is_lossless(small_dataset: Dataset, tmp_path: Path, gazetteer) -> None:
    write_dataset(small_dataset, tmp_path)
    assert load_dataset(tmp_path, gazetteer) == small_dataset


def _edit(src: Path, dst: Path, file: str, row: int, column: str, value: str) -> None:
    """Copy a dataset and set one cell (row is the CSV line number, header = 1)."""
    if src != dst:
        shutil.copytree(src, dst, dirs_exist_ok=True)
    path = dst / file
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
        header = list(rows[0].keys()) if rows else []
    if column not in header:
        header.append(column)
    rows[row - 2][column] = value
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n", restval="")
        writer.writeheader()
        writer.writerows(rows)


# (file, row, column, bad value, words the message must contain)
CASES = [
    ("children.csv", 2, "age", "abc", "whole number from 0 to 22"),
    ("children.csv", 3, "age", "40", "whole number from 0 to 22"),
    ("children.csv", 2, "support_level", "5", "from 1 to 4"),
    ("children.csv", 2, "needs", "trauma;dragons", "needs from"),
    ("children.csv", 2, "kommune_code", "86", "3-digit kommune code"),
    ("children.csv", 2, "kommune_code", "999", "dk_kommuner.csv"),
    ("children.csv", 2, "acute", "yes", "0 or 1"),
    ("children.csv", 2, "home_lat", "40.0", "inside Denmark"),
    ("children.csv", 2, "school_id", "123456789", "dk_schools.csv"),
    ("children.csv", 3, "child_id", "c001", "unique id"),
    ("children.csv", 2, "wishes", "nobody", "ids of families, institutions or network persons"),
    ("families.csv", 2, "level", "super", "one of almen, forstaerket, specialiseret"),
    ("families.csv", 2, "occupied", "9", "at most places"),
    ("families.csv", 2, "min_age", "17", None),
    ("families.csv", 2, "vacancy_confirmed", "yesterday", "ISO date"),
    ("families.csv", 2, "status", "sleeping", "active or paused"),
    ("institutions.csv", 2, "kind", "prison", "doegninstitution, opholdssted, sikret"),
    ("network.csv", 2, "child_id", "c999", "a child_id from children.csv"),
    ("network.csv", 2, "relation", "cousin", "one of grandparent"),
    ("network.csv", 2, "status", "maybe", "one of unassessed"),
]


@pytest.mark.parametrize(("file", "row", "column", "value", "words"), CASES)
def test_each_problem_is_named(
    small_dir: Path, tmp_path: Path, gazetteer: Gazetteer, file, row, column, value, words
) -> None:
    if file == "families.csv" and column == "min_age":
        # min_age > max_age: set max_age low as well.
        _edit(small_dir, tmp_path, file, row, "max_age", "3")
        small_dir = tmp_path
        words = "at most max_age"
    if column == "child_id" and file == "children.csv":
        value = _first(small_dir / file, "child_id")
    _edit(small_dir, tmp_path, file, row, column, value)
    with pytest.raises(DatasetError) as caught:
        load_dataset(tmp_path, gazetteer)
    hits = [
        i
        for i in caught.value.issues
        if i.file == file and i.row == row and column in (i.column or "")
    ]
    assert hits, caught.value.issues
    assert words in hits[0].allowed
    assert file in str(caught.value) and f"row {row}" in str(caught.value)


def _first(path: Path, column: str) -> str:
    with path.open(encoding="utf-8") as handle:
        return next(csv.DictReader(handle))[column]


def test_unknown_postcode_and_bad_postcode(small_dir: Path, tmp_path: Path, gazetteer) -> None:
    _edit(small_dir, tmp_path, "families.csv", 2, "lat", "")
    _edit(tmp_path, tmp_path, "families.csv", 2, "lon", "")
    _edit(tmp_path, tmp_path, "families.csv", 2, "postcode", "0001")
    _edit(tmp_path, tmp_path, "families.csv", 3, "postcode", "12a")
    with pytest.raises(DatasetError) as caught:
        load_dataset(tmp_path, gazetteer)
    messages = {(i.row, i.column): i.allowed for i in caught.value.issues}
    assert "known postcode" in messages[(2, "postcode")]
    assert "4-digit" in messages[(3, "postcode")]


def test_postcode_resolves_when_lat_lon_are_empty(small_dir: Path, tmp_path, gazetteer) -> None:
    _edit(small_dir, tmp_path, "families.csv", 2, "lat", "")
    _edit(tmp_path, tmp_path, "families.csv", 2, "lon", "")
    _edit(tmp_path, tmp_path, "families.csv", 2, "postcode", "8300")
    loaded = load_dataset(tmp_path, gazetteer)
    assert (loaded.families[0].place.lat, loaded.families[0].place.lon) == (55.9626, 10.1795)


def test_all_problems_are_reported_at_once(small_dir: Path, tmp_path: Path, gazetteer) -> None:
    _edit(small_dir, tmp_path, "children.csv", 2, "age", "x")
    _edit(tmp_path, tmp_path, "families.csv", 4, "places", "-1")
    _edit(tmp_path, tmp_path, "institutions.csv", 3, "max_age", "99")
    with pytest.raises(DatasetError) as caught:
        load_dataset(tmp_path, gazetteer)
    files = {i.file for i in caught.value.issues}
    assert files == {"children.csv", "families.csv", "institutions.csv"}


def test_missing_required_column_and_file(small_dir: Path, tmp_path: Path, gazetteer) -> None:
    shutil.copytree(small_dir, tmp_path, dirs_exist_ok=True)
    (tmp_path / "institutions.csv").unlink()
    text = (tmp_path / "families.csv").read_text(encoding="utf-8").replace("min_age", "minage")
    (tmp_path / "families.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DatasetError) as caught:
        load_dataset(tmp_path, gazetteer)
    assert any(
        i.file == "institutions.csv" and "required" in i.allowed for i in caught.value.issues
    )
    assert any(
        i.file == "families.csv" and i.column == "min_age" and i.row == 1
        for i in caught.value.issues
    )


def test_exclusions_and_keep_away_name_known_children(small_dir: Path, tmp_path, gazetteer):
    shutil.copytree(small_dir, tmp_path, dirs_exist_ok=True)
    (tmp_path / "exclusions.csv").write_text(
        "child_id,option_id,reason\nc404,f001,x\nc001,nothing,x\n", encoding="utf-8"
    )
    (tmp_path / "keep_away.csv").write_text(
        "child_id,lat,lon,postcode,min_km,reason\nc404,56.1,10.2,,5,x\nc001,56.1,10.2,,,x\n",
        encoding="utf-8",
    )
    with pytest.raises(DatasetError) as caught:
        load_dataset(tmp_path, gazetteer)
    got = {(i.file, i.row, i.column) for i in caught.value.issues}
    assert ("exclusions.csv", 2, "child_id") in got
    assert ("exclusions.csv", 3, "option_id") in got
    assert ("keep_away.csv", 2, "child_id") in got
    assert ("keep_away.csv", 3, "min_km") in got


def test_network_via_must_be_in_the_same_network_and_not_loop(
    small_dir: Path, tmp_path: Path, gazetteer
) -> None:
    shutil.copytree(small_dir, tmp_path, dirs_exist_ok=True)
    (tmp_path / "network.csv").write_text(
        "person_id,child_id,relation,via,lat,lon,postcode,status,places,willing\n"
        "q1,c001,grandparent,q2,56.1,10.2,,approved,1,1\n"
        "q2,c001,family_friend,q1,56.1,10.2,,approved,1,1\n"
        "q3,c001,family_friend,zz,56.1,10.2,,approved,1,1\n",
        encoding="utf-8",
    )
    with pytest.raises(DatasetError) as caught:
        load_dataset(tmp_path, gazetteer)
    via = {(i.row, i.allowed.split(" ")[0]) for i in caught.value.issues if i.column == "via"}
    assert {r for r, _ in via} == {2, 3, 4}
