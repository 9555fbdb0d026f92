"""What every `placement` command shares: the Typer apps, consoles, options, user errors and
JSON output. Exit 0 on success, 2 on bad input with a message naming file, row and column."""

from __future__ import annotations

import gc
import json
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, cast

import typer
from rich.console import Console

if TYPE_CHECKING:  # imported where used: `placement --help` needs none of them
    from api.services.errors import DomainError
    from geo.gazetteer import Gazetteer
    from models.dataset import Dataset
    from models.errors import DatasetError

__all__ = [
    "AsOfOpt",
    "DataOpt",
    "DbOpt",
    "Format",
    "FormatOpt",
    "GeoOpt",
    "InputError",
    "PolicyOpt",
    "app",
    "db_app",
    "emit_json",
    "err",
    "fail",
    "freeze_loaded_data",
    "keys_app",
    "load",
    "migrated_engine",
    "out",
    "parse_date",
    "save_json",
    "user_errors",
]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    # Markdown reflows a docstring's paragraphs to the terminal (rich keeps its line breaks).
    rich_markup_mode="markdown",
    help="Placement matching for Danish child welfare: least intrusive, close to everyday life.",
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
# No emoji codes: data is printed as it is (a name with ":x:" stays text), and rich's emoji
# table is not loaded (4 ms of every command).
err = Console(stderr=True, soft_wrap=True, emoji=False)
# Piped output (CI logs, `| less`) gets a wide table instead of 80 squeezed columns.
out = Console(width=None if sys.stdout.isatty() else 200, emoji=False)


class Format(StrEnum):
    table = "table"
    json = "json"


class InputError(Exception):
    """Bad input that is the user's to fix; printed without a stack trace, exit 2."""


def fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code=2)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn every error a user can fix into a clear message and exit code 2."""
    try:
        yield
    except Exception as exc:
        _explain(exc)
        raise


def _raised(exc: Exception, module: str, name: str) -> bool:
    """Whether `exc` is `module.name`, without importing the module: an error of a module
    that was never imported cannot have been raised."""
    found = sys.modules.get(module)
    cls = getattr(found, name, None) if found is not None else None
    return isinstance(cls, type) and isinstance(exc, cls)


def _explain(exc: Exception) -> None:
    """Exit 2 with a message if `exc` is the user's to fix; return (to re-raise) if not."""
    if isinstance(exc, typer.Exit):
        return
    if _raised(exc, "models.errors", "DatasetError"):
        issues = cast("DatasetError", exc).issues
        err.print(f"[bold red]error:[/] {len(issues)} problem(s) in the dataset:", highlight=False)
        for issue in issues:
            err.print(f"  - {issue}", highlight=False, markup=False)
        raise typer.Exit(code=2) from None
    if (
        isinstance(exc, InputError)
        or _raised(exc, "geo.gazetteer", "GeodataError")
        or _raised(exc, "matcher.policy", "PolicyError")
    ):
        fail(str(exc))
    if _raised(exc, "matcher.rank", "UnknownChild"):
        fail(f"no child with child_id {exc.args[0]!r} in the dataset")
    if _raised(exc, "api.services.errors", "DomainError"):
        domain = cast("DomainError", exc)
        err.print(f"[bold red]error:[/] {domain.detail}", highlight=False)
        for problem in domain.extra.get("errors", []):
            err.print(f"  - {problem}", highlight=False, markup=False)
        raise typer.Exit(code=2) from None


def gazetteer(geodata: Path | None) -> Gazetteer:
    from geo.gazetteer import default_gazetteer

    return default_gazetteer(geodata)


# Set by `main`: see `freeze_loaded_data`.
_FREEZE_LOADED = False


def freeze_loaded_data() -> None:
    """Let `load` move everything the process holds once the dataset is loaded (the dataset
    and the imported modules) out of the cyclic collector's sight (`gc.freeze`), without a
    collection first: a load leaves no cyclic garbage (measured, from files and from a
    snapshot). For a process that ends with its command (`main`), where all of it lives as
    long as the process anyway, and whose commands load once; not for a test, a server or
    another caller that loads dataset after dataset: frozen objects are never freed."""
    global _FREEZE_LOADED
    _FREEZE_LOADED = True


def load(data: Path, geodata: Path | None) -> Dataset:
    """The validated dataset; how a file was read (its encoding) is said once per file as a
    `warning:` line, not as a Python warning with its source line.

    A dataset loaded before from the very same bytes comes from its snapshot
    (`api.cli.snapshot`: keyed by the hashes of the files, never stale). The cyclic
    collector is paused meanwhile (`matcher.heap`), and on the command line the
    dataset is frozen after (`freeze_loaded_data`)."""
    from api.cli.snapshot import cached_dataset
    from geo.gazetteer import GEODATA_ENV
    from matcher.heap import collector_paused
    from models.dataset import DatasetEncodingWarning, load_dataset

    chosen = geodata or os.environ.get(GEODATA_ENV)
    with warnings.catch_warnings(record=True) as caught, collector_paused():
        warnings.simplefilter("always", DatasetEncodingWarning)
        dataset = cached_dataset(
            data,
            Path(chosen) if chosen else None,
            lambda: load_dataset(data, gazetteer(geodata)),
        )
    if _FREEZE_LOADED:
        gc.freeze()  # no later collection walks the records (or the modules) again
    for warning in caught:
        if issubclass(warning.category, DatasetEncodingWarning):
            err.print(f"[yellow]warning:[/] {warning.message}", highlight=False)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return dataset


def parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option} {value!r}: an ISO date YYYY-MM-DD is allowed") from None


DataOpt = Annotated[
    Path,
    typer.Option(
        "--data", help="Dataset directory (CSV contract, as Excel saves it) or an .xlsx workbook."
    ),
]
GeoOpt = Annotated[
    Path | None,
    typer.Option("--geodata", help="Geodata directory; default $PLACEMENT_GEODATA_DIR."),
]
FormatOpt = Annotated[Format, typer.Option("--format", help="table or json")]
PolicyOpt = Annotated[
    str,
    typer.Option(
        "--policy",
        help="Policy profile name or TOML path; auto: each child's acting kommune's profile.",
    ),
]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Date for vacancy staleness (default today).")
]


DbOpt = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Database URL; default $PLACEMENT_DATABASE_URL "
        "or the SQLite file var/placement.sqlite3.",
    ),
]


def migrated_engine(database: str | None) -> Any:
    from api.db.engine import make_engine
    from api.db.migrate import upgrade

    engine = make_engine(database)
    upgrade(engine)
    return engine


def json_text(payload: dict[str, Any]) -> str:
    """Indented JSON, UTF-8 as it is. By orjson: the stdlib encoder took 0.35 s of a
    national `placement match --format json`; the stdlib's where orjson refuses a value
    (an integer past 64 bits). A NaN is written as null (valid JSON; the stdlib wrote NaN)."""
    import orjson

    try:
        return orjson.dumps(
            payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY
        ).decode()
    except TypeError:
        return json.dumps(payload, ensure_ascii=False, indent=2)


def save_json(payload: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json_text(payload), encoding="utf-8")


def emit_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json_text(payload) + "\n")
