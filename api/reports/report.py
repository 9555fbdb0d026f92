"""The what-if report: kpis.csv, report.md, report.html (with charts) and assignments/*.csv.

Every figure comes from the scenario outcomes; the HTML embeds its charts as PNG data so it
opens on a machine without network.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from matcher.scenario import BASELINE
from matcher.sweep import ScenarioOutcome

__all__ = ["flatten", "kpi_table", "main_reason", "write_report"]

_ASSIGNMENT_COLUMNS = (
    "child_id",
    "option_id",
    "kind",
    "tier",
    "score",
    "sibling_group",
    "km_to_school",
    "km_to_home",
)
_KINDS = ("network", "foster", "combination", "institution")


def flatten(nested: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables as dotted names: share_by_kind.foster, km_to_school.p90, ..."""
    flat: dict[str, Any] = {}
    for key, value in nested.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def main_reason(row: Mapping[str, Any]) -> str:
    """Why a child was left unplaced, in one code: TAKEN_BY_OTHERS when it had eligible
    options, otherwise the reason that left out most options (ties: the first code by name)."""
    reasons: Mapping[str, int] = row.get("reasons") or {}
    if not reasons:
        return "NO_OPTIONS"
    if "TAKEN_BY_OTHERS" in reasons:
        return "TAKEN_BY_OTHERS"
    return min(reasons, key=lambda r: (-reasons[r], r))


def _status_rows(outcomes: list[ScenarioOutcome]) -> list[tuple[str, list[Any]]]:
    return [
        ("status", [o.status if o.ok else "FAILED" for o in outcomes]),
        ("solver", [o.solver for o in outcomes]),
        ("gap", [o.gap for o in outcomes]),
        ("solve_seconds", [o.seconds.get("solve") for o in outcomes]),
    ]


def kpi_table(outcomes: list[ScenarioOutcome]) -> tuple[list[str], list[list[Any]]]:
    """Header and rows: one row per KPI, a column per scenario, then a delta column per
    scenario other than the baseline."""
    names = [o.name for o in outcomes]
    base = next((o for o in outcomes if o.name == BASELINE), None)
    flats = [flatten(o.kpis) if o.ok else {} for o in outcomes]
    base_flat = flatten(base.kpis) if base is not None and base.ok else {}
    keys: list[str] = []
    for flat in flats:
        keys.extend(k for k in flat if k not in keys)
    others = [n for n in names if n != BASELINE]
    header = ["kpi", *names, *(f"{n} Δ" for n in others)]
    rows: list[list[Any]] = []
    for key, values in _status_rows(outcomes):
        rows.append([key, *values, *([""] * len(others))])
    for key in keys:
        values = [flat.get(key) for flat in flats]
        deltas = []
        for name, value in zip(names, values, strict=True):
            if name == BASELINE:
                continue
            b = base_flat.get(key)
            numeric = isinstance(value, int | float) and isinstance(b, int | float)
            deltas.append(round(value - b, 4) if numeric else "")
        rows.append([key, *values, *deltas])
    return header, rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)


