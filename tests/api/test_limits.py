"""Authentication before the body, and the body limit (api/http/limits.py).

On a real `placement serve` process: 30 MB bodies without a key (declared and chunked) are
refused with 401 without being read, with a key they get 413 once the limit is passed, and the
server's memory stays flat. In process: the middleware never calls `receive` when it refuses,
a revoked key is refused at once, and the configured limit is honoured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import httpx
import psutil
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import sessionmaker

from api.db.orm import ApiKey
from api.http.app import create_app
from api.http.limits import MAX_BODY_ENV, RequestGuard, max_body_from_environment, size_text
from api.services.keys import hash_key
from benchmarks.server import free_port, start_server, stop_server
from models.dataset import Dataset
from tests.api.conftest import Env, database_backends, fresh_engine, load, make_keys

MB = 1024 * 1024
BIG = 30 * 1000 * 1000
PROBLEM = "application/problem+json"
RESERVATION = {"child_id": "c1", "option_id": "f1"}


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """`total` bytes of a JSON-ish body, streamed (httpx sends it chunked, no length)."""
    block = b"x" * size
    sent = 0
    while sent < total:
        piece = block[: min(size, total - sent)]
        sent += len(piece)
        yield piece


# ------------------------------------------------------------------ in process (fast)


def test_no_key_is_refused_before_the_body_is_parsed(env: Env) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        r = env.client.post(
            "/v1/reservations",
            content=b"{not json",
            headers=headers | {"Content-Type": "application/json"},
        )
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["title"] == "Unauthorized"
    keyed = env.client.post(
        "/v1/reservations",
        content=b"{not json",
        headers=env.auth("coordinator") | {"Content-Type": "application/json"},
    )
    assert keyed.status_code == 422 and keyed.json()["errors"][0]["type"] == "json_invalid"


def test_the_401_before_the_body_is_the_401_of_the_route(env: Env) -> None:
    before = env.client.post("/v1/reservations", json=RESERVATION).json()
    after = env.client.get("/v1/reservations/x").json()
    assert before == after
    bad = env.client.post(
        "/v1/reservations", json=RESERVATION, headers={"Authorization": "Bearer x"}
    )
    assert (
        bad.json()
        == env.client.get("/v1/reservations/x", headers={"Authorization": "Bearer x"}).json()
    )


def test_a_revoked_key_is_refused_at_once(env: Env) -> None:
    headers = env.auth("coordinator")
    assert env.client.post("/v1/reservations", json={}, headers=headers).status_code == 422
    with sessionmaker(env.engine).begin() as s:
        s.execute(
            update(ApiKey)
            .where(ApiKey.key_hash == hash_key(env.keys["coordinator"]))
            .values(revoked=True)
        )
    r = env.client.post("/v1/reservations", content=b"{not json", headers=headers)
    assert r.status_code == 401 and r.json()["detail"] == "the API key is not valid"


def test_pages_and_reads_need_no_bearer_key(env: Env) -> None:
    assert env.client.get("/healthz").status_code == 200
    # /ui has its own sign-in: a form post without a key reaches the page (its CSRF check).
    r = env.client.post("/ui/login", data={"api_key": "x", "login_token": "y"})
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")


def test_the_default_limit_is_one_mib_declared_or_chunked(env: Env) -> None:
    headers = env.auth("coordinator") | {"Content-Type": "application/json"}
    declared = env.client.post("/v1/reservations", content=b" " * (2 * MB), headers=headers)
    assert declared.status_code == 413
    assert declared.headers["content-type"] == PROBLEM
    problem = declared.json()
    assert problem["title"] == "Content Too Large"
    assert "1048576 bytes (1 MiB)" in problem["detail"]
    streamed = env.client.post("/v1/reservations", content=chunks(2 * MB), headers=headers)
    assert streamed.status_code == 413 and streamed.json() == problem
    # Just under the limit is read (and then refused as the JSON it is not).
    under = env.client.post("/v1/reservations", content=b" " * (MB - 10) + b"{}", headers=headers)
    assert under.status_code == 422


def test_a_configured_limit_is_honoured(env: Env) -> None:
    with TestClient(create_app(env.service, recover_jobs=False, max_body_bytes=100)) as client:
        headers = env.auth("coordinator") | {"Content-Type": "application/json"}
        body = json.dumps(RESERVATION | {"option_id": "f" * 80}).encode()
        assert len(body) > 100
        r = client.post("/v1/reservations", content=body, headers=headers)
        assert r.status_code == 413 and "100 bytes" in r.json()["detail"]
        r = client.post("/v1/reservations", content=chunks(101, 10), headers=headers)
        assert r.status_code == 413
        small = client.post("/v1/reservations", json=RESERVATION, headers=headers)
        assert small.status_code != 413


def test_the_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_BODY_ENV, raising=False)
    assert max_body_from_environment() == MB
    monkeypatch.setenv(MAX_BODY_ENV, "4096")
    assert max_body_from_environment() == 4096
    for bad in ("lots", "-1", "1.5"):
        monkeypatch.setenv(MAX_BODY_ENV, bad)
        with pytest.raises(ValueError, match=MAX_BODY_ENV):
            max_body_from_environment()
    assert [size_text(n) for n in (MB, 512 * 1024, 1000)] == ["1 MiB", "512 KiB", "1000 bytes"]


def _call_guard(scope_extra: dict[str, Any], service: Any, limit: int = 100) -> dict[str, Any]:
    """Run the guard around an app that would read the body; record what happened."""
    seen: dict[str, Any] = {"receive_calls": 0, "app_called": False, "sent": []}

    async def receive() -> dict[str, Any]:
        seen["receive_calls"] += 1
        return {"type": "http.request", "body": b"x" * 60, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        seen["sent"].append(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["app_called"] = True
        while (await receive()).get("more_body"):
            pass

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/reservations",
        "headers": [],
        "query_string": b"",
        "app": SimpleNamespace(state=SimpleNamespace(service=service)),
    } | scope_extra
    guard = RequestGuard(app, max_body_bytes=limit)

    async def run() -> None:
        try:
            await guard(scope, receive, send)  # type: ignore[arg-type]
        except Exception as exc:  # the chunked overflow, outside any app handler
            seen["raised"] = exc

    anyio.run(run)
    seen["status"] = next(
        (m["status"] for m in seen["sent"] if m["type"] == "http.response.start"), None
    )
    return seen


def test_refusals_never_call_receive(env: Env) -> None:
    no_key = _call_guard({}, env.service)
    assert (no_key["status"], no_key["receive_calls"], no_key["app_called"]) == (401, 0, False)
    bad_key = _call_guard({"headers": [(b"authorization", b"Bearer nope")]}, env.service)
    assert (bad_key["status"], bad_key["receive_calls"]) == (401, 0)
    key = f"Bearer {env.keys['coordinator']}".encode()
    declared = _call_guard(
        {"headers": [(b"authorization", key), (b"content-length", b"101")]}, env.service
    )
    assert (declared["status"], declared["receive_calls"], declared["app_called"]) == (
        413,
        0,
        False,
    )
    # Chunked: reading stops at the chunk that passes the limit (60 + 60 > 100).
    streamed = _call_guard({"headers": [(b"authorization", key)]}, env.service)
    assert streamed["status"] == 413 and streamed["receive_calls"] == 2
    # A page under /ui needs no key; only the limit applies.
    page = _call_guard({"path": "/ui/batches"}, env.service, limit=1000)
    assert page["app_called"] and page["status"] == 413


# ------------------------------------------------------------------ a real server (slow)


@dataclass
class Server:
    base: str
    proc: subprocess.Popen[bytes]
    keys: dict[str, str]

    def rss(self) -> int:
        return int(psutil.Process(self.proc.pid).memory_info().rss)

    def auth(self, who: str = "coordinator") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


def _prepared_database(
    backend: str, tmp_path: Path, dataset: Dataset
) -> tuple[str, dict[str, str]]:
    engine = fresh_engine(backend, tmp_path)
    load(engine, dataset)
    keys = make_keys(engine)
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    return url, keys


@pytest.fixture(params=database_backends())
def server(
    request: pytest.FixtureRequest, tmp_path: Path, api_dataset: Dataset
) -> Iterator[Server]:
    url, keys = _prepared_database(request.param, tmp_path, api_dataset)
    port = free_port()
    proc = start_server(url, port)
    try:
        yield Server(f"http://127.0.0.1:{port}", proc, keys)
    finally:
        stop_server(proc)


def _start(
    url: str, port: int, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`placement serve` with extra options, once /healthz answers (as benchmarks.server)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--database", url, *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ | (env or {}),
        start_new_session=True,
    )
    for _ in range(150):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError("the server did not start")


def peak_rss(pid: int) -> int | None:
    """The process's peak resident memory (Linux: VmHWM), None where unknown."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@pytest.mark.slow
