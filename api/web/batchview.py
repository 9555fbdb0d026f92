"""What the batch page shows of a finished batch: Danish KPIs with the greedy comparison,
the cost in kroner, charts as inline SVG, the assignments and the unplaced children."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from markupsafe import Markup

from api.db.orm import BatchJob
from api.reports.danish import (
    COST_NAMES,
    fmt_int,
    fmt_km,
    fmt_kr,
    fmt_pct,
    kpi_delta,
    kpi_name,
    kpi_value,
    reason_name,
)
from api.reports.report import flatten, main_reason
from api.services.runtime import now
from api.web.charts import KM_BUCKETS, grouped_bars, hbars, km_buckets
from api.web.labels import KINDS, TIERS

__all__ = ["KIND_NAMES", "batch_view", "cost_rows", "km_bucket_names", "waiting_for_extras"]

KIND_ORDER = ("network", "foster", "combination", "institution")
KIND_NAMES = {k: KINDS[k].capitalize() for k in KIND_ORDER}
COMPARISON_WAIT = timedelta(minutes=2)


def km_bucket_names() -> list[str]:
    return [
        f"{lo:g}–{hi:g} km" if hi != float("inf") else f"over {lo:g} km" for lo, hi in KM_BUCKETS
    ]


def waiting_for_extras(job: BatchJob) -> bool:
    """A finished batch whose comparison and cost are still being computed (right after it,
    on the job runner); given up after two minutes (say, a restart in between)."""
    result = job.result or {}
    if job.status != "done" or "economy" in result or "comparison_error" in result:
        return False
    return job.finished_at is not None and now() - job.finished_at < COMPARISON_WAIT


def cost_rows(economy: Mapping[str, Any]) -> list[dict[str, str]]:
    """Per placement kind: monthly and yearly cost."""
    monthly = economy.get("monthly_by_kind", {})
    return [
        {
            "kind": KIND_NAMES[k],
            "monthly": fmt_kr(monthly.get(k, 0.0)),
            "yearly": fmt_kr(monthly.get(k, 0.0) * 12),
        }
        for k in KIND_ORDER
    ]


def _kpi_table(kpis: Mapping[str, Any], other: Mapping[str, Any] | None) -> list[dict[str, str]]:
    flat = flatten(kpis)
    other_flat = flatten(other) if other else {}
    rows = []
    for key, value in flat.items():
        name = kpi_name(key)
        if name is None:
            continue
        rows.append(
            {
                "name": name,
                "value": kpi_value(key, value),
                "greedy": kpi_value(key, other_flat.get(key)) if other else "",
                "delta": kpi_delta(key, value, other_flat.get(key)) if other else "",
            }
        )
    return rows


def _explanation(row: Mapping[str, Any]) -> str:
    """Why a child did not get its first-ranked option (the batch's `explanations`)."""
    first = row.get("first_choice") or {}
    text = f"Førstevalget {first.get('option_id', '')}"
    held = row.get("held_by") or []
    if held:
        text += f" gik til {', '.join(str(c) for c in held[:5])}"
    if not row.get("feasible", True):
        text += "; det kunne ikke gives uden at bryde en regel"
    return text


def batch_view(result: Mapping[str, Any]) -> dict[str, Any]:
    """The page's figures of a batch result (with `economy` and `greedy` once added)."""
    kpis = result.get("kpis", {})
    objective = result.get("objective", {})
    greedy = result.get("greedy")
    economy = result.get("economy")
    shares = kpis.get("share_by_kind", {})
    charts: list[Markup] = [
        hbars(
            [(KIND_NAMES[k], float(shares.get(k, 0.0))) for k in KIND_ORDER],
            "Anbragte børn fordelt på anbringelsestype",
            fmt_pct,
        )
    ]
    assignments = list(result.get("assignments", []))
    km_opt = [r["km_to_school"] for r in assignments if r.get("km_to_school") is not None]
    if greedy:
        g_obj = greedy.get("objective", {})
        tiers = ("tier1", "tier2", "tier3", "tier4")
        placed_tier = [float(objective.get(t, 0)) for t in tiers]
        if "tier4" not in objective:
            placed_tier[3] = float(
                objective.get("placed", 0) - sum(objective.get(t, 0) for t in tiers[:3])
            )
        greedy_tier = [float(g_obj.get(t, 0)) for t in tiers]
        if "tier4" not in g_obj:
            greedy_tier[3] = float(g_obj.get("placed", 0) - sum(g_obj.get(t, 0) for t in tiers[:3]))
        charts.append(
            grouped_bars(
                [KIND_NAMES[k] for k in KIND_ORDER],
                [("Optimum", placed_tier), ("Én ad gangen (først-til-mølle)", greedy_tier)],
                "Optimum mod én ad gangen: anbragte pr. type",
                fmt_int,
            )
        )
        charts.append(
            grouped_bars(
                km_bucket_names(),
                [
                    ("Optimum", [float(n) for n in km_buckets(km_opt)]),
                    (
                        "Én ad gangen (først-til-mølle)",
                        [float(n) for n in km_buckets(greedy.get("km_to_school", []))],
                    ),
                ],
                "Afstand til skole: antal børn",
                fmt_int,
            )
        )
    else:
        charts.append(
            grouped_bars(
                km_bucket_names(),
                [("Optimum", [float(n) for n in km_buckets(km_opt)])],
                "Afstand til skole: antal børn",
                fmt_int,
            )
        )
    if economy:
        monthly = economy.get("monthly_by_kind", {})
        charts.append(
            hbars(
                [(KIND_NAMES[k], float(monthly.get(k, 0.0))) for k in KIND_ORDER],
                "Udgift pr. måned fordelt på anbringelsestype",
                fmt_kr,
            )
        )
    unassigned = list(result.get("unassigned", []))
    unplaced = [
        {
            "child_id": r["child_id"],
            "reason": reason_name(main_reason(r)),
            "others": ", ".join(
                f"{reason_name(code)} ({n})"
                for code, n in sorted((r.get("reasons") or {}).items(), key=lambda x: -x[1])
                if code != main_reason(r)
            )[:400],
        }
        for r in unassigned
    ]
    reasons = Counter(row["reason"] for row in unplaced)
    if reasons:
        charts.append(
            hbars(
                [(name, float(n)) for name, n in reasons.most_common()],
                "Børn uden plads fordelt på hovedårsag",
                fmt_int,
            )
        )
    totals = []
    if economy:
        totals = [
            (
                COST_NAMES[k],
                fmt_kr(economy.get(k)),
                fmt_kr(greedy["economy"].get(k)) if greedy else "",
            )
            for k in ("monthly", "yearly", "monthly_per_child", "yearly_per_child")
        ]
    explained = {str(r["child_id"]): _explanation(r) for r in result.get("explanations") or ()}
    return {
        "explained": bool(explained),
        "kpi_rows": _kpi_table(kpis, greedy.get("kpis") if greedy else None),
        "charts": charts,
        "economy": economy,
        "cost_rows": cost_rows(economy) if economy else [],
        "cost_totals": totals,
        "greedy": greedy,
        "assignments": [
            {
                "child_id": r["child_id"],
                "option_id": r["option_id"],
                "tier": TIERS.get(int(r["tier"]), str(r["tier"])),
                "km_to_school": fmt_km(r.get("km_to_school")),
                "km_to_home": fmt_km(r.get("km_to_home")),
                "why": explained.get(str(r["child_id"]), ""),
            }
            for r in assignments
        ],
        "unplaced": unplaced,
        "placed": objective.get("placed", len(assignments)),
        "children": kpis.get("children"),
        "placed_share": fmt_pct(kpis.get("placed_share")),
    }
