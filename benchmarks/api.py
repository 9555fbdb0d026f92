"""Proposals over HTTP against a real `placement serve` on loopback, national-scale dataset.

The load comes from `wrk` (a C load generator, so the load itself takes little of the
machine's CPU), or `hey` when wrk is missing; both are Debian packages, installed here with
apt-get when absent and allowed. Without either, the benchmark says so and falls back to the
Python load generator (threads of httpx clients), which spends much CPU itself.

Rows, per server (1 worker, `--workers 2`) and per number of connections (1, 32):

- `GET /healthz`: the floor of the HTTP stack on this machine (no key, no database);
- `POST /v1/children/{id}/proposals` (top 10): key check, scope check, the ranking, and the
  audit row committed before the answer.

The in-process ranking of the same children is printed beside them (the HTTP overhead ratio).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx

from benchmarks.common import console, instance, percentile, print_table
from benchmarks.server import free_port, start_server, stop_server

__all__ = ["Load", "load_generator", "prepare_database", "run", "run_load"]

REQUESTS_PER_CLIENT = 40
SECONDS = 8


@dataclass(frozen=True)
class Load:
    """One load run: latency percentiles in ms, requests per second, failed answers."""

    p50: float
    p99: float
    rps: float
    errors: int


def load_generator() -> str:
    """`wrk`, `hey`, or `python` (installed with apt-get if missing and we are root)."""
    for tool in ("wrk", "hey"):
        if shutil.which(tool):
            return tool
    if os.geteuid() == 0 and shutil.which("apt-get"):
        for package in ("wrk", "hey"):
            done = subprocess.run(
                ["apt-get", "install", "-y", "-q", package],
                capture_output=True,
                check=False,
            )
            if done.returncode == 0 and shutil.which(package):
                return package
    return "python"


def prepare_database(directory: Path, scale: int = 1) -> tuple[str, str, list[str], object]:
    """A SQLite database with the national synthetic dataset (or 1/scale of it), a
    coordinator key for every kommune; (url, key, child ids, dataset)."""
    from sqlalchemy.orm import sessionmaker

    from api.db.engine import make_engine, session_scope
    from api.db.migrate import upgrade
    from api.db.sync import sync_dataset
    from api.services.caller import Role
    from api.services.keys import create_key
    from api.services.runtime import Service

    ds = instance(3400 // scale, 5300 // scale, 700 // scale, seed=1)
    url = f"sqlite:///{directory / 'bench.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(sessionmaker(engine)) as session:
        sync_dataset(session, ds)
        Service.bump(session, "structure", "capacity")
        key = create_key(session, Role.COORDINATOR, sorted({c.kommune_code for c in ds.children}))
    engine.dispose()
    return url, key, [c.child_id for c in ds.children][:400], ds


_WRK_SCRIPT = """
local ids = {%(ids)s}
local i = 0
wrk.headers["Authorization"] = "Bearer %(key)s"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  local id = ids[(i %% #ids) + 1]
  if id == nil then
    return wrk.format("GET", "/healthz")
  end
  return wrk.format("POST", "/v1/children/" .. id .. "/proposals", nil, '{"top": 10}')
end
"""

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([0-9.]+)([a-z]+)", text.strip()).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS[unit]


def _wrk(base: str, key: str, children: list[str], connections: int, seconds: int) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        ids = ", ".join(f'"{c}"' for c in children) if children else ""
        script.write(_WRK_SCRIPT % {"ids": ids, "key": key})
    try:
        threads = 1 if connections == 1 else 2
        done = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script.name,
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(script.name)
    out = done.stdout
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    failed = re.search(r"Socket errors:.*?(\d+) timeout", out)
    errors = (int(bad.group(1)) if bad else 0) + (int(failed.group(1)) if failed else 0)
    return Load(p50, p99, rps, errors)


def _hey(base: str, key: str, children: list[str], connections: int, seconds: int) -> Load:
    """hey sends one URL only: the first child's proposals (or /healthz)."""
    url = f"{base}/v1/children/{children[0]}/proposals" if children else f"{base}/healthz"
    args = ["hey", "-z", f"{seconds}s", "-c", str(connections)]
    if children:
        args += ["-m", "POST", "-H", f"Authorization: Bearer {key}", "-T", "application/json"]
        args += ["-d", '{"top": 10}']
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    p50 = float(re.search(r"50%+ in ([0-9.]+) secs", out).group(1)) * 1000  # type: ignore[union-attr]
    p99 = float(re.search(r"99%+ in ([0-9.]+) secs", out).group(1)) * 1000  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    codes = re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)
    errors = sum(int(n) for code, n in codes if code != "200")
    return Load(p50, p99, rps, errors)


def _python(base: str, key: str, children: list[str], connections: int, seconds: int) -> Load:
    """Threads of httpx clients in a closed loop (the fallback: costs much CPU itself)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    barrier = threading.Barrier(connections)

    def client(k: int) -> None:
        nonlocal errors
        mine: list[float] = []
        bad = 0
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as http:
            barrier.wait()
            for n in range(REQUESTS_PER_CLIENT):
                start = time.perf_counter()
                if children:
                    cid = children[(k * REQUESTS_PER_CLIENT + n) % len(children)]
                    r = http.post(f"/v1/children/{cid}/proposals", json={"top": 10})
                else:
                    r = http.get("/healthz")
                mine.append((time.perf_counter() - start) * 1000)
                bad += r.status_code != 200
        with lock:
            latencies.extend(mine)
            errors += bad

    threads = [threading.Thread(target=client, args=(k,)) for k in range(connections)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rps = len(latencies) / (time.perf_counter() - start)
    return Load(percentile(latencies, 50), percentile(latencies, 99), rps, errors)


def run_load(
    tool: str, base: str, key: str, children: list[str], connections: int, seconds: int = SECONDS
) -> Load:
    """One closed-loop run: the proposals of `children` in turn, or /healthz if none."""
    fn = {"wrk": _wrk, "hey": _hey, "python": _python}[tool]
    return fn(base, key, children, connections, seconds)


def run(quick: bool = False) -> None:
    from api.services.runtime import RANKINGS_KEPT_ENV
    from matcher.rank import Matcher

    tool = load_generator()
    if tool != "wrk":
        console.print(
            f"[yellow]wrk is not installed and could not be; load from {tool} instead[/]"
            + (" (one child's proposals only)" if tool == "hey" else "")
        )
    seconds = 3 if quick else SECONDS
    with tempfile.TemporaryDirectory() as tmp:
        url, key, children, ds = prepare_database(Path(tmp), scale=10 if quick else 1)
        matcher = Matcher(ds)  # type: ignore[arg-type]
        today = date.today()
        in_process = []
        for cid in children:
            start = time.perf_counter()
            matcher.rank(cid, top=10, as_of=today)
            in_process.append((time.perf_counter() - start) * 1000)
        rank_p50 = percentile(in_process, 50)
        rows = []
        # The 400 children are asked in turn, so after the first round each ranking is one
        # the server keeps (`PLACEMENT_RANKINGS_KEPT`); the baseline server keeps none and
        # ranks on every request.
        servers = [(workers, kept) for workers in (1, 2) for kept in (None, "0")]
        for workers, kept in servers:
            port = free_port()
            env = {RANKINGS_KEPT_ENV: kept} if kept is not None else {}
            proc = start_server(url, port, workers, wait_seconds=60, env=env)
            base = f"http://127.0.0.1:{port}"
            name = "1 worker" if workers == 1 else f"--workers {workers}"
            try:
                # A few rankings kept before the rows below (a server's matcher is built as
                # it starts; the row `proposals, fresh server` is the load on one not warmed).
                run_load(tool, base, key, children[:50], 4, 2)
                for connections in (1, 32):
                    loads: list[tuple[str, list[str]]] = [("/healthz", [])] if kept is None else []
                    loads.append(("proposals" + (", none kept" if kept else ""), children))
                    for what, ids in loads:
                        load = run_load(tool, base, key, ids, connections, seconds)
                        rows.append(
                            [
                                name,
                                what,
                                str(connections),
                                f"{load.p50:.2f}",
                                f"{load.p99:.1f}",
                                f"{load.rps:.0f}",
                                str(load.errors),
                                f"{load.p50 / rank_p50:.1f}x" if ids else "-",
                            ]
                        )
            finally:
                stop_server(proc)
        # As a user would meet it, and the check: a server just started, 32 new
        # connections, every ranking still to be made in each worker.
        port = free_port()
        proc = start_server(url, port, 2, wait_seconds=60)
        try:
            load = run_load(tool, f"http://127.0.0.1:{port}", key, children, 32, seconds)
        finally:
            stop_server(proc)
        rows.append(
            [
                "--workers 2",
                "proposals, fresh server",
                "32",
                f"{load.p50:.2f}",
                f"{load.p99:.1f}",
                f"{load.rps:.0f}",
                str(load.errors),
                f"{load.p50 / rank_p50:.1f}x",
            ]
        )
    print_table(
        f"HTTP on loopback via {tool}, {len(ds.children)} children, "  # type: ignore[attr-defined]
        f"{len(matcher.options)} options, SQLite; floor: GET /healthz on the same server; "
        f"in-process rank p50 {rank_p50:.2f} ms",
        [
            "server",
            "route",
            "connections",
            "p50 ms",
            "p99 ms",
            "requests/s",
            "errors",
            "p50 / in-process rank",
        ],
        rows,
    )
    console.print(
        "Goals (proposals, audit row and all): 1 connection p50 <= 3 ms; 32 connections on "
        "--workers 2 >= 400 requests/s with p99 <= 150 ms. 'none kept': the same server with "
        f"{RANKINGS_KEPT_ENV}=0, ranking on every request."
    )
