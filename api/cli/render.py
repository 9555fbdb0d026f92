"""Human-readable tables of the CLI's results (JSON output is the results' `as_dict`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from api.cli.common import err, out

if TYPE_CHECKING:  # types only: each command loads what it renders (the simulation alone
    # would bring the batch solvers, ortools and pandas into every command's start-up)
    from api.db.sync import SyncReport
    from matcher.rank import Ranking
    from matcher.review import ReviewReport
    from matcher.simulate import SimulationResult

__all__ = [
    "TIER_NAMES",
    "render_match",
    "render_ranking",
    "render_review",
    "render_simulation",
    "render_sync",
]

TIER_NAMES = {
    1: "1 netværk",
    2: "2 plejefamilie",
    3: "3 kombination",
    4: "4 institution",
}


def render_ranking(ranking: Ranking, why_not: bool, console: Console = out) -> None:
    who = (
        ranking.child_id
        if not ranking.sibling_group
        else (f"sibling group {ranking.sibling_group} ({', '.join(ranking.children)})")
    )
    console.print(
        f"[bold]Proposals for {who}[/] — policy {ranking.policy}, "
        f"as of {ranking.as_of}, {ranking.eligible} eligible",
        highlight=False,
    )
    table = Table(show_lines=False)
    for column in (
        "#",
        "tier",
        "option",
        "what",
        "score",
        "school km",
        "daycare km",
        "home km",
        "free",
        "warnings",
        "terms",
    ):
        table.add_column(column, justify="right" if column.endswith("km") else "left")
    for p in ranking.proposals:
        km = p.distance_km
        table.add_row(
            str(p.rank),
            TIER_NAMES[p.tier],
            p.option_id,
            p.label,
            f"{p.score:.2f}",
            *("-" if km[k] is None else f"{km[k]:.1f}" for k in ("school", "daycare", "home")),
            str(p.free_places),
            ", ".join(p.warnings) or "-",
            ", ".join(f"{k} {v:+.2f}" for k, v in p.terms.items() if v),
        )
    console.print(table)
    if not ranking.proposals:
        console.print("No eligible option: see the reasons below.")
    reasons = ", ".join(f"{k} {v}" for k, v in ranking.excluded.items()) or "none"
    console.print(f"Excluded by reason: {reasons}", highlight=False)
    if why_not and ranking.excluded_options is not None:
        why = Table(title="Why not")
        for column in ("option", "kind", "reasons"):
            why.add_column(column)
        for row in ranking.excluded_options:
            why.add_row(row["option_id"], row["kind"], ", ".join(row["reasons"]))
        console.print(why)


def render_match(payload: dict[str, Any], console: Console = out) -> None:
    obj = payload["objective"]
    console.print(
        f"[bold]{payload['status']}[/] by {payload['solver']} in {payload['seconds']:.2f} s — "
        f"placed {obj['placed']}, tier 1 {obj['tier1']}, tier 2 {obj['tier2']}, "
        f"tier 3 {obj['tier3']}, score {obj['score']:.2f}, "
        f"gap {'unknown' if payload['gap'] is None else format(payload['gap'], '.4%')}",
        highlight=False,
    )
    for note in payload["notes"]:
        console.print(f"  note: {note}", highlight=False)
    kpis = Table(title="KPIs")
    kpis.add_column("KPI")
    kpis.add_column("value")
    for key, value in payload["kpis"].items():
        kpis.add_row(key, json.dumps(value, ensure_ascii=False))
    console.print(kpis)
    console.print(
        f"{len(payload['assignments'])} children assigned, "
        f"{len(payload['unassigned'])} unassigned (see --format json or --out)."
    )


def render_review(report: ReviewReport, console: Console = out) -> None:
    s = report.summary
    console.print(
        f"[bold]Review {report.as_of.isoformat()}[/]: {s.active} active placements — follow-ups "
        f"overdue {s.follow_ups_overdue}, due {s.follow_ups_due}; step-down review "
        f"reached {s.reviews_reached} (with proposal {s.with_proposal}, without "
        f"{s.without_proposal})",
        highlight=False,
    )
    table = Table()
    for column in (
        "child",
        "placement",
        "since",
        "months",
        "policy",
        "follow-up",
        "next",
        "DKK/month",
        "step-down",
    ):
        table.add_column(column, justify="right" if column == "DKK/month" else "left")
    for r in report.placements:
        fu, st = r.follow_up, r.step_down
        if not st.reached:
            step = f"review {st.review_date.isoformat()}" if st.review_date else "-"
        elif st.proposals:
            p = st.proposals[0]
            kept = p["changes"].get("school_kept")
            step = (
                f"{p['kind']} {p['option_id']} ({len(st.proposals)} proposals; school "
                f"{'kept' if kept else 'changes' if kept is False else 'n/a'}"
            )
            if "monthly_cost_change" in p:
                step += f"; DKK/month {p['monthly_cost_change']:+,.0f}"
            step += ")"
        else:
            step = (st.reason or "") + (
                " (" + ", ".join(f"{k} {v}" for k, v in list(st.excluded.items())[:3]) + ")"
                if st.excluded
                else ""
            )
        status = fu.status + (f" ({len(fu.overdue)} missed)" if fu.overdue else "")
        table.add_row(
            r.child_id,
            f"{r.kind.value} {r.option_id}",
            r.start_date.isoformat(),
            str(r.months_in_placement),
            r.policy,
            status,
            fu.next.isoformat(),
            "-" if r.monthly_cost is None else f"{r.monthly_cost:,.0f}",
            step,
        )
    console.print(table)


def render_simulation(
    result: SimulationResult, seed: int, policy: str, console: Console = out
) -> None:
    table = Table(title=f"Simulation from {result.start.isoformat()}, seed {seed}, policy {policy}")
    for column in (
        "month",
        "arrived",
        "placed net/fos/comb/inst",
        "stepped down",
        "went home",
        "active net/fos/comb/inst",
        "waiting",
        "follow-ups due",
        "inst. stepped down in window",
    ):
        table.add_column(column, justify="right")
    for m in result.months:
        share = m.institution_stepped_down_share
        table.add_row(
            m.day.isoformat(),
            str(m.arrived),
            "/".join(str(v) for v in m.placed.values()),
            str(m.stepped_down),
            str(m.went_home),
            "/".join(str(v) for v in m.active_by_kind.values()),
            str(m.waiting),
            str(m.follow_ups_due),
            "" if share is None else f"{share:.1%}",
        )
    console.print(table)


def render_sync(report: SyncReport, dry_run: bool) -> None:
    """What an import changes (or would change, on a dry run), file by file."""
    table = Table(title="import (dry run: nothing written)" if dry_run else "import")
    for column in ("file", "added", "changed", "removed", "ids"):
        table.add_column(column)
    for diff in report.diffs:
        ids = [f"+{i}" for i in diff.added] + [f"~{i}" for i in diff.changed]
        ids += [f"-{i}" for i in diff.removed]
        shown = " ".join(ids[:8]) + (f" (+{len(ids) - 8} more)" if len(ids) > 8 else "")
        table.add_row(
            diff.file, str(len(diff.added)), str(len(diff.changed)), str(len(diff.removed)), shown
        )
    out.print(table)
    if report.kept_placements:
        out.print(
            f"{report.kept_placements} placement(s) in the database are not in placements.csv "
            "and are kept (confirmed, moved or ended through the service)",
            highlight=False,
        )
    for warning in report.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