def test_30_mb_bodies_are_refused_unread_and_memory_stays_flat(server: Server) -> None:
    big = b"x" * BIG
    json_type = {"Content-Type": "application/json"}
    with httpx.Client(base_url=server.base, timeout=120) as http:

        def refusals(size: int) -> None:
            body = big[:size]
            # A declared size is checked first (no database needed for it), then the key.
            declared = http.post("/v1/reservations", content=body, headers=json_type)
            assert declared.status_code == 413 and declared.json()["status"] == 413
            streamed = http.post("/v1/reservations", content=chunks(size), headers=json_type)
            assert streamed.status_code == 401 and streamed.json()["status"] == 401
            bad = http.post(
                "/v1/children",
                content=chunks(size),
                headers=json_type | {"Authorization": "Bearer pk_revoked_or_never_made"},
            )
            assert bad.status_code == 401
            keyed_declared = http.post(
                "/v1/reservations", content=body, headers=json_type | server.auth()
            )
            assert keyed_declared.status_code == 413
            keyed_streamed = http.post(
                "/v1/reservations", content=chunks(size), headers=json_type | server.auth()
            )
            assert keyed_streamed.status_code == 413
            assert keyed_streamed.json()["title"] == "Content Too Large"

        refusals(2 * MB)  # warms every path up with small bodies
        before, peak_before = server.rss(), peak_rss(server.proc.pid)
        for _ in range(3):
            refusals(BIG)
        grown = server.rss() - before
        # 15 bodies of 30 MB went by; read, they would have taken hundreds of MB.
        assert grown < 50 * MB, f"the server grew by {grown / MB:.0f} MB"
        peak_after = peak_rss(server.proc.pid)
        if peak_before is not None and peak_after is not None:
            assert peak_after - peak_before < 50 * MB, "a body was held in memory"
        # The server still answers normally afterwards, on the same connection.
        assert http.get("/healthz").status_code == 200


