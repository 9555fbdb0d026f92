"""Proposals over HTTP against a running server on loopback, national-scale dataset:
latency p50/p99 at 1 and 32 concurrent clients, requests per second, and the in-process
ranking time for the same children (the HTTP overhead ratio)."""

from __future__ import annotations

import tempfile
import threading
import time
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy.orm import sessionmaker

from api.db.engine import make_engine, session_scope
from api.db.migrate import upgrade
from api.db.sync import sync_dataset
from api.services.caller import Role
from api.services.keys import create_key
from api.services.runtime import Service
from benchmarks.common import console, instance, percentile, print_table
from benchmarks.server import free_port, start_server, stop_server
from matcher.rank import Matcher

__all__ = ["run"]

REQUESTS_PER_CLIENT = 40


def _load(clients: int, base: str, key: str, children: list[str]) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client(k: int) -> None:
        mine: list[float] = []
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as http:
            barrier.wait()
            for n in range(REQUESTS_PER_CLIENT):
                cid = children[(k * REQUESTS_PER_CLIENT + n) % len(children)]
                start = time.perf_counter()
                r = http.post(f"/v1/children/{cid}/proposals", json={"top": 10})
                mine.append((time.perf_counter() - start) * 1000)
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, len(latencies) / (time.perf_counter() - start)


def run(quick: bool = False) -> None:
    scale = 10 if quick else 1
    ds = instance(3400 // scale, 5300 // scale, 700 // scale, seed=1)
    children = [c.child_id for c in ds.children][:400]
    matcher = Matcher(ds)
    today = date.today()
    in_process = []
    for cid in children:
        start = time.perf_counter()
        matcher.rank(cid, top=10, as_of=today)
        in_process.append((time.perf_counter() - start) * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        engine = make_engine(url)
        upgrade(engine)
        with session_scope(sessionmaker(engine)) as session:
            sync_dataset(session, ds)
            Service.bump(session, "structure", "capacity")
            key = create_key(
                session, Role.COORDINATOR, sorted({c.kommune_code for c in ds.children})
            )
        rows = []
        for workers in (1, 2):
            port = free_port()
            proc = start_server(url, port, workers, wait_seconds=60)
            base = f"http://127.0.0.1:{port}"
            try:
                for _ in range(3):  # warm: every worker builds its matcher
                    _load(2, base, key, children[:20])
                for clients in (1, 32):
                    latencies, rps = _load(clients, base, key, children)
                    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
                    rows.append(
                        [
                            str(workers),
                            str(clients),
                            f"{p50:.1f}",
                            f"{p99:.1f}",
                            f"{rps:.0f}",
                            f"{percentile(in_process, 50):.2f}",
                            f"{p50 / percentile(in_process, 50):.1f}x",
                        ]
                    )
            finally:
                stop_server(proc)
    print_table(
        f"POST /v1/children/{{id}}/proposals (top 10) on loopback, {len(ds.children)} children, "
        f"{len(matcher.options)} options, SQLite; baseline: one uvicorn worker",
        [
            "workers",
            "clients",
            "p50 ms",
            "p99 ms",
            "requests/s",
            "in-process rank p50 ms",
            "HTTP p50 / in-process",
        ],
        rows,
    )
    console.print(
        "Goal: p50 <= 20 ms and p99 <= 100 ms at 32 concurrent clients. Each "
        "request also authenticates the key and writes an audit row."
    )
