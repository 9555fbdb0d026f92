"""Option tables taken by rows or joined one after another: the same columns as copying
them at once, whether read, read again, taken again or pickled."""

from __future__ import annotations

import copy
import pickle
from dataclasses import fields

import numpy as np
import pytest

from matcher.rank import Matcher
from matcher.tables import OptionTable, network_tables, stacked
from tests.matcher.test_batch import tiny

_COLUMNS = [name for name in OptionTable.__dataclass_fields__]


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(tiny(5, 10, 30, 4))


def _same(table: OptionTable, expected: dict[str, np.ndarray]) -> None:
    assert len(table) == len(expected["option_id"])
    for name in _COLUMNS:
        assert np.array_equal(getattr(table, name), expected[name], equal_nan=name == "closeness")


def test_rows_taken_equal_the_columns_indexed_at_once(matcher: Matcher) -> None:
    options = matcher.options
    rows = np.array([5, 0, 3, 3, len(options) - 1])
    taken = options.take(rows)
    _same(taken, {n: getattr(options, n)[rows] for n in _COLUMNS})
    again = taken.take(np.array([4, 1]))  # rows of rows
    _same(again, {n: getattr(options, n)[rows[[4, 1]]] for n in _COLUMNS})
    assert len(options.take(np.zeros(0, dtype=np.int64))) == 0
    mask = np.zeros(len(options), dtype=bool)
    mask[[1, 4]] = True
    _same(options.take(mask), {n: getattr(options, n)[[1, 4]] for n in _COLUMNS})


def test_two_tables_joined_equal_their_columns_concatenated(matcher: Matcher) -> None:
    network = next(u.network for u in matcher.units if len(u.network))
    joined = stacked(network, matcher.options.take(np.arange(3)))
    expected = {
        n: np.concatenate([getattr(network, n), getattr(matcher.options, n)[:3]]) for n in _COLUMNS
    }
    _same(joined, expected)


def test_lazy_tables_pickle_and_copy_as_plain_ones(matcher: Matcher) -> None:
    taken = matcher.options.take(np.array([2, 1]))
    joined = stacked(taken, matcher.options.take(np.array([0])))
    for table in (taken, joined):
        expected = {n: getattr(table, n) for n in _COLUMNS}
        for twin in (pickle.loads(pickle.dumps(table)), copy.deepcopy(table)):
            assert type(twin) is OptionTable
            _same(twin, expected)
    with pytest.raises(AttributeError):
        _ = taken.no_such_column


def test_network_tables_built_at_once_are_those_built_one_by_one(small_dataset) -> None:
    """`network_tables` (the batch's one pass) gives every unit the table its own
    `network_table` gives, column for column and bit for bit, leaves a table built
    already as it is, and gives units without a network an empty table of the same types."""
    one_by_one, at_once = Matcher(small_dataset), Matcher(small_dataset)
    built_before = at_once.units[0].network
    network_tables(at_once.units)
    assert at_once.units[0].network is built_before
    assert any(len(u.network) == 0 for u in at_once.units)
    assert sum(len(u.network) for u in at_once.units) > 20
    for mine, theirs in zip(at_once.units, one_by_one.units, strict=True):
        for name in (f.name for f in fields(OptionTable)):
            a, b = getattr(mine.network, name), getattr(theirs.network, name)
            assert a.dtype == b.dtype, name
            assert a.tolist() == b.tolist() or (
                name == "closeness" and np.array_equal(a, b, equal_nan=True)
            ), name
