"""A family's or an institution's own page for its consultant (/ui/families/{id},
/ui/institutions/{id}): its approval in Danish, its live holds (child, coordinator's key label,
expiry) and its placement history with each end and the reason in Danish."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.db.engine import DbSession
from api.db.orm import FamilyRow, InstitutionRow, UiSession
from api.http.deps import ServiceDep, SessionDep
from api.services import option_activity
from api.services.caller import Principal, Role
from api.services.options import StoredFamily
from api.services.runtime import Service
from api.web.approvals import What, read_own, text_of
from api.web.common import User, need, render
from api.web.labels import (
    END_REASONS,
    FAMILY_STATUS,
    FOSTER_LEVELS,
    INSTITUTION_KINDS,
    KINDS,
    LEVELS,
    day,
    kroner,
    needs_da,
)
from api.web.mapview import Marker, svg_map

router = APIRouter(prefix="/ui", include_in_schema=False)


def held_da(h: option_activity.HeldPlace) -> dict[str, Any]:
    """A live hold for a page: the children, who holds it (the key's label) and until when."""
    return {
        "children": h.child_ids,
        "kind": KINDS.get(h.kind, h.kind),
        "places": h.places,
        "holder": h.key_label or f"nøgle nr. {h.key_id}",
        "until": day(h.expires_at),
        "until_iso": h.expires_at.isoformat(),
    }


def placed_da(p: option_activity.PlacedChild) -> dict[str, Any]:
    return {
        "child_id": p.child_id,
        "kind": KINDS.get(p.kind, p.kind),
        "start": day(p.start_date),
        "end": day(p.end_date) if p.end_date else "",
        "active": p.status == "active",
        # An imported end reason may be free text rather than a code: shown as written.
        "reason": END_REASONS.get(p.end_reason, p.end_reason) if p.end_reason else "",
        "follow_up": day(p.last_follow_up) if p.last_follow_up else "",
    }


def _option_page(
    request: Request,
    session: DbSession,
    service: Service,
    user: tuple[Principal, UiSession],
    what: What,
    option_id: str,
    message: str | None,
) -> Response:
    who = need(user, Role.CONSULTANT)
    read_own(session, who, what, option_id)  # the right kind, in the caller's kommuner
    seen = option_activity.option_history(session, service, who, option_id)
    record, pool = seen.record, seen.record.pool
    today = date.today()
    if isinstance(record, StoredFamily):
        row: FamilyRow | InstitutionRow = record.family
        f = record.family
        facts = [
            ("Niveau", FOSTER_LEVELS.get(f.level, f.level)),
            (
                "Største søskendegruppe",
                f"{f.max_siblings} " + ("barn" if f.max_siblings == 1 else "børn"),
            ),
            ("Kombinationsanbringelse", "ja" if f.combination else "nej"),
            ("Status", FAMILY_STATUS["paused" if f.paused else "active"]),
            (
                "Vederlag pr. måned",
                f"{kroner(f.monthly_rate)} (eget)" if f.monthly_rate else "profilens for niveauet",
            ),
        ]
        heading = f"Plejefamilie {option_id}"
    else:
        i = record.institution
        row = i
        facts = [
            ("Type", INSTITUTION_KINDS.get(i.kind, i.kind)),
            ("Navn", i.name or "–"),
            ("Højeste støtteniveau", f"{i.max_level} ({LEVELS.get(i.max_level, '')})"),
            (
                "Pladser til kombinationsanbringelse",
                f"{record.combination.places} (optaget {record.combination.occupied})",
            ),
            ("Døgntakst", kroner(i.daily_rate)),
        ]
        heading = f"Institution {option_id}"
    confirmed = row.vacancy_confirmed
    kommune = service.gazetteer.kommune_name(row.kommune_code) or row.kommune_code
    facts = [
        ("Kommune", f"{kommune} ({row.kommune_code})"),
        ("Sted", row.postcode or f"{text_of(row.lat)}° N, {text_of(row.lon)}° Ø"),
        ("Alder", f"{row.min_age}–{row.max_age} år"),
        ("Målgrupper", ", ".join(needs_da(row.target_groups)) or "ingen særlige"),
        ("Akutte anbringelser", "ja" if row.acute else "nej"),
        *facts,
        (
            "Pladser",
            f"{pool.places} godkendt, {pool.occupied} optaget, {pool.reserved} reserveret, "
            f"{record.free_places} ledig(e)",
        ),
        (
            "Vakance bekræftet",
            "aldrig"
            if confirmed is None
            else f"{day(confirmed)} ({(today - confirmed).days} dage siden)",
        ),
    ]
    where = Marker(row.lat, row.lon, f"Sted for {heading[:1].lower()}{heading[1:]}", "option", "T")
    context = {
        "map": svg_map(
            service.gazetteer,
            [where],
            f"Kort: {heading}",
            kommune_code=row.kommune_code,
            own_name="tilbuddets kommune",
        ),
        "heading": heading,
        "what": what,
        "option_id": option_id,
        "facts": facts,
        "holds": [held_da(h) for h in seen.activity.holds],
        "history": [placed_da(p) for p in seen.history],
        "active": sum(1 for p in seen.history if p.status == "active"),
        "message": message,
    }
    return render(request, "option.html", context, user)


Message = Annotated[str | None, Query(max_length=200)]


@router.get("/families/{family_id}", response_class=HTMLResponse)
def family_page(
    request: Request,
    family_id: str,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    message: Message = None,
) -> Response:
    return _option_page(request, session, service, user, "families", family_id, message)


@router.get("/institutions/{institution_id}", response_class=HTMLResponse)
def institution_page(
    request: Request,
    institution_id: str,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    message: Message = None,
) -> Response:
    return _option_page(request, session, service, user, "institutions", institution_id, message)