@pytest.mark.slow
def test_small_bodies_on_a_real_server(server: Server) -> None:
    json_type = {"Content-Type": "application/json"}
    with httpx.Client(base_url=server.base, timeout=60) as http:
        malformed = http.post("/v1/reservations", content=b'{"child_id": ', headers=json_type)
        assert malformed.status_code == 401 and malformed.headers["content-type"] == PROBLEM
        keyed = http.post(
            "/v1/reservations", content=b'{"child_id": ', headers=json_type | server.auth()
        )
        assert keyed.status_code == 422
        two_mib = http.post(
            "/v1/reservations", content=b" " * (2 * MB), headers=json_type | server.auth()
        )
        assert two_mib.status_code == 413 and "1 MiB" in two_mib.json()["detail"]
        ok = http.post("/v1/reservations", json=RESERVATION, headers=server.auth())
        assert ok.status_code in (404, 409, 422)  # read and answered by the route


@pytest.mark.slow
def test_a_smaller_limit_by_option_or_environment(tmp_path: Path, api_dataset: Dataset) -> None:
    url, keys = _prepared_database("sqlite", tmp_path, api_dataset)
    auth = {"Authorization": f"Bearer {keys['coordinator']}", "Content-Type": "application/json"}
    body = json.dumps(RESERVATION | {"option_id": "f" * 3000}).encode()
    for extra, env in (
        (("--max-body-bytes", "2048"), None),
        (("--workers", "2"), {MAX_BODY_ENV: "2048"}),
    ):
        port = free_port()
        proc = _start(url, port, *extra, env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(4):  # with two workers, reach both
                r = httpx.post(f"{base}/v1/reservations", content=body, headers=auth, timeout=30)
                assert r.status_code == 413, extra
                assert "2048 bytes (2 KiB)" in r.json()["detail"]
                r = httpx.post(
                    f"{base}/v1/reservations", content=chunks(len(body), 500), headers=auth
                )
                assert r.status_code == 413
            small = httpx.post(f"{base}/v1/reservations", json=RESERVATION, headers=auth)
            assert small.status_code != 413
        finally:
            stop_server(proc)


def test_serve_refuses_a_bad_limit_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from api.cli import app

    database = ["--database", f"sqlite:///{tmp_path / 'x.sqlite3'}"]
    monkeypatch.setenv(MAX_BODY_ENV, "lots")
    done = CliRunner().invoke(app, ["serve", *database])
    assert done.exit_code == 2 and MAX_BODY_ENV in done.output
    assert done.exception is None or isinstance(done.exception, SystemExit)
    monkeypatch.delenv(MAX_BODY_ENV)
    negative = CliRunner().invoke(app, ["serve", *database, "--max-body-bytes", "-5"])
    assert negative.exit_code == 2
