"""The `placement` command line: JSON shape, tables, and exit code 2 with clear messages."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from tests.models.test_dataset import CASES, _edit

runner = CliRunner()


def test_generate_is_deterministic_by_seed(tmp_path: Path) -> None:
    for name in ("a", "b"):
        result = runner.invoke(
            app,
            [
                "generate",
                "--children",
                "50",
                "--families",
                "60",
                "--institutions",
                "8",
                "--seed",
                "5",
                "--out",
                str(tmp_path / name),
            ],
        )
        assert result.exit_code == 0, result.output
    for file in ("children.csv", "network.csv", "families.csv", "institutions.csv"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()


def test_generate_in_chosen_kommuner(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "generate",
            "--children",
            "30",
            "--families",
            "40",
            "--institutions",
            "5",
            "--kommune",
            "727",
            "--kommune",
            "707",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    with (tmp_path / "families.csv").open() as handle:
        assert {row["kommune_code"] for row in csv.DictReader(handle)} <= {"727", "707"}
    bad = runner.invoke(app, ["generate", "--kommune", "999", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "999" in bad.output


def test_rank_json_shape(small_dir: Path) -> None:
    result = runner.invoke(
        app,
        [
            "rank",
            "--data",
            str(small_dir),
            "--child",
            "c001",
            "--top",
            "3",
            "--format",
            "json",
            "--as-of",
            "2026-11-01",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert {"child_id", "sibling_group", "policy", "proposals", "excluded"} <= set(body)
    assert "excluded_options" not in body
    assert body["child_id"] == "c001" and body["policy"] == "default"
    assert len(body["proposals"]) <= 3
    for p in body["proposals"]:
        assert {
            "rank",
            "option_id",
            "kind",
            "tier",
            "score",
            "terms",
            "distance_km",
            "free_places",
            "warnings",
        } <= set(p)
        assert set(p["distance_km"]) == {"school", "daycare", "home"}
        assert p["kind"] in ("network", "foster", "combination", "institution")


def test_rank_why_not_lists_excluded_options(small_dir: Path) -> None:
    result = runner.invoke(
        app,
        [
            "rank",
            "--data",
            str(small_dir),
            "--child",
            "c002",
            "--why-not",
            "--format",
            "json",
            "--as-of",
            "2026-11-01",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["excluded_options"]
    assert sum(len(r["reasons"]) for r in body["excluded_options"]) == sum(
        body["excluded"].values()
    )


def test_rank_table_names_tiers_in_words(small_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["rank", "--data", str(small_dir), "--child", "c003", "--why-not", "--as-of", "2026-11-01"],
    )
    assert result.exit_code == 0, result.output
    assert "Proposals for" in result.stdout and "Excluded by reason" in result.stdout
    assert any(
        w in result.stdout for w in ("netværk", "plejefamilie", "kombination", "institution")
    )


@pytest.mark.parametrize(
    ("file", "row", "column", "value", "words"),
    [c for c in CASES if c[2] not in ("min_age", "child_id")],
)
def test_every_validation_error_exits_2_with_its_message(
    small_dir: Path, tmp_path: Path, file, row, column, value, words
) -> None:
    _edit(small_dir, tmp_path, file, row, column, value)
    result = runner.invoke(app, ["rank", "--data", str(tmp_path), "--child", "c001"])
    assert result.exit_code == 2
    assert f"{file}, row {row}, column {column}" in result.output
    assert words in result.output
    assert "Traceback" not in result.output


def test_bad_options_exit_2(small_dir: Path) -> None:
    unknown = runner.invoke(app, ["rank", "--data", str(small_dir), "--child", "zzz"])
    assert unknown.exit_code == 2 and "zzz" in unknown.output
    bad_date = runner.invoke(
        app, ["rank", "--data", str(small_dir), "--child", "c001", "--as-of", "tomorrow"]
    )
    assert bad_date.exit_code == 2 and "ISO date" in bad_date.output
    bad_policy = runner.invoke(
        app, ["rank", "--data", str(small_dir), "--child", "c001", "--policy", "nowhere"]
    )
    assert bad_policy.exit_code == 2 and "nowhere" in bad_policy.output


@pytest.mark.slow
def test_console_script_runs_in_a_real_process(small_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(small_dir, tmp_path, dirs_exist_ok=True)
    (tmp_path / "children.csv").write_text("child_id,age\nx,1\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "api.cli", "rank", "--data", str(tmp_path), "--child", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "children.csv, row 1, column kommune_code" in proc.stderr


def test_match_json_shape_and_out_file(small_dir: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "result.json"
    result = runner.invoke(
        app,
        [
            "match",
            "--data",
            str(small_dir),
            "--format",
            "json",
            "--as-of",
            "2026-11-01",
            "--time-limit",
            "30",
            "--out",
            str(out_file),
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert json.loads(out_file.read_text()) == body
    assert {
        "status",
        "solver",
        "seconds",
        "objective",
        "bound",
        "gap",
        "assignments",
        "unassigned",
        "kpis",
    } <= set(body)
    assert body["status"] in ("OPTIMAL", "FEASIBLE")
    assert set(body["objective"]) == {"placed", "together", "tier1", "tier2", "tier3", "score"}
    for row in body["assignments"]:
        assert {"child_id", "option_id", "kind", "tier", "score"} <= set(row)
    for row in body["unassigned"]:
        assert {"child_id", "reasons"} <= set(row) and row["reasons"]
    for kpi in (
        "placed_share",
        "share_by_kind",
        "share_by_foster_level",
        "km_to_school",
        "km_to_daycare",
        "km_to_home",
        "school_change_share",
        "sibling_groups",
        "placed_in_own_kommune_share",
        "free_places_left",
        "institution_daily_cost_dkk",
    ):
        assert kpi in body["kpis"]


def test_match_table_and_greedy(small_dir: Path) -> None:
    result = runner.invoke(
        app, ["match", "--data", str(small_dir), "--solver", "greedy", "--as-of", "2026-11-01"]
    )
    assert result.exit_code == 0, result.output
    assert "FEASIBLE by greedy" in result.stdout and "KPIs" in result.stdout


def test_match_bad_input_exits_2(small_dir: Path) -> None:
    flow = runner.invoke(app, ["match", "--data", str(small_dir), "--solver", "flow"])
    assert flow.exit_code == 2 and "sibling groups" in flow.output
    unknown = runner.invoke(app, ["match", "--data", str(small_dir), "--children", "zz9"])
    assert unknown.exit_code == 2 and "zz9" in unknown.output
    kommune = runner.invoke(app, ["match", "--data", str(small_dir), "--kommune", "999"])
    assert kommune.exit_code == 2 and "999" in kommune.output


def test_import_export_round_trip_is_lossless(small_dir: Path, tmp_path: Path, gazetteer) -> None:
    from models.dataset import load_dataset

    url = f"sqlite:///{tmp_path / 'round.sqlite3'}"
    imported = runner.invoke(app, ["import", "--data", str(small_dir), "--database", url])
    assert imported.exit_code == 0, imported.output
    exported = runner.invoke(app, ["export", "--out", str(tmp_path / "out"), "--database", url])
    assert exported.exit_code == 0, exported.output
    assert load_dataset(tmp_path / "out", gazetteer) == load_dataset(small_dir, gazetteer)


def test_placements_survive_an_import_export_round_trip(tmp_path: Path, gazetteer) -> None:
    from models.dataset import load_dataset

    data = tmp_path / "placed"
    made = runner.invoke(
        app,
        [
            "generate",
            "--children",
            "20",
            "--families",
            "30",
            "--institutions",
            "5",
            "--seed",
            "3",
            "--placements",
            "--out",
            str(data),
        ],
    )
    assert made.exit_code == 0, made.output
    original = load_dataset(data, gazetteer)
    assert original.placements
    url = f"sqlite:///{tmp_path / 'placed.sqlite3'}"
    imported = runner.invoke(app, ["import", "--data", str(data), "--database", url])
    assert imported.exit_code == 0, imported.output
    assert f"{len(original.placements)} placements" in imported.output
    out = tmp_path / "out"
    exported = runner.invoke(app, ["export", "--out", str(out), "--database", url])
    assert exported.exit_code == 0, exported.output
    assert load_dataset(out, gazetteer) == original


def test_import_refuses_an_invalid_dataset_and_writes_nothing(
    small_dir: Path, tmp_path: Path
) -> None:
    _edit(small_dir, tmp_path / "bad", "children.csv", 2, "age", "x")
    url = f"sqlite:///{tmp_path / 'none.sqlite3'}"
    result = runner.invoke(app, ["import", "--data", str(tmp_path / "bad"), "--database", url])
    assert result.exit_code == 2 and "children.csv, row 2, column age" in result.output
    assert not (tmp_path / "none.sqlite3").exists()


def test_keys_create_prints_a_key_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keys.sqlite3'}"
    result = runner.invoke(
        app, ["keys", "create", "--role", "planner", "--kommune", "860", "--database", url]
    )
    assert result.exit_code == 0 and result.stdout.startswith("pk_")
    bad = runner.invoke(app, ["keys", "create", "--role", "boss", "--database", url])
    assert bad.exit_code == 2 and "coordinator" in bad.output


def test_policies_list_and_show_with_sources() -> None:
    listed = runner.invoke(app, ["policies", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    names = [p["name"] for p in json.loads(listed.stdout)["policies"]]
    assert names[0] == "default" and {"hjoerring", "odder", "hvidovre", "norddjurs"} <= set(names)
    shown = runner.invoke(app, ["policies", "odder", "--format", "json"])
    payload = json.loads(shown.stdout)
    assert payload["local_km"]["foster"] == 50.0
    assert "nærmiljø" in payload["sources"]["local_km.foster"]
    table = runner.invoke(app, ["policies", "odder"])
    assert "(inherits default)" in table.stdout and "line 123" in table.stdout
    bad = runner.invoke(app, ["policies", "aarhus"])
    assert bad.exit_code == 2 and "does not exist" in bad.output


def test_review_and_simulate_on_a_generated_dataset_with_placements(tmp_path: Path) -> None:
    data = tmp_path / "placed"
    made = runner.invoke(
        app,
        [
            "generate",
            "--children",
            "30",
            "--families",
            "40",
            "--institutions",
            "6",
            "--seed",
            "2",
            "--placements",
            "--out",
            str(data),
        ],
    )
    assert made.exit_code == 0, made.output
    result = runner.invoke(
        app, ["review", "--data", str(data), "--as-of", "2026-11-01", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    with (data / "placements.csv").open(encoding="utf-8") as handle:
        active = [r for r in csv.DictReader(handle) if r["status"] == "active"]
    assert payload["summary"]["active"] == len(active) == len(payload["placements"])
    for row in payload["placements"]:
        step = row["step_down"]
        assert step["reached"] or not step["proposals"]
        assert all(p["tier"] < row["tier"] for p in step["proposals"])
    table = runner.invoke(app, ["review", "--data", str(data), "--as-of", "2026-11-01"])
    assert table.exit_code == 0 and "active placements" in table.stdout
    bad = runner.invoke(app, ["review", "--data", str(data), "--as-of", "soon"])
    assert bad.exit_code == 2 and "--as-of" in bad.output
    sim = runner.invoke(
        app,
        [
            "simulate",
            "--data",
            str(data),
            "--months",
            "2",
            "--seed",
            "1",
            "--start",
            "2026-11-01",
            "--format",
            "json",
        ],
    )
    assert sim.exit_code == 0, sim.output
    months = json.loads(sim.stdout)["months"]
    assert [m["month"] for m in months] == [1, 2]
    assert all(m["children_accounted"] == m["children_total"] for m in months)


def test_json_output_reads_back_as_the_payload_with_danish_letters_as_they_are() -> None:
    import json

    from api.cli.common import json_text

    payload = {"navn": "Søs Ærø", "km": [0.1, 137637.79, 1e-05], "n": 3, "none": None}
    text = json_text(payload)
    assert json.loads(text) == payload
    assert "Søs Ærø" in text and text.startswith('{\n  "navn"')
    huge = {"n": 2**70}  # orjson refuses integers past 64 bits: the stdlib writes them
    assert json.loads(json_text(huge)) == huge
    assert json.loads(json_text({"x": float("nan")})) == {"x": None}  # valid JSON, not NaN
