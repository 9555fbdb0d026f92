"""The written recommendation (indstilling) for the visitation committee: a printable page
(`/ui/children/{id}/recommendation`, print styles in cases.css) and the same content as a PDF
(`.../recommendation.pdf`, fpdf2). Purpose and expected duration are written on the page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from fpdf import FPDF

from api.db.engine import DbSession as Session
from api.db.orm import UiSession
from api.http.deps import ServiceDep, SessionDep
from api.services import case_notes
from api.services.caller import Principal, Role
from api.services.errors import Invalid, NotFound
from api.services.recommendation import Recommendation, recommendation
from api.services.runtime import Service
from api.services.schools import school_by_number
from api.web.common import CsrfField, PageError, User, check_csrf, need, redirect, render, secure
from api.web.labels import (
    KINDS,
    LEVELS,
    NETWORK_STATUS,
    POINTS_NOTE,
    POLICY_NAMES,
    REASONS,
    RELATIONS,
    TERMS,
    TIERS,
    WARNINGS,
    codes_da,
    day,
    decimal,
    km,
    kroner,
    needs_da,
    option_label,
    setting_da,
)
from matcher.rank import Proposal

__all__ = ["document", "router"]

router = APIRouter(prefix="/ui", include_in_schema=False)
DAYS_PER_MONTH = 30.4
BASIS = {
    "placement": "Barnet er anbragt her.",
    "hold": "Pladsen er reserveret til barnet.",
    "proposal": "Det bedste forslag ned ad indsatstrappen.",
    "none": "",
}
# A citation of a municipal policy document ("...txt line 281: "...""), not a developer note.
CITED = re.compile(r"line \d+")


def _reasons(p: Proposal) -> str:
    terms = [f"{TERMS.get(k, k)}: {decimal(v)}" for k, v in p.terms.items() if v]
    return "; ".join(terms) or "ingen tillæg"


def _option(p: Proposal) -> str:
    label = option_label(p.kind, p.label)
    return f"{p.option_id} ({KINDS.get(p.kind, p.kind)}{', ' + label if label else ''})"


def document(service: Service, rec: Recommendation) -> dict[str, Any]:
    """The recommendation's content in Danish, as the page and the PDF both show it."""
    row = rec.record.child
    school = school_by_number(service.gazetteer, row.school_id or "")
    wishes = [w for w in row.wishes.split(";") if w]
    facts = [
        ("Barnets id", row.child_id),
        (
            "Handlekommune",
            f"{service.gazetteer.kommune_name(row.kommune_code) or ''} ({row.kommune_code})",
        ),
        ("Alder", f"{row.age} år"),
        ("Støtteniveau", f"{row.support_level} ({LEVELS.get(row.support_level, '')})"),
        ("Behov", ", ".join(needs_da(row.needs)) or "–"),
        ("Akut", "ja" if row.acute else "nej"),
        ("Hjem", f"postnummer {row.home_postcode}" if row.home_postcode else "punkt på kortet"),
        (
            "Skole",
            f"{school.name} ({school.number})"
            if school
            else ("punkt på kortet" if row.school_lat else "–"),
        ),
        ("Dagtilbud", f"postnummer {row.daycare_postcode}" if row.daycare_postcode else "–"),
        ("Søskende", ", ".join(c for c in rec.ranking.children if c != row.child_id) or "ingen"),
        ("Barnets ønsker", ", ".join(wishes) or "–"),
        ("Barnets synspunkter (§ 46)", rec.notes.get("child_view") or "ikke noteret"),
        ("Forældrenes synspunkter (§ 47)", rec.notes.get("parent_view") or "ikke noteret"),
    ]
    network = [
        (
            p.person_id,
            RELATIONS.get(p.relation, p.relation),
            NETWORK_STATUS.get(p.status, p.status),
            "ja" if p.willing else "nej",
            str(p.places),
        )
        for p in rec.network
    ]
    unassessed = sum(1 for p in rec.network if p.status == "unassessed")
    chosen: dict[str, Any] | None = None
    if rec.chosen_id:
        p = rec.chosen
        chosen = {
            "option": _option(p)
            if p
            else f"{rec.chosen_id} ({KINDS.get(rec.chosen_kind or '', '')})",
            "basis": BASIS[rec.chosen_basis],
            "tier": TIERS.get(p.tier, "") if p else "",
            "score": decimal(p.score) if p else "–",
            "reasons": _reasons(p) if p else "ikke længere et muligt tilbud i rangeringen",
            "warnings": ", ".join(WARNINGS.get(w, w) for w in p.warnings) if p else "",
            "wished": bool(rec.chosen_id in wishes),
        }
    alternatives = [
        (
            str(p.rank),
            _option(p),
            str(p.tier),
            decimal(p.score),
            km((p.distance_km or {}).get("school")),
            km((p.distance_km or {}).get("home")),
            _reasons(p) + ("; barnets ønske" if p.option_id in wishes else ""),
            ", ".join(WARNINGS.get(w, w) for w in p.warnings) or "–",
        )
        for p in rec.alternatives
    ]
    why_not = [(REASONS.get(k, k), str(n)) for k, n in rec.ranking.excluded.items()]
    distances = (rec.chosen.distance_km or {}) if rec.chosen else {}
    section52 = [
        (
            "Skolen bevares",
            "barnet har ingen skole"
            if rec.school_kept is None and not row.school_lat
            else (
                "ja"
                if rec.school_kept
                else ("nej – skoleskift" if rec.school_kept is False else "–")
            ),
        ),
        ("Afstand til skolen", km(distances.get("school"))),
        (
            "Søskende",
            f"anbringes sammen ({len(rec.ranking.children)} børn)"
            if len(rec.ranking.children) > 1
            else "ingen søskendegruppe",
        ),
        ("Afstand til hjemmet", km(distances.get("home"))),
        ("Afstand til nærmeste person i netværket", km(rec.network_km)),
    ]
    cost = []
    if rec.monthly_cost is not None:
        cost.append(("Pr. måned", kroner(rec.monthly_cost)))
        cost.append(("Pr. år", kroner(rec.monthly_cost * 12)))
    if rec.daily_rate:
        cost.append(("Institutionens døgntakst", kroner(rec.daily_rate)))
    elif rec.chosen_kind == "institution" and rec.monthly_cost is not None:
        cost.append(("Døgntakst (profilens standard)", kroner(rec.monthly_cost / DAYS_PER_MONTH)))
    seen: set[str] = set()
    sources = []
    for key, note in rec.sources.items():
        if CITED.search(note) and note not in seen:
            seen.add(note)
            sources.append((setting_da(key), codes_da(note)))
    return {
        "child_id": row.child_id,
        "date": day(rec.as_of),
        "caseworker": rec.caseworker,
        "facts": facts,
        "network": network,
        "unassessed": unassessed,
        "chosen": chosen,
        "alternatives": alternatives,
        "why_not": why_not,
        "section52": section52,
        "purpose": rec.notes.get("purpose", ""),
        "duration": rec.notes.get("duration", ""),
        "cost": cost,
        "policy": POLICY_NAMES.get(rec.policy.name, rec.policy.name),
        "sources": sources,
        "points_note": POINTS_NOTE,
    }


