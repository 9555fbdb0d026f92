"""models.records: one pydantic record per contract file, matching the CSV columns."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from pydantic import Field, ValidationError

from models.dataset import FILES, Dataset, write_dataset
from models.records import (
    RECORDS,
    ChildRecord,
    ExclusionFields,
    ExclusionRecord,
    FamilyRecord,
    InstitutionRecord,
    KeepAwayFields,
    KeepAwayRecord,
    NetworkPersonFields,
    NetworkPersonRecord,
    PlacementRecord,
    record_from_row,
)
from models.synthetic import SyntheticSpec, generate_dataset


@pytest.fixture(scope="module")
def written(schools, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dataset: Dataset = generate_dataset(
        SyntheticSpec(children=30, families=40, institutions=8, seed=5, placements=True), schools
    )
    path = tmp_path_factory.mktemp("records")
    write_dataset(dataset, path)
    return path


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def test_one_record_per_contract_file() -> None:
    assert set(RECORDS) == set(FILES)


@pytest.mark.parametrize("key", list(FILES))
def test_record_fields_are_the_files_columns(key: str, written: Path) -> None:
    header, _ = _rows(written / FILES[key])
    assert set(RECORDS[key].model_fields) == set(header)


@pytest.mark.parametrize("key", list(FILES))
def test_every_written_row_is_a_valid_record(key: str, written: Path) -> None:
    _, rows = _rows(written / FILES[key])
    assert rows or key in ("exclusions", "keep_away")
    for row in rows:
        record = record_from_row(key, row)
        assert isinstance(record, RECORDS[key])


def test_record_from_row_converts_text() -> None:
    family = record_from_row(
        "families",
        {
            "family_id": "F1",
            "kommune_code": "101",
            "postcode": "2100",
            "level": "forstaerket",
            "places": "2",
            "occupied": "1",
            "min_age": "0",
            "max_age": "17",
            "target_groups": "trauma; adhd",
            "acute": "1",
            "vacancy_confirmed": "2024-05-01",
            "unknown_column": "ignored, as the loader ignores it",
        },
    )
    assert isinstance(family, FamilyRecord)
    assert family.places == 2 and family.acute is True and family.combination is False
    assert family.target_groups == ["trauma", "adhd"]
    assert family.vacancy_confirmed is not None and family.vacancy_confirmed.year == 2024
    assert family.lat is None and family.status == "active"
    with pytest.raises(ValidationError):
        record_from_row("families", {"family_id": "F1", "places": "many"})


def test_file_records_add_child_id_to_the_nested_fields() -> None:
    for fields, record in (
        (NetworkPersonFields, NetworkPersonRecord),
        (ExclusionFields, ExclusionRecord),
        (KeepAwayFields, KeepAwayRecord),
    ):
        assert issubclass(record, fields)
        assert "child_id" not in fields.model_fields
        assert set(record.model_fields) == set(fields.model_fields) | {"child_id"}


def _child(**changes: object) -> dict[str, object]:
    return {"child_id": "c1", "kommune_code": "101", "age": 9, "support_level": 2} | changes


def test_ranges_and_defaults() -> None:
    child = ChildRecord.model_validate(_child())
    assert child.needs == [] and child.acute is False and child.arrival is None
    for bad in (
        {"age": 23},
        {"support_level": 0},
        {"child_id": "has space"},
        {"child_id": ""},
        {"kommune_code": "1011"},
        {"home_lat": 91.0},
        {"needs": ["trauma"] * 11},
    ):
        with pytest.raises(ValidationError):
            ChildRecord.model_validate(_child(**bad))
    with pytest.raises(ValidationError):
        InstitutionRecord.model_validate(
            {
                "institution_id": "I1",
                "kommune_code": "101",
                "kind": "hospital",
                "places": 1,
                "occupied": 0,
                "min_age": 0,
                "max_age": 17,
            }
        )
    with pytest.raises(ValidationError):
        KeepAwayRecord.model_validate({"child_id": "c1", "min_km": 501})
    placement = PlacementRecord.model_validate(
        {"child_id": "c1", "option_id": "F1", "kind": "foster", "start_date": "2024-01-02"}
    )
    assert placement.status == "active" and placement.end_reason == ""


def test_unknown_fields_and_nul_characters_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        ChildRecord.model_validate(_child(shoe_size=30))
    with pytest.raises(ValidationError, match="NUL characters are not allowed in text"):
        ChildRecord.model_validate(_child(sibling_group="g\x00"))
    with pytest.raises(ValidationError, match="NUL characters are not allowed in text"):
        ChildRecord.model_validate(_child(wishes=["F1", "F\x002"]))


class _NetworkPersonIn(NetworkPersonFields):
    pass


class _ChildCreate(ChildRecord):
    network: list[_NetworkPersonIn] = Field(default_factory=list, max_length=50)


def test_a_subclass_adds_nested_lists_and_keeps_the_rules() -> None:
    body = _ChildCreate.model_validate(
        _child(network=[{"person_id": "p1", "relation": "grandparent", "status": "approved"}])
    )
    assert body.network[0].places == 1 and body.network[0].willing is True
    with pytest.raises(ValidationError, match="NUL characters are not allowed in text"):
        _ChildCreate.model_validate(
            _child(network=[{"person_id": "p1", "relation": "x\x00", "status": "approved"}])
        )
    with pytest.raises(ValidationError, match="extra"):
        _ChildCreate.model_validate(
            _child(network=[{"person_id": "p1", "relation": "x", "status": "y", "child_id": "c"}])
        )
    schema = _ChildCreate.model_json_schema()
    assert schema["title"] == "_ChildCreate"
    assert schema["additionalProperties"] is False
    assert schema["properties"]["age"] == {
        "maximum": 22,
        "minimum": 0,
        "title": "Age",
        "type": "integer",
    }
    assert list(schema["properties"])[-1] == "network"
