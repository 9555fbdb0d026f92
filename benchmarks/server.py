"""A real `placement serve` process on loopback, for the API benchmark and the tests that
need a server restart or several worker processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx

__all__ = ["free_port", "start_server", "stop_server"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    url: str,
    port: int,
    workers: int = 1,
    wait_seconds: float = 30.0,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """`placement serve` on `url` (with `env` added to ours), returned once /healthz
    answers."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--port",
            str(port),
            "--database",
            url,
            "--workers",
            str(workers),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,  # its own group: the parent and its workers stop together
    )
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"the server on port {port} did not start within {wait_seconds:.0f} s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C to the server's group (a clean shutdown), a kill if that takes too long."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        proc.wait()
