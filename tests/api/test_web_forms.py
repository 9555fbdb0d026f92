"""An invalid form value under /ui re-shows the form with a Danish message that names the field
by its label, keeps the other entered values and changes nothing; every other error there is
a Danish page too. Never JSON, a code or a stack trace."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from api.db.orm import BatchJob, CapacityPool, FamilyRow, Reservation
from tests.api.conftest import Env
from tests.api.test_web import csrf_of, fresh_client, sign_in


def assert_danish_page(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("text/html")
    assert 'lang="da"' in r.text
    for leak in ('"detail"', '"errors"', "Traceback", "int_parsing", "application/problem"):
        assert leak not in r.text, leak


def count(env: Env, table: type) -> int:
    with sessionmaker(env.engine)() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def places_input(page: str, option_id: str) -> str:
    found = re.search(rf'<input id="places-{re.escape(option_id)}"[^>]*>', page)
    assert found, f"no places field for {option_id}"
    return found.group(0)


def test_consultant_places_that_are_not_a_number_reshow_the_board(env: Env) -> None:
    client = sign_in(fresh_client(env), env.keys["consultant"])
    fam = next(f for f in env.dataset.families if f.kommune_code == "751")
    page = client.get("/ui/capacity")
    csrf = csrf_of(page.text)
    cases = {
        "fire": "Pladser: skal være et helt tal.",
        "2.5": "Pladser: skal være et helt tal.",
        "501": "Pladser: må højst være 500.",
        "-1": "Pladser: skal være mindst 0.",
        "": "Pladser: skal udfyldes.",
    }
    for value, message in cases.items():
        r = client.post(
            f"/ui/options/{fam.family_id}/capacity",
            data={"places": value, "paused": "true", "csrf_token": csrf},
        )
        assert_danish_page(r, 422)
        assert f"{fam.family_id}: {message}" in r.text, value
        field = places_input(r.text, fam.family_id)
        assert f'value="{value}"' in field and 'aria-invalid="true"' in field
        # The other entered value (the pause box) is kept; the form is there to correct.
        after = r.text[r.text.index(field) + len(field) :].lstrip()
        assert after.startswith('<label><input type="checkbox" name="paused" value="true" checked')
        assert f'action="/ui/options/{fam.family_id}/capacity"' in r.text
    with sessionmaker(env.engine)() as s:
        assert s.get_one(CapacityPool, fam.family_id).places == fam.places
        assert s.get_one(FamilyRow, fam.family_id).paused == fam.paused
    # A valid value still works.
    ok = client.post(
        f"/ui/options/{fam.family_id}/capacity", data={"places": "3", "csrf_token": csrf}
    )
    assert ok.status_code == 200 and f"{fam.family_id} er opdateret" in ok.text


def test_planner_form_with_an_invalid_time_limit_or_solver_is_shown_again(env: Env) -> None:
    client = sign_in(fresh_client(env), env.keys["planner"])
    csrf = csrf_of(client.get("/ui/batches").text)
    before = count(env, BatchJob)
    cases = [
        ({"time_limit": "snart"}, "Tidsgrænse (sekunder): skal være et tal."),
        ({"time_limit": "0"}, "Tidsgrænse (sekunder): skal være større end 0."),
        ({"time_limit": "7200"}, "Tidsgrænse (sekunder): må højst være 3600."),
        ({"solver": "kvante"}, "Løser: skal være en af: optimal (auto)"),
    ]
    for change, message in cases:
        data = {"kommune": "751", "solver": "greedy", "time_limit": "10", "csrf_token": csrf}
        r = client.post("/ui/batches", data=data | change)
        assert_danish_page(r, 422)
        assert message in r.text, (change, r.text[:2000])
        assert '<option value="751" selected>' in r.text
        if "solver" not in change:
            assert '<option value="greedy" selected>' in r.text
            shown = re.search(r'<input id="time_limit"[^>]*>', r.text)
            assert shown and f'value="{change["time_limit"]}"' in shown.group(0)
            assert 'aria-invalid="true"' in shown.group(0)
    assert count(env, BatchJob) == before


def test_coordinator_reserve_with_an_unknown_kind_reshows_the_child(env: Env) -> None:
    client = sign_in(fresh_client(env), env.keys["coordinator"])
    cid = env.child_in("751")
    page = client.get(f"/ui/children/{cid}")
    option = re.search(r'name="option_id" value="([^"]+)"', page.text)
    assert option
    before = count(env, Reservation)
    r = client.post(
        f"/ui/children/{cid}/reserve",
        data={"option_id": option.group(1), "kind": "rumskib", "csrf_token": csrf_of(page.text)},
    )
    assert_danish_page(r, 422)
    assert "Type: skal være en af: netværk, plejefamilie, kombination, institution." in r.text
    assert f"Barn {cid}" in r.text and "Reservér" in r.text
    missing = client.post(
        f"/ui/children/{cid}/reserve",
        data={"kind": "foster", "csrf_token": csrf_of(page.text)},
    )
    assert_danish_page(missing, 422)
    assert "Tilbud: skal udfyldes." in missing.text
    assert count(env, Reservation) == before


def test_children_search_with_an_invalid_level_keeps_the_other_filters(env: Env) -> None:
    client = sign_in(fresh_client(env), env.keys["coordinator"])
    for level, message in (("9", "må højst være 4"), ("høj", "skal være et helt tal")):
        r = client.get("/ui/children", params={"q": "c", "acute": "true", "level": level})
        assert_danish_page(r, 422)
        assert f"Støtteniveau: {message}." in r.text
        assert '<input id="q" name="q" value="c"' in r.text
        assert 'name="acute" value="true" checked' in r.text
        assert "børn." in r.text  # the list by the valid filters
    fine = client.get("/ui/children", params={"level": "2", "acute": ""})
    assert fine.status_code == 200 and '<option value="2" selected>' in fine.text


def test_other_errors_under_ui_are_danish_pages(env: Env) -> None:
    client = sign_in(fresh_client(env), env.keys["consultant"])
    long_message = client.get("/ui/capacity", params={"message": "x" * 300})
    assert_danish_page(long_message, 422)
    assert "Besked: må højst være 200 tegn." in long_message.text
    missing = client.get("/ui/no-such-page")
    assert_danish_page(missing, 404)
    assert "Siden findes ikke." in missing.text
    wrong_method = client.get("/ui/logout")
    assert_danish_page(wrong_method, 405)
    # Signed in, the error page keeps the header (who is signed in, sign out).
    assert "Log ud" in missing.text


def test_a_form_over_the_body_limit_is_a_danish_page(env: Env) -> None:
    client = sign_in(fresh_client(env), env.keys["consultant"])
    fam = next(f.family_id for f in env.dataset.families if f.kommune_code == "751")
    csrf = csrf_of(client.get("/ui/capacity").text)
    big = client.post(
        f"/ui/options/{fam}/capacity",
        data={"places": "1" * (1024 * 1024 + 1), "csrf_token": csrf},
    )
    assert_danish_page(big, 413)
    assert "højst 1 MiB" in big.text

    def streamed() -> Iterator[bytes]:
        yield f"csrf_token={csrf}&places=".encode()
        for _ in range(40):
            yield b"1" * 32 * 1024

    chunked = client.post(
        f"/ui/options/{fam}/capacity",
        content=streamed(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_danish_page(chunked, 413)
    assert "højst 1 MiB" in chunked.text and "Log ud" in chunked.text


def test_the_api_still_answers_json(env: Env) -> None:
    r = env.client.get("/v1/children", params={"kommune": "x" * 9}, headers=env.auth("coordinator"))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert env.client.get("/v1/nothing").headers["content-type"] == "application/problem+json"


def test_an_unexpected_error_under_ui_is_a_danish_page(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.web import planners

    def broken(*_: object) -> None:
        raise RuntimeError("a bug")

    client = TestClient(env.client.app, raise_server_exceptions=False)
    sign_in(client, env.keys["planner"])
    monkeypatch.setattr(planners.batches, "list_batches", broken)
    r = client.get("/ui/batches")
    assert_danish_page(r, 500)
    assert "uventet fejl" in r.text and "a bug" not in r.text and "RuntimeError" not in r.text
