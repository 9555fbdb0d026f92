"""`python -m benchmarks cli`: wall time of `placement` commands as a user starts them.

Each command runs as a fresh process (`python -m api.cli ...`), several times; the table
shows the median and the best wall time beside two baselines measured in the same run:

- `python -c pass`: the interpreter's own start-up, the floor of any command;
- `import numpy, typer, rich`: what every command of this CLI must load at the least.

Rows: `placement --help`; `placement rank` on the national dataset, cold (a dataset never
loaded before: the snapshot cache is empty; the command writes the snapshot in a background
process after its answer, which the wall time does not include) and warm (its snapshot, keyed
by the files' hashes, is there); the same warm run with the cache turned off
(`PLACEMENT_CACHE_DIR=off`), which is what the CSV reading and checking cost; and `rank` run
at once on a dataset `placement generate` has just written (which leaves its snapshot).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import console, instance, print_table

__all__ = ["run"]

RUNS = 5


def _wall(args: list[str], env: dict[str, str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def _first_child(data: Path) -> str:
    with (data / "children.csv").open(encoding="utf-8") as rows:
        next(rows)
        return next(rows).split(",", 1)[0]


def run(quick: bool = False) -> None:
    from models.dataset import write_dataset

    runs = 2 if quick else RUNS
    scale = 10 if quick else 1
    with tempfile.TemporaryDirectory(prefix="cli-bench-") as tmp:
        root = Path(tmp)
        data = root / "national"
        ds = instance(3400 // scale, 5300 // scale, 700 // scale, seed=1)
        write_dataset(ds, data)
        child = ds.children[0].child_id
        env = os.environ.copy()
        cache = root / "cache"
        env["PLACEMENT_CACHE_DIR"] = str(cache)
        py = [sys.executable]
        cli = [*py, "-m", "api.cli"]
        rank = [*cli, "rank", "--data", str(data), "--child", child]
        rows: list[tuple[str, list[float]]] = []
        rows.append(("python -c pass (baseline)", _wall([*py, "-c", "pass"], env, runs)))
        imports = "import numpy, typer, rich.console"
        rows.append((f"{imports} (baseline)", _wall([*py, "-c", imports], env, runs)))
        rows.append(("placement --help", _wall([*cli, "--help"], env, runs)))
        cold = []
        for n in range(runs):
            env_cold = env | {"PLACEMENT_CACHE_DIR": str(root / f"cold-{n}")}
            cold += _wall(rank, env_cold, 1)
        rows.append(("placement rank, cold (no snapshot yet)", cold))
        _wall(rank, env, 1)  # its snapshot is written in the background after the answer
        for _ in range(200):
            if list(cache.glob("dataset-*.marshal")):
                break
            time.sleep(0.05)
        rows.append(("placement rank, warm (snapshot)", _wall(rank, env, runs)))
        off = env | {"PLACEMENT_CACHE_DIR": "off"}
        rows.append(("placement rank, cache off", _wall(rank, off, runs)))
        # The check: a dataset just made by `placement generate`, ranked at once.
        after = []
        for n in range(min(runs, 3)):
            fresh = root / f"generated-{n}"
            env_gen = env | {"PLACEMENT_CACHE_DIR": str(root / f"gen-cache-{n}")}
            sizes = {"--children": 3400, "--families": 5300, "--institutions": 700}
            subprocess.run(
                [*cli, "generate", "--out", str(fresh), "--seed", str(20 + n)]
                + [a for name, size in sizes.items() for a in (name, str(size // scale))],
                env=env_gen,
                check=True,
                capture_output=True,
            )
            first = _first_child(fresh)
            after += _wall([*cli, "rank", "--data", str(fresh), "--child", first], env_gen, 1)
        rows.append(("placement rank right after placement generate", after))
    floor = statistics.median(rows[0][1])
    print_table(
        f"`placement` wall time, {runs} fresh processes each, national dataset "
        f"({len(ds.children)} children, {len(ds.families)} families, "
        f"{len(ds.institutions)} institutions); baseline: python -c pass",
        ["command", "median s", "best s", "vs python -c pass"],
        [
            [
                name,
                f"{statistics.median(t):.3f}",
                f"{min(t):.3f}",
                f"{statistics.median(t) / floor:.0f}x",
            ]
            for name, t in rows
        ],
    )
    console.print(
        "Goals: placement rank (national) <= 0.8 s wall; placement --help <= 0.3 s. "
        "The snapshot is keyed by the SHA-256 of the dataset's and geodata's bytes and of the "
        "loading code, so it is never stale (api/cli/snapshot.py)."
    )
