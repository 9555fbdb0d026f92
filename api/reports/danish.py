"""KPIs and costs as a Danish reader sees them: names from api.web.labels, Danish number
formats ("63,1 %", "12,4 km", "1.234 kr.", dd-mm-åååå), and deltas with a sign.

A KPI whose key has no Danish name is left out of what people read (it stays in kpis.csv):
a raw key like `share_by_kind.foster` must never reach a page or a report in Danish."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from types import ModuleType
from typing import Any

__all__ = [
    "COST_NAMES",
    "fmt_date",
    "fmt_int",
    "fmt_km",
    "fmt_kr",
    "fmt_pct",
    "kpi_delta",
    "kpi_kind",
    "kpi_name",
    "kpi_rows",
    "kpi_value",
    "reason_name",
    "solution_name",
]


def _labels() -> ModuleType:
    """api.web.labels, imported when first needed: importing it runs api.web's __init__,
    whose pages import this module, so a module-level import would be a cycle when the
    CLI's report is the first to load."""
    from api.web import labels

    return labels


COST_NAMES = {
    "monthly": "Udgift pr. måned",
    "yearly": "Udgift pr. år",
    "monthly_per_child": "Udgift pr. anbragt barn pr. måned",
    "yearly_per_child": "Udgift pr. anbragt barn pr. år",
}


def _thousands(whole: int) -> str:
    return f"{whole:,}".replace(",", ".")


def fmt_int(value: float | None) -> str:
    return "–" if value is None else _thousands(round(value))


def fmt_pct(value: float | None, digits: int = 1) -> str:
    """A share 0..1 as "63,1 %"."""
    if value is None:
        return "–"
    return f"{value * 100:.{digits}f}".replace(".", ",") + " %"


def fmt_km(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}".replace(".", ",") + " km"


def fmt_kr(value: float | None) -> str:
    """Whole kroner with a thousands point: "1.234 kr."."""
    if value is None:
        return "–"
    whole = round(value)
    sign = "-" if whole < 0 else ""
    return f"{sign}{_thousands(abs(whole))} kr."


def fmt_date(value: date | datetime | str | None) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return value.strftime("%d-%m-%Y")


_FREE_GROUPS = {"almen": "almen", "forstaerket": "forstærket", "specialiseret": "specialiseret"}


def _free_name(key: str) -> str | None:
    parts = key.split(".")
    if len(parts) != 3 or parts[0] != "free_places_left":
        return None
    labels = _labels()
    kind = labels.KINDS.get(parts[1], parts[1])
    group = (
        _FREE_GROUPS.get(parts[2])
        or labels.INSTITUTION_KINDS.get(parts[2])
        or labels.KINDS.get(parts[2])
    )
    group = group or parts[2]
    return f"Ledige pladser efter matchning: {kind}, {group}"


def kpi_name(key: str) -> str | None:
    """The KPI's Danish name, or None when it has none (then it is not shown)."""
    return _labels().KPI_NAMES.get(key) or _free_name(key)


def kpi_kind(key: str) -> str:
    """How the KPI is formatted: pct, km, kr, seconds, text or int."""
    if key in ("status", "solver"):
        return "text"
    if key == "gap":
        return "pct"
    if key == "solve_seconds":
        return "seconds"
    if key.endswith("_share") or key.startswith("share_by_"):
        return "pct"
    if key.startswith("km_to_"):
        return "km"
    if key.endswith("_dkk"):
        return "kr"
    return "int"


def kpi_value(key: str, value: Any) -> str:
    if value is None or value == "":
        return "–"
    kind = kpi_kind(key)
    if kind == "text":
        labels = _labels()
        return (
            labels.SOLUTION_STATUS.get(str(value)) or labels.SOLVERS.get(str(value)) or str(value)
        )
    if not isinstance(value, int | float):
        return str(value)
    if kind == "pct":
        return fmt_pct(value, 2 if key == "gap" else 1)
    if kind == "km":
        return fmt_km(value)
    if kind == "kr":
        return fmt_kr(value)
    if kind == "seconds":
        return f"{value:.1f}".replace(".", ",") + " s"
    return fmt_int(value)


def kpi_delta(key: str, value: Any, base: Any) -> str:
    """The difference against the baseline with its sign: "+2,5 %-point", "-1,2 km"."""
    if not isinstance(value, int | float) or not isinstance(base, int | float):
        return ""
    if isinstance(value, bool) or isinstance(base, bool):
        return ""
    d = value - base
    kind = kpi_kind(key)
    if kind == "text":
        return ""
    sign = "+" if d > 0 else ("±" if d == 0 else "-")
    magnitude = abs(d)
    if kind == "pct":
        return f"{sign}{magnitude * 100:.1f}".replace(".", ",") + " %-point"
    if kind == "km":
        return f"{sign}{magnitude:.1f}".replace(".", ",") + " km"
    if kind == "kr":
        return f"{sign}{_thousands(round(magnitude))} kr."
    if kind == "seconds":
        return f"{sign}{magnitude:.1f}".replace(".", ",") + " s"
    return f"{sign}{_thousands(round(magnitude))}"


def reason_name(code: str) -> str:
    labels = _labels()
    return labels.UNPLACED.get(code) or labels.REASONS.get(code) or "anden årsag"


def kpi_rows(flat: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The KPIs that have a Danish name, as (name, formatted value)."""
    rows = []
    for key, value in flat.items():
        name = kpi_name(key)
        if name is not None:
            rows.append((name, kpi_value(key, value)))
    return rows


def solution_name(status: Any) -> str:
    """A solver status (OPTIMAL, FEASIBLE...) in Danish."""
    return _labels().SOLUTION_STATUS.get(str(status), str(status or ""))
