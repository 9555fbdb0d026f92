"""A dataset as Excel writes it loads to the same records, and ranks the same, as the clean
CSV it was made from: BOM, cp1252, `;` with decimal commas, any header case and spacing, an
.xlsx workbook, and all of them at once. Problems still name file or sheet, row and column."""

from __future__ import annotations

import csv
import re
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from geo.gazetteer import Gazetteer
from matcher.rank import Matcher
from models.dataset import (
    FILES,
    Dataset,
    DatasetEncodingWarning,
    load_dataset,
    write_dataset,
)
from models.dataset._excel import cell_text
from models.domain import Exclusion
from models.errors import DatasetError, ValidationIssue
from models.synthetic import SyntheticSpec, generate_dataset
from tests.factories import AS_OF

Table = tuple[list[str], list[list[str]]]
Rename = Callable[[str], str]

_REAL = re.compile(r"(^|_)(lat|lon)$|^(daily_rate|min_km)$")
_DATE = re.compile(r"(^|_)(date|confirmed|follow_up)$")
_INTEGER = re.compile(r"^-?[1-9]\d*$|^0$")  # no leading zero: an id like 0800 stays text
_FLAGS = {"acute", "combination_ok", "secure_decision", "willing", "combination"}


@pytest.fixture(scope="module")
def clean(schools) -> Dataset:
    """A small dataset with placements, lists, dates and Danish letters in its texts."""
    dataset = generate_dataset(
        SyntheticSpec(children=40, families=60, institutions=12, seed=11, placements=True),
        schools,
    )
    child, family = dataset.children[0].child_id, dataset.families[0].family_id
    exclusions = (
        *dataset.exclusions,
        Exclusion(child, family, "Må ikke anbringes på Ærø; søster bor der"),
    )
    institutions = tuple(
        replace(inst, name=f"Åbo Børnehjem {n}") for n, inst in enumerate(dataset.institutions)
    )
    return replace(dataset, exclusions=exclusions, institutions=institutions)


