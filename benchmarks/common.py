"""Shared helpers for the benchmark CLI: timing, tables, synthetic instances."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from geo.gazetteer import default_gazetteer
from models.dataset import Dataset
from models.synthetic import SyntheticSpec, generate_dataset

__all__ = ["console", "instance", "percentile", "print_table", "timed"]

console = Console(width=240)


def instance(children: int, families: int, institutions: int, seed: int = 1) -> Dataset:
    gaz = default_gazetteer()
    schools = gaz.schools.frame
    schools = schools[schools["kommune_code"].astype(str).map(gaz.has_kommune)]
    return generate_dataset(SyntheticSpec(children, families, institutions, seed), schools)


def percentile(values: Sequence[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="right")
    for row in rows:
        table.add_row(*row)
    console.print(table)