def _markdown(header: list[str], rows: Iterable[list[Any]]) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |"]
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(esc(_cell(v)) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _html_table(header: list[str], rows: Iterable[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _unplaced_by_reason(outcomes: list[ScenarioOutcome]) -> dict[str, Counter[str]]:
    return {o.name: Counter(main_reason(r) for r in o.unassigned) for o in outcomes if o.ok}


# --------------------------------------------------------------------------- charts


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _charts(outcomes: list[ScenarioOutcome]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [o for o in outcomes if o.ok]
    if not done:
        return []
    names = [o.name for o in done]
    charts: list[tuple[str, str]] = []
    width = max(6.0, 0.9 * len(names) + 2)

    fig, ax = plt.subplots(figsize=(width, 4))
    bottom = [0.0] * len(done)
    for kind in _KINDS:
        shares = [o.kpis["share_by_kind"].get(kind, 0.0) for o in done]
        ax.bar(names, shares, bottom=bottom, label=kind)
        bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
    ax.set_ylabel("share of placed children")
    ax.set_title("Placed children by tier")
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
    ax.tick_params(axis="x", rotation=30)
    charts.append(("Share by tier per scenario", _png(fig)))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(width, 4))
    data = [
        [r["km_to_school"] for r in o.assignments if r["km_to_school"] is not None] or [0.0]
        for o in done
    ]
    ax.boxplot(data, showfliers=False)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=30)
    ax.set_ylabel("km from the placement to the child's school")
    ax.set_title("Distance to school (box: quartiles, whiskers: 1.5 IQR)")
    charts.append(("Distribution of km to school", _png(fig)))
    plt.close(fig)

    by_reason = _unplaced_by_reason(done)
    reasons = sorted({r for c in by_reason.values() for r in c})
    fig, ax = plt.subplots(figsize=(width, 4))
    if reasons:
        step = 0.8 / len(reasons)
        for k, reason in enumerate(reasons):
            xs = [i + k * step for i in range(len(names))]
            ax.bar(xs, [by_reason[n][reason] for n in names], width=step, label=reason)
        ax.set_xticks([i + 0.4 - step / 2 for i in range(len(names))], names, rotation=30)
        ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
    else:
        ax.text(0.5, 0.5, "every child of the cohort was placed", ha="center", va="center")
        ax.set_xticks([])
    ax.set_ylabel("unplaced children")
    ax.set_title("Unplaced children by main reason")
    charts.append(("Unplaced children by reason", _png(fig)))
    plt.close(fig)

    groups = sorted(
        {
            (kind, level)
            for o in done
            for kind, levels in o.kpis["free_places_left"].items()
            for level in levels
        }
    )
    fig, ax = plt.subplots(figsize=(max(width, 0.6 * len(groups) + 3), 4))
    step = 0.8 / len(done)
    for k, o in enumerate(done):
        left = o.kpis["free_places_left"]
        values = [left.get(kind, {}).get(level, 0) for kind, level in groups]
        ax.bar([i + k * step for i in range(len(groups))], values, width=step, label=o.name)
    ax.set_xticks(
        [i + 0.4 - step / 2 for i in range(len(groups))],
        [f"{kind}\n{level}" for kind, level in groups],
        rotation=30,
    )
    ax.set_ylabel("free places after matching")
    ax.set_title("Free capacity by kind and level")
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1))
    charts.append(("Free capacity by kind and level", _png(fig)))
    plt.close(fig)
    return charts


def _stepped_share(month: Mapping[str, Any]) -> float:
    share = month["institution_stepped_down_share"]
    return float("nan") if share is None else float(share)


# The year simulation's month rows, one line per scenario: (label, value of a month row)
_TRAJECTORIES: tuple[tuple[str, Callable[[Mapping[str, Any]], float]], ...] = (
    ("children waiting for a place", lambda m: m["waiting"]),
    (
        "share of active placements in institutions",
        lambda m: m["active_by_kind"]["institution"] / max(sum(m["active_by_kind"].values()), 1),
    ),
    ("institution placements stepped down within the target", _stepped_share),
    ("follow-ups due in the month", lambda m: m["follow_ups_due"]),
)


def _trajectory_summary(outcomes: list[ScenarioOutcome]) -> tuple[list[str], list[list[Any]]]:
    """Per scenario, the figures of each month in one column per month."""
    simulated = [o for o in outcomes if o.ok and o.trajectory]
    months = max(len(o.trajectory) for o in simulated)
    header = ["scenario", "figure", *(f"m{k}" for k in range(1, months + 1))]
    rows = []
    for o in simulated:
        for label, value in _TRAJECTORIES:
            figures = [value(m) for m in o.trajectory]
            rows.append([o.name, label, *(None if f != f else round(f, 3) for f in figures)])
    return header, rows


def trajectory_rows(outcomes: list[ScenarioOutcome]) -> tuple[list[str], list[list[Any]]]:
    """trajectories.csv: one row per scenario and month, the month's figures flattened."""
    rows: list[list[Any]] = []
    header: list[str] = ["scenario"]
    for o in outcomes:
        for month in o.trajectory:
            flat = flatten(month)
            if len(header) == 1:
                header += list(flat)
            rows.append([o.name, *(flat.get(k) for k in header[1:])])
    return header, rows


