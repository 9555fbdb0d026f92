"""Key figures for the committee as Danish tables and inline SVG charts, and as Markdown,
HTML and CSV files (`placement keyfigures`); one implementation for the page and the CLI."""

from __future__ import annotations

import csv
import html
import io
from typing import Any

from markupsafe import Markup

from api.reports.charts import grouped_bars, lines
from api.reports.danish import fmt_date, fmt_int, fmt_kr, fmt_pct
from api.services.keyfigures import KeyFigures, MonthFigures

__all__ = ["COLUMNS", "charts", "table", "to_csv", "to_html", "to_markdown"]

COLUMNS = (
    "Måned",
    "Kommune",
    "Aktive anbringelser",
    "Netværk",
    "Plejefamilie",
    "Kombination",
    "Institution",
    "Familiebaseret andel",
    "Nye anbringelser",
    "Heraf akutte",
    "Opfølgning til tiden",
    "Trappet ned inden for målet",
    "Flytninger",
    "Sammenbrud",
    "Udgift pr. måned",
)
CSV_COLUMNS = (
    "maaned",
    "kommune",
    "aktive",
    "netvaerk",
    "plejefamilie",
    "kombination",
    "institution",
    "familiebaseret_andel",
    "nye",
    "akutte",
    "opfoelgning_til_tiden_andel",
    "trappet_ned_andel",
    "trappet_ned",
    "trappet_ned_af",
    "flytninger",
    "sammenbrud",
    "udgift_pr_maaned_kr",
)


def _month(value: str) -> str:
    year, month = value.split("-")
    return f"{month}-{year}"


def _row(r: MonthFigures) -> list[str]:
    k = r.active_by_kind
    stepped = (
        f"{fmt_pct(r.stepped_down_share)} ({r.stepped_down_within} af {r.stepped_down_of})"
        if r.stepped_down_of
        else "–"
    )
    return [
        _month(r.month),
        r.kommune,
        fmt_int(r.active),
        fmt_int(k.get("network", 0)),
        fmt_int(k.get("foster", 0)),
        fmt_int(k.get("combination", 0)),
        fmt_int(k.get("institution", 0)),
        fmt_pct(r.family_based_share),
        fmt_int(r.new),
        fmt_int(r.acute),
        fmt_pct(r.follow_ups_on_time_share),
        stepped,
        fmt_int(r.moves),
        fmt_int(r.breakdowns),
        fmt_kr(r.monthly_cost_dkk),
    ]


def table(figures: KeyFigures) -> tuple[list[str], list[list[str]]]:
    return list(COLUMNS), [_row(r) for r in figures.rows]


def charts(figures: KeyFigures) -> list[Markup]:
    months = sorted({r.month for r in figures.rows})
    x = [_month(m) for m in months]
    by = {(r.month, r.kommune): r for r in figures.rows}
    kommuner = figures.kommuner

    def series(value: Any) -> list[tuple[str, list[float | None]]]:
        out: list[tuple[str, list[float | None]]] = []
        for k in kommuner:
            values: list[float | None] = []
            for m in months:
                row = by.get((m, k))
                values.append(None if row is None else value(row))
            out.append((f"Kommune {k}", values))
        return out

    kinds = ("network", "foster", "combination", "institution")
    names = ("Netværk", "Plejefamilie", "Kombination", "Institution")
    return [
        grouped_bars(
            x,
            [
                (
                    name,
                    [
                        float(sum(by[(m, k)].active_by_kind.get(kind, 0) for k in kommuner))
                        for m in months
                    ],
                )
                for kind, name in zip(kinds, names, strict=True)
            ],
            "Aktive anbringelser fordelt på type (ved månedens udgang)",
            fmt_int,
        ),
        lines(
            x,
            series(lambda r: r.family_based_share),
            "Familiebaseret andel (netværk og plejefamilie)",
            fmt_pct,
        ),
        lines(
            x,
            series(lambda r: r.stepped_down_share),
            f"Institutionsanbringelser trappet ned inden for {figures.within_months} måneder",
            fmt_pct,
            figures.target_share,
            "Mål",
        ),
        lines(x, series(lambda r: r.monthly_cost_dkk), "Udgift pr. måned", fmt_kr),
    ]


def period(figures: KeyFigures) -> str:
    return f"{fmt_date(figures.start)} til {fmt_date(figures.end)}"


NOTES = (
    "Familiebaseret andel: netværkspleje og plejefamilie af alle aktive anbringelser. "
    "Opfølgning til tiden: aktive anbringelser uden overskredet opfølgning ved månedens udgang. "
    "Trappet ned inden for målet: institutionsanbringelser startet i de 12 måneder op til "
    "målets antal måneder før månedens udgang, der sluttede med en nedtrapning eller "
    "hjemgivelse inden for målet (mål: {target}). Udgiften beregnes ud fra takster i "
    "politikprofilen og institutionernes egne døgntakster."
)


def to_markdown(figures: KeyFigures) -> str:
    header, rows = table(figures)
    lines_ = [
        f"# Nøgletal for anbringelser, {period(figures)}",
        "",
        f"Kommuner: {', '.join(figures.kommuner)}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        NOTES.format(target=fmt_pct(figures.target_share, 0)),
        "",
    ]
    return "\n".join(lines_)


def body_html(figures: KeyFigures) -> Markup:
    header, rows = table(figures)
    head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<th scope="row">{html.escape(v)}</th>' if i == 0 else f"<td>{html.escape(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    figures_html = "".join(f'<figure class="chart">{c}</figure>' for c in charts(figures))
    return Markup(
        f'<div class="charts">{figures_html}</div>'
        f'<table class="list keyfigures"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
        f"</table><p>{html.escape(NOTES.format(target=fmt_pct(figures.target_share, 0)))}</p>"
    )


def to_html(figures: KeyFigures) -> str:
    title = f"Nøgletal for anbringelser, {period(figures)}"
    style = (
        "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}"
        "table{border-collapse:collapse;font-size:.85rem;margin:1rem 0}"
        "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}"
        "th:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:1rem}"
    )
    return (
        f"<!doctype html><html lang='da'><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title><style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p>Kommuner: {html.escape(', '.join(figures.kommuner))}</p>{body_html(figures)}"
        "</body></html>"
    )


def to_csv(figures: KeyFigures) -> str:
    """Numbers as numbers (shares 0..1, cost in DKK) with ';' and a decimal comma, as a
    Danish spreadsheet opens them."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(CSV_COLUMNS)

    def num(value: float | None) -> str:
        return "" if value is None else f"{value:g}".replace(".", ",")

    for r in figures.rows:
        k = r.active_by_kind
        writer.writerow(
            [
                r.month,
                r.kommune,
                r.active,
                k.get("network", 0),
                k.get("foster", 0),
                k.get("combination", 0),
                k.get("institution", 0),
                num(r.family_based_share),
                r.new,
                r.acute,
                num(r.follow_ups_on_time_share),
                num(r.stepped_down_share),
                r.stepped_down_within,
                r.stepped_down_of,
                r.moves,
                r.breakdowns,
                num(r.monthly_cost_dkk),
            ]
        )
    return buffer.getvalue()
