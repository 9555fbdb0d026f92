"""Command-line start-up without its tax: the dataset snapshot is never stale, the heavy
libraries load only where used, and the lazily built geodata frames are what pandas read."""

from __future__ import annotations

import dataclasses
import gc
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from api.cli import common, snapshot
from api.cli.snapshot import CACHE_ENV, cached_dataset, dataset_key
from geo.gazetteer import Gazetteer
from models.dataset import Dataset, DatasetEncodingWarning, load_dataset
from models.errors import DatasetError
from tests.conftest import geodata_dir


class Counting:
    def __init__(self, data: Path, gazetteer: Gazetteer) -> None:
        self.data, self.gazetteer, self.calls = data, gazetteer, 0

    def __call__(self) -> Dataset:
        self.calls += 1
        return load_dataset(self.data, self.gazetteer)


@pytest.fixture
def copy(small_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return Path(shutil.copytree(small_dir, tmp_path / "data"))


def test_a_snapshot_gives_the_same_dataset_without_loading(
    copy: Path, gazetteer: Gazetteer
) -> None:
    load = Counting(copy, gazetteer)
    first = cached_dataset(copy, geodata_dir(), load)
    second = cached_dataset(copy, geodata_dir(), load)
    assert load.calls == 1
    assert second == first == load_dataset(copy, gazetteer)
    assert second.child_by_id.keys() == first.child_by_id.keys()


def test_changed_bytes_are_never_served_from_an_old_snapshot(
    copy: Path, gazetteer: Gazetteer
) -> None:
    load = Counting(copy, gazetteer)
    before = cached_dataset(copy, geodata_dir(), load)
    key = dataset_key(copy, geodata_dir())
    families = copy / "families.csv"
    lines = families.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("places")] = str(int(row[header.index("places")]) + 1)
    families.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n", encoding="utf-8")
    assert dataset_key(copy, geodata_dir()) != key
    after = cached_dataset(copy, geodata_dir(), load)
    assert load.calls == 2
    assert after == load_dataset(copy, gazetteer) != before
    assert after.families[0].places == before.families[0].places + 1


def test_an_absent_file_and_an_empty_one_have_different_keys(copy: Path) -> None:
    (copy / "placements.csv").unlink(missing_ok=True)
    absent = dataset_key(copy, geodata_dir())
    (copy / "placements.csv").write_text("")
    assert dataset_key(copy, geodata_dir()) != absent


def test_the_encoding_warning_is_given_again_from_the_snapshot(
    copy: Path, gazetteer: Gazetteer
) -> None:
    exclusions = copy / "exclusions.csv"
    text = exclusions.read_text(encoding="utf-8") if exclusions.exists() else ""
    lines = text.splitlines() or ["child_id,option_id,reason"]
    exclusions.write_bytes(("\n".join([*lines[:1], *lines[1:]]) + "\n").encode("cp1252"))
    # A reason with a Danish letter makes the file cp1252 rather than UTF-8.
    child = load_dataset(copy, gazetteer).children[0].child_id
    option = load_dataset(copy, gazetteer).families[0].family_id
    exclusions.write_bytes(
        exclusions.read_bytes() + f"{child},{option},for langt væk\n".encode("cp1252")
    )
    load = Counting(copy, gazetteer)
    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dataset = cached_dataset(copy, geodata_dir(), load)
        assert [w for w in caught if issubclass(w.category, DatasetEncodingWarning)]
        assert dataset.exclusions[-1].reason == "for langt væk"
    assert load.calls == 1


def test_the_cache_can_be_turned_off(
    copy: Path, gazetteer: Gazetteer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CACHE_ENV, "off")
    load = Counting(copy, gazetteer)
    cached_dataset(copy, geodata_dir(), load)
    cached_dataset(copy, geodata_dir(), load)
    assert load.calls == 2


