"""`python -m benchmarks edges`: building the batch's edges, the core's unit by unit (the
baseline) against the pair kernel (`matcher/batch/_pairs.py`), in one process and as
`placement match` runs it (forked workers).

Each row is the median of 3 runs on a fresh matcher (network tables not built yet, as in a
`placement match`). The columns of every run are checked equal to the baseline's, bit for
bit. Goal (issue 17): the stress instance's edges in <= 1.5 s.
"""

from __future__ import annotations

import statistics
import time
from datetime import date

import numpy as np

from benchmarks.common import console, instance, print_table
from matcher.batch import _problem
from matcher.batch._problem import _EdgeBuilder, _Offerable, edge_workers
from matcher.cohort import select_units
from matcher.rank import Matcher

__all__ = ["run"]

AS_OF = date(2026, 11, 28)
RUNS = 3


def _builder(matcher: Matcher) -> _EdgeBuilder:
    units = tuple(select_units(matcher, None, None))
    free = matcher.pools.free
    return _EdgeBuilder(matcher, units, AS_OF, free, _Offerable.of(matcher, free))


def _timed(fresh: Matcher, method: str) -> tuple[float, list[np.ndarray]]:
    builder = _builder(fresh)
    n = len(builder.units)
    start = time.perf_counter()
    if method == "unit by unit":
        cols = builder.unit_by_unit(0, n)
    elif method == "pairs, one process":
        cols = builder._slice(0, n)
    else:
        cols = builder.columns(edge_workers(n))
    return time.perf_counter() - start, cols


def run(quick: bool = False) -> None:
    scale = 10 if quick else 1
    instances = {  # as in `python -m benchmarks batch`
        "national": (3400 // scale, 5300 // scale, 700 // scale, 1),
        "stress": (5000 // scale, 12_000 // scale, 1_500 // scale, 2),
    }
    methods = ("unit by unit", "pairs, one process", "pairs, as placement match")
    rows = []
    for name, (children, families, institutions, seed) in instances.items():
        dataset = instance(children, families, institutions, seed=seed)
        times: dict[str, list[float]] = {m: [] for m in methods}
        baseline: list[np.ndarray] | None = None
        edges = 0
        for _ in range(RUNS):
            for method in methods:
                seconds, cols = _timed(Matcher(dataset), method)
                times[method].append(seconds)
                if baseline is None:
                    baseline, edges = cols, len(cols[0])
                elif not all(np.array_equal(a, b) for a, b in zip(baseline, cols, strict=True)):
                    raise SystemExit(f"{name}: {method} gave other edges than the baseline")
        base = statistics.median(times["unit by unit"])
        processes = edge_workers(len(select_units(Matcher(dataset), None, None)))
        for method in methods:
            median = statistics.median(times[method])
            shown = f"{method} ({processes} processes)" if method == methods[-1] else method
            rows.append(
                [
                    name,
                    f"{edges:,}",
                    shown,
                    f"{median:.2f}",
                    f"{min(times[method]):.2f}",
                    f"{base / median:.1f}x",
                ]
            )
    print_table(
        f"Batch edges, median of {RUNS} runs (baseline: the core unit by unit); "
        "same edges as the baseline in every run",
        ["instance", "edges", "method", "median s", "best s", "vs baseline"],
        rows,
    )
    console.print(
        f"Goal: stress edges <= 1.5 s. PAIR_UNITS = {_problem.PAIR_UNITS} units per kernel call."
    )
