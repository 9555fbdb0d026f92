"""`placement keys`: API keys, minted and revoked on the command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from api.cli.common import DbOpt, InputError, keys_app, user_errors
from api.cli.data import database_session

__all__ = ["keys_create"]


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help="coordinator, consultant, planner, admin")],
    kommune: Annotated[list[str] | None, typer.Option("--kommune")] = None,
    label: Annotated[str, typer.Option("--label")] = "",
    database: DbOpt = None,
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from api.services.caller import Role
    from api.services.keys import mint_key

    with user_errors():
        try:
            chosen = Role(role)
        except ValueError:
            raise InputError(
                f"--role {role!r}: one of coordinator, consultant, planner, admin"
            ) from None
        with database_session(database) as session:
            _, key = mint_key(session, chosen, list(kommune or ()), label)
    sys.stdout.write(key + "\n")
