"""The coordinator's day in the browser's forms: a new case, its edit, the child page's hold
and placement workflow, the worklist and its follow-up, the network and the written
recommendation. Real HTTP through the app on a fresh database; every page in Danish."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html.parser import HTMLParser

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from api.db.orm import AuditEntry, CaseNote, ChildRow, PlacementRow, Reservation
from api.services.runtime import Service
from models.enums import NEEDS, EndReason, InstitutionKind, NetworkStatus, Reason, Relation
from tests.api.conftest import Env
from tests.api.test_web import csrf_of, fresh_client, sign_in
from tests.api.test_web_forms import assert_danish_page


class _Visible(HTMLParser):
    """The text a reader sees: no tags, attributes, scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Visible()
    parser.feed(page)
    return " ".join(parser.parts)


RAW_CODES = (
    set(NEEDS)
    | {r.value for r in Relation}
    # Levels and kinds whose code is not already the Danish word ("opholdssted", "almen").
    | {"forstaerket"}
    | {k.value for k in InstitutionKind if k.value not in ("sikret", "opholdssted")}
    | {r.value for r in Reason}
    | {s.value for s in NetworkStatus}
    | {e.value for e in EndReason if "_" in e.value}
    | {
        "NETWORK_UNASSESSED",
        "STALE_VACANCY",
        "SCHOOL_CHANGE",
        "OUTSIDE_LOCAL_AREA",
        "FEWER_DAYS_AT_HOME",
        "HOME_ASSESSMENT_DUE",
        "level_overshoot",
        "joins_sibling",
        "school_km",
        "home_km",
        "daycare_km",
        "NO_LESS_INTRUSIVE_TIER",
        "NO_ELIGIBLE_OPTION",
    }
)


def assert_no_raw_codes(page: str) -> None:
    words = set(re.findall(r"[A-Za-z_]+", visible_text(page)))
    leaked = sorted(words & RAW_CODES)
    assert not leaked, leaked


def with_network(env: Env) -> str:
    """A single child of 751 with a network."""
    return next(
        c.child_id
        for c in env.dataset.children
        if c.kommune_code == "751"
        and not c.sibling_group
        and env.client.get(f"/v1/children/{c.child_id}", headers=env.auth("coordinator")).json()[
            "network"
        ]
    )


def coordinator(env: Env) -> TestClient:
    return sign_in(fresh_client(env), env.keys["coordinator"])


def new_child_form(**change: str | list[str]) -> dict[str, str | list[str]]:
    data: dict[str, str | list[str]] = {
        "child_id": "ui-new-1",
        "kommune_code": "751",
        "age": "9",
        "support_level": "2",
        "needs": ["attachment", "adhd"],
        "home_postcode": "8000",
        "daycare_postcode": "",
        "acute": "true",
        "wishes": "",
        "child_view": "Vil gerne blive på sin skole.",
        "parent_view": "Mor ønsker samvær hver uge.",
        "exclusions.0.option_id": "",
        "keep_away.0.postcode": "8200",
        "keep_away.0.min_km": "2,5",
        "keep_away.0.reason": "kontaktforbud",
    }
    data.update(change)
    return data


