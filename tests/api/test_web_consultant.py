"""The consultants' pages over real HTTP: approving a family or an institution through the
forms (the contract's field names), which the API and a child's proposals then show; invalid
input re-shown beside its field with nothing written; the capacity board's holds,
placements and vacancy ages in Danish without raw codes; an option's history."""

from __future__ import annotations

import html
import re

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from api.db.orm import (
    ApiKey,
    AuditEntry,
    FamilyRow,
    InstitutionRow,
    PlacementRow,
    Reservation,
)
from api.web.labels import (
    END_REASONS,
    FOSTER_LEVELS,
    HOLD_STATUS,
    INSTITUTION_KINDS,
    KINDS,
    NEEDS,
    REASONS,
    RELATIONS,
    WARNINGS,
)
from models.enums import NEEDS as NEED_CODES
from tests.api.conftest import Env
from tests.api.test_web import csrf_of, fresh_client, sign_in

# Codes that must never reach a page's visible text: every code whose Danish label differs.
RAW_CODES = sorted(
    {
        code
        for table in (
            NEEDS,
            FOSTER_LEVELS,
            INSTITUTION_KINDS,
            KINDS,
            RELATIONS,
            END_REASONS,
            HOLD_STATUS,
            REASONS,
            WARNINGS,
        )
        for code, label in table.items()
        if code.lower() not in label.lower()
    }
    | {"active", "paused", "step_down", "None", "True", "False"}
)


