"""`placement policies`, `review` and `simulate`: profiles, the step-down review and the
year simulation."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli.common import (
    DataOpt,
    Format,
    FormatOpt,
    GeoOpt,
    InputError,
    PolicyOpt,
    app,
    emit_json,
    load,
    out,
    parse_date,
    save_json,
    user_errors,
)
from api.cli.render import render_review, render_simulation
from matcher.policy import AUTO, load_policy_set

__all__ = ["policies", "review", "simulate"]


@app.command()
def policies(
    name: Annotated[
        str | None, typer.Argument(help="Show this profile with the source of each setting.")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List the policy profiles, or show one with the passage each setting comes from."""
    from api.reports.report import flatten
    from matcher.policy import list_policies, load_policy, policy_sources

    with user_errors():
        if name is None:
            rows = [load_policy(p.stem) for p in list_policies()]
            if fmt is Format.json:
                emit_json({"policies": [_policy_summary(p) for p in rows]})
                return
            table = Table(title="Policy profiles (a child's acting kommune selects its profile)")
            for column in ("name", "kommune", "description"):
                table.add_column(column)
            for p in rows:
                table.add_row(p.name, p.kommune or "(all others)", p.description)
            out.print(table)
            return
        policy = load_policy(name)
        sources = policy_sources(name)
    if fmt is Format.json:
        emit_json({**policy.as_dict(), "sources": sources})
        return
    out.print(f"[bold]{policy.name}[/] — {policy.description}", highlight=False)
    table = Table(show_lines=False)
    for column in ("setting", "value", "source"):
        table.add_column(column, overflow="fold")
    default_sources = policy_sources("default")
    for key, value in flatten(policy.as_dict()).items():
        if key in ("name", "description", "kommune_code"):
            continue
        source = sources.get(key)
        table.add_row(
            key,
            str(value),
            source if source is not None else f"(inherits default) {default_sources.get(key, '')}",
        )
    out.print(table)


def _policy_summary(p: Any) -> dict[str, Any]:
    return {"name": p.name, "kommune_code": p.kommune, "description": p.description}


@app.command()
def review(
    data: DataOpt,
    as_of: Annotated[str, typer.Option("--as-of", help="Review date, YYYY-MM-DD.")],
    kommune: Annotated[
        list[str] | None, typer.Option("--kommune", help="Children acting in these kommuner.")
    ] = None,
    child: Annotated[list[str] | None, typer.Option("--child", help="These children.")] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Step-down proposals each.")] = 3,
    policy: PolicyOpt = AUTO,
    fmt: FormatOpt = Format.table,
    geodata: GeoOpt = None,
) -> None:
    """Follow-ups due and step-down proposals for every active placement."""
    from matcher.rank import Matcher
    from matcher.review import review as run_review

    with user_errors():
        dataset = load(data, geodata)
        day = parse_date(as_of, "--as-of")
        assert day is not None
        unknown = [c for c in child or () if c not in dataset.active_placement]
        if unknown:
            raise InputError(f"--child {unknown[0]}: no active placement in placements.csv")
        matcher = Matcher(dataset, load_policy_set(policy))
        report = run_review(matcher, day, kommune, child, top)
    if fmt is Format.json:
        emit_json(report.as_dict())
    else:
        render_review(report)


@app.command()
def simulate(
    data: DataOpt,
    months: Annotated[int, typer.Option("--months", min=1, max=120)] = 12,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    start: Annotated[
        str | None, typer.Option("--start", help="First month, YYYY-MM-DD; default today.")
    ] = None,
    arrivals: Annotated[
        int | None,
        typer.Option("--arrivals", min=0, help="Children arriving a month; default backlog/12."),
    ] = None,
    accept: Annotated[
        float, typer.Option("--accept", min=0.0, max=1.0, help="P(step-down accepted).")
    ] = 0.5,
    end: Annotated[
        float, typer.Option("--end", min=0.0, max=1.0, help="Monthly P(a placement ends).")
    ] = 0.02,
    policy: PolicyOpt = AUTO,
    fmt: FormatOpt = Format.table,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Also write the JSON result to this file.")
    ] = None,
    geodata: GeoOpt = None,
) -> None:
    """Simulate months of arrivals, matching, step-downs and endings (deterministic by seed)."""
    from matcher.simulate import SimulationParams
    from matcher.simulate import simulate as run_simulation

    with user_errors():
        dataset = load(data, geodata)
        first = parse_date(start, "--start") or date.today()
        result = run_simulation(
            dataset,
            load_policy_set(policy),
            first,
            SimulationParams(months, seed, arrivals, accept, end),
        )
    if out_file is not None:
        save_json(result.as_dict(), out_file)
    if fmt is Format.json:
        emit_json(result.as_dict())
        return
    render_simulation(result, seed, policy)
