"""`placement whatif`: scenarios against a base dataset, on a process pool or Dask."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import Format, FormatOpt, GeoOpt, app, emit_json, err, fail, out, user_errors

__all__ = ["whatif"]


class Engine(StrEnum):
    local = "local"
    dask = "dask"


class Lang(StrEnum):
    da = "da"
    en = "en"


@app.command()
def whatif(
    file: Annotated[Path, typer.Argument(help="Scenario file (TOML).")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Report directory (kpis.csv, report.md, report.html).")
    ] = Path("whatif-report"),
    workers: Annotated[int, typer.Option("--workers", min=1, help="Parallel scenarios.")] = 2,
    engine: Annotated[Engine, typer.Option("--engine", help="local or dask")] = Engine.local,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Dask scheduler address; default: a local cluster."),
    ] = None,
    lang: Annotated[
        Lang, typer.Option("--lang", help="Language of report.md and report.html: da or en.")
    ] = Lang.da,
    budget: Annotated[
        float | None,
        typer.Option("--budget", min=0, help="Monthly budget, DKK, drawn on the cost chart."),
    ] = None,
    fmt: FormatOpt = Format.table,
    geodata: GeoOpt = None,
) -> None:
    """Run what-if scenarios against a base dataset; write a KPI report with charts."""
    from api.reports import whatif as runner
    from api.reports.report import write_report
    from matcher.scenario import ScenarioError, load_scenarios

    if scheduler and engine is not Engine.dask:
        fail("--scheduler needs --engine dask")
    try:
        with user_errors():
            spec = load_scenarios(file)
            geo = runner.geodata_dir(geodata)
            runner.check(spec, geo)
            with runner.executor(engine.value, workers, scheduler) as pool:
                outcomes = runner.run(spec, geo, pool, err if fmt is Format.table else None)
    except ScenarioError as exc:
        err.print(f"[bold red]error:[/] {len(exc.issues)} problem(s):", highlight=False)
        for issue in exc.issues:
            err.print(f"  - {issue}", highlight=False, markup=False)
        raise typer.Exit(code=2) from None
    except runner.EngineError as exc:
        fail(str(exc))
    costs = runner.economies(spec, outcomes, geo)
    title = f"Hvad nu hvis: {file.name}" if lang is Lang.da else f"What-if: {file.name}"
    written = write_report(
        outcomes, out_dir, title=title, lang=lang.value, economies=costs, budget=budget
    )
    if fmt is Format.json:
        emit_json(
            {
                "file": str(file),
                "out": str(out_dir),
                "scenarios": [o.as_dict() | {"economy": costs.get(o.name)} for o in outcomes],
                "written": [str(p) for p in written],
            }
        )
    else:
        runner.render_summary(outcomes, out)
        out.print(f"report: {out_dir / 'report.html'} (also report.md, kpis.csv, assignments/)")
    if any(not o.ok for o in outcomes):
        raise typer.Exit(code=1)