@pytest.fixture(scope="module")
def clean_dir(clean: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clean")
    write_dataset(clean, path)
    return path


@pytest.fixture(scope="module")
def clean_loaded(clean_dir: Path, gazetteer: Gazetteer) -> Dataset:
    return load_dataset(clean_dir, gazetteer)


def _tables(directory: Path) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    for key, file in FILES.items():
        if (directory / file).exists():
            with (directory / file).open(encoding="utf-8", newline="") as handle:
                header, *rows = list(csv.reader(handle))
            tables[key] = (header, rows)
    return tables


def _write_variant(
    src: Path,
    dst: Path,
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    rename: Rename = str,
) -> None:
    """Rewrite every file of `src` as Excel might: encoding, delimiter (`;` also turns the
    decimal points of the real-valued columns into commas), header names."""
    dst.mkdir(parents=True, exist_ok=True)
    for key, (header, rows) in _tables(src).items():
        if delimiter == ";":
            reals = [i for i, name in enumerate(header) if _REAL.search(name)]
            for row in rows:
                for i in reals:
                    row[i] = row[i].replace(".", ",")
        with (dst / FILES[key]).open("w", encoding=encoding, newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
            writer.writerow([rename(name) for name in header])
            writer.writerows(rows)


def _typed(column: str, text: str) -> object:
    """The cell a user would have in Excel for one CSV value."""
    if text == "":
        return None
    if _DATE.search(column):
        return date.fromisoformat(text)
    if column in _FLAGS:
        return text == "1"
    if _REAL.search(column):
        return float(text)
    if _INTEGER.match(text):
        return int(text)
    return text


def _write_book(src: Path, path: Path, broken: tuple[str, int, str, object] | None = None) -> None:
    """One sheet per file with numbers, dates and booleans as typed cells; `broken` sets one
    cell (sheet, Excel row, column, value)."""
    book = Workbook()
    book.remove(book.active)
    for key, (header, rows) in _tables(src).items():
        sheet = book.create_sheet(key)
        sheet.append(header)
        for row in rows:
            sheet.append([_typed(c, v) for c, v in zip(header, row, strict=True)])
        if broken and broken[0] == key:
            sheet.cell(broken[1], header.index(broken[2]) + 1, broken[3])
    book.save(path)


def _rankings(dataset: Dataset) -> dict[str, dict[str, object]]:
    matcher = Matcher(dataset)
    return {
        c.child_id: matcher.rank(c.child_id, top=None, why_not=True, as_of=AS_OF).as_dict()
        for c in dataset.children
    }


def _upper_padded(name: str) -> str:
    return f"  {name.upper()} "


VARIANTS: dict[str, dict[str, object]] = {
    "utf8_bom": {"encoding": "utf-8-sig"},
    "cp1252": {"encoding": "cp1252"},
    "semicolon_decimal_comma": {"delimiter": ";"},
    "header_case_and_spaces": {"rename": _upper_padded},
    "all_at_once": {"encoding": "cp1252", "delimiter": ";", "rename": _upper_padded},
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_excel_csv_variant_loads_and_ranks_as_the_clean_csv(
    variant: str, clean_dir: Path, clean_loaded: Dataset, tmp_path: Path, gazetteer: Gazetteer
) -> None:
    _write_variant(clean_dir, tmp_path, **VARIANTS[variant])  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetEncodingWarning)
        loaded = load_dataset(tmp_path, gazetteer)
    assert loaded == clean_loaded
    assert _rankings(loaded) == _rankings(clean_loaded)


def test_xlsx_workbook_loads_and_ranks_as_the_clean_csv(
    clean_dir: Path, clean_loaded: Dataset, tmp_path: Path, gazetteer: Gazetteer
) -> None:
    book = tmp_path / "book.xlsx"
    _write_book(clean_dir, book)
    loaded = load_dataset(book, gazetteer)
    assert loaded == clean_loaded
    assert _rankings(loaded) == _rankings(clean_loaded)


def test_the_variants_are_what_excel_writes(clean_dir: Path, tmp_path: Path) -> None:
    """The proof above is only worth something if the files really differ from the clean."""
    _write_variant(clean_dir, tmp_path, encoding="cp1252", delimiter=";", rename=_upper_padded)
    data = (tmp_path / "institutions.csv").read_bytes()
    assert b"\xc5bo B\xf8rnehjem" in data  # cp1252 Å, ø
    header, first = data.decode("cp1252").splitlines()[:2]
    assert header.startswith("  INSTITUTION_ID ;") and "," not in header
    assert re.search(r";5\d,\d+;", first)  # a decimal comma in lat
    assert '"' in (tmp_path / "children.csv").read_text(encoding="cp1252")  # quoted lists


def test_semicolon_file_carries_lists_in_quotes(
    clean_dir: Path, clean_loaded: Dataset, tmp_path: Path, gazetteer: Gazetteer
) -> None:
    _write_variant(clean_dir, tmp_path, delimiter=";")
    text = (tmp_path / "children.csv").read_text(encoding="utf-8")
    assert re.search(r';"[a-z_]+;[a-z_]+', text)
    assert any(len(c.needs) > 1 for c in load_dataset(tmp_path, gazetteer).children)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_header_case_and_spacing_loads_the_same(
    data: st.DataObject, clean_dir: Path, clean_loaded: Dataset, gazetteer: Gazetteer
) -> None:
    spaces = st.text(alphabet=" ", max_size=3)
    cache: dict[str, str] = {}

    def rename(name: str) -> str:
        if name not in cache:
            flips = data.draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
            cased = "".join(c.upper() if f else c for c, f in zip(name, flips, strict=True))
            cache[name] = data.draw(spaces) + cased + data.draw(spaces)
        return cache[name]

    delimiter = data.draw(st.sampled_from([",", ";"]))
    with tempfile.TemporaryDirectory() as tmp:
        _write_variant(clean_dir, Path(tmp), delimiter=delimiter, rename=rename)
        assert load_dataset(Path(tmp), gazetteer) == clean_loaded


def _issues(path: Path, gazetteer: Gazetteer) -> list[ValidationIssue]:
    with pytest.raises(DatasetError) as caught:
        load_dataset(path, gazetteer)
    return list(caught.value.issues)


def test_neither_delimiter_is_named_with_the_file(
    clean_dir: Path, tmp_path: Path, gazetteer: Gazetteer
) -> None:
    _write_variant(clean_dir, tmp_path, delimiter="\t")
    issues = [i for i in _issues(tmp_path, gazetteer) if i.file == "children.csv"]
    assert len(issues) == 1
    issue = issues[0]
    assert issue.row == 1 and issue.value and issue.value.startswith("child_id\tkommune_code")
    assert "separated by ';' or ','" in issue.allowed and "found tabs" in issue.allowed
    assert str(issue).startswith("children.csv, row 1: got 'child_id")


def test_bad_cell_in_a_sheet_names_sheet_row_and_column(
    clean_dir: Path, tmp_path: Path, gazetteer: Gazetteer
) -> None:
    book = tmp_path / "book.xlsx"
    _write_book(clean_dir, book, broken=("families", 3, "places", "many"))
    issues = _issues(book, gazetteer)
    hits = [i for i in issues if i.column == "places"]
    assert [(i.file, i.row) for i in hits] == [("book.xlsx[families]", 3)]
    assert "whole number" in hits[0].allowed
    assert str(hits[0]).startswith("book.xlsx[families], row 3, column places: got 'many'")
    assert all(i.file.startswith("book.xlsx[") for i in issues)


def test_cross_file_problems_in_a_workbook_name_the_sheet(
    clean_dir: Path, tmp_path: Path, gazetteer: Gazetteer
) -> None:
    book = tmp_path / "book.xlsx"
    _write_book(clean_dir, book, broken=("network", 2, "child_id", "c404"))
    got = {(i.file, i.row, i.column) for i in _issues(book, gazetteer)}
    assert ("book.xlsx[network]", 2, "child_id") in got


def test_sheet_names_ignore_case_and_optional_sheets_stay_optional(
    clean_dir: Path, tmp_path: Path, gazetteer: Gazetteer
) -> None:
    book = Workbook()
    book.remove(book.active)
    for key, (header, rows) in _tables(clean_dir).items():
        if key in ("exclusions", "keep_away", "placements"):
            continue
        sheet = book.create_sheet(f" {key.title()} ")
        sheet.append([f"{h.upper()} " for h in header])
        sheet.append([])  # a blank row keeps the numbering of the rows below it
        for row in rows:
            sheet.append([_typed(c, v) for c, v in zip(header, row, strict=True)])
        if key == "families":
            sheet.cell(5, header.index("max_age") + 1, "old")
    path = tmp_path / "Book.XLSX"
    book.save(path)
    issues = _issues(path, gazetteer)
    assert [(i.file, i.row, i.column) for i in issues if i.column == "max_age"] == [
        ("Book.XLSX[ Families ]", 5, "max_age")
    ]
    # Only the families' row is wrong: the occupied places no longer match placements.csv
    # because that sheet was left out, which is allowed.
    assert {i.file for i in issues} == {"Book.XLSX[ Families ]"}


def test_missing_sheet_and_unreadable_workbooks(tmp_path: Path, gazetteer: Gazetteer) -> None:
    book = Workbook()
    book.active.title = "children"
    book.save(tmp_path / "book.xlsx")
    missing = {i.file: i.allowed for i in _issues(tmp_path / "book.xlsx", gazetteer)}
    assert "a sheet named families is required" in missing["book.xlsx[families]"]
    assert "sheets: children" in missing["book.xlsx[families]"]
    assert "book.xlsx[exclusions]" not in missing
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip file")
    (broken,) = _issues(tmp_path / "broken.xlsx", gazetteer)
    assert broken.file == "broken.xlsx" and "an .xlsx workbook" in broken.allowed
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    (old,) = _issues(tmp_path / "old.xls", gazetteer)
    assert "save it as .xlsx" in old.allowed


def test_encoding_warning_is_given_once_per_cp1252_file(
    clean_dir: Path, tmp_path: Path, gazetteer: Gazetteer
) -> None:
    _write_variant(clean_dir, tmp_path, encoding="cp1252", delimiter=";")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_dataset(tmp_path, gazetteer)
    messages = [str(w.message) for w in caught if w.category is DatasetEncodingWarning]
    # Files without a letter beyond ASCII are valid UTF-8 as well, and need no guess.
    assert sorted(m.split(":")[0] for m in messages) == [
        "exclusions.csv",
        "institutions.csv",
        "keep_away.csv",
    ]
    assert all("read as Windows cp1252" in m for m in messages)
    with warnings.catch_warnings(record=True) as clean_run:
        warnings.simplefilter("always")
        load_dataset(clean_dir, gazetteer)
    assert not [w for w in clean_run if w.category is DatasetEncodingWarning]


def test_bytes_neither_utf8_nor_cp1252_are_named_with_their_line(
    clean_dir: Path, tmp_path: Path, gazetteer: Gazetteer
) -> None:
    _write_variant(clean_dir, tmp_path)
    path = tmp_path / "families.csv"
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b",", b",\x81", 1)  # 0x81: undefined in cp1252
    path.write_bytes(b"\n".join(lines))
    (issue,) = [i for i in _issues(tmp_path, gazetteer) if i.file == "families.csv"]
    assert issue.row == 4 and issue.value and issue.value.startswith("byte 0x81")
    assert "UTF-8 or Windows cp1252" in issue.allowed


def test_unquoted_list_in_semicolon_file_is_named(
    clean_dir: Path, tmp_path: Path, gazetteer: Gazetteer
) -> None:
    _write_variant(clean_dir, tmp_path, delimiter=";")
    path = tmp_path / "children.csv"
    text = path.read_text(encoding="utf-8")
    first_list = re.search(r'"([a-z_]+;[a-z_;]+)"', text)
    assert first_list
    line = text[: first_list.start()].count("\n") + 1
    path.write_text(text.replace(first_list.group(0), first_list.group(1), 1), encoding="utf-8")
    issues = [i for i in _issues(tmp_path, gazetteer) if i.file == "children.csv"]
    assert [i.row for i in issues] == [line]
    assert "must be in double quotes" in issues[0].allowed


def test_decimal_comma_only_where_comma_is_not_the_delimiter(
    clean_dir: Path, tmp_path: Path, gazetteer: Gazetteer
) -> None:
    _write_variant(clean_dir, tmp_path)
    header, rows = _tables(tmp_path)["institutions"]
    rows[0][header.index("daily_rate")] = "5799,5"  # quoted by the writer in a comma file
    rows[1][header.index("daily_rate")] = "1.234,5"
    with (tmp_path / "institutions.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([header, *rows])
    got = {(i.row, i.value) for i in _issues(tmp_path, gazetteer) if i.column == "daily_rate"}
    assert got == {(2, "5799,5"), (3, "1.234,5")}
    _write_variant(tmp_path, tmp_path / "semi", delimiter=";")
    semi = [i for i in _issues(tmp_path / "semi", gazetteer) if i.column == "daily_rate"]
    assert [(i.row, i.value) for i in semi] == [(3, "1,234,5")]
    assert "',' or '.' as the decimal separator" in semi[0].allowed


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (3, "3"),
        (3.0, "3"),
        (55.67, "55.67"),
        (True, "1"),
        (False, "0"),
        (datetime(2026, 5, 1), "2026-05-01"),
        (date(2026, 5, 1), "2026-05-01"),
        (datetime(2026, 5, 1, 8, 30), "2026-05-01T08:30:00"),
        (" c001 ", " c001 "),
    ],
)
def test_cell_text_is_the_csv_text(value: object, text: str) -> None:
    assert cell_text(value) == text
