"""`placement placements`: a child's placements, ended or moved on the command line (for the
kommune's own staff with database access; audited as the command line)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.table import Table

if TYPE_CHECKING:  # pydantic is imported by the commands that build a body
    from pydantic import BaseModel

from api.cli.common import (
    DbOpt,
    Format,
    FormatOpt,
    GeoOpt,
    InputError,
    app,
    emit_json,
    gazetteer,
    migrated_engine,
    out,
    parse_date,
    user_errors,
)

T = TypeVar("T", bound="BaseModel")

__all__ = ["placements_end", "placements_list", "placements_move"]

placements_app = typer.Typer(help="Placements: list, end, move.", no_args_is_help=True)
app.add_typer(placements_app, name="placements")

EndReasonOpt = Annotated[
    str,
    typer.Option(
        "--end-reason", help="home, step_down, breakdown, age_out, moved or other (for end)"
    ),
]


def _as_dict(row: object) -> dict[str, object]:
    from api.http.schemas import PlacementPublic

    return PlacementPublic.model_validate(row).model_dump(mode="json")


def _show(rows: list[dict[str, object]], fmt: Format) -> None:
    if fmt is Format.json:
        emit_json({"placements": rows})
        return
    table = Table()
    for column in ("id", "child_id", "option_id", "kind", "start_date", "status", "end_date"):
        table.add_column(column)
    table.add_column("end_reason")
    for r in rows:
        table.add_row(
            *(str(r[c] or "") for c in ("id", "child_id", "option_id", "kind", "start_date")),
            str(r["status"]),
            str(r["end_date"] or ""),
            str(r["end_reason"]),
        )
    out.print(table)


@contextmanager
def _service(database: str | None, geodata: Path | None) -> Iterator[tuple[Any, Any, Any]]:
    """The use cases' service on the database, and the command line as their caller."""
    from api.db.engine import session_scope
    from api.services.placements import command_line_caller
    from api.services.runtime import Service
    from matcher.policy import load_policy_set

    service = Service(migrated_engine(database), gazetteer(geodata), load_policy_set())
    try:
        with session_scope(service.sessions) as session:
            yield service, session, command_line_caller(session)
    finally:
        service.close()


@placements_app.command("list")
def placements_list(
    child_id: Annotated[str, typer.Argument(help="The child's id.")],
    database: DbOpt = None,
    geodata: GeoOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """The child's placements, oldest first."""
    from api.services.placements import child_placements

    with user_errors(), _service(database, geodata) as (service, session, who):
        rows = [_as_dict(r) for r in child_placements(session, service, who, child_id)]
    _show(rows, fmt)


@placements_app.command("end")
def placements_end(
    placement_id: Annotated[int, typer.Argument(help="The placement's id (`placements list`).")],
    end_reason: EndReasonOpt,
    end_date: Annotated[
        str | None, typer.Option("--end-date", help="YYYY-MM-DD; today when left out")
    ] = None,
    database: DbOpt = None,
    geodata: GeoOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """End an active placement; its place becomes free."""
    from api.services.inputs import PlacementEnd
    from api.services.placements import end_placement

    with user_errors():
        body = _body(
            PlacementEnd, end_reason=end_reason, end_date=parse_date(end_date, "--end-date")
        )
        with _service(database, geodata) as (service, session, who):
            rows = [_as_dict(end_placement(session, service, who, placement_id, body))]
    _show(rows, fmt)


@placements_app.command("move")
def placements_move(
    placement_id: Annotated[int, typer.Argument(help="The placement's id (`placements list`).")],
    option: Annotated[str, typer.Option("--option", help="The new option's id.")],
    kind: Annotated[
        str | None, typer.Option("--kind", help="network, foster, combination or institution")
    ] = None,
    end_reason: Annotated[str, typer.Option("--end-reason", help="moved or step_down")] = "moved",
    start_date: Annotated[
        str | None, typer.Option("--start-date", help="YYYY-MM-DD; today when left out")
    ] = None,
    database: DbOpt = None,
    geodata: GeoOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Move the child (with its sibling group) to another eligible option with room: the old
    placement ends and the new one starts in one transaction."""
    from api.services.inputs import PlacementMove
    from api.services.placements import move_placement

    with user_errors():
        body = _body(
            PlacementMove,
            option_id=option,
            kind=kind,
            end_reason=end_reason,
            start_date=parse_date(start_date, "--start-date"),
        )
        with _service(database, geodata) as (service, session, who):
            ended, started = move_placement(session, service, who, placement_id, body)
            rows = [_as_dict(r) for r in (*ended, *started)]
    _show(rows, fmt)


def _body(model: type[T], **values: Any) -> T:
    """The use case's typed input from options; a bad value names its option."""
    from pydantic import ValidationError

    try:
        return model.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_", "-")
        raise InputError(f"{option} {first.get('input')!r}: {first['msg']}") from None
