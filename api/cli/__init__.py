"""The `placement` command line: generate, rank, match and more, over the same core.

Each area's commands live in their own module and register on the one Typer app; renderers
of human-readable output are apart (`render`). Machine-readable output is JSON on stdout
(`--format json`); human output is a table. Exit 0 on success, 2 on bad input with a message
naming file, row and column.

`placement COMMAND ...` imports only the module of that command (the others bring pydantic,
the database layer and more, a third of a second a run would spend for nothing); a bare
`placement`, `placement --help` or a command not in `_WHERE` imports them all. Code that takes
`app` from this package (`from api.cli import app`, the tests) gets every command.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from api.cli.common import app as _app
from api.cli.common import err

__all__ = ["app", "main"]

# Registration order is the order of `placement --help`.
_MODULES = ("data", "keyfigures", "keys", "matching", "placements", "review", "serve", "whatif")
# Each command (or command group) and the module that registers it: only a shortcut, since a
# command not found after importing its module here makes every module load.
_WHERE = {
    "import": "data",
    "export": "data",
    "db": "data",
    "keyfigures": "keyfigures",
    "keys": "keys",
    "generate": "matching",
    "rank": "matching",
    "match": "matching",
    "placements": "placements",
    "policies": "review",
    "review": "review",
    "simulate": "review",
    "serve": "serve",
    "whatif": "whatif",
}


def _register_all() -> None:
    for name in _MODULES:
        importlib.import_module(f"api.cli.{name}")


def _registered(command: str) -> bool:
    names = {
        c.name or (c.callback.__name__ if c.callback else "") for c in _app.registered_commands
    }
    names |= {g.name or "" for g in _app.registered_groups}
    # A group defined in common (db, keys) counts once its module added a command to it.
    groups = {g.name: g.typer_instance for g in _app.registered_groups}
    group = groups.get(command)
    if group is not None:
        return bool(group.registered_commands or group.registered_groups)
    return command.replace("_", "-") in {n.replace("_", "-") for n in names}


def _register_for(argv: list[str]) -> None:
    command = next((a for a in argv if not a.startswith("-")), None)
    module = _WHERE.get(command or "")
    if command is None or module is None:
        _register_all()
        return
    importlib.import_module(f"api.cli.{module}")
    if not _registered(command):
        _register_all()


def __getattr__(name: str) -> Any:
    if name == "app":
        _register_all()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    from api.cli import snapshot
    from api.cli.common import freeze_loaded_data

    _register_for(sys.argv[1:])
    snapshot.defer_writes()  # the answer first, the dataset's snapshot after (in background)
    freeze_loaded_data()  # this process ends with the command
    try:
        _app()
    except KeyboardInterrupt:  # pragma: no cover
        err.print("interrupted")
        sys.exit(130)
    finally:
        snapshot.write_deferred()
