"""Rank one child against 1k, 10k and 50k options: ours vs the naive baseline."""

from __future__ import annotations

import gc
from datetime import date
from functools import partial

import numpy as np

from benchmarks.common import console, instance, percentile, print_table, timed
from geo.distance import haversine_km
from matcher.rank import Matcher, Proposal, Ranking
from matcher.rules import REASON_ORDER
from models.synthetic import REFERENCE_DATE
from tests.oracles.naive_rank import NaiveProposal, NaiveResult, naive_rank

__all__ = ["rankings_agree", "run", "same_result"]

# (families, institutions, children timed for ours, for the naive baseline): about 1k, 10k
# and 50k options (a family offering combination placements is two options).
SIZES = ((780, 110, 200, 20), (7_800, 1_100, 200, 6), (39_000, 5_500, 100, 3))


def rankings_agree(
    ours: list[Proposal],
    naive: list[NaiveProposal],
    rel: float = 0.01,
    boundary: frozenset[tuple[str, int]] = frozenset(),
) -> bool:
    """Same tiers in the same order, and the same option at each rank unless the two scores
    are within `rel` (haversine vs geodesic can swap near ties, never anything else).
    Options on a distance limit (`boundary`) may be in one list and not the other."""
    a = [p for p in ours if (p.option_id, p.tier) not in boundary]
    b = [p for p in naive if (p.option_id, p.tier) not in boundary]
    n = min(len(a), len(b))
    if abs(len(a) - len(b)) > len(boundary) or [p.tier for p in a[:n]] != [p.tier for p in b[:n]]:
        return False
    return all(
        x.option_id == y.option_id or abs(x.score - y.score) <= rel * max(abs(y.score), 1.0)
        for x, y in zip(a[:n], b[:n], strict=True)
    )


def metric_boundary(
    matcher: Matcher, child_id: str, rel: float = 0.005
) -> frozenset[tuple[str, int]]:
    """Options whose distance lies within `rel` of a limit, where haversine (ours) and
    geodesic (naive) may fall on different sides: the only differences allowed."""
    unit = matcher.unit_for(child_id)
    policy = matcher.policy_for(unit)
    near: set[tuple[str, int]] = set()
    for table in (unit.network, matcher.options):
        home_km = haversine_km(unit.home[0], unit.home[1], table.lat, table.lon)
        limits = [
            np.full(len(table), policy.max_km),
            np.full(len(table), policy.max_commute_km),
        ]
        hit = np.zeros(len(table), dtype=bool)
        for limit in limits:
            hit |= np.abs(home_km - limit) <= rel * limit
        for lat, lon, km in unit.keep_away:
            hit |= np.abs(haversine_km(lat, lon, table.lat, table.lon) - km) <= rel * km + 0.01
        near |= {(str(table.option_id[i]), int(table.tier[i])) for i in np.flatnonzero(hit)}
    return frozenset(near)


def same_result(
    ours: Ranking, naive: NaiveResult, boundary: frozenset[tuple[str, int]] = frozenset()
) -> bool:
    """Same top proposals (up to near ties), and the same eligible count and counts per
    reason except for options on a distance limit (`boundary`)."""
    reasons = set(ours.excluded) | set(naive.excluded)
    off = sum(abs(ours.excluded.get(r, 0) - naive.excluded.get(r, 0)) for r in reasons)
    return (
        rankings_agree(ours.proposals, naive.proposals, boundary=boundary)
        and abs(ours.eligible - naive.eligible) <= len(boundary)
        and off <= len(boundary) * len(REASON_ORDER)
    )


def _measure(families: int, institutions: int, n_ours: int, n_naive: int, as_of: date) -> list[str]:
    ds = instance(children=300, families=families, institutions=institutions, seed=2)
    matcher = Matcher(ds)
    children = [c.child_id for c in ds.children if not c.sibling_group][:n_ours]
    for cid in children[:3]:
        matcher.rank(cid, top=10, as_of=as_of)  # warm caches
    gc.disable()
    ours: list[tuple[float, Ranking]] = [
        timed(partial(matcher.rank, cid, top=10, as_of=as_of)) for cid in children
    ]
    gc.enable()
    naive = [
        timed(partial(naive_rank, ds, matcher.policies, cid, as_of)) for cid in children[:n_naive]
    ]
    agree = all(
        same_result(ours[k][1], naive[k][1], metric_boundary(matcher, children[k]))
        for k in range(len(naive))
    )
    if not agree:
        console.print(f"[red]rankings differ at {len(matcher.options)} options[/]")
    ours_ms = [t * 1000 for t, _ in ours]
    naive_ms = [t * 1000 for t, _ in naive]
    p50, p95 = percentile(ours_ms, 50), percentile(ours_ms, 95)
    n50, n95 = percentile(naive_ms, 50), percentile(naive_ms, 95)
    return [
        f"{len(matcher.options):,}",
        f"{p50:.2f}",
        f"{p95:.2f}",
        f"{n50:,.0f}",
        f"{n95:,.0f}",
        f"{n50 / p50:,.0f}x",
        "yes" if agree else "NO",
        f"{len(ours)}/{len(naive)}",
    ]


def run(quick: bool = False) -> None:
    rows: list[list[str]] = []
    for families, institutions, n_ours, n_naive in SIZES:
        if quick:
            families, institutions, n_ours, n_naive = families // 10, institutions // 10, 20, 2
        rows.append(_measure(families, institutions, n_ours, n_naive, REFERENCE_DATE))
    print_table(
        "Rank one child (top 10, with geodesic km on the proposals): ours vs naive loop",
        [
            "options",
            "ours p50 ms",
            "ours p95 ms",
            "naive p50 ms",
            "naive p95 ms",
            "speed-up p50",
            "rankings equal",
            "calls ours/naive",
        ],
        rows,
    )
    console.print(
        "Goal: p50 <= 5 ms at 10k options and >= 100x the naive baseline. "
        "'equal': same top 10 (near ties within 1 % may swap), same counts per "
        "reason except options within 0.5 % of a distance limit."
    )
