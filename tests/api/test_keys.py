"""Admin keys are kommune-scoped; keys are listed and revoked (HTTP and command line), a
revoked key is refused at once, by every worker; making and revoking keys is audited; batch
jobs are audited per child."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from api.cli import app
from api.db.engine import make_engine
from api.db.orm import AuditEntry
from benchmarks.server import free_port, start_server, stop_server
from tests.api.conftest import Env, fresh_engine, load, make_keys
from tests.conftest import geodata_dir

PROBLEM = "application/problem+json"
runner = CliRunner()


def _url(env: Env) -> str:
    return env.engine.url.render_as_string(hide_password=False)


def _mint(env: Env, who: str, role: str, kommuner: list[str], label: str = "") -> httpx.Response:
    return env.client.post(
        "/v1/keys",
        json={"role": role, "kommuner": kommuner, "label": label},
        headers=env.auth(who),
    )


def _admin(env: Env, kommune: str) -> str:
    """An admin key of one kommune, minted by the national admin; its name in env.keys."""
    made = _mint(env, "admin", "admin", [kommune], f"admin {kommune}")
    assert made.status_code == 201, made.text
    env.keys[f"admin_{kommune}"] = made.json()["key"]
    return f"admin_{kommune}"


def _audit_rows(env: Env, **where: Any) -> list[AuditEntry]:
    with sessionmaker(env.engine)() as s:
        query = select(AuditEntry).order_by(AuditEntry.id)
        for name, value in where.items():
            query = query.where(getattr(AuditEntry, name) == value)
        return list(s.scalars(query))


def _cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


# ------------------------------------------------------------------------- admin scope


def test_an_admin_reads_the_audit_of_its_own_kommuners_children(env: Env) -> None:
    admin_751, admin_727 = _admin(env, "751"), _admin(env, "727")
    mine, theirs = env.child_in("751"), env.child_in("727")
    assert env.client.get(f"/v1/children/{mine}", headers=env.auth("coordinator")).is_success
    assert env.client.get(f"/v1/children/{theirs}", headers=env.auth("coordinator_727")).is_success
    seen = env.client.get("/v1/audit", headers=env.auth(admin_751))
    assert seen.status_code == 200
    children = {row["child_id"] for row in seen.json() if row["child_id"]}
    assert mine in children and theirs not in children
    kommune_of = {c.child_id: c.kommune_code for c in env.dataset.children}
    assert all(kommune_of[c] == "751" for c in children)
    # One child: the rows of a child outside the kommuner are none, as for an unknown child.
    assert env.client.get(f"/v1/audit?child_id={theirs}", headers=env.auth(admin_751)).json() == []
    assert env.client.get("/v1/audit?child_id=nobody", headers=env.auth(admin_751)).json() == []
    assert env.client.get(f"/v1/audit?child_id={theirs}", headers=env.auth(admin_727)).json()
    # The national admin reads every row.
    everything = env.client.get("/v1/audit", headers=env.auth("admin")).json()
    assert {mine, theirs} <= {row["child_id"] for row in everything}


def test_an_admin_lists_and_mints_keys_only_within_its_kommuner(env: Env) -> None:
    admin_751 = _admin(env, "751")
    _admin(env, "727")
    both = _mint(env, "admin", "planner", ["751", "727"], "both")
    assert both.status_code == 201
    listed = env.client.get("/v1/keys", headers=env.auth(admin_751))
    assert listed.status_code == 200
    keys = listed.json()
    assert keys and all(k["kommuner"] and set(k["kommuner"]) <= {"751"} for k in keys)
    assert {k["label"] for k in keys} >= {"admin 751"}
    assert all(
        set(k) == {"id", "role", "kommuner", "label", "created_at", "revoked", "revoked_at"}
        for k in keys
    )
    national = env.client.get("/v1/keys", headers=env.auth("admin")).json()
    assert {k["label"] for k in national} >= {"admin 751", "admin 727", "both"}
    assert any(k["kommuner"] == [] and k["role"] == "admin" for k in national)
    made = _mint(env, admin_751, "coordinator", ["751"], "made by 751")
    assert made.status_code == 201 and made.json()["kommuner"] == ["751"]
    assert made.json()["id"] in {
        k["id"] for k in env.client.get("/v1/keys", headers=env.auth(admin_751)).json()
    }
    for kommuner, refused in (
        (["727"], "727"),
        (["751", "147"], "147"),
        (["147", "727"], "147, 727"),
    ):
        r = _mint(env, admin_751, "coordinator", kommuner)
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, r.text
        assert f"may not give kommuner {refused}" in r.json()["detail"]
        assert "751" not in r.json()["detail"].split("(")[0]
    # Never a national key over HTTP, not even from the national admin.
    for who in (admin_751, "admin"):
        r = _mint(env, who, "admin", [])
        assert r.status_code == 403 and "--national" in r.json()["detail"], r.text
    assert _mint(env, admin_751, "planner", []).status_code == 422


def test_unknown_kommune_codes_are_refused_naming_each(env: Env) -> None:
    r = _mint(env, "admin", "coordinator", ["751", "999", "abc"])
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    errors = r.json()["errors"]
    assert [e["path"] for e in errors] == ["body.kommuner[1]", "body.kommuner[2]"]
    assert [e["value"] for e in errors] == ["999", "abc"]
    assert "101 København" in errors[0]["allowed"]
    # A scoped admin is told the same (the code is checked before the scope).
    assert _mint(env, _admin(env, "751"), "coordinator", ["999"]).status_code == 422


def test_a_national_admin_is_made_only_on_the_command_line(env: Env) -> None:
    geo = str(geodata_dir())
    made = _cli(
        "keys",
        "create",
        "--role",
        "admin",
        "--national",
        "--label",
        "cli national",
        "--database",
        _url(env),
        "--geodata",
        geo,
    )
    assert made.exit_code == 0, made.output
    key = made.stdout.strip()
    env.keys["cli_national"] = key
    theirs = env.child_in("727")
    env.client.get(f"/v1/children/{theirs}", headers=env.auth("coordinator_727"))
    seen = env.client.get(f"/v1/audit?child_id={theirs}", headers=env.auth("cli_national"))
    assert seen.status_code == 200 and seen.json()
    listed = env.client.get("/v1/keys", headers=env.auth("cli_national")).json()
    assert {"751", "727"} <= {k for row in listed for k in row["kommuner"]}
    for args, says in (
        (("--role", "admin"), "--national"),
        (("--role", "coordinator", "--national"), "--role admin"),
        (("--role", "admin", "--national", "--kommune", "751"), "no --kommune"),
        (("--role", "coordinator", "--kommune", "751", "--kommune", "999"), "--kommune 999"),
    ):
        bad = _cli("keys", "create", *args, "--database", _url(env), "--geodata", geo)
        assert bad.exit_code == 2 and says in bad.output, (args, bad.output)
    assert "101 København" in bad.output


# ------------------------------------------------------------------------------ revoking


def test_a_key_revoked_over_http_is_refused_at_once(env: Env) -> None:
    admin_751 = _admin(env, "751")
    made = _mint(env, admin_751, "coordinator", ["751"], "to revoke").json()
    key = {"Authorization": f"Bearer {made['key']}"}
    assert env.client.get("/v1/children", headers=key).status_code == 200
    gone = env.client.delete(f"/v1/keys/{made['id']}", headers=env.auth(admin_751))
    assert gone.status_code == 204 and gone.content == b""
    for method, url, body in (
        ("GET", "/v1/children", None),
        ("POST", f"/v1/children/{env.child_in('751')}/proposals", {"top": 1}),
    ):
        r = env.client.request(method, url, json=body, headers=key)
        assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    row = next(
        k
        for k in env.client.get("/v1/keys", headers=env.auth(admin_751)).json()
        if k["id"] == made["id"]
    )
    assert row["revoked"] is True and row["revoked_at"]
    # Twice: idempotent, and not audited again.
    assert (
        env.client.delete(f"/v1/keys/{made['id']}", headers=env.auth(admin_751)).status_code == 204
    )
    again = next(
        k
        for k in env.client.get("/v1/keys", headers=env.auth(admin_751)).json()
        if k["id"] == made["id"]
    )
    assert again["revoked_at"] == row["revoked_at"]
    created = [
        r for r in _audit_rows(env, action="key.create") if f"key={made['id']} " in r.detail + " "
    ]
    revoked = [
        r for r in _audit_rows(env, action="key.revoke") if f"key={made['id']} " in r.detail + " "
    ]
    assert len(created) == 1 and len(revoked) == 1
    assert created[0].detail.startswith("kommuner=751 ") and created[0].child_id is None
    assert revoked[0].role == "admin" and revoked[0].key_id is not None
    # The 751 admin reads both rows; a 727 admin neither.
    admin_727 = _admin(env, "727")
    ids_751 = {r["id"] for r in env.client.get("/v1/audit", headers=env.auth(admin_751)).json()}
    ids_727 = {r["id"] for r in env.client.get("/v1/audit", headers=env.auth(admin_727)).json()}
    assert {created[0].id, revoked[0].id} <= ids_751
    assert not {created[0].id, revoked[0].id} & ids_727


def test_a_key_outside_the_admins_kommuner_cannot_be_revoked_and_is_not_revealed(env: Env) -> None:
    admin_751 = _admin(env, "751")
    theirs = _mint(env, "admin", "coordinator", ["727"]).json()
    wide = _mint(env, "admin", "coordinator", ["751", "727"]).json()
    missing = env.client.delete("/v1/keys/987654", headers=env.auth(admin_751))
    assert missing.status_code == 404
    for key in (theirs, wide):
        r = env.client.delete(f"/v1/keys/{key['id']}", headers=env.auth(admin_751))
        assert r.status_code == 404
        assert r.json()["detail"].replace(str(key["id"]), "N") == missing.json()["detail"].replace(
            "987654", "N"
        )
        assert (
            env.client.get(
                "/v1/children", headers={"Authorization": f"Bearer {key['key']}"}
            ).status_code
            == 200
        )
    # Other roles may not revoke at all.
    assert (
        env.client.delete(
            f"/v1/keys/{theirs['id']}", headers=env.auth("coordinator_727")
        ).status_code
        == 403
    )


def test_an_admin_may_revoke_its_own_key(env: Env) -> None:
    admin_751 = _admin(env, "751")
    me = next(
        k
        for k in env.client.get("/v1/keys", headers=env.auth(admin_751)).json()
        if k["label"] == "admin 751"
    )
    assert env.client.delete(f"/v1/keys/{me['id']}", headers=env.auth(admin_751)).status_code == 204
    assert env.client.get("/v1/keys", headers=env.auth(admin_751)).status_code == 401


def test_keys_list_and_revoke_on_the_command_line(env: Env) -> None:
    geo = str(geodata_dir())
    made = _cli(
        "keys",
        "create",
        "--role",
        "planner",
        "--kommune",
        "727",
        "--kommune",
        "751",
        "--label",
        "cli planner",
        "--database",
        _url(env),
        "--geodata",
        geo,
    )
    assert made.exit_code == 0, made.output
    key = {"Authorization": f"Bearer {made.stdout.strip()}"}
    assert env.client.get("/v1/capacity", headers=key).status_code == 200
    listed = _cli("keys", "list", "--format", "json", "--database", _url(env))
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)["keys"]
    mine = next(r for r in rows if r["label"] == "cli planner")
    assert mine["kommuner"] == ["727", "751"] and mine["revoked"] is False
    assert all("key_hash" not in r and "key" not in r for r in rows)
    table = _cli("keys", "list", "--database", _url(env))
    assert table.exit_code == 0 and "cli planner" in table.stdout and "(national)" in table.stdout
    gone = _cli("keys", "revoke", str(mine["id"]), "--database", _url(env))
    assert gone.exit_code == 0 and "revoked" in gone.output
    assert env.client.get("/v1/capacity", headers=key).status_code == 401
    again = _cli("keys", "revoke", str(mine["id"]), "--database", _url(env))
    assert again.exit_code == 0 and "already revoked" in again.output
    missing = _cli("keys", "revoke", "987654", "--database", _url(env))
    assert missing.exit_code == 2 and "no key 987654" in missing.output
    rows = json.loads(_cli("keys", "list", "--format", "json", "--database", _url(env)).stdout)[
        "keys"
    ]
    assert next(r for r in rows if r["id"] == mine["id"])["revoked_at"]
    cli_rows = [r for r in _audit_rows(env, role="cli") if f"key={mine['id']} " in r.detail + " "]
    assert [r.action for r in cli_rows] == ["key.create", "key.revoke"]
    assert all(r.key_id is None and r.child_id is None for r in cli_rows)
    assert cli_rows[0].detail.startswith("kommuner=727;751 ")


@pytest.mark.slow
def test_a_revoked_key_is_refused_by_every_worker_of_a_real_server(
    tmp_path: Path, api_dataset: Any
) -> None:
    url = f"sqlite:///{tmp_path / 'revoke.sqlite3'}"
    fresh_engine("sqlite", tmp_path).dispose()
    engine = make_engine(url)
    load(engine, api_dataset)
    keys = make_keys(engine)
    port = free_port()
    proc = start_server(url, port, workers=2, wait_seconds=90)
    base = f"http://127.0.0.1:{port}"
    national = {"Authorization": f"Bearer {keys['admin']}"}
    try:
        made = httpx.post(
            f"{base}/v1/keys", json={"role": "coordinator", "kommuner": ["751"]}, headers=national
        ).json()
        key = {"Authorization": f"Bearer {made['key']}"}
        for _ in range(10):  # a new connection each time, so that both workers answer
            assert httpx.get(f"{base}/v1/children", headers=key).status_code == 200
        assert httpx.delete(f"{base}/v1/keys/{made['id']}", headers=national).status_code == 204
        for _ in range(20):
            assert httpx.get(f"{base}/v1/children", headers=key).status_code == 401
            assert (
                httpx.post(
                    f"{base}/v1/reservations", json={"child_id": "x", "option_id": "y"}, headers=key
                ).status_code
                == 401
            )
    finally:
        stop_server(proc)
        engine.dispose()


# ---------------------------------------------------------------------------- batch audit


def _finished(env: Env, batch_id: str, who: str = "planner") -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = env.client.get(f"/v1/batches/{batch_id}", headers=env.auth(who)).json()
        if body["status"] in ("done", "failed"):
            return dict(body)
        time.sleep(0.1)
    raise AssertionError("the batch did not finish")


def test_a_batch_is_audited_per_child_at_its_start_and_at_each_read(env: Env) -> None:
    cohort = [c.child_id for c in env.dataset.children if c.kommune_code == "751"][:4]
    started = env.client.post(
        "/v1/batches",
        json={"child_ids": cohort, "solver": "greedy", "time_limit": 10},
        headers=env.auth("planner"),
    )
    assert started.status_code == 202, started.text
    job = started.json()["id"]
    created = _audit_rows(env, action="batch.create", detail=f"batch={job}")
    assert sorted(str(r.child_id) for r in created) == sorted(cohort)
    assert all(r.role == "planner" for r in created)
    result = _finished(env, job)
    assert result["status"] == "done", result
    carried = {
        row["child_id"] for part in ("assignments", "unassigned") for row in result["result"][part]
    } | set(cohort)
    reads_before = len(_audit_rows(env, action="batch.read", detail=f"batch={job}"))
    again = env.client.get(f"/v1/batches/{job}", headers=env.auth("planner"))
    assert again.status_code == 200
    reads = _audit_rows(env, action="batch.read", detail=f"batch={job}")
    last = reads[reads_before:]
    assert sorted(str(r.child_id) for r in last) == sorted(carried)
    # The 751 admin reads these rows; a 727 admin does not.
    admin_751, admin_727 = _admin(env, "751"), _admin(env, "727")
    seen = {
        r["id"] for r in env.client.get("/v1/audit?limit=10000", headers=env.auth(admin_751)).json()
    }
    assert {r.id for r in created + last} <= seen
    other = {
        r["id"] for r in env.client.get("/v1/audit?limit=10000", headers=env.auth(admin_727)).json()
    }
    assert not {r.id for r in created + last} & other
    # Reading another kommune's job is not audited (it answers 404 as for a missing one).
    count = len(_audit_rows(env, action="batch.read"))
    assert env.client.get(f"/v1/batches/{job}", headers=env.auth("planner_727")).status_code == 404
    assert len(_audit_rows(env, action="batch.read")) == count


def test_a_kommune_batch_is_audited_by_kommune_until_it_carries_children(env: Env) -> None:
    started = env.client.post(
        "/v1/batches", json={"solver": "greedy", "time_limit": 10}, headers=env.auth("planner_727")
    )
    job = started.json()["id"]
    created = _audit_rows(env, action="batch.create")
    assert [(r.child_id, r.detail) for r in created] == [(None, f"kommuner=727 batch={job}")]
    result = _finished(env, job, "planner_727")
    assert result["status"] == "done", result
    reads = [r for r in _audit_rows(env, action="batch.read") if job in r.detail]
    children = {
        row["child_id"] for part in ("assignments", "unassigned") for row in result["result"][part]
    }
    assert children and children <= {r.child_id for r in reads}
    early = [r for r in reads if r.child_id is None]
    assert all(r.detail.startswith(f"kommuner=727 batch={job} status=") for r in early)
    admin_727 = _admin(env, "727")
    seen = {
        r["id"] for r in env.client.get("/v1/audit?limit=10000", headers=env.auth(admin_727)).json()
    }
    assert {r.id for r in created + reads} <= seen
