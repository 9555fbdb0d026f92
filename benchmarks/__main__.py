"""`python -m benchmarks NAME [--quick]`: each benchmark prints a table with ratios against
named baselines measured in the same run."""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS = {
    "rank": "benchmarks.rank",
    "batch": "benchmarks.batch",
    "api": "benchmarks.api",
    "whatif": "benchmarks.whatif",
    "imports": "benchmarks.imports",
    "cli": "benchmarks.cli",
    "memory": "benchmarks.memory",
    "edges": "benchmarks.edges",
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("name", choices=sorted(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    importlib.import_module(BENCHMARKS[args.name]).run(quick=args.quick)


if __name__ == "__main__":
    main()