def _trajectory_charts(outcomes: list[ScenarioOutcome]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    simulated = [o for o in outcomes if o.ok and o.trajectory]
    if not simulated:
        return []
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for ax, (label, value) in zip(axes.flat, _TRAJECTORIES, strict=True):
        for o in simulated:
            ax.plot(
                [m["month"] for m in o.trajectory],
                [value(m) for m in o.trajectory],
                marker="o",
                markersize=3,
                label=o.name,
            )
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("month")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    chart = ("Year simulation per scenario, month by month", _png(fig))
    plt.close(fig)
    return [chart]


# --------------------------------------------------------------------------- writing

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.failed { color: #a00; }
"""


def write_report(
    outcomes: list[ScenarioOutcome],
    out: Path,
    *,
    title: str,
    extra_sections: list[tuple[str, str]] | None = None,
    lang: str = "en",
    economies: Mapping[str, Mapping[str, Any]] | None = None,
    budget: float | None = None,
) -> list[Path]:
    """Write every file of the report into `out` (created); returns the paths written.
    `lang` "da" writes report.md and report.html in Danish (charts as inline SVG, with the
    cost of each scenario from `economies`); "en" as before (charts as PNG). kpis.csv,
    assignments/ and trajectories.csv are for machines and the same in both."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "assignments").mkdir(exist_ok=True)
    written: list[Path] = []
    header, rows = kpi_table(outcomes)

    path = out / "kpis.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
    written.append(path)

    for o in outcomes:
        path = out / "assignments" / f"{o.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            rows_out = csv.DictWriter(handle, fieldnames=_ASSIGNMENT_COLUMNS, extrasaction="ignore")
            rows_out.writeheader()
            for row in o.assignments:
                rows_out.writerow({k: "" if row.get(k) is None else row.get(k) for k in row})
        written.append(path)

    trajectory_header, trajectories = trajectory_rows(outcomes)
    if trajectories:
        path = out / "trajectories.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(trajectory_header)
            writer.writerows([["" if v is None else v for v in row] for row in trajectories])
        written.append(path)

    if lang == "da":
        return written + _write_danish(outcomes, out, title, economies or {}, budget)
    failed = [o for o in outcomes if not o.ok]
    reasons = _unplaced_by_reason(outcomes)
    reason_names = sorted({r for c in reasons.values() for r in c})
    reason_header = ["reason", *reasons]
    reason_rows = [[r, *(reasons[n][r] for n in reasons)] for r in reason_names]
    described = [[o.name, o.description, o.status or "FAILED"] for o in outcomes]

    md = [
        f"# {title}",
        "",
        "## Scenarios",
        "",
        _markdown(["scenario", "description", "status"], described),
        "",
    ]
    md += ["## KPIs (Δ: difference from the baseline)", "", _markdown(header, rows), ""]
    if reason_rows:
        md += ["## Unplaced children by main reason", "", _markdown(reason_header, reason_rows), ""]
    if trajectories:
        md += [
            "## Year simulation (month by month; all of it in trajectories.csv)",
            "",
            _markdown(*_trajectory_summary(outcomes)),
            "",
        ]
    if failed:
        md += ["## Failed scenarios", ""] + [f"- **{o.name}**: {o.error}" for o in failed] + [""]
    for heading, body in extra_sections or []:
        md += [f"## {heading}", "", body, ""]
    path = out / "report.md"
    path.write_text("\n".join(md), encoding="utf-8")
    written.append(path)

    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<h2>Scenarios</h2>",
        _html_table(["scenario", "description", "status"], described),
        "<h2>KPIs (Δ: difference from the baseline)</h2>",
        _html_table(header, rows),
    ]
    if reason_rows:
        parts += [
            "<h2>Unplaced children by main reason</h2>",
            _html_table(reason_header, reason_rows),
        ]
    if trajectories:
        parts += [
            "<h2>Year simulation (month by month; all of it in trajectories.csv)</h2>",
            _html_table(*_trajectory_summary(outcomes)),
        ]
    if failed:
        parts.append("<h2>Failed scenarios</h2><ul>")
        parts += [
            f"<li class='failed'><b>{html.escape(o.name)}</b>: {html.escape(o.error or '')}</li>"
            for o in failed
        ]
        parts.append("</ul>")
    for caption, png in _charts(outcomes) + _trajectory_charts(outcomes):
        parts.append(
            f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{png}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    for heading, body in extra_sections or []:
        parts.append(f"<h2>{html.escape(heading)}</h2><pre>{html.escape(body)}</pre>")
    parts.append("</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    written.append(path)
    return written


def _write_danish(
    outcomes: list[ScenarioOutcome],
    out: Path,
    title: str,
    economies: Mapping[str, Mapping[str, Any]],
    budget: float | None,
) -> list[Path]:
    from api.reports.whatif_view import standalone_html, whatif_view

    view = whatif_view(
        [
            o.as_dict()
            | {
                "description": o.description,
                "assignments": o.assignments,
                "unassigned": o.unassigned,
            }
            for o in outcomes
        ],
        economies,
        budget,
    )
    md = out / "report.md"
    md.write_text(view.markdown(title), encoding="utf-8")
    page = out / "report.html"
    page.write_text(standalone_html(view, title), encoding="utf-8")
    return [md, page]
