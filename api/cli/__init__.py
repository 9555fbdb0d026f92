"""The `placement` command line: generate, rank, match and more, over the same core.

Each area's commands live in their own module and register on the one Typer app; renderers
of human-readable output are apart (`render`). Machine-readable output is JSON on stdout
(`--format json`); human output is a table. Exit 0 on success, 2 on bad input with a message
naming file, row and column.
"""

from __future__ import annotations

import sys

# Registration order is the order of `placement --help`.
from api.cli import data, keys, matching, placements, review, serve, whatif
from api.cli.common import app, err

__all__ = ["app", "main"]

_COMMANDS = (
    matching,
    data,
    placements,
    keys,
    serve,
    review,
    whatif,
)  # imported for their registrations


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        err.print("interrupted")
        sys.exit(130)
