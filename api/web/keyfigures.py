"""The planners' key figures for the committee: per month and kommune, tables beside
charts, and the same as Markdown, HTML or CSV to download."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.http.deps import ServiceDep, SessionDep, read_only
from api.reports import keyfigures as report
from api.reports.danish import fmt_date
from api.services.caller import Role
from api.services.errors import Invalid
from api.services.keyfigures import key_figures
from api.services.runtime import now
from api.web.common import PageError, User, need, render, secure
from matcher.review import add_months

router = APIRouter(prefix="/ui", include_in_schema=False)
FORMATS = {"md": "text/markdown", "html": "text/html", "csv": "text/csv"}


def _date(value: str, label: str, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PageError(422, f"{label}: skal være en dato (åååå-mm-dd).") from None


@router.get("/keyfigures", response_class=HTMLResponse)
@read_only
def keyfigures_page(
    request: Request,
    session: SessionDep,
    service: ServiceDep,
    user: User,
    start: Annotated[str, Query(alias="from", max_length=10)] = "",
    end: Annotated[str, Query(alias="to", max_length=10)] = "",
    kommune: Annotated[str, Query(max_length=3)] = "",
    format: Annotated[str, Query(max_length=4)] = "",
) -> Response:
    who = need(user, Role.PLANNER)
    today = now().date()
    last = _date(end, "Til", today)
    first = _date(start, "Fra", add_months(last, -11).replace(day=1))
    if kommune and kommune not in who.kommuner:
        raise PageError(403, f"Kommune {kommune} er ikke blandt dine kommuner.")
    if format and format not in FORMATS:
        raise PageError(422, "Format: skal være en af: md, html, csv.")
    try:
        figures = key_figures(session, service, who, first, last, [kommune] if kommune else None)
    except Invalid as exc:
        if exc.errors and exc.errors[0].get("path") == "to":
            raise PageError(
                422, "Til: skal ligge efter Fra, og perioden må højst være 120 måneder."
            ) from None
        raise PageError(422, "Perioden kan ikke vises.") from None
    if format:
        body = {"md": report.to_markdown, "html": report.to_html, "csv": report.to_csv}[format](
            figures
        )
        response = Response(body.encode("utf-8"), media_type=f"{FORMATS[format]}; charset=utf-8")
        name = f"noegletal-{first.isoformat()}-{last.isoformat()}.{format}"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return secure(response)
    context = {
        "body": report.body_html(figures),
        "period": report.period(figures),
        "start": first.isoformat(),
        "end": last.isoformat(),
        "kommune": kommune,
        "kommuner": sorted(who.kommuner),
        "shown": ", ".join(figures.kommuner),
        "today": fmt_date(today),
        "any": any(r.active or r.new for r in figures.rows),
    }
    return render(request, "keyfigures.html", context, user)