def _open(session: Session, service: Service, who: Principal, child_id: str) -> Recommendation:
    try:
        return recommendation(session, service, who, child_id)
    except NotFound:
        raise PageError(404, f"Barnet {child_id} findes ikke i dine kommuner.") from None


def _page(
    request: Request,
    session: Session,
    service: Service,
    user: tuple[Principal, UiSession],
    child_id: str,
    message: str | None = None,
    status: int = 200,
) -> Response:
    rec = _open(session, service, user[0], child_id)
    context = {"doc": document(service, rec), "message": message}
    return render(request, "recommendation.html", context, user, status=status)


@router.get("/children/{child_id}/recommendation", response_class=HTMLResponse)
def recommendation_page(
    request: Request, child_id: str, session: SessionDep, service: ServiceDep, user: User
) -> Response:
    need(user, Role.COORDINATOR)
    return _page(request, session, service, user, child_id)


@router.post("/children/{child_id}/recommendation", response_class=HTMLResponse)
def save_purpose(
    request: Request,
    child_id: str,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    purpose: Annotated[str, Form()] = "",
    duration: Annotated[str, Form()] = "",
    csrf_token: CsrfField = "",
) -> Response:
    who = need(user, Role.COORDINATOR)
    check_csrf(user, csrf_token)
    try:
        case_notes.save_notes(
            session, service, who, child_id, {"purpose": purpose, "duration": duration}
        )
    except NotFound:
        raise PageError(404, f"Barnet {child_id} findes ikke i dine kommuner.") from None
    except Invalid:
        session.rollback()
        text = "Formål og forventet varighed: højst 4000 tegn hver."
        return _page(request, session, service, user, child_id, text, 422)
    session.commit()
    return redirect(f"/ui/children/{child_id}/recommendation")


FONTS = Path("/usr/share/fonts/truetype/dejavu")