def count(env: Env, table: type) -> int:
    with sessionmaker(env.engine)() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_a_new_child_made_in_the_form_is_in_the_api_with_its_views_and_audited(
    env: Env,
) -> None:
    client = coordinator(env)
    form = client.get("/ui/children/new")
    assert form.status_code == 200 and 'lang="da"' in form.text
    for name in ("child_id", "kommune_code", "age", "support_level", "home_postcode", "school_id"):
        assert f'name="{name}"' in form.text, name
    assert 'value="attachment"' in form.text and "tilknytning" in form.text
    assert_no_raw_codes(form.text)
    data = new_child_form(csrf_token=csrf_of(form.text))
    made = client.post("/ui/children/new", data=data, follow_redirects=False)
    assert made.status_code == 303, made.text[:3000]
    assert made.headers["location"] == "/ui/children/ui-new-1?saved=created"
    api = env.client.get("/v1/children/ui-new-1", headers=env.auth("coordinator")).json()
    assert api["age"] == 9 and api["support_level"] == 2 and api["acute"] is True
    assert sorted(api["needs"]) == ["adhd", "attachment"]
    assert api["keep_away"][0]["min_km"] == 2.5
    page = client.get(made.headers["location"])
    assert page.status_code == 200 and "Barnet er oprettet" in page.text
    assert "Vil gerne blive på sin skole." in page.text
    with sessionmaker(env.engine)() as s:
        actions = set(s.scalars(select(AuditEntry.action).where(AuditEntry.child_id == "ui-new-1")))
        kinds = set(s.scalars(select(CaseNote.kind).where(CaseNote.child_id == "ui-new-1")))
    assert {"child.create", "child.notes"} <= actions
    assert kinds == {"child_view", "parent_view"}


def test_an_invalid_new_child_reshows_the_form_with_a_message_beside_each_field(
    env: Env,
) -> None:
    client = coordinator(env)
    csrf = csrf_of(client.get("/ui/children/new").text)
    before = count(env, ChildRow)
    bad = client.post(
        "/ui/children/new",
        data=new_child_form(age="tolv", home_postcode="", csrf_token=csrf),
    )
    assert_danish_page(bad, 422)
    assert "Alder: skal være et helt tal." in bad.text
    assert re.search(r'<input id="age" name="age" value="tolv"[^>]*aria-invalid="true"', bad.text)
    # The contract's own check: a postcode that does not exist.
    unknown = client.post(
        "/ui/children/new", data=new_child_form(home_postcode="0001", csrf_token=csrf)
    )
    assert_danish_page(unknown, 422)
    assert "Hjemmets postnummer: skal være et kendt dansk postnummer" in unknown.text
    assert 'value="Vil gerne blive på sin skole."' not in unknown.text  # textarea, not value
    assert "Vil gerne blive på sin skole." in unknown.text
    outside = client.post(
        "/ui/children/new", data=new_child_form(kommune_code="727", csrf_token=csrf)
    )
    assert_danish_page(outside, 422)
    assert "Handlekommune: ligger uden for dine kommuner." in outside.text
    taken = env.child_in("751")
    dup = client.post("/ui/children/new", data=new_child_form(child_id=taken, csrf_token=csrf))
    assert_danish_page(dup, 422)
    assert "Barnets id: findes allerede" in dup.text
    assert count(env, ChildRow) == before
    assert count(env, CaseNote) == 0


