"""`placement keyfigures`: the committee's key figures as Markdown, HTML or CSV in Danish."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import (
    DbOpt,
    GeoOpt,
    InputError,
    app,
    gazetteer,
    migrated_engine,
    out,
    parse_date,
    user_errors,
)

__all__ = ["keyfigures"]


class ReportFormat(StrEnum):
    md = "md"
    html = "html"
    csv = "csv"


@app.command()
def keyfigures(
    start: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last day, YYYY-MM-DD.")],
    fmt: Annotated[
        ReportFormat, typer.Option("--format", help="md, html or csv")
    ] = ReportFormat.md,
    kommune: Annotated[
        list[str] | None, typer.Option("--kommune", help="Only this kommune (repeatable).")
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of stdout.")
    ] = None,
    database: DbOpt = None,
    geodata: GeoOpt = None,
) -> None:
    """Key figures per month and kommune, in Danish, for the børne- og ungeudvalg.

    For the placements recorded in the service: active placements by kind, family-based
    share, acute, follow-ups on time, stepped down within the target, moves and breakdowns,
    cost."""
    from api.db.engine import session_scope
    from api.reports import keyfigures as report
    from api.services.errors import Invalid
    from api.services.keyfigures import key_figures
    from api.services.placements import command_line_caller
    from api.services.runtime import Service
    from matcher.policy import load_policy_set

    with user_errors():
        first = parse_date(start, "--from")
        last = parse_date(end, "--to")
        assert first is not None and last is not None
        service = Service(migrated_engine(database), gazetteer(geodata), load_policy_set())
        try:
            with session_scope(service.read_sessions) as session:
                who = command_line_caller(session)
                try:
                    figures = key_figures(session, service, who, first, last, kommune or None)
                except Invalid as exc:
                    problem = exc.errors[0] if exc.errors else {}
                    option = {"to": "--to", "kommune": "--kommune"}.get(
                        str(problem.get("path")), "--to"
                    )
                    raise InputError(
                        f"{option} {problem.get('value')}: {exc.detail}; "
                        f"allowed: {problem.get('allowed')}"
                    ) from None
        finally:
            service.close()
    text = {"md": report.to_markdown, "html": report.to_html, "csv": report.to_csv}[fmt.value](
        figures
    )
    if out_file is not None:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(text, encoding="utf-8")
        out.print(f"written: {out_file}")
    else:
        typer.echo(text, nl=False)
