"""`placement keys`: API keys, made, listed and revoked on the command line (audited with
key_id None and role `cli`). Only here can a national admin key be made (`--national`)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from api.cli.common import (
    DbOpt,
    Format,
    FormatOpt,
    GeoOpt,
    InputError,
    emit_json,
    err,
    gazetteer,
    keys_app,
    out,
    user_errors,
)
from api.cli.data import database_session

__all__ = ["keys_create", "keys_list", "keys_revoke"]

ROLES = "coordinator, consultant, planner, admin"


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help=ROLES)],
    kommune: Annotated[
        list[str] | None, typer.Option("--kommune", help="A kommune code; repeat for several.")
    ] = None,
    national: Annotated[
        bool,
        typer.Option(
            "--national", help="An admin key for every kommune (with --role admin, no --kommune)."
        ),
    ] = False,
    label: Annotated[str, typer.Option("--label")] = "",
    database: DbOpt = None,
    geodata: GeoOpt = None,
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from api.services.caller import Role
    from api.services.keys import make_key

    with user_errors():
        try:
            chosen = Role(role)
        except ValueError:
            raise InputError(f"--role {role!r}: one of {ROLES}") from None
        places = gazetteer(geodata)
        with database_session(database) as session:
            _, key = make_key(session, places, chosen, list(kommune or ()), label, national)
    sys.stdout.write(key + "\n")


def _json_ready(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value.isoformat() if hasattr(value, "isoformat") else value
        for name, value in fields.items()
    }


@keys_app.command("list")
def keys_list(database: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Every API key: id, role, kommuner (none: a national admin), label, when it was made,
    whether and when it was revoked. Never a key or its hash."""
    from rich.table import Table

    from api.services.keys import key_fields, list_keys

    with user_errors(), database_session(database) as session:
        rows = [key_fields(row) for row in list_keys(session)]
    if fmt is Format.json:
        emit_json({"keys": [_json_ready(r) for r in rows]})
        return
    table = Table("id", "role", "kommuner", "label", "created_at", "revoked_at")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["role"],
            ", ".join(r["kommuner"]) or "(national)",
            r["label"],
            r["created_at"].isoformat(timespec="seconds"),
            r["revoked_at"].isoformat(timespec="seconds")
            if r["revoked_at"]
            else ("revoked" if r["revoked"] else ""),
        )
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (placement keys list).")],
    database: DbOpt = None,
) -> None:
    """Revoke an API key: every server worker refuses it from its next request on. Revoking a
    revoked key again changes nothing."""
    from api.services.keys import revoke_key

    with user_errors(), database_session(database) as session:
        row, now_revoked = revoke_key(session, None, key_id)
        when = row.revoked_at.isoformat(timespec="seconds") if row.revoked_at else "earlier"
    message = (
        f"key {key_id} revoked" if now_revoked else f"key {key_id} was already revoked ({when})"
    )
    err.print(message, highlight=False)
