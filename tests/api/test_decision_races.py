"""One child, one decision against real server processes: many threads holding different
options for the same child through two workers, and a server killed during a confirmation."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from api.db.engine import make_engine
from api.db.orm import CapacityPool, LiveHold, PlacementRow, Reservation
from benchmarks.server import free_port, start_server, stop_server
from models.dataset import Dataset
from tests.api.conftest import load, make_keys

pytestmark = pytest.mark.slow


def _candidates(base: str, auth: dict[str, str], dataset: Dataset, n: int) -> list[Any]:
    """(child, its foster and institution options) for `n` single children of 751 with at
    least three such options."""
    found = []
    for c in dataset.children:
        if c.kommune_code != "751" or c.sibling_group:
            continue
        props = httpx.post(
            f"{base}/v1/children/{c.child_id}/proposals", json={"top": 50}, headers=auth
        ).json()["proposals"]
        opts = [p for p in props if p["kind"] in ("foster", "institution")]
        if len(opts) >= 3:
            found.append((c.child_id, opts))
        if len(found) == n:
            break
    return found


def test_many_threads_holding_different_options_for_one_child_leave_one_hold(
    tmp_path: Path, api_dataset: Dataset
) -> None:
    url = f"sqlite:///{tmp_path / 'race.sqlite3'}"
    engine = make_engine(url)
    load(engine, api_dataset)
    auth = {"Authorization": f"Bearer {make_keys(engine)['coordinator']}"}
    port = free_port()
    proc = start_server(url, port, workers=2, wait_seconds=60)
    base = f"http://127.0.0.1:{port}"
    try:
        for cid, opts in _candidates(base, auth, api_dataset, 4):
            start = threading.Barrier(20)

            def hold(option: dict[str, Any], cid: str = cid, start: Any = start) -> httpx.Response:
                start.wait()
                return httpx.post(
                    f"{base}/v1/reservations",
                    json={
                        "child_id": cid,
                        "option_id": option["option_id"],
                        "kind": option["kind"],
                    },
                    headers=auth,
                    timeout=60,
                )

            with ThreadPoolExecutor(20) as pool:
                answers = list(pool.map(hold, (opts * 20)[:20]))
            codes = sorted(a.status_code for a in answers)
            assert codes.count(201) == 1, codes
            assert {a.json()["reason"] for a in answers if a.status_code == 409} <= {
                "CHILD_HAS_HOLD"
            }
            with sessionmaker(engine)() as s:
                live = s.scalars(select(Reservation).where(Reservation.status == "held")).all()
                assert [h.child_ids for h in live].count(cid) == 1
                assert s.scalars(select(LiveHold).where(LiveHold.child_id == cid)).one()
            # Released, so that a later child's race is for the child, not for a place an
            # earlier round took.
            won = next(a for a in answers if a.status_code == 201).json()
            httpx.delete(f"{base}/v1/reservations/{won['id']}", headers=auth)
    finally:
        stop_server(proc)
        engine.dispose()


def test_a_server_killed_during_confirm_leaves_the_hold_and_its_placement_together(
    tmp_path: Path, api_dataset: Dataset
) -> None:
    url = f"sqlite:///{tmp_path / 'kill.sqlite3'}"
    engine = make_engine(url)
    load(engine, api_dataset)
    auth = {"Authorization": f"Bearer {make_keys(engine)['coordinator']}"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rng = random.Random(7)
    proc = start_server(url, port, wait_seconds=60)
    try:
        for cid, opts in _candidates(base, auth, api_dataset, 4):
            # The first option an earlier round has not filled.
            hold = next(
                answer.json()
                for option in opts
                if (
                    answer := httpx.post(
                        f"{base}/v1/reservations",
                        json={"child_id": cid, "option_id": option["option_id"]},
                        headers=auth,
                    )
                ).status_code
                == 201
            )

            def confirm(hold_id: str = hold["id"]) -> None:
                with contextlib.suppress(httpx.HTTPError):  # the server dies under it
                    httpx.post(f"{base}/v1/reservations/{hold_id}/confirm", headers=auth)

            sender = threading.Thread(target=confirm)
            sender.start()
            time.sleep(rng.uniform(0.0, 0.06))
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            sender.join()
            proc = start_server(url, port, wait_seconds=60)
            engine.dispose()  # read through fresh connections, as after any crash
            with sessionmaker(engine)() as s:
                row = s.get_one(Reservation, hold["id"])
                placed = s.scalars(
                    select(PlacementRow).where(PlacementRow.reservation_id == hold["id"])
                ).all()
                live = s.scalars(select(LiveHold).where(LiveHold.child_id == cid)).all()
                if row.status == "confirmed":
                    assert [p.child_id for p in placed] == [cid] and live == []
                else:
                    assert row.status == "held" and placed == [] and len(live) == 1
                held = sum(
                    h.places
                    for h in s.scalars(
                        select(Reservation).where(
                            Reservation.status == "held", Reservation.pool_id == row.pool_id
                        )
                    )
                )
                assert s.get_one(CapacityPool, row.pool_id).reserved == held
    finally:
        stop_server(proc)
        engine.dispose()
