"""Key figures for the committee: counted from the placements recorded in the service, per
month and kommune, on the page (real HTTP), as files, and from `placement keyfigures`."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from api.cli import app
from api.db.engine import session_scope
from api.db.orm import ChildRow, PlacementRow
from api.services.caller import Principal, Role
from api.services.keyfigures import KeyFigures, key_figures
from matcher.economy import DAYS_PER_MONTH
from tests.api.conftest import Env
from tests.api.test_web_planner import assert_no_raw, signed_in, site  # noqa: F401

START, END = date(2020, 1, 1), date(2020, 12, 31)


def figures(env: Env) -> KeyFigures:
    who = Principal(0, Role.PLANNER, frozenset({"751"}))
    with session_scope(env.service.read_sessions) as session:
        return key_figures(session, env.service, who, START, END)


def month(f: KeyFigures, m: str) -> dict[str, Any]:
    return next(r for r in f.rows if r.month == m).as_dict()


def record(env: Env) -> dict[str, str]:
    """Five placements in 2020 of children of 751 (the generated ones are later)."""
    kids = [c.child_id for c in env.dataset.children if c.kommune_code == "751"][:5]
    inst = env.dataset.institutions[0]
    family = next(f for f in env.dataset.families if f.kommune_code == "751")
    rows = [
        (
            kids[0],
            inst.institution_id,
            "institution",
            date(2020, 1, 10),
            "step_down",
            date(2020, 6, 1),
        ),
        (kids[1], inst.institution_id, "institution", date(2020, 2, 1), "", None),
        (kids[2], family.family_id, "foster", date(2020, 3, 5), "", None),
        (kids[3], "n-x", "network", date(2020, 1, 15), "breakdown", date(2020, 4, 20)),
        (kids[4], family.family_id, "foster", date(2020, 1, 2), "moved", date(2020, 4, 2)),
    ]
    with session_scope(sessionmaker(env.engine)) as s:
        s.execute(update(ChildRow).where(ChildRow.child_id == kids[2]).values(acute=True))
        for child, option, kind, start, reason, end in rows:
            s.add(
                PlacementRow(
                    child_id=child,
                    option_id=option,
                    kind=kind,
                    start_date=start,
                    status="ended" if end else "active",
                    end_date=end,
                    end_reason=reason,
                    last_follow_up=None,
                )
            )
    return {"institution": inst.institution_id, "family": family.family_id}


def test_key_figures_count_the_recorded_placements(env: Env) -> None:
    before = figures(env)
    ids = record(env)
    after = figures(env)
    assert [r.month for r in after.rows] == [f"2020-{m:02d}" for m in range(1, 13)]

    def diff(m: str, key: str) -> float:
        return month(after, m)[key] - month(before, m)[key]

    march = (month(after, "2020-03"), month(before, "2020-03"))
    assert {
        k: march[0]["active_by_kind"][k] - march[1]["active_by_kind"][k]
        for k in march[0]["active_by_kind"]
    } == {
        "network": 1,
        "foster": 2,
        "combination": 0,
        "institution": 2,
    }
    assert diff("2020-03", "new") == 1 and diff("2020-03", "acute") == 1
    assert diff("2020-04", "breakdowns") == 1 and diff("2020-04", "moves") == 1
    assert diff("2020-05", "active") == 3  # network ended in April, one foster moved
    # Step-down within 8 months: of the two institution placements started in the 12 months
    # up to 8 months before October's end, one stepped down (in June).
    assert diff("2020-10", "stepped_down_of") == 2 and diff("2020-10", "stepped_down_within") == 1
    # Cost: the institution's own daily rate or the default, the foster fee by level.
    policy = env.service.policies.for_kommune("751").costs
    assert policy is not None
    inst = next(i for i in env.dataset.institutions if i.institution_id == ids["institution"])
    daily = inst.daily_rate or policy.institution_daily_dkk
    family = next(f for f in env.dataset.families if f.family_id == ids["family"])
    expected = (
        2 * daily * DAYS_PER_MONTH
        + 2 * policy.foster_monthly_dkk[family.level.label]
        + policy.network_monthly_dkk
    )
    assert abs(diff("2020-03", "monthly_cost_dkk") - expected) <= 2


def test_key_figures_page_and_files_in_danish(env: Env, site: str) -> None:  # noqa: F811
    record(env)
    client = signed_in(site, env.keys["planner"])
    page = client.get("/ui/keyfigures", params={"from": "2020-01-01", "to": "2020-12-31"})
    assert page.status_code == 200, page.text[:500]
    text = page.text
    assert "Nøgletal for anbringelser" in text and "01-01-2020 til 31-12-2020" in text
    assert text.count("<svg") >= 4
    assert "Familiebaseret andel" in text and "Trappet ned inden for målet" in text
    assert re.search(r"\d{1,3}(\.\d{3})* kr\.", text)
    assert "03-2020" in text
    assert_no_raw(text)
    csv_file = client.get(
        "/ui/keyfigures", params={"from": "2020-01-01", "to": "2020-12-31", "format": "csv"}
    )
    assert csv_file.status_code == 200 and "attachment" in csv_file.headers["content-disposition"]
    assert csv_file.text.splitlines()[0].startswith("maaned;kommune;aktive")
    assert len(csv_file.text.splitlines()) == 13  # 12 months of 751
    md = client.get(
        "/ui/keyfigures", params={"from": "2020-01-01", "to": "2020-03-31", "format": "md"}
    )
    assert md.text.startswith("# Nøgletal for anbringelser, 01-01-2020 til 31-03-2020")
    bad = client.get("/ui/keyfigures", params={"from": "2020-05-01", "to": "2020-01-01"})
    assert bad.status_code == 422 and "Til: skal ligge efter Fra" in bad.text
    assert client.get("/ui/keyfigures", params={"kommune": "727"}).status_code == 403
    coordinator = signed_in(site, env.keys["coordinator"])
    assert coordinator.get("/ui/keyfigures").status_code == 403


def test_keyfigures_command_writes_markdown_html_and_csv(env: Env, tmp_path: Path) -> None:
    record(env)
    url = env.engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    base = ["keyfigures", "--from", "2020-01-01", "--to", "2020-06-30", "--database", url]
    md = runner.invoke(app, [*base, "--kommune", "751"])
    assert md.exit_code == 0, md.output
    assert "# Nøgletal for anbringelser, 01-01-2020 til 30-06-2020" in md.stdout
    assert "| 04-2020 | 751 |" in md.stdout
    page = tmp_path / "k.html"
    html = runner.invoke(app, [*base, "--format", "html", "--out", str(page)])
    assert html.exit_code == 0, html.output
    assert "<svg" in page.read_text(encoding="utf-8") and "lang='da'" in page.read_text()
    csv_out = runner.invoke(app, [*base, "--format", "csv", "--kommune", "751"])
    assert csv_out.exit_code == 0 and len(csv_out.stdout.splitlines()) == 7
    wrong = runner.invoke(
        app, ["keyfigures", "--from", "2020-13-01", "--to", "2020-12-01", "--database", url]
    )
    assert wrong.exit_code == 2 and "--from '2020-13-01'" in wrong.output
    backwards = runner.invoke(
        app, ["keyfigures", "--from", "2020-06-01", "--to", "2020-01-01", "--database", url]
    )
    assert backwards.exit_code == 2 and "--to" in backwards.output
    assert "Traceback" not in backwards.output
