"""`placement whatif`: the report's files and shapes, and exit 2 on a bad scenario file."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from api.reports.report import main_reason
from models.dataset import Dataset

runner = CliRunner()

PLAN = """
base = "{base}"
as_of = "2026-11-01"
seed = 3

[[scenario]]
name = "recruit"
description = "eight reinforced families"
  [[scenario.change]]
  type = "add_families"
  count = 8
  level = "forstaerket"
  places = 2
  kommuner = ["{kommune}"]

[[scenario]]
name = "tight"
policy = {{ limits_km = {{ foster = 10.0 }} }}

[[scenario]]
name = "gone"
  [[scenario.change]]
  type = "close_institution"
  ids = ["not-an-institution"]
"""


def write_plan(tmp_path: Path, small_dir: Path, small_dataset: Dataset, text: str = PLAN) -> Path:
    plan = tmp_path / "plan.toml"
    kommune = small_dataset.children[0].kommune_code
    plan.write_text(text.format(base=small_dir.as_posix(), kommune=kommune), encoding="utf-8")
    return plan


def test_whatif_writes_the_report(tmp_path: Path, small_dir: Path, small_dataset: Dataset) -> None:
    plan = write_plan(tmp_path, small_dir, small_dataset)
    out = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "whatif",
            str(plan),
            "--out",
            str(out),
            "--workers",
            "1",
            "--format",
            "json",
            "--lang",
            "en",
        ],
    )
    # One scenario names an institution that the base does not have: checked before solving.
    assert result.exit_code == 2, result.output
    assert "scenario 'gone', change 1 (close_institution), field 'ids'" in result.output
    assert not out.exists()

    plan.write_text(plan.read_text().split('[[scenario]]\nname = "gone"')[0], encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "whatif",
            str(plan),
            "--out",
            str(out),
            "--workers",
            "1",
            "--format",
            "json",
            "--lang",
            "en",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [s["name"] for s in payload["scenarios"]] == ["baseline", "recruit", "tight"]
    assert all(s["ok"] and s["status"] == "OPTIMAL" for s in payload["scenarios"])

    with (out / "kpis.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["kpi", "baseline", "recruit", "tight", "recruit Δ", "tight Δ"]
    table = {r[0]: r[1:] for r in rows[1:]}
    assert table["status"][:3] == ["OPTIMAL"] * 3
    placed = [int(v) for v in table["placed"][:3]]
    assert [int(v) for v in table["placed"][3:]] == [placed[1] - placed[0], placed[2] - placed[0]]
    for kpi in ("share_by_kind.network", "km_to_school.mean", "free_places_left.foster.almen"):
        assert kpi in table
    # Placing as many children as possible comes first, and recruiting only adds places.
    assert placed[1] >= placed[0]

    for name in ("baseline", "recruit", "tight"):
        with (out / "assignments" / f"{name}.csv").open(encoding="utf-8") as handle:
            assigned = list(csv.DictReader(handle))
        assert len(assigned) == int(table["placed"][["baseline", "recruit", "tight"].index(name)])
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| kpi | baseline | recruit | tight | recruit Δ | tight Δ |" in md
    page = (out / "report.html").read_text(encoding="utf-8")
    assert len(re.findall(r"<img [^>]*src='data:image/png;base64,", page)) == 4
    assert "http://" not in page and "https://" not in page  # opens without network


SIMULATED = """
base = "{base}"
as_of = "2026-11-01"
seed = 3

[simulate]
months = 3
arrivals = 2
accept = 1.0

[[scenario]]
name = "recruit"
  [[scenario.change]]
  type = "add_families"
  count = 6
  level = "almen"
  places = 2
  kommuner = ["{kommune}"]
"""


def test_whatif_shows_year_simulations_side_by_side(
    tmp_path: Path, small_dir: Path, small_dataset: Dataset
) -> None:
    plan = write_plan(tmp_path, small_dir, small_dataset, SIMULATED)
    out = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "whatif",
            str(plan),
            "--out",
            str(out),
            "--workers",
            "1",
            "--format",
            "json",
            "--lang",
            "en",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    for scenario in payload["scenarios"]:
        assert [m["month"] for m in scenario["trajectory"]] == [1, 2, 3]
        assert all(m["over_capacity"] == 0 for m in scenario["trajectory"])
    with (out / "trajectories.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["scenario"], r["month"]) for r in rows] == [
        (name, str(m)) for name in ("baseline", "recruit") for m in (1, 2, 3)
    ]
    waiting = {(r["scenario"], r["month"]): int(r["waiting"]) for r in rows}
    for scenario in payload["scenarios"]:
        for m in scenario["trajectory"]:
            assert waiting[(scenario["name"], str(m["month"]))] == m["waiting"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Year simulation per scenario" in page
    assert len(re.findall(r"<img [^>]*src='data:image/png;base64,", page)) == 5
    assert "children waiting for a place" in (out / "report.md").read_text(encoding="utf-8")


def test_a_bad_scenario_file_exits_2_naming_the_field(tmp_path: Path) -> None:
    plan = tmp_path / "bad.toml"
    plan.write_text(
        'base = "x"\n[[scenario]]\nname = "n"\n[[scenario.change]]\ntype = "add_families"\n'
        'level = "gold"\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["whatif", str(plan), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "scenario 'n', change 1 (add_families), field 'level': got 'gold'" in result.output
    assert "Traceback" not in result.output


def test_not_toml_exits_2(tmp_path: Path) -> None:
    plan = tmp_path / "bad.toml"
    plan.write_text("base = \n", encoding="utf-8")
    result = runner.invoke(app, ["whatif", str(plan)])
    assert result.exit_code == 2 and "not valid TOML" in result.output


def test_main_reason_prefers_taken_by_others_then_the_largest_count() -> None:
    assert main_reason({"reasons": {"TOO_FAR": 3, "TAKEN_BY_OTHERS": 1}}) == "TAKEN_BY_OTHERS"
    assert main_reason({"reasons": {"TOO_FAR": 3, "NO_CAPACITY": 5}}) == "NO_CAPACITY"
    assert main_reason({"reasons": {"TOO_FAR": 2, "NO_CAPACITY": 2}}) == "NO_CAPACITY"
    assert main_reason({"reasons": {}}) == "NO_OPTIONS"