class _Pdf(FPDF):
    def __init__(self) -> None:
        super().__init__(format="A4")
        regular, bold = FONTS / "DejaVuSans.ttf", FONTS / "DejaVuSans-Bold.ttf"
        # DejaVu where the system has it (every Danish letter and "≈"); else the PDF core
        # font, which has æ, ø, å in its Latin-1 set.
        self.unicode = regular.exists() and bold.exists()
        if self.unicode:
            self.add_font("DejaVu", "", str(regular))
            self.add_font("DejaVu", "B", str(bold))
        self.family_name = "DejaVu" if self.unicode else "Helvetica"
        self.set_auto_page_break(True, margin=15)
        self.set_margins(15, 15, 15)

    def text_of(self, text: str) -> str:
        if self.unicode:
            return text
        plain = text.replace("≈", "~").replace("–", "-").replace("—", "-")
        return plain.encode("latin-1", "replace").decode("latin-1")

    def heading(self, text: str, size: int = 13) -> None:
        self.set_font(self.family_name, "B", size)
        self.ln(2)
        self.multi_cell(0, 7, self.text_of(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.family_name, "", 10)

    def para(self, text: str) -> None:
        self.set_font(self.family_name, "", 10)
        self.multi_cell(0, 5, self.text_of(text), new_x="LMARGIN", new_y="NEXT")

    def pairs(self, rows: list[tuple[str, str]]) -> None:
        for label, value in rows:
            self.set_font(self.family_name, "B", 10)
            self.multi_cell(60, 5, self.text_of(label), new_x="RIGHT", new_y="TOP")
            self.set_font(self.family_name, "", 10)
            self.multi_cell(0, 5, self.text_of(value), new_x="LMARGIN", new_y="NEXT")

    def table_of(self, head: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
        self.set_font(self.family_name, "", 8)
        with self.table(text_align="LEFT", line_height=4) as table:
            top = table.row()
            for cell in head:
                top.cell(self.text_of(cell))
            for row in rows:
                line = table.row()
                for cell in row:
                    line.cell(self.text_of(cell))
        self.set_font(self.family_name, "", 10)


def pdf_bytes(doc: dict[str, Any]) -> bytes:
    pdf = _Pdf()
    pdf.add_page()
    pdf.heading(f"Indstilling til visitationsudvalget: barn {doc['child_id']}", 15)
    pdf.para(f"Dato: {doc['date']}. Sagsbehandler: {doc['caseworker']}.")
    pdf.heading("Barnets forhold")
    pdf.pairs(doc["facts"])
    pdf.heading("Netværksafdækning")
    if doc["network"]:
        pdf.para(f"{len(doc['network'])} personer; {doc['unassessed']} ikke vurderet.")
        pdf.table_of(("Person", "Relation", "Vurdering", "Vil og kan", "Pladser"), doc["network"])
    else:
        pdf.para("Ingen personer i barnets netværk er registreret.")
    pdf.heading("Indstillet tilbud")
    if doc["chosen"]:
        c = doc["chosen"]
        pdf.pairs(
            [
                ("Tilbud", c["option"]),
                ("Grundlag", c["basis"]),
                ("Trin", c["tier"]),
                ("Point", c["score"]),
                ("Begrundelse", c["reasons"]),
                ("Advarsler", c["warnings"] or "ingen"),
            ]
        )
    else:
        pdf.para("Intet muligt tilbud.")
    pdf.para(doc["points_note"] + ".")
    pdf.heading("Alternativer i rækkefølge")
    if doc["alternatives"]:
        pdf.table_of(
            ("Nr.", "Tilbud", "Trin", "Point", "Skole", "Hjem", "Begrundelse", "Advarsler"),
            doc["alternatives"],
        )
    else:
        pdf.para("Ingen andre mulige tilbud.")
    pdf.heading("Hvorfor ikke andre tilbud")
    pdf.pairs([(r, f"{n} tilbud") for r, n in doc["why_not"]] or [("–", "ingen fravalgt")])
    pdf.heading("Hensyn efter § 52")
    pdf.pairs(doc["section52"])
    pdf.heading("Formål og forventet varighed")
    pdf.pairs(
        [
            ("Formål", doc["purpose"] or "ikke angivet"),
            ("Forventet varighed", doc["duration"] or "ikke angivet"),
        ]
    )
    pdf.heading("Udgift")
    pdf.pairs(doc["cost"] or [("–", "ingen takst i profilen")])
    pdf.heading("Politikprofil")
    pdf.para(f"Rangeret efter {doc['policy']}.")
    for setting, note in doc["sources"]:
        pdf.pairs([(setting, note)])
    return bytes(pdf.output())


@router.get("/children/{child_id}/recommendation.pdf")
def recommendation_pdf(
    child_id: str, session: SessionDep, service: ServiceDep, user: User
) -> Response:
    who = need(user, Role.COORDINATOR)
    rec = _open(session, service, who, child_id)
    body = pdf_bytes(document(service, rec))
    response = Response(body, media_type="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="indstilling-{child_id}.pdf"'
    return secure(response)
