"""The what-if report in Danish, one implementation for the web page (`/ui/whatif/{id}`) and
the CLI's `report.html` / `report.md` (`--lang da`): scenarios side by side with deltas
against the baseline, cost, charts as inline SVG and the year trajectories.

Outcomes come as dicts (`ScenarioOutcome.as_dict()` plus `description`, `assignments` and
`unassigned`), so a stored job and a fresh CLI run read alike; `economies` is each
scenario's `matcher.economy.Economy.as_dict()` and, when simulated, `monthly_costs` (one
figure per month)."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from markupsafe import Markup

from api.reports.charts import grouped_bars, km_buckets, lines
from api.reports.danish import (
    COST_NAMES,
    fmt_int,
    fmt_kr,
    fmt_pct,
    kpi_delta,
    kpi_name,
    kpi_value,
    reason_name,
    solution_name,
)
from api.reports.report import flatten, main_reason

__all__ = ["WhatIfView", "whatif_view"]

BASELINE = "baseline"
KIND_ORDER = ("network", "foster", "combination", "institution")
# The kinds as the report's tables and charts name them (api.web.labels' KINDS, capitalised).
KIND_NAMES = {
    "network": "Netværk",
    "foster": "Plejefamilie",
    "combination": "Kombination",
    "institution": "Institution",
}
_FREE_GROUPS = {"almen": "almen", "forstaerket": "forstærket", "specialiseret": "specialiseret"}

Table = tuple[list[str], list[list[str]]]


def _scenario_name(name: str) -> str:
    return "Udgangspunkt" if name == BASELINE else name


def _stepped(month: Mapping[str, Any]) -> float | None:
    share = month.get("institution_stepped_down_share")
    return None if share is None else float(share)


def _institution_share(month: Mapping[str, Any]) -> float:
    active = month.get("active_by_kind", {})
    return float(active.get("institution", 0)) / max(sum(active.values()), 1)


TRAJECTORIES: tuple[
    tuple[str, Callable[[Mapping[str, Any]], float | None], Callable[..., str]], ...
] = (
    ("Børn der venter på en plads", lambda m: float(m["waiting"]), fmt_int),
    ("Andel af aktive anbringelser på institution", _institution_share, fmt_pct),
    ("Institutionsanbringelser trappet ned inden for målet", _stepped, fmt_pct),
    ("Opfølgninger i måneden", lambda m: float(m["follow_ups_due"]), fmt_int),
)


class WhatIfView:
    """Tables (header, rows of formatted cells) and charts of a what-if run."""

    def __init__(
        self,
        outcomes: Sequence[Mapping[str, Any]],
        economies: Mapping[str, Mapping[str, Any]],
        budget: float | None = None,
    ) -> None:
        self.outcomes = list(outcomes)
        self.done = [o for o in self.outcomes if o.get("ok")]
        self.economies = economies
        self.budget = budget
        self.base = next((o for o in self.done if o["name"] == BASELINE), None)

    # -- tables ------------------------------------------------------------------------------
    def scenarios(self) -> Table:
        rows = [
            [
                _scenario_name(o["name"]),
                "Dataene uden ændringer" if o["name"] == BASELINE else o.get("description") or "",
                solution_name(o.get("status")) if o.get("ok") else "fejlet",
            ]
            for o in self.outcomes
        ]
        return ["Scenarie", "Beskrivelse", "Løsning"], rows

    def failures(self) -> list[tuple[str, str]]:
        return [(o["name"], str(o.get("error") or "")) for o in self.outcomes if not o.get("ok")]

    def kpis(self) -> Table:
        """A row per KPI with a Danish name, a column per scenario, then a Δ column per
        scenario other than the baseline; the cost rows last."""
        names = [o["name"] for o in self.done]
        others = [n for n in names if n != BASELINE]
        header = [
            "Nøgletal",
            *(_scenario_name(n) for n in names),
            *(f"{n} Δ" for n in others if self.base is not None),
        ]
        flats = [flatten(o.get("kpis", {})) for o in self.done]
        base_flat = flatten(self.base.get("kpis", {})) if self.base else {}
        keys: list[str] = []
        for flat in flats:
            keys += [k for k in flat if k not in keys and kpi_name(k) is not None]
        rows: list[list[str]] = []
        for key in keys:
            values = [flat.get(key) for flat in flats]
            row = [kpi_name(key) or key, *(kpi_value(key, v) for v in values)]
            if self.base is not None:
                row += [
                    kpi_delta(key, v, base_flat.get(key))
                    for n, v in zip(names, values, strict=True)
                    if n != BASELINE
                ]
            rows.append(row)
        base_cost = self.economies.get(BASELINE, {})
        for key in ("monthly", "yearly", "yearly_per_child"):
            costs = [self.economies.get(n, {}).get(key) for n in names]
            row = [COST_NAMES[key], *(fmt_kr(c) for c in costs)]
            if self.base is not None:
                row += [
                    kpi_delta("cost_dkk", c, base_cost.get(key))
                    for n, c in zip(names, costs, strict=True)
                    if n != BASELINE
                ]
            rows.append(row)
        return header, rows

    def costs(self) -> Table:
        """Monthly and yearly cost by kind, per scenario."""
        names = [o["name"] for o in self.done]
        header = ["Anbringelsestype", *(f"{_scenario_name(n)}, pr. år" for n in names)]
        rows = []
        for kind in KIND_ORDER:
            rows.append(
                [
                    KIND_NAMES[kind],
                    *(
                        fmt_kr(
                            self.economies.get(n, {}).get("monthly_by_kind", {}).get(kind, 0) * 12
                        )
                        for n in names
                    ),
                ]
            )
        return header, rows

    def unplaced(self) -> Table:
        counts = {
            o["name"]: Counter(reason_name(main_reason(r)) for r in o.get("unassigned", []))
            for o in self.done
        }
        reasons = sorted({r for c in counts.values() for r in c})
        header = ["Hovedårsag", *(_scenario_name(n) for n in counts)]
        return header, [[r, *(str(counts[n][r]) for n in counts)] for r in reasons]

    def simulated(self) -> list[Mapping[str, Any]]:
        return [o for o in self.done if o.get("trajectory")]

    def trajectory(self) -> Table:
        sims = self.simulated()
        months = max((len(o["trajectory"]) for o in sims), default=0)
        header = ["Scenarie", "Tal", *(f"md. {k}" for k in range(1, months + 1))]
        rows = []
        for o in sims:
            for label, value, fmt in TRAJECTORIES:
                rows.append(
                    [_scenario_name(o["name"]), label, *(fmt(value(m)) for m in o["trajectory"])]
                )
            monthly = self.economies.get(o["name"], {}).get("monthly_costs") or []
            if monthly:
                rows.append([_scenario_name(o["name"]), "Udgift i måneden", *map(fmt_kr, monthly)])
        return header, rows

    # -- charts ------------------------------------------------------------------------------
    def charts(self) -> list[Markup]:
        if not self.done:
            return []
        names = [_scenario_name(o["name"]) for o in self.done]
        out = [
            grouped_bars(
                [KIND_NAMES[k] for k in KIND_ORDER],
                [
                    (n, [float(o["kpis"].get("share_by_kind", {}).get(k, 0.0)) for k in KIND_ORDER])
                    for n, o in zip(names, self.done, strict=True)
                ],
                "Anbragte børn fordelt på type",
                fmt_pct,
            ),
            grouped_bars(
                ["0–5 km", "5–10 km", "10–20 km", "20–40 km", "over 40 km"],
                [
                    (
                        n,
                        [
                            float(c)
                            for c in km_buckets(
                                [
                                    r["km_to_school"]
                                    for r in o.get("assignments", [])
                                    if r.get("km_to_school") is not None
                                ]
                            )
                        ],
                    )
                    for n, o in zip(names, self.done, strict=True)
                ],
                "Afstand til skole: antal børn",
                fmt_int,
            ),
        ]
        header, rows = self.unplaced()
        if rows:
            out.append(
                grouped_bars(
                    [r[0] for r in rows],
                    [(header[k + 1], [float(r[k + 1]) for r in rows]) for k in range(len(names))],
                    "Børn uden plads fordelt på hovedårsag",
                    fmt_int,
                )
            )
        groups = sorted(
            {
                (kind, level)
                for o in self.done
                for kind, levels in o["kpis"].get("free_places_left", {}).items()
                for level in levels
            }
        )
        if groups:
            out.append(
                grouped_bars(
                    [
                        f"{KIND_NAMES.get(k, k).lower()} {_FREE_GROUPS.get(lv, lv)}"
                        for k, lv in groups
                    ],
                    [
                        (
                            n,
                            [
                                float(o["kpis"]["free_places_left"].get(k, {}).get(lv, 0))
                                for k, lv in groups
                            ],
                        )
                        for n, o in zip(names, self.done, strict=True)
                    ],
                    "Ledig kapacitet efter matchning",
                    fmt_int,
                )
            )
        out.append(
            grouped_bars(
                [KIND_NAMES[k] for k in KIND_ORDER],
                [
                    (
                        n,
                        [
                            float(
                                self.economies.get(o["name"], {})
                                .get("monthly_by_kind", {})
                                .get(k, 0.0)
                            )
                            * 12
                            for k in KIND_ORDER
                        ],
                    )
                    for n, o in zip(names, self.done, strict=True)
                ],
                "Udgift pr. år fordelt på type",
                fmt_kr,
            )
        )
        return out

    def trajectory_charts(self) -> list[Markup]:
        sims = self.simulated()
        if not sims:
            return []
        months = max(len(o["trajectory"]) for o in sims)
        x = [str(k) for k in range(1, months + 1)]
        out = [
            lines(
                x,
                [(_scenario_name(o["name"]), [value(m) for m in o["trajectory"]]) for o in sims],
                f"{label} (måned for måned)",
                fmt,
            )
            for label, value, fmt in TRAJECTORIES
        ]
        costs = [
            (_scenario_name(o["name"]), self.economies.get(o["name"], {}).get("monthly_costs"))
            for o in sims
        ]
        if any(c for _, c in costs):
            out.append(
                lines(
                    x,
                    [(n, [float(v) for v in c or []]) for n, c in costs],
                    "Udgift pr. måned mod budget",
                    fmt_kr,
                    self.budget,
                )
            )
        return out

    # -- output ------------------------------------------------------------------------------
    def html_body(self) -> Markup:
        """The report's content as HTML (headings, tables, inline SVG charts)."""
        parts = ["<h2>Scenarier</h2>", _html_table(*self.scenarios())]
        for name, error in self.failures():
            parts.append(
                f'<p class="message conflict">Scenariet {html.escape(name)} fejlede: '
                f"{html.escape(error)}</p>"
            )
        parts += [
            "<h2>Nøgletal (Δ: forskel fra udgangspunktet)</h2>",
            _html_table(*self.kpis(), css="kpis"),
            "<h2>Udgifter</h2>",
            "<p>Udgiften beregnes ud fra fordelingen og takster i politikprofilen; den "
            "påvirker aldrig hvem der får hvilken plads.</p>",
            _html_table(*self.costs(), css="costs"),
        ]
        header, rows = self.unplaced()
        if rows:
            parts += ["<h2>Børn uden plads fordelt på hovedårsag</h2>", _html_table(header, rows)]
        parts.append('<h2>Grafer</h2><div class="charts">')
        parts += [f'<figure class="chart">{c}</figure>' for c in self.charts()]
        parts.append("</div>")
        if self.simulated():
            parts += [
                "<h2>Årssimulering, måned for måned</h2>",
                _html_table(*self.trajectory(), css="trajectory"),
                '<div class="charts">',
                *(f'<figure class="chart">{c}</figure>' for c in self.trajectory_charts()),
                "</div>",
            ]
        return Markup("\n".join(parts))

    def markdown(self, title: str) -> str:
        md = [f"# {title}", "", "## Scenarier", "", _md_table(*self.scenarios()), ""]
        for name, error in self.failures():
            md.append(f"- **{name}** fejlede: {error}")
        md += ["## Nøgletal (Δ: forskel fra udgangspunktet)", "", _md_table(*self.kpis()), ""]
        md += ["## Udgifter", "", _md_table(*self.costs()), ""]
        header, rows = self.unplaced()
        if rows:
            md += ["## Børn uden plads fordelt på hovedårsag", "", _md_table(header, rows), ""]
        if self.simulated():
            md += ["## Årssimulering, måned for måned", "", _md_table(*self.trajectory()), ""]
        md += ["Graferne findes i report.html.", ""]
        return "\n".join(md)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
figure { margin: 0; }
"""


def standalone_html(view: WhatIfView, title: str) -> str:
    """report.html in Danish: opens without network (charts are inline SVG)."""
    return (
        "<!doctype html><html lang='da'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{view.html_body()}</body></html>"
    )


def _html_table(header: list[str], rows: list[list[str]], css: str = "") -> str:
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
    return f'<table class="list {css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines_ = ["| " + " | ".join(esc(h) for h in header) + " |"]
    lines_.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    lines_ += ["| " + " | ".join(esc(v) for v in row) + " |" for row in rows]
    return "\n".join(lines_)


def whatif_view(
    outcomes: Sequence[Mapping[str, Any]],
    economies: Mapping[str, Mapping[str, Any]],
    budget: float | None = None,
) -> WhatIfView:
    return WhatIfView(outcomes, economies, budget)