def test_school_search_finds_by_name_or_number_and_the_form_keeps_the_values(env: Env) -> None:
    client = coordinator(env)
    csrf = csrf_of(client.get("/ui/children/new").text)
    frame = env.service.gazetteer.schools.frame
    row = frame[frame["kommune_code"] == "751"].iloc[0]
    word = str(row["name"]).split()[0]
    found = client.post(
        "/ui/children/new",
        data=new_child_form(school_q=word, action="school_search", csrf_token=csrf),
    )
    assert found.status_code == 200
    assert f'name="school_id" value="{row["institution_number"]}"' in found.text
    assert 'value="ui-new-1"' in found.text  # the rest of the form is kept
    assert count(env, ChildRow) == len(env.dataset.children)
    listed = client.get("/ui/schools", params={"q": str(row["institution_number"])})
    assert listed.status_code == 200 and str(row["name"]) in listed.text
    made = client.post(
        "/ui/children/new",
        data=new_child_form(school_id=str(row["institution_number"]), csrf_token=csrf),
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text[:2000]
    api = env.client.get("/v1/children/ui-new-1", headers=env.auth("coordinator")).json()
    assert api["school_id"] == str(row["institution_number"])


def test_editing_a_child_keeps_its_network_and_changes_the_record(env: Env) -> None:
    client = coordinator(env)
    cid = with_network(env)
    form = client.get(f"/ui/children/{cid}/edit")
    assert form.status_code == 200, form.text[:2000]
    assert_no_raw_codes(form.text)
    before = env.client.get(f"/v1/children/{cid}", headers=env.auth("coordinator")).json()
    values = dict(re.findall(r'<input id="[^"]+" name="([^"]+)" value="([^"]*)"', form.text))
    values.update(
        {
            "csrf_token": csrf_of(form.text),
            "age": str(min(before["age"] + 1, 22)),
            "child_view": "Hørt den 1. december.",
        }
    )
    values.pop("school_q", None)
    data: dict[str, str | list[str]] = dict(values)
    data["needs"] = before["needs"]
    data["support_level"] = str(before["support_level"])
    data["kommune_code"] = "751"
    for flag in ("acute", "combination_ok", "secure_decision"):
        if before[flag]:
            data[flag] = "true"
    done = client.post(f"/ui/children/{cid}/edit", data=data, follow_redirects=False)
    assert done.status_code == 303, visible_text(done.text)[:3000]
    after = env.client.get(f"/v1/children/{cid}", headers=env.auth("coordinator")).json()
    assert after["age"] == min(before["age"] + 1, 22)
    assert after["network"] == before["network"]
    assert (after["home_lat"], after["home_lon"]) == (before["home_lat"], before["home_lon"])
    assert after["keep_away"] == before["keep_away"]
    assert after["exclusions"] == before["exclusions"]


def _reserve_first(client: TestClient, cid: str) -> str:
    page = client.get(f"/ui/children/{cid}")
    option = re.search(r'name="option_id" value="([^"]+)"', page.text)
    assert option
    kind = re.search(r'name="kind" value="([^"]+)"', page.text)
    assert kind
    held = client.post(
        f"/ui/children/{cid}/reserve",
        data={
            "option_id": option.group(1),
            "kind": kind.group(1),
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert held.status_code == 303, held.text[:2000]
    return option.group(1)


def test_hold_extend_confirm_then_end_from_the_child_page(env: Env) -> None:
    client = coordinator(env)
    cid = env.child_in("751")
    option = _reserve_first(client, cid)
    page = client.get(f"/ui/children/{cid}")
    assert "Bekræft anbringelsen" in page.text and "Frigiv pladsen" in page.text
    assert re.search(
        r"reserveret til <time[^>]*>\d\d-\d\d-\d{4} kl\. \d\d:\d\d</time> af", page.text
    )
    assert_no_raw_codes(page.text)
    hold_id = re.search(r'action="/ui/holds/([^/]+)/extend"', page.text)
    assert hold_id
    csrf = csrf_of(page.text)
    with sessionmaker(env.engine)() as s:
        before = s.get_one(Reservation, hold_id.group(1)).expires_at
    bad = client.post(
        f"/ui/holds/{hold_id.group(1)}/extend", data={"hours": "1000", "csrf_token": csrf}
    )
    assert_danish_page(bad, 422)
    assert "Timer: må højst være 336." in bad.text
    ext = client.post(
        f"/ui/holds/{hold_id.group(1)}/extend",
        data={"hours": "72", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert ext.status_code == 303
    with sessionmaker(env.engine)() as s:
        assert s.get_one(Reservation, hold_id.group(1)).expires_at > before
    done = client.post(
        f"/ui/holds/{hold_id.group(1)}/confirm", data={"csrf_token": csrf}, follow_redirects=True
    )
    assert done.status_code == 200 and "barnet er anbragt" in done.text
    assert f"Anbragt hos <strong>{option}</strong>" in done.text
    again = client.post(f"/ui/holds/{hold_id.group(1)}/confirm", data={"csrf_token": csrf})
    assert_danish_page(again, 409)
    assert "Reservationen er ikke længere aktiv" in again.text
    placement = re.search(r'action="/ui/placements/(\d+)/end"', done.text)
    assert placement
    future = client.post(
        f"/ui/placements/{placement.group(1)}/end",
        data={"end_reason": "home", "end_date": "2999-01-01", "csrf_token": csrf},
    )
    assert_danish_page(future, 422)
    assert "Slutdato: skal ligge mellem anbringelsens start og i dag." in future.text
    wrong = client.post(
        f"/ui/placements/{placement.group(1)}/end",
        data={"end_reason": "bortført", "csrf_token": csrf},
    )
    assert_danish_page(wrong, 422)
    assert "Grund til afslutning: skal være en af:" in wrong.text
    ended = client.post(
        f"/ui/placements/{placement.group(1)}/end",
        data={"end_reason": "home", "csrf_token": csrf},
        follow_redirects=True,
    )
    assert "Anbringelsen er afsluttet." in ended.text and "hjemgivelse" in ended.text
    api = env.client.get(f"/v1/children/{cid}/placements", headers=env.auth("coordinator"))
    assert api.json()[-1]["status"] == "ended" and api.json()[-1]["end_reason"] == "home"


def test_release_frees_the_place(env: Env) -> None:
    client = coordinator(env)
    cid = env.child_in("751")
    _reserve_first(client, cid)
    page = client.get(f"/ui/children/{cid}")
    hold_id = re.search(r'action="/ui/holds/([^/]+)/release"', page.text)
    assert hold_id
    gone = client.post(
        f"/ui/holds/{hold_id.group(1)}/release",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=True,
    )
    assert "Reservationen er frigivet" in gone.text and "Reservér" in gone.text
    with sessionmaker(env.engine)() as s:
        assert s.get_one(Reservation, hold_id.group(1)).status == "released"
        assert (
            s.scalar(
                select(func.count()).select_from(PlacementRow).where(PlacementRow.child_id == cid)
            )
            == 0
        )


def _placed_child(env: Env, client: TestClient) -> str:
    """A child of 751 placed through the child page (reserve, confirm)."""
    cid = env.child_in("751")
    _reserve_first(client, cid)
    page = client.get(f"/ui/children/{cid}")
    hold_id = re.search(r'action="/ui/holds/([^/]+)/confirm"', page.text)
    assert hold_id
    client.post(f"/ui/holds/{hold_id.group(1)}/confirm", data={"csrf_token": csrf_of(page.text)})
    return cid


def test_worklist_lists_follow_ups_and_the_form_records_one(env: Env) -> None:
    client = coordinator(env)
    cid = _placed_child(env, client)
    # The placement began 200 days ago: its first follow-up (after 13 weeks) is overdue.
    with sessionmaker(env.engine)() as s:
        row = s.scalars(select(PlacementRow).where(PlacementRow.child_id == cid)).one()
        row.start_date = date.today() - timedelta(days=200)
        Service.bump(s, "structure")
        s.commit()
    page = client.get("/ui/review")
    assert page.status_code == 200, page.text[:2000]
    text = visible_text(page.text)
    for heading in (
        "Opfølgning overskredet",
        "Opfølgning inden for 14 dage",
        "Revurdering: et trin ned ad indsatstrappen",
        "Vurdering af hjemgivelse",
    ):
        assert heading in text
    order = [
        text.index(h) for h in ("overskredet", "inden for 14 dage", "Revurdering", "hjemgivelse")
    ]
    assert order == sorted(order)
    assert_no_raw_codes(page.text)
    overdue = text[text.index("overskredet") : text.index("inden for 14 dage")]
    assert cid in overdue
    assert re.search(r"\d{1,3}(\.\d{3})* kr\./md\.", overdue)  # what the placement costs
    assert f'href="/ui/children/{cid}/follow-up"' in page.text
    form = client.get(f"/ui/children/{cid}/follow-up")
    assert form.status_code == 200 and 'name="with_whom"' in form.text
    csrf = csrf_of(form.text)
    missing = client.post(
        f"/ui/children/{cid}/follow-up", data={"on_date": "", "note": "x", "csrf_token": csrf}
    )
    assert_danish_page(missing, 422)
    assert "Holdt med: skal udfyldes." in missing.text
    assert "Barnet hørt: skal udfyldes." in missing.text
    future = client.post(
        f"/ui/children/{cid}/follow-up",
        data={
            "on_date": "2999-01-01",
            "with_whom": "barnet",
            "child_heard": "true",
            "csrf_token": csrf,
        },
    )
    assert_danish_page(future, 422)
    assert "Dato: skal ligge mellem anbringelsens start og i dag." in future.text
    done = client.post(
        f"/ui/children/{cid}/follow-up",
        data={
            "with_whom": "barnet og plejefamilien",
            "child_heard": "true",
            "note": "Trives.",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/ui/review?done={cid}"
    placed = env.client.get(
        f"/v1/children/{cid}/placements", headers=env.auth("coordinator")
    ).json()

    assert placed[-1]["last_follow_up"] == date.today().isoformat()
    again = client.get(f"/ui/children/{cid}/follow-up")
    assert "barnet og plejefamilien; barnet hørt. Trives." in again.text
    with sessionmaker(env.engine)() as s:
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.child_id == cid)))
    assert "placement.follow_up" in actions and "ui.review.read" in actions
    after = visible_text(client.get("/ui/review").text)
    assert cid not in after[after.index("overskredet") : after.index("inden for 14 dage")]


def test_follow_up_through_the_api(env: Env) -> None:
    client = coordinator(env)
    cid = _placed_child(env, client)
    r = env.client.post(
        f"/v1/children/{cid}/follow-ups",
        json={"with_whom": "barnet", "child_heard": False},
        headers=env.auth("coordinator"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["last_follow_up"] is not None
    bad = env.client.post(
        f"/v1/children/{cid}/follow-ups",
        json={"with_whom": "", "child_heard": "måske"},
        headers=env.auth("coordinator"),
    )
    assert bad.status_code == 422
    other = env.client.post(
        f"/v1/children/{cid}/follow-ups",
        json={"with_whom": "barnet", "child_heard": True},
        headers=env.auth("coordinator_727"),
    )
    assert other.status_code == 404
    unplaced = env.client.post(
        f"/v1/children/{env.child_in('727')}/follow-ups",
        json={"with_whom": "barnet", "child_heard": True},
        headers=env.auth("coordinator_727"),
    )
    assert unplaced.status_code == 404


def test_recommendation_page_and_pdf_in_danish_and_audited(env: Env) -> None:
    client = coordinator(env)
    cid = with_network(env)
    page = client.get(f"/ui/children/{cid}/recommendation")
    assert page.status_code == 200, page.text[:3000]
    text = visible_text(page.text)
    for heading in (
        "Barnets forhold",
        "Netværksafdækning",
        "Indstillet tilbud",
        "Alternativer i rækkefølge",
        "Hvorfor ikke andre tilbud",
        "Hensyn efter § 52",
        "Formål og forventet varighed",
        "Udgift",
        "Politikprofil",
    ):
        assert heading in text, heading
    assert re.search(r"Dato: \d\d-\d\d-\d{4}\. Sagsbehandler: ", text)
    assert re.search(r"\d{1,3}(\.\d{3})* kr\.", text), "the cost in kroner"
    assert "1 point ≈ 1 km ekstra afstand; lavere er bedre" in text
    assert 'href="/ui/static/cases.css"' in page.text  # its print styles
    assert_no_raw_codes(page.text)
    saved = client.post(
        f"/ui/children/{cid}/recommendation",
        data={
            "purpose": "Stabil hverdag tæt på skolen.",
            "duration": "1 år",
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=True,
    )
    assert "Stabil hverdag tæt på skolen." in saved.text and "1 år" in saved.text
    pdf = client.get(f"/ui/children/{cid}/recommendation.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 2000
    assert f"indstilling-{cid}.pdf" in pdf.headers["content-disposition"]
    with sessionmaker(env.engine)() as s:
        reads = s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.child_id == cid, AuditEntry.action == "ui.recommendation.read")
        )
    assert reads == 3  # the page, the page after saving, the PDF
    other = sign_in(fresh_client(env), env.keys["coordinator_727"])
    assert_danish_page(other.get(f"/ui/children/{cid}/recommendation"), 404)
    assert other.get(f"/ui/children/{cid}/recommendation.pdf").status_code == 404


def test_network_page_adds_edits_and_lists_the_unassessed(env: Env) -> None:
    client = coordinator(env)
    cid = env.child_in("751")
    page = client.get(f"/ui/children/{cid}/network")
    assert page.status_code == 200 and "Netværksafdækning" in page.text
    assert_no_raw_codes(page.text)
    csrf = csrf_of(page.text)
    person = {
        "person_id": f"{cid}-mormor",
        "relation": "grandparent",
        "postcode": "8000",
        "status": "unassessed",
        "places": "1",
        "willing": "true",
        "csrf_token": csrf,
    }
    bad = client.post(
        f"/ui/children/{cid}/network", data=person | {"relation": "", "postcode": "0001"}
    )
    assert_danish_page(bad, 422)
    assert "Relation: skal udfyldes." in bad.text
    unknown = client.post(f"/ui/children/{cid}/network", data=person | {"postcode": "0001"})
    assert_danish_page(unknown, 422)
    assert "Postnummer: skal være et kendt dansk postnummer med 4 cifre." in unknown.text
    added = client.post(f"/ui/children/{cid}/network", data=person, follow_redirects=True)
    assert added.status_code == 200, added.text[:2000]
    text = visible_text(added.text)
    assert "bedsteforælder" in text and "ikke vurderet endnu" in text and f"{cid}-mormor" in text
    assert_no_raw_codes(added.text)
    edit = client.get(f"/ui/children/{cid}/network", params={"edit": f"{cid}-mormor"})
    assert '<option value="grandparent" selected>' in edit.text
    client.post(f"/ui/children/{cid}/network", data=person | {"status": "approved"})
    api = env.client.get(f"/v1/children/{cid}", headers=env.auth("coordinator")).json()
    mine = [p for p in api["network"] if p["person_id"] == f"{cid}-mormor"]
    assert mine and mine[0]["status"] == "approved" and mine[0]["relation"] == "grandparent"
    # The approved grandmother is now a network proposal on the child page.
    assert f'data-option="{cid}-mormor"' in client.get(f"/ui/children/{cid}").text


def test_the_form_takes_contract_style_values_and_a_point(env: Env) -> None:
    client = coordinator(env)
    csrf = csrf_of(client.get("/ui/children/new").text)
    data = {
        "child_id": "ui-csv-1",
        "kommune_code": "751",
        "age": "15",
        "support_level": "3",
        "needs": "attachment;trauma",
        "home_lat": "56,1572",
        "home_lon": "10.2107",
        "acute": "1",
        "combination_ok": "0",
        "csrf_token": csrf,
    }
    made = client.post("/ui/children/new", data=data, follow_redirects=False)
    assert made.status_code == 303, visible_text(made.text)[:2000]
    api = env.client.get("/v1/children/ui-csv-1", headers=env.auth("coordinator")).json()
    assert sorted(api["needs"]) == ["attachment", "trauma"]
    assert api["acute"] is True and api["combination_ok"] is False
    assert (api["home_lat"], api["home_lon"]) == (56.1572, 10.2107)
    page = client.get("/ui/children/ui-csv-1")
    assert "tilknytning, traumer" in page.text
    assert_no_raw_codes(page.text)


def test_recommendation_cites_the_kommunes_policy_lines(env: Env) -> None:
    client = sign_in(fresh_client(env), env.keys["coordinator_727"])
    cid = env.child_in("727")
    page = client.get(f"/ui/children/{cid}/recommendation")
    assert page.status_code == 200
    text = visible_text(page.text)
    assert "Rangeret efter Odder Kommunes profil." in text
    assert re.search(r"line \d+", text), "a cited line of Odder's policy document"
    assert_no_raw_codes(page.text)