def _collector_seen_by_the_load(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the cyclic collector was on while the dataset was made, call by call."""
    seen: list[bool] = []
    real = snapshot.cached_dataset

    def watched(*args: object) -> Dataset:
        seen.append(gc.isenabled())
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(snapshot, "cached_dataset", watched)
    return seen


def test_a_load_pauses_the_collector_and_a_caller_in_process_gets_nothing_frozen(
    copy: Path, small_dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _collector_seen_by_the_load(monkeypatch)
    frozen = gc.get_freeze_count()
    assert common.load(copy, geodata_dir()) == small_dataset
    assert seen == [False]
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen  # a test process loads dataset after dataset


def test_on_the_command_line_the_loaded_dataset_is_frozen(
    copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "_FREEZE_LOADED", True)
    frozen = gc.get_freeze_count()
    try:
        dataset = common.load(copy, geodata_dir())
        assert gc.get_freeze_count() > frozen
        # Frozen: no collection scans its records any more.
        assert not any(o is dataset.children[0] for o in gc.get_objects())
        assert gc.isenabled()
    finally:
        gc.unfreeze()  # this test process goes on


def test_a_failed_load_turns_the_collector_back_on_and_freezes_nothing(
    copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (copy / "children.csv").write_text("child_id,age\nc1,not a number\n", encoding="utf-8")
    monkeypatch.setattr(common, "_FREEZE_LOADED", True)
    frozen = gc.get_freeze_count()
    with pytest.raises(DatasetError, match=r"children\.csv"):
        common.load(copy, geodata_dir())
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen


def test_a_collector_turned_off_by_the_caller_stays_off(
    copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gc.disable()
    try:
        common.load(copy, geodata_dir())
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_command_line_answers_first_and_leaves_the_snapshot_behind(
    copy: Path, small_dataset: Dataset, tmp_path: Path, gazetteer: Gazetteer
) -> None:
    """`placement rank` prints its answer and exits; a detached process writes the snapshot
    (the pipe of our output is closed when the command exits, or `run` would wait for it)."""
    import os
    import time

    from api.cli.snapshot import _read

    child = small_dataset.children[0].child_id
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "rank", "--data", str(copy), "--child", child],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            CACHE_ENV: str(tmp_path / "cache"),
            "PLACEMENT_GEODATA_DIR": str(geodata_dir()),
        },
    )
    assert done.returncode == 0, done.stderr
    assert child in done.stdout
    key = dataset_key(copy, geodata_dir())
    snapshot = tmp_path / "cache" / f"dataset-{key}.marshal"
    for _ in range(300):  # the writer takes a fraction of a second; a loaded machine, more
        if snapshot.exists():
            break
        time.sleep(0.05)
    found = _read(snapshot)
    assert found is not None and found[0] == load_dataset(copy, gazetteer)


def test_generate_leaves_the_snapshot_of_what_it_wrote(
    tmp_path: Path, gazetteer: Gazetteer
) -> None:
    """What `placement generate` wrote is read back once before it returns, so the next
    command, even one started at once, starts from the snapshot (keyed by the very bytes
    written)."""
    import os

    from api.cli.snapshot import _read

    out = tmp_path / "gen"
    env = {
        **os.environ,
        CACHE_ENV: str(tmp_path / "cache"),
        "PLACEMENT_GEODATA_DIR": str(geodata_dir()),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "generate",
            "--out",
            str(out),
            "--children",
            "30",
            "--families",
            "40",
            "--institutions",
            "6",
            "--seed",
            "3",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    snapshot = tmp_path / "cache" / f"dataset-{dataset_key(out, geodata_dir())}.marshal"
    found = _read(snapshot)  # there already: no waiting for a writer
    assert found is not None and found[0] == load_dataset(out, gazetteer)


def _loaded_after(argv: list[str], then: str, modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` a fresh interpreter has loaded after registering the commands for
    `placement ARGV` and running `then`."""
    code = (
        f"import sys; sys.argv = ['placement', *{argv!r}]\n"
        "import api.cli\n"
        "api.cli._register_for(sys.argv[1:])\n"
        f"{then}\n"
        f"print(','.join(m for m in {modules!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    last = out.splitlines()[-1] if out.strip() else ""  # after what the command printed
    return [m for m in last.strip().split(",") if m]


def test_rank_and_help_start_without_the_heavy_libraries() -> None:
    heavy = ("pandas", "scipy", "geopy", "openpyxl", "sqlalchemy", "ortools", "fastapi", "networkx")
    then = "import api.cli.common, api.cli.snapshot, matcher.rank, models.dataset, geo"
    assert _loaded_after(["rank", "--help"], then, heavy) == []


def test_a_ranking_loads_neither_numpy_ma_nor_richs_emoji_table(
    copy: Path, small_dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two imports a ranking never needed (24 ms of `placement rank`): np.unique's check for
    masked arrays, and rich's emoji codes (names are printed as they are)."""
    monkeypatch.setenv("PLACEMENT_GEODATA_DIR", str(geodata_dir()))
    argv = ["rank", "--data", str(copy), "--child", small_dataset.children[0].child_id]
    then = "from api.cli import main\ntry:\n    main()\nexcept SystemExit:\n    pass"
    assert _loaded_after(argv, then, ("numpy.ma", "rich._emoji_codes", "matcher.rank")) == [
        "matcher.rank"
    ]


def test_help_with_every_command_imports_no_numpy_pydantic_or_matcher() -> None:
    """`placement --help` registers every command module; none of them may import the
    numerical core, the dataset layer or pydantic to show its options."""
    heavy = ("numpy", "pydantic", "matcher.rank", "models.dataset", "geo.gazetteer", "sqlalchemy")
    then = "from api.cli import snapshot; snapshot.defer_writes()"
    assert _loaded_after(["--help"], then, heavy) == []


def test_a_users_error_is_explained_without_importing_the_core() -> None:
    """`user_errors` recognises the core's error types only once their modules are loaded:
    a database command's bad input exits 2 with its message and imports no numpy."""
    code = (
        "import sys\n"
        "import typer\n"
        "from api.cli.common import InputError, user_errors\n"
        "try:\n"
        "    with user_errors():\n"
        "        raise InputError('--role bogus: coordinator, consultant, planner or admin')\n"
        "except typer.Exit as done:\n"
        "    print(done.exit_code, 'numpy' in sys.modules, 'matcher.rank' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["2", "False", "False"]
    assert "--role bogus" in run.stderr


def test_the_geodata_frames_are_what_pandas_reads(gazetteer: Gazetteer) -> None:
    directory = geodata_dir()
    for name, frame in (
        ("dk_postcodes", gazetteer.postcodes.frame),
        ("dk_schools", gazetteer.schools.frame),
        ("dk_kommuner", gazetteer.kommuner),
    ):
        expected = pd.read_csv(directory / f"{name}.csv", dtype=str, keep_default_na=False)
        for column in ("lat", "lon"):
            expected[column] = expected[column].astype(float)
        pd.testing.assert_frame_equal(frame, expected)
    code = str(expected["kommune_code"].iloc[0])
    assert gazetteer.kommune_name(code) == str(expected["name"].iloc[0])


def test_each_command_is_registered_by_the_module_the_cli_imports_for_it() -> None:
    code = (
        "import importlib, api.cli as c\n"
        "from api.cli.common import app\n"
        "def names():\n"
        "    return {x.name or x.callback.__name__ for x in app.registered_commands} | "
        "{g.name for g in app.registered_groups if g.typer_instance.registered_commands}\n"
        "where = {}\n"
        "for m in c._MODULES:\n"
        "    before = names()\n"
        "    importlib.import_module('api.cli.' + m)\n"
        "    where.update({n: m for n in names() - before})\n"
        "print(sorted(k for k, v in c._WHERE.items() if where.get(k) != v))\n"
        "print(sorted(set(where) - set(c._WHERE)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    # A stale or missing entry still works (every module loads then), but slowly.
    assert out[0] == "[]", out
    assert out[1] == "[]", out


def test_the_snapshot_codec_stores_records_by_columns_and_reads_back_every_kind() -> None:
    """Records of one class go by columns (plain values, enums, dates or none, places or
    none, nested records); anything else is encoded value by value. Every kind reads back
    equal, in order."""
    from api.cli.snapshot import _decoder, _Encoder
    from tests.factories import AS_OF, at, child, dataset, family, institution, person

    kids = [
        child("c1", daycare=at(2), wishes=("f1",), needs=frozenset({"adhd"})),
        child("c2", daycare=None, school=None),
        child("c3", daycare=at(5), sibling_group="g"),
    ]
    families = [
        family("f1", vacancy_confirmed=None),
        family("f2", vacancy_confirmed=AS_OF),
        family("f3", vacancy_confirmed=AS_OF.replace(day=1)),
    ]
    ds = dataset(
        kids,
        families=families,
        institutions=[institution("i1")],  # one record: no table
        network=[person("p1"), person("p2", via="p1")],
    )
    encoder = _Encoder()
    body = encoder.encode(ds)
    tag = encoder.classes.index(type(ds))
    assert body[0] == tag
    children_column = body[1 + [f.name for f in dataclasses.fields(ds)].index("children")]
    assert children_column[0] == -2 and children_column[2] == 3  # a table of three children
    decoded = _decoder(encoder.classes)(body)
    assert decoded == ds
    assert [c.daycare for c in decoded.children] == [c.daycare for c in kids]
    assert [f.vacancy_confirmed for f in decoded.families] == [None, AS_OF, AS_OF.replace(day=1)]
