"""A validated dataset kept between command-line runs, keyed by the hashes of its files.

`placement rank` on the national dataset spent half its time turning the same CSV text
into the same records again. After a first load the records are written to a snapshot whose
name is the SHA-256 of everything the result depends on:

- the bytes of every contract file (or of the .xlsx workbook), and which files are absent;
- the bytes of the geodata tables (postcodes and schools resolve to points);
- the source of the loading code (`models/`) and the Python version, so a changed parser
  never reads an old snapshot.

A snapshot is therefore found only for the very bytes it was made from: editing a file, even
back and forth, changes the key, and nothing is ever served stale. Hashing the national files
takes a few milliseconds. Only datasets without problems are kept (a dataset with problems
raises before anything is written), and the warnings of the first load (a file read as
cp1252) are given again on every load from the snapshot.

The records are stored as plain tuples by `marshal` (not pickle: no code runs when a
snapshot is read) and rebuilt through the record classes' own constructors; a snapshot is
written only if it rebuilds to a dataset equal to the one loaded. Where: `$PLACEMENT_CACHE_DIR`,
else `$XDG_CACHE_HOME/placement`, else `~/.cache/placement`; `PLACEMENT_CACHE_DIR=off` turns
it off. A cache that cannot be written is skipped without a word: it only saves time.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import importlib
import marshal
import operator
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the dataset layer (numpy) only when a dataset is read or written
    from models.dataset import Dataset

__all__ = [
    "CACHE_ENV",
    "cache_directory",
    "cached_dataset",
    "dataset_key",
    "defer_writes",
    "read_back",
    "write_deferred",
]

CACHE_ENV = "PLACEMENT_CACHE_DIR"
FORMAT = 2
KEEP = 8  # snapshots kept; the oldest go first
_GEODATA_FILES = ("dk_postcodes.csv", "dk_schools.csv", "dk_kommuner.csv")
_MODELS = Path(__file__).resolve().parents[2] / "models"
_DATE = -1  # the tag of a date; record and enum classes have tags 0, 1, ...
_TABLE, _PLAIN_COLUMN, _ENUM_COLUMN, _DATE_COLUMN, _MIXED_COLUMN = -2, -3, -4, -5, -6
_OPTIONAL_COLUMN = -7
_deferred: list[Callable[[], object]] | None = None  # see defer_writes


def defer_writes() -> None:
    """Keep new snapshots in memory until `write_deferred()`: the command line prints its
    answer first and writes the snapshot after, in a background process."""
    global _deferred
    if _deferred is None:
        _deferred = []


def read_back(job: Callable[[], object]) -> None:
    """On the command line (`defer_writes` called), run `job` now with the snapshots it
    makes written before it returns, not after the answer; elsewhere (a test, another
    caller in process) not at all, leaving the user's cache alone. `placement generate`
    reads what it wrote back this way, so that the command run right after it (a script's
    next line) finds the snapshot instead of parsing the files beside a background writer.
    A failure only costs the next command a load: a snapshot only saves time."""
    global _deferred
    if _deferred is None:
        return
    kept, _deferred = _deferred, None
    try:
        job()
    except Exception:
        return
    finally:
        _deferred = kept


def write_deferred() -> None:
    """Write the snapshots kept by `defer_writes`, in a detached process where the system
    can fork (the caller does not wait; a snapshot appears whole or not at all), else here.

    The double fork leaves no zombie behind a long-running caller, and the writer's standard
    streams go to /dev/null so that a caller reading our output through a pipe sees its end
    when we exit, not when the writer does."""
    global _deferred
    pending, _deferred = _deferred or [], None
    if not pending:
        return
    # Forking a process with other threads (a database pool, a solver) could leave the
    # writer waiting on a lock one of them held: then the snapshot is written here.
    if not hasattr(os, "fork") or threading.active_count() > 1:
        _run(pending)
        return
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    child = os.fork()
    if child:
        os.waitpid(child, 0)
        return
    try:  # the first child: start the writer and go
        os.setsid()
        if os.fork() == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.closerange(3, 1024)  # no inherited sockets or files: the writer needs none
            _run(pending)
    finally:
        os._exit(0)


def cache_directory() -> Path | None:
    chosen = os.environ.get(CACHE_ENV, "").strip()
    if chosen.lower() in ("off", "0", "no", "false"):
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "placement"


def _file_digest(digest: Any, path: Path) -> None:
    digest.update(path.name.encode() + b"\0")
    with path.open("rb") as handle:
        digest.update(hashlib.file_digest(handle, "sha256").digest())


def dataset_key(data: Path, geodata: Path) -> str | None:
    """The snapshot key of a dataset read with these geodata; None if either is not there
    (loading then fails with its own message, and nothing is cached)."""
    from models.dataset import FILES

    digest = hashlib.sha256(f"placement-dataset/{FORMAT}/{sys.version}\0".encode())
    if data.is_dir():
        for name in FILES.values():
            path = data / name
            if path.is_file():
                _file_digest(digest, path)
            else:
                digest.update(f"{name} absent\0".encode())
    elif data.is_file():
        _file_digest(digest, data)
    else:
        return None
    for name in _GEODATA_FILES:
        path = geodata / name
        if not path.is_file():
            return None
        _file_digest(digest, path)
    for source in sorted(_MODELS.rglob("*.py")):
        digest.update(str(source.relative_to(_MODELS)).encode() + b"\0")
        digest.update(source.read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()


def cached_dataset(data: Path, geodata: Path | None, load: Callable[[], Dataset]) -> Dataset:
    """The dataset `load()` gives for `data`, from a snapshot when one was made from the same
    bytes (warnings of the first load are given again)."""
    from models.dataset import DatasetEncodingWarning

    directory = cache_directory()
    key = None if directory is None or geodata is None else dataset_key(data, geodata)
    if directory is None or key is None:
        return load()
    path = directory / f"dataset-{key}.marshal"
    found = _read(path)
    if found is not None:
        dataset, messages = found
        for message in messages:
            warnings.warn(message, DatasetEncodingWarning, stacklevel=2)
        return dataset
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DatasetEncodingWarning)
        dataset = load()
    messages = []
    for warning in caught:
        if issubclass(warning.category, DatasetEncodingWarning):
            messages.append(str(warning.message))
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if _deferred is not None:
        _deferred.append(lambda: _write(path, dataset, messages))
    else:
        _write(path, dataset, messages)
    return dataset


def _run(jobs: list[Callable[[], object]]) -> None:
    for job in jobs:
        try:
            job()
        except Exception:  # a snapshot only saves time: a failure costs the next run a load
            continue


# -- the codec ----------------------------------------------------------------------------------
# A record is a list [tag, field values...], an enum a list [tag, value], a date [-1, ordinal];
# tuples stay tuples and frozensets of text stay frozensets. Lists are never a field's value in
# the records, so a list is always a tagged object.
#
# A tuple of two or more records of one class (the dataset's children, families, ...) is
# stored by columns, [-2, tag, length, column...], and read back with one map(cls, *columns):
# the records' constructors run from C, not from a Python loop per record and value (national
# dataset: 0.35 s to read before, 0.2 s after, of a 1 s `placement rank`). A column is:
#   [-3, values]           every value plain, or a tuple or frozenset of plain values;
#   [-4, enum tag, values] members of one enum;
#   [-5, ordinals]         dates (None: no date);
#   [-2, ...]              records of one class;
#   [-7, positions of None, length, [-2, ...]]  records of one class or None (a daycare);
#   [-6, values]           anything else, each value encoded alone.


_PLAIN = (type(None), str, int, float, bool)


class _Encoder:
    def __init__(self) -> None:
        self.classes: list[type] = []
        self._tags: dict[type, int] = {}
        self._handlers: dict[type, Callable[[Any], Any]] = {}

    def _tag(self, cls: type) -> int:
        tag = self._tags.get(cls)
        if tag is None:
            if not cls.__module__.startswith("models."):
                raise TypeError(f"not a record type of models/: {cls!r}")
            tag = self._tags[cls] = len(self.classes)
            self.classes.append(cls)
        return tag

    def _handler(self, kind: type) -> Callable[[Any], Any]:
        """How values of one type are encoded, decided once per type (dataclasses.fields()
        and a getattr per field were half the cost of a snapshot)."""
        if issubclass(kind, enum.Enum):
            tag = self._tag(kind)
            return lambda member: [tag, member.value]
        if dataclasses.is_dataclass(kind):
            tag = self._tag(kind)
            names = [f.name for f in dataclasses.fields(kind)]

            def few(record: Any) -> tuple[Any, ...]:
                return tuple(getattr(record, n) for n in names)

            # attrgetter of one name gives the bare value, of none it fails
            values = operator.attrgetter(*names) if len(names) > 1 else few
            encode = self.encode
            return lambda record: [
                tag,
                *[v if type(v) in _PLAIN else encode(v) for v in values(record)],
            ]
        if kind is date:
            return lambda day: [_DATE, day.toordinal()]
        if kind is tuple:
            encode = self.encode
            return lambda items: (
                self._table(items) or tuple(v if type(v) in _PLAIN else encode(v) for v in items)
            )
        if kind is frozenset:
            return _text_set
        raise TypeError(f"no snapshot encoding for {kind!r}")

    def _table(self, items: tuple[Any, ...]) -> list[Any] | None:
        """Records of one class by columns; None if `items` are not that."""
        if len(items) < 2:
            return None
        kind = type(items[0])
        if not dataclasses.is_dataclass(kind) or any(type(v) is not kind for v in items):
            return None
        names = [f.name for f in dataclasses.fields(kind)]
        if not names:
            return None
        columns = [self._column([getattr(r, n) for r in items]) for n in names]
        return [_TABLE, self._tag(kind), len(items), *columns]

    def _column(self, values: list[Any]) -> list[Any]:
        kinds = {type(v) for v in values}
        if all(map(_plain, values)):
            return [_PLAIN_COLUMN, tuple(values)]
        if kinds <= {date, type(None)}:
            return [_DATE_COLUMN, tuple(None if v is None else v.toordinal() for v in values)]
        if len(kinds) == 1:
            (kind,) = kinds
            if issubclass(kind, enum.Enum):
                return [_ENUM_COLUMN, self._tag(kind), tuple(v.value for v in values)]
            table = self._table(tuple(values))
            if table is not None:
                return table
        if len(kinds) == 2 and type(None) in kinds:
            present = tuple(v for v in values if v is not None)
            table = self._table(present)
            if table is not None:
                nones = tuple(k for k, v in enumerate(values) if v is None)
                return [_OPTIONAL_COLUMN, nones, len(values), table]
        return [_MIXED_COLUMN, tuple(v if type(v) in _PLAIN else self.encode(v) for v in values)]

    def encode(self, value: Any) -> Any:
        kind = type(value)
        if kind in _PLAIN:
            return value
        handler = self._handlers.get(kind)
        if handler is None:
            handler = self._handlers[kind] = self._handler(kind)
        return handler(value)


def _plain(value: Any) -> bool:
    """A value marshal keeps as it is: plain, or a tuple or frozenset of plain values."""
    kind = type(value)
    if kind in _PLAIN:
        return True
    return (kind is tuple or kind is frozenset) and all(type(v) in _PLAIN for v in value)


def _day(ordinal: int | None) -> date | None:
    return None if ordinal is None else date.fromordinal(ordinal)


def _text_set(values: frozenset[Any]) -> frozenset[Any]:
    if not all(type(v) is str for v in values):
        raise TypeError("no snapshot encoding for a frozenset of other than text")
    return values


def _decoder(classes: list[type]) -> Callable[[Any], Any]:
    # An enum member by its value through the enum's own map (calling the class costs a
    # microsecond per member, a tenth of the whole read).
    enums = {
        tag: cls._value2member_map_ for tag, cls in enumerate(classes) if issubclass(cls, enum.Enum)
    }

    def column(encoded: list[Any]) -> Any:
        kind = encoded[0]
        if kind == _PLAIN_COLUMN:
            return encoded[1]
        if kind == _ENUM_COLUMN:
            return map(enums[encoded[1]].__getitem__, encoded[2])
        if kind == _DATE_COLUMN:
            return map(_day, encoded[1])
        if kind == _TABLE:
            return decode(encoded)
        if kind == _OPTIONAL_COLUMN:
            nones, present = frozenset(encoded[1]), iter(decode(encoded[3]))
            return [None if k in nones else next(present) for k in range(encoded[2])]
        if kind == _MIXED_COLUMN:
            return [decode(v) if type(v) in (list, tuple) else v for v in encoded[1]]
        raise ValueError(f"no snapshot column of kind {kind}")

    def decode(value: Any) -> Any:
        kind = type(value)
        if kind is list:
            tag = value[0]
            if tag == _TABLE:
                cls, n = classes[value[1]], value[2]
                records = tuple(map(cls, *[column(c) for c in value[3:]]))
                if len(records) != n:
                    raise ValueError("a snapshot table of the wrong length")
                return records
            if tag == _DATE:
                return date.fromordinal(value[1])
            members = enums.get(tag)
            if members is not None:
                return members[value[1]]
            return classes[tag](*[decode(v) if type(v) in (list, tuple) else v for v in value[1:]])
        if kind is tuple:
            return tuple(decode(v) if type(v) in (list, tuple) else v for v in value)
        return value

    return decode


def _class(name: str) -> type:
    module, _, qualname = name.rpartition(":")
    if not module.startswith("models."):
        raise ValueError(name)
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    if not isinstance(found, type):
        raise ValueError(name)
    return found


def _read(path: Path) -> tuple[Dataset, list[str]] | None:
    from models.dataset import Dataset

    try:
        payload = marshal.loads(path.read_bytes())
        names, messages, body = payload
        decoded = _decoder([_class(n) for n in names])(body)
    except Exception:  # missing, unreadable or from another layout: load from the files
        return None
    if not isinstance(decoded, Dataset):
        return None
    return decoded, list(messages)


def _write(path: Path, dataset: Dataset, messages: list[str]) -> None:
    try:
        encoder = _Encoder()
        body = encoder.encode(dataset)
        if _decoder(encoder.classes)(body) != dataset:
            return  # a record this codec does not round-trip: never store it
        names = [f"{c.__module__}:{c.__qualname__}" for c in encoder.classes]
        data = marshal.dumps((names, messages, body))
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".tmp") as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)  # whole or not at all, also beside a concurrent run
        snapshots = sorted(path.parent.glob("dataset-*.marshal"), key=lambda p: p.stat().st_mtime)
        for old in snapshots[:-KEEP]:
            old.unlink(missing_ok=True)
    except (OSError, TypeError, ValueError):
        return
