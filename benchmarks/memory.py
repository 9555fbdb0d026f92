"""`python -m benchmarks memory`: the server's resident memory over 10,000 proposals requests.

A real `placement serve` (one worker) on the national dataset. After a warm-up (the matcher
built, every code path run once) its RSS is read, then 10,000 proposals requests of 400
different children follow (each with its audit row), and the RSS is read after every 2,000.
The baseline is the RSS after the warm-up: growth beyond noise (a few MB from the
allocator's arenas) would be a leak, since a request keeps nothing once it has answered.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import psutil

from benchmarks.api import load_generator, prepare_database, run_load
from benchmarks.common import console, print_table
from benchmarks.server import free_port, start_server, stop_server

__all__ = ["run"]

REQUESTS = 10_000
STEPS = 5


def _rss_mb(pid: int) -> float:
    process = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20


def _requests(tool: str, base: str, key: str, children: list[str], count: int) -> int:
    """About `count` requests (wrk and hey run for a time: sized from a measured rate)."""
    if tool == "python":
        done = 0
        while done < count:
            load = run_load(tool, base, key, children, 8)
            done += 8 * 40
        return done
    probe = run_load(tool, base, key, children, 4, 2)
    done = int(probe.rps * 2)
    while done < count:
        seconds = max(1, min(30, int((count - done) / max(probe.rps, 1.0))))
        load = run_load(tool, base, key, children, 4, seconds)
        done += int(load.rps * seconds)
        if load.errors:
            raise RuntimeError(f"{load.errors} failed requests")
    return done


def run(quick: bool = False) -> None:
    tool = load_generator()
    total = REQUESTS // 10 if quick else REQUESTS
    with tempfile.TemporaryDirectory() as tmp:
        url, key, children, ds = prepare_database(Path(tmp), scale=10 if quick else 1)
        port = free_port()
        proc = start_server(url, port, 1, wait_seconds=60)
        base = f"http://127.0.0.1:{port}"
        rows = []
        try:
            run_load(tool, base, key, children, 4, 3)  # warm-up: matcher, code paths
            before = _rss_mb(proc.pid)
            rows.append(["after warm-up (baseline)", "0", f"{before:.1f}", "+0.0"])
            sent = 0
            for _ in range(STEPS):
                sent += _requests(tool, base, key, children, total // STEPS)
                rss = _rss_mb(proc.pid)
                rows.append(["", f"{sent:,}", f"{rss:.1f}", f"{rss - before:+.1f}"])
        finally:
            stop_server(proc)
    print_table(
        f"placement serve RSS over proposals requests ({tool}, national dataset, "
        f"{len(ds.children)} children, 1 worker); baseline: RSS after the warm-up",  # type: ignore[attr-defined]
        ["", "requests", "RSS MB", "vs warm-up MB"],
        rows,
    )
    console.print("Goal: no growth over 10,000 proposals requests (beyond allocator noise).")