def visible_text(page: str) -> str:
    """The text a reader sees: no tags, no attribute values, no head."""
    body = page.split("<body", 1)[-1]
    body = re.sub(r"<(script|style|title)\b.*?</\1>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def raw_codes_in(page: str) -> list[str]:
    text = visible_text(page)
    return [c for c in RAW_CODES if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", text)]


def consultant(env: Env, key: str = "consultant") -> TestClient:
    return sign_in(fresh_client(env), env.keys[key])


def family_form(csrf: str, family_id: str, **change: object) -> dict[str, object]:
    data: dict[str, object] = {
        "csrf_token": csrf,
        "family_id": family_id,
        "kommune_code": "751",
        "postcode": "8000",
        "level": "specialiseret",
        "places": "2",
        "occupied": "0",
        "min_age": "0",
        "max_age": "22",
        "target_groups": list(NEED_CODES),
        "max_siblings": "2",
        "acute": "true",
        "combination": "true",
        "status": "active",
    }
    return data | change


def assert_form_page(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text[:800]
    assert r.headers["content-type"].startswith("text/html") and 'lang="da"' in r.text
    for leak in ('"detail"', "Traceback", "int_parsing", "literal_error", "body."):
        assert leak not in r.text, leak


def rows(env: Env, model: type) -> int:
    with sessionmaker(env.engine)() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_a_family_approved_through_the_form_is_in_the_api_and_the_proposals(env: Env) -> None:
    client = consultant(env)
    form = client.get("/ui/families/new")
    assert form.status_code == 200 and "Godkend ny plejefamilie" in form.text
    for name in ("family_id", "kommune_code", "postcode", "level", "places", "min_age"):
        assert f'name="{name}"' in form.text and f'for="{name}"' in form.text, name
    assert 'name="target_groups" value="attachment"' in form.text and "tilknytning" in form.text
    assert not raw_codes_in(form.text), raw_codes_in(form.text)
    done = client.post(
        "/ui/families/new",
        data=family_form(csrf_of(form.text), "webfam1"),
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text[:2000]
    assert done.headers["location"].startswith("/ui/families/webfam1?message=")
    api = env.client.get("/v1/families/webfam1", headers=env.auth("consultant")).json()
    assert api["level"] == "specialiseret" and api["places"] == 2 and api["occupied"] == 0
    assert api["acute"] is True and set(api["target_groups"]) == set(NEED_CODES)
    assert api["max_siblings"] == 2 and api["combination"] is True
    page = client.get(done.headers["location"])
    assert page.status_code == 200 and "Plejefamilie webfam1" in page.text
    assert "er godkendt og kan nu foreslås" in page.text and "specialiseret" in page.text
    assert not raw_codes_in(page.text), raw_codes_in(page.text)
    # The coordinator's proposals for a child of 751 now offer the new family.
    offered = [
        c.child_id
        for c in env.dataset.children
        if c.kommune_code == "751"
        and any(
            p["option_id"] == "webfam1"
            for p in env.client.post(
                f"/v1/children/{c.child_id}/proposals",
                json={"top": 500},
                headers=env.auth("coordinator"),
            ).json()["proposals"]
        )
    ]
    assert offered
    with sessionmaker(env.engine)() as s:
        assert s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "ui.families.create", AuditEntry.detail == "webfam1")
        )


def test_invalid_family_input_is_shown_beside_its_field_and_nothing_is_written(
    env: Env,
) -> None:
    client = consultant(env)
    csrf = csrf_of(client.get("/ui/families/new").text)
    before = rows(env, FamilyRow)
    cases: list[tuple[dict[str, object], str, str]] = [
        ({"places": "mange"}, "places", "Godkendte pladser: skal være et helt tal."),
        ({"places": ""}, "places", "Godkendte pladser: skal udfyldes."),
        ({"min_age": "12", "max_age": "3"}, "min_age", "må ikke være højere end den højeste"),
        ({"level": "super"}, "level", "Niveau: skal være en af: almen, forstærket, specialiseret"),
        ({"postcode": "0001"}, "postcode", "Postnummer: er ikke et kendt dansk postnummer"),
        ({"postcode": "", "lat": "48,1", "lon": "2,3"}, "lat", "ligger ikke i Danmark"),
        ({"postcode": ""}, "postcode", "Postnummer: skal udfyldes"),
        ({"kommune_code": "727"}, "kommune_code", "Kommune: ligger uden for dine kommuner."),
        ({"family_id": "ikke et id!"}, "family_id", "Familiens id: må kun bestå af"),
        ({"target_groups": ["tilknytning"]}, "target_groups", "Målgrupper: kender ikke"),
        ({"occupied": "5"}, "occupied", "må ikke være flere end de godkendte pladser"),
    ]
    for change, field, message in cases:
        r = client.post("/ui/families/new", data=family_form(csrf, "webbad") | change)
        assert_form_page(r, 422)
        assert message in html.unescape(r.text), (change, visible_text(r.text)[:1500])
        if field == "target_groups":  # a group of boxes: the group names its message
            control = re.search(r'<fieldset class="checks-group"[^>]*>', r.text)
            assert control and 'aria-describedby="target_groups-error"' in control.group(0)
        else:
            control = re.search(rf'<(input|select)[^>]*\bid="{field}"[^>]*>', r.text)
            assert control, field
            assert 'aria-invalid="true"' in control.group(0), control.group(0)
            assert f"{field}-error" in control.group(0)
        assert f'id="{field}-error"' in r.text
        # The other entered values are kept for correcting.
        assert f'value="{change.get("family_id", "webbad")}"' in html.unescape(r.text)
    assert rows(env, FamilyRow) == before
    # An id already in use is refused beside the id; the first family is unchanged.
    taken = env.dataset.families[0].family_id
    r = client.post("/ui/families/new", data=family_form(csrf, taken))
    assert_form_page(r, 409)
    assert "Familiens id: er allerede i brug" in r.text
    assert rows(env, FamilyRow) == before
    # Without the CSRF token nothing happens either.
    r = client.post("/ui/families/new", data=family_form("", "webcsrf"))
    assert r.status_code == 403 and rows(env, FamilyRow) == before


def test_a_family_is_edited_through_its_form(env: Env) -> None:
    client = consultant(env)
    fam = next(f for f in env.dataset.families if f.kommune_code == "751" and f.occupied)
    form = client.get(f"/ui/families/{fam.family_id}/edit")
    assert form.status_code == 200 and f"Ret plejefamilie {fam.family_id}" in form.text
    assert re.search(r'<input id="family_id"[^>]*readonly', form.text)
    assert f'value="{fam.places}"' in form.text
    data = family_form(csrf_of(form.text), fam.family_id, places=str(fam.occupied + 3))
    data["postcode"] = ""
    data["lat"], data["lon"] = "56,16", "10,2"  # a Danish decimal comma
    data["monthly_rate"] = "31.500"  # kroner with a thousands dot: 31,500 kr., not 31.5
    done = client.post(f"/ui/families/{fam.family_id}/edit", data=data, follow_redirects=False)
    assert done.status_code == 303, done.text[:2000]
    api = env.client.get(f"/v1/families/{fam.family_id}", headers=env.auth("consultant")).json()
    assert api["places"] == fam.occupied + 3 and abs(api["lat"] - 56.16) < 1e-9
    assert api["monthly_rate"] == 31500.0
    again = client.get(f"/ui/families/{fam.family_id}/edit")
    assert 'value="31500"' in again.text
    assert "31.500 kr. (eget)" in client.get(f"/ui/families/{fam.family_id}").text
    # The posted occupancy ("0") does not undo placements: it follows them, not the form.
    assert api["occupied"] == fam.occupied
    # Another kommune's family is not there for this consultant.
    other = next(f for f in env.dataset.families if f.kommune_code == "727")
    assert client.get(f"/ui/families/{other.family_id}/edit").status_code == 404
    assert client.get(f"/ui/families/{other.family_id}").status_code == 404


def test_an_institution_is_approved_and_edited_through_the_forms(env: Env) -> None:
    client = consultant(env)
    form = client.get("/ui/institutions/new")
    assert form.status_code == 200 and "døgninstitution" in form.text
    assert not raw_codes_in(form.text), raw_codes_in(form.text)
    data = {
        "csrf_token": csrf_of(form.text),
        "institution_id": "webinst1",
        "name": "Solsikken",
        "kommune_code": "751",
        "kind": "opholdssted",
        "postcode": "8200",
        "places": "6",
        "occupied": "1",
        "combination_places": "2",
        "combination_occupied": "0",
        "min_age": "10",
        "max_age": "17",
        "max_level": "4",
        "target_groups": ["trauma", "adhd"],
        "daily_rate": "4.250,50",  # as a Danish user writes kroner
    }
    before = rows(env, InstitutionRow)
    bad = client.post("/ui/institutions/new", data=data | {"daily_rate": "dyr"})
    assert_form_page(bad, 422)
    assert "Døgntakst (kr.): skal være et tal." in bad.text
    assert rows(env, InstitutionRow) == before
    done = client.post("/ui/institutions/new", data=data, follow_redirects=False)
    assert done.status_code == 303, done.text[:2000]
    api = env.client.get("/v1/institutions/webinst1", headers=env.auth("consultant")).json()
    assert api["kind"] == "opholdssted" and api["daily_rate"] == 4250.5
    assert api["combination_places"] == 2
    page = client.get("/ui/institutions/webinst1")
    assert "Institution webinst1" in page.text and "4.250 kr." in page.text
    assert "opholdssted" in page.text and not raw_codes_in(page.text)
    edit = client.get("/ui/institutions/webinst1/edit")
    assert 'value="4250,5"' in edit.text
    again = client.post(
        "/ui/institutions/webinst1/edit",
        data=data | {"csrf_token": csrf_of(edit.text), "places": "7"},
        follow_redirects=False,
    )
    assert again.status_code == 303
    api = env.client.get("/v1/institutions/webinst1", headers=env.auth("consultant")).json()
    assert api["places"] == 7


def test_the_forms_are_for_consultants_only(env: Env) -> None:
    coordinator = sign_in(fresh_client(env), env.keys["coordinator"])
    assert coordinator.get("/ui/families/new").status_code == 403
    r = coordinator.post("/ui/families/new", data=family_form("x", "nope"))
    assert r.status_code == 403
    assert fresh_client(env).get("/ui/families/new", follow_redirects=False).status_code == 303


def test_capacity_board_shows_holds_placements_and_vacancy_age_in_danish(env: Env) -> None:
    cid = env.add_last_place("boardfam")[0]
    hold = env.client.post(
        "/v1/reservations",
        json={"child_id": cid, "option_id": "boardfam"},
        headers=env.auth("coordinator"),
    )
    assert hold.status_code == 201, hold.text
    with sessionmaker(env.engine)() as s:  # the coordinator's key gets a label to show
        held = s.get_one(Reservation, hold.json()["id"])
        s.get_one(ApiKey, held.created_by).label = "Koordinator Aarhus Syd"
        s.commit()
    client = consultant(env)
    # The held place cannot be approved away: the form says so beside the places.
    edit = client.get("/ui/families/boardfam/edit")
    data = family_form(csrf_of(edit.text), "boardfam", places="0", occupied="0")
    refused = client.post("/ui/families/boardfam/edit", data=data)
    assert_form_page(refused, 409)
    assert "Godkendte pladser: skal mindst være optagne plus reserverede pladser." in refused.text
    page = client.get("/ui/capacity")
    assert page.status_code == 200
    row = re.search(r'<tr[^>]*data-option="boardfam".*?</tr>', page.text, flags=re.S)
    assert row, "no row for the held family"
    text = visible_text(row.group(0))
    assert cid in text and "reserveret af Koordinator Aarhus Syd til" in text
    assert re.search(r"\d\d-\d\d-\d{4} kl\. \d\d:\d\d", text)
    assert "specialiseret" in text and "Aarhus" in text
    assert not raw_codes_in(page.text), raw_codes_in(page.text)
    # The hold confirmed is a placement: shown on the board and in the family's history.
    confirmed = env.client.post(
        f"/v1/reservations/{hold.json()['id']}/confirm", headers=env.auth("coordinator")
    )
    assert confirmed.status_code in (200, 201), confirmed.text
    page = client.get("/ui/capacity")
    row = re.search(r'<tr[^>]*data-option="boardfam".*?</tr>', page.text, flags=re.S)
    assert row and "Anbragt" in visible_text(row.group(0)) and cid in row.group(0)
    with sessionmaker(env.engine)() as s:
        placement = s.scalars(
            select(PlacementRow.id).where(
                PlacementRow.child_id == cid, PlacementRow.status == "active"
            )
        ).one()
    ended = env.client.post(
        f"/v1/placements/{placement}/end",
        json={"end_reason": "breakdown"},
        headers=env.auth("coordinator"),
    )
    assert ended.status_code == 200, ended.text
    history = client.get("/ui/families/boardfam")
    assert history.status_code == 200
    text = visible_text(history.text)
    assert cid in text and "sammenbrud" in text and not raw_codes_in(history.text)
    with sessionmaker(env.engine)() as s:
        assert s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "ui.option.history", AuditEntry.child_id == cid)
        )


def test_capacity_board_has_no_raw_codes_for_either_consultant(env: Env) -> None:
    for key in ("consultant", "consultant_727"):
        page = consultant(env, key).get("/ui/capacity")
        assert page.status_code == 200
        assert not raw_codes_in(page.text), (key, raw_codes_in(page.text))
        assert "Godkend ny plejefamilie" in page.text


def test_the_child_page_map_draws_kommuner_the_local_area_and_a_legend(env: Env) -> None:
    client = sign_in(fresh_client(env), env.keys["coordinator"])
    cid = env.child_in("751")
    page = client.get(f"/ui/children/{cid}").text
    figure = page[page.index('<figure class="map-figure">') : page.index("</figure>")]
    assert '<path class="kommune own"' in figure and "<title>Aarhus Kommune</title>" in figure
    assert 'class="local"' in figure and "km" in figure  # the policy's radius round the home
    assert 'class="marker home"' in figure and 'class="inset"' in figure
    assert "H: barnets hjem" in figure and "forslag på trin" in figure
    assert len(figure) < 80_000, len(figure)
