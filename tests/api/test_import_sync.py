"""`placement import` is a sync that never loses the service's own data: placements, holds,
keys, sign-ins and the audit trail survive; a live decision blocks a removal; a dry run
writes nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from api.cli import app
from api.db.orm import (
    ApiKey,
    AuditEntry,
    CapacityPool,
    ChildRow,
    FamilyRow,
    LiveHold,
    PlacementRow,
    Reservation,
)
from models.capacity import combination_pool, occupancy_by_pool
from models.dataset import Dataset, write_dataset
from models.domain import Placement
from models.enums import Kind, PlacementStatus
from tests.api.conftest import Env

runner = CliRunner()


def _url(env: Env) -> str:
    return env.engine.url.render_as_string(hide_password=False)


def _count(env: Env, table: Any) -> int:
    with sessionmaker(env.engine)() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def _import(env: Env, data: Path, *extra: str) -> Any:
    return runner.invoke(app, ["import", "--data", str(data), "--database", _url(env), *extra])


def _without_child(ds: Dataset, child_id: str) -> Dataset:
    return replace(
        ds,
        children=tuple(c for c in ds.children if c.child_id != child_id),
        network=tuple(p for p in ds.network if p.child_id != child_id),
        exclusions=tuple(e for e in ds.exclusions if e.child_id != child_id),
        keep_away=tuple(k for k in ds.keep_away if k.child_id != child_id),
        placements=tuple(p for p in ds.placements if p.child_id != child_id),
    )


def _with_placements(ds: Dataset, placements: tuple[Placement, ...]) -> Dataset:
    """The dataset with a placements.csv, every option's occupied places being exactly its
    active placements (the contract's rule for a file that has one)."""
    institutions = {i.institution_id for i in ds.institutions}
    counts = occupancy_by_pool(placements, institutions)
    return replace(
        ds,
        families=tuple(replace(f, occupied=counts.get(f.family_id, 0)) for f in ds.families),
        institutions=tuple(
            replace(
                i,
                occupied=counts.get(i.institution_id, 0),
                combination_occupied=counts.get(combination_pool(i.institution_id), 0),
            )
            for i in ds.institutions
        ),
        placements=placements,
    )


def _single_child(env: Env, skip: int = 0) -> str:
    return [
        c.child_id
        for c in env.dataset.children
        if c.kommune_code == "751"
        and not c.sibling_group
        and any(
            p["kind"] in ("foster", "institution")
            for p in env.client.post(
                f"/v1/children/{c.child_id}/proposals",
                json={"top": 50},
                headers=env.auth("coordinator"),
            ).json()["proposals"]
        )
    ][skip]


def _hold(env: Env, cid: str) -> dict[str, Any]:
    option = next(
        p
        for p in env.client.post(
            f"/v1/children/{cid}/proposals", json={"top": 50}, headers=env.auth("coordinator")
        ).json()["proposals"]
        if p["kind"] in ("foster", "institution")
    )
    r = env.client.post(
        "/v1/reservations",
        json={"child_id": cid, "option_id": option["option_id"], "kind": option["kind"]},
        headers=env.auth("coordinator"),
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _confirm(env: Env, cid: str) -> dict[str, Any]:
    hold = _hold(env, cid)
    r = env.client.post(f"/v1/reservations/{hold['id']}/confirm", headers=env.auth("coordinator"))
    assert r.status_code == 200, r.text
    return hold


def test_the_same_files_again_change_nothing(env: Env, tmp_path: Path) -> None:
    write_dataset(env.dataset, tmp_path / "files")
    result = _import(env, tmp_path / "files", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert all(not (f["added"] or f["changed"] or f["removed"]) for f in report["files"])
    assert report["kept_placements"] == 0 and report["warnings"] == []


def test_reimport_after_a_confirmed_placement_loses_nothing(env: Env, tmp_path: Path) -> None:
    placed = _single_child(env)
    hold = _confirm(env, placed)
    held = _hold(env, _single_child(env, skip=1))
    env.client.get(f"/v1/children/{placed}", headers=env.auth("coordinator"))
    counts = {t: _count(env, t) for t in (PlacementRow, Reservation, ApiKey, LiveHold)}
    audit = _count(env, AuditEntry)
    with sessionmaker(env.engine)() as s:
        pool = s.get_one(CapacityPool, hold["option_id"])
        occupied = pool.occupied
    write_dataset(env.dataset, tmp_path / "files")  # the kommune's files know nothing of it
    result = _import(env, tmp_path / "files")
    assert result.exit_code == 0, result.output
    assert {t: _count(env, t) for t in counts} == counts
    assert _count(env, AuditEntry) >= audit
    assert "1 placement(s) in the database are not in placements.csv" in result.output
    assert f"occupied {occupied - 1} is lower than the 1 active placement" in result.output
    with sessionmaker(env.engine)() as s:
        assert s.get_one(CapacityPool, hold["option_id"]).occupied == occupied
        row = s.scalars(select(PlacementRow).where(PlacementRow.child_id == placed)).one()
        assert row.status == "active" and row.reservation_id == hold["id"]
    # The keys and the hold still work after the import.
    confirm = env.client.post(
        f"/v1/reservations/{held['id']}/confirm", headers=env.auth("coordinator")
    )
    assert confirm.status_code == 200, confirm.text


def test_a_dry_run_prints_the_diff_and_writes_nothing(env: Env, tmp_path: Path) -> None:
    gone = _single_child(env)
    family = env.dataset.families[0]
    changed = replace(
        _without_child(env.dataset, gone),
        families=(replace(family, places=family.places + 1), *env.dataset.families[1:]),
    )
    write_dataset(changed, tmp_path / "files")
    result = _import(env, tmp_path / "files", "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    files = {f["file"]: f for f in json.loads(result.stdout)["files"]}
    assert files["children.csv"]["removed"] == [gone]
    assert files["families.csv"]["changed"] == [family.family_id]
    with sessionmaker(env.engine)() as s:
        assert s.get(ChildRow, gone) is not None
        assert s.get_one(CapacityPool, family.family_id).places == family.places
    table = _import(env, tmp_path / "files", "--dry-run")
    assert "dry run: nothing written" in table.output and f"-{gone}" in table.output
    applied = _import(env, tmp_path / "files")
    assert applied.exit_code == 0, applied.output
    with sessionmaker(env.engine)() as s:
        assert s.get(ChildRow, gone) is None
        assert s.get_one(CapacityPool, family.family_id).places == family.places + 1


def test_a_held_child_missing_from_the_files_blocks_the_import(env: Env, tmp_path: Path) -> None:
    cid = _single_child(env)
    hold = _hold(env, cid)
    other = _single_child(env, skip=1)
    write_dataset(_without_child(_without_child(env.dataset, cid), other), tmp_path / "files")
    before = _count(env, ChildRow)
    result = _import(env, tmp_path / "files")
    assert result.exit_code == 2
    assert f"child {cid} is missing from the file but has a live hold ({hold['id']})" in (
        result.output
    )
    # Only the rows in the way are named (as a word: a hold's random id may hold "c02").
    assert not re.search(rf"\b{re.escape(other)}\b", result.output)
    assert _count(env, ChildRow) == before  # nothing written, not even the free child's removal


def test_an_option_with_an_active_placement_missing_from_the_files_blocks(
    env: Env, tmp_path: Path
) -> None:
    cid = _single_child(env)
    hold = _confirm(env, cid)
    ds = env.dataset
    files = replace(
        ds,
        families=tuple(f for f in ds.families if f.family_id != hold["option_id"]),
        institutions=tuple(i for i in ds.institutions if i.institution_id != hold["option_id"]),
        exclusions=tuple(e for e in ds.exclusions if e.option_id != hold["option_id"]),
    )
    write_dataset(files, tmp_path / "files")
    result = _import(env, tmp_path / "files")
    assert result.exit_code == 2, result.output
    assert f"{hold['option_id']} is missing from the file but has an active placement of {cid}" in (
        result.output
    )
    with sessionmaker(env.engine)() as s:
        assert s.get(FamilyRow, hold["option_id"]) is not None or hold["kind"] == "institution"


def test_a_second_active_placement_in_the_file_blocks(env: Env, tmp_path: Path) -> None:
    from datetime import date

    cid = _single_child(env)
    hold = _confirm(env, cid)
    family = next(f for f in env.dataset.families if f.family_id != hold["option_id"])
    files = _with_placements(
        env.dataset, (Placement(cid, family.family_id, Kind.FOSTER, date(2026, 1, 5)),)
    )
    write_dataset(files, tmp_path / "files")
    result = _import(env, tmp_path / "files")
    assert result.exit_code == 2, result.output
    assert f"placements.csv row 2: child {cid} already has an active placement" in result.output


def test_the_file_ends_an_imported_placement_and_the_service_keeps_its_ending(
    env: Env, tmp_path: Path
) -> None:
    from datetime import date

    cid = _single_child(env)
    family = next(
        f for f in env.dataset.families if f.kommune_code == "751" and f.places > f.occupied
    )
    start = date(2025, 3, 1)
    placed = _with_placements(env.dataset, (Placement(cid, family.family_id, Kind.FOSTER, start),))
    write_dataset(placed, tmp_path / "placed")
    assert _import(env, tmp_path / "placed").exit_code == 0
    rows = env.client.get(f"/v1/children/{cid}/placements", headers=env.auth("coordinator"))
    (row,) = rows.json()
    ended = env.client.post(
        f"/v1/placements/{row['id']}/end",
        json={"end_reason": "breakdown"},
        headers=env.auth("coordinator"),
    )
    assert ended.status_code == 200, ended.text
    # The kommune's next export still says active: the service's ending stands.
    result = _import(env, tmp_path / "placed")
    assert result.exit_code == 0, result.output
    assert "the file's 'active' is ignored" in result.output
    (again,) = env.client.get(
        f"/v1/children/{cid}/placements", headers=env.auth("coordinator")
    ).json()
    assert again["status"] == "ended" and again["end_reason"] == "breakdown"
    # A file that records an ending applies it.
    closed = _with_placements(
        env.dataset,
        (
            Placement(
                cid,
                family.family_id,
                Kind.FOSTER,
                start,
                PlacementStatus.ENDED,
                date(2026, 2, 1),
                "hjemgivet",
            ),
        ),
    )
    write_dataset(closed, tmp_path / "closed")
    assert _import(env, tmp_path / "closed").exit_code == 0


@pytest.mark.slow
def test_make_run_works_any_number_of_times_on_one_database(tmp_path: Path) -> None:
    """`make run` is `api.demo`: generate, import, mint keys, serve; twice on one database."""
    data = tmp_path / "demo"
    made = runner.invoke(
        app,
        [
            "generate",
            "--children",
            "60",
            "--families",
            "80",
            "--institutions",
            "10",
            "--seed",
            "7",
            "--placements",
            "--out",
            str(data),
        ],
    )
    assert made.exit_code == 0, made.output
    env = os.environ | {"PLACEMENT_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "api.demo", "--data", str(data), "--no-serve"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "loaded with the demo dataset" in done.stderr


def test_a_child_with_placement_history_leaving_the_files_is_retired_not_deleted(
    env: Env, tmp_path: Path
) -> None:
    from api.db.mappers import load_from_db

    cid = _single_child(env)
    hold = _confirm(env, cid)
    (row,) = env.client.get(
        f"/v1/children/{cid}/placements", headers=env.auth("coordinator")
    ).json()
    ended = env.client.post(
        f"/v1/placements/{row['id']}/end",
        json={"end_reason": "home"},
        headers=env.auth("coordinator"),
    )
    assert ended.status_code == 200, ended.text
    write_dataset(_without_child(env.dataset, cid), tmp_path / "files")
    result = _import(env, tmp_path / "files", "--format", "json")
    assert result.exit_code == 0, result.output
    children = next(f for f in json.loads(result.stdout)["files"] if f["file"] == "children.csv")
    assert children["removed"] == [cid] and children["retired"] == [cid]
    with sessionmaker(env.engine)() as s:
        child = s.get_one(ChildRow, cid)
        assert child.retired_on is not None
        assert s.scalars(select(PlacementRow).where(PlacementRow.child_id == cid)).one()
        assert cid not in {c.child_id for c in load_from_db(s).children}
        # Every placement's child and option still exist.
        for p in s.scalars(select(PlacementRow)):
            assert s.get(ChildRow, p.child_id) is not None
        assert hold["option_id"]
    # Back in the files, the child is a current case again.
    write_dataset(env.dataset, tmp_path / "back")
    assert _import(env, tmp_path / "back").exit_code == 0
    with sessionmaker(env.engine)() as s:
        assert s.get_one(ChildRow, cid).retired_on is None


def test_an_option_with_placement_history_leaving_the_files_is_retired(
    env: Env, tmp_path: Path
) -> None:
    cid = _single_child(env)
    hold = _confirm(env, cid)
    (row,) = env.client.get(
        f"/v1/children/{cid}/placements", headers=env.auth("coordinator")
    ).json()
    env.client.post(
        f"/v1/placements/{row['id']}/end",
        json={"end_reason": "breakdown"},
        headers=env.auth("coordinator"),
    )
    option = hold["option_id"]
    ds = env.dataset
    files = replace(
        ds,
        families=tuple(f for f in ds.families if f.family_id != option),
        institutions=tuple(i for i in ds.institutions if i.institution_id != option),
        exclusions=tuple(e for e in ds.exclusions if e.option_id != option),
    )
    write_dataset(files, tmp_path / "files")
    result = _import(env, tmp_path / "files", "--format", "json")
    assert result.exit_code == 0, result.output
    retired = {f["file"]: f["retired"] for f in json.loads(result.stdout)["files"]}
    assert option in retired["families.csv"] + retired["institutions.csv"]
    # Lists and the capacity overview leave it out and still answer.
    for path, who in (("/v1/families", "consultant"), ("/v1/institutions", "consultant")):
        listed = env.client.get(path, headers=env.auth(who))
        assert listed.status_code == 200, listed.text
        assert option not in listed.text
    assert env.client.get("/v1/capacity", headers=env.auth("consultant")).status_code == 200
    props = env.client.post(
        f"/v1/children/{cid}/proposals", json={"top": 500}, headers=env.auth("coordinator")
    ).json()["proposals"]
    assert option not in {p["option_id"] for p in props}
