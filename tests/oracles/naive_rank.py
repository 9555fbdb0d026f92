"""The baseline a newcomer would write: a Python loop over option rows, geopy's geodesic,
per-row checks, producing the same result as `Matcher.rank` (top proposals, the number of
eligible options and the excluded count per reason). It shares no code with `matcher`
(only the domain records and the policy file), so agreeing with it is also an independent
check of the vectorised core.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from geopy.distance import geodesic

from matcher.policy import Policy, PolicySet
from models.dataset import Dataset
from models.domain import Child, NetworkPerson
from models.enums import InstitutionKind, Kind, NetworkStatus

__all__ = ["NaiveProposal", "NaiveResult", "geodesic_km", "naive_rank"]


@dataclass(frozen=True)
class NaiveProposal:
    option_id: str
    tier: int
    score: float
    distance_km: dict[str, float | None]  # geodesic means, unrounded


@dataclass(frozen=True)
class NaiveResult:
    proposals: list[NaiveProposal]
    eligible: int
    excluded: dict[str, int]


def geodesic_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(geodesic(a, b).km)


def naive_rank(
    dataset: Dataset,
    policy: Policy | PolicySet,
    child_id: str,
    as_of: date,
    top: int | None = 10,
    km: Callable[[tuple[float, float], tuple[float, float]], float] = geodesic_km,
) -> NaiveResult:
    me = dataset.child_by_id[child_id]
    kids: list[Child] = [me]
    if me.sibling_group:
        kids = [c for c in dataset.children if c.sibling_group == me.sibling_group]
    size = len(kids)
    if isinstance(policy, PolicySet):  # the group acts as its first member
        policy = policy.for_kommune(kids[0].kommune_code)
    home = (kids[0].home.lat, kids[0].home.lon)
    schools = [(c.school.lat, c.school.lon) for c in kids if c.school]
    daycares = [(c.daycare.lat, c.daycare.lon) for c in kids if c.daycare]
    support = max(c.support_level for c in kids)
    needs = set().union(*(c.needs for c in kids))
    acute = any(c.acute for c in kids)
    combination_ok = all(c.combination_ok for c in kids)
    secure_ok = all(c.secure_decision for c in kids)
    ids = {c.child_id for c in kids}
    excluded = {e.option_id for e in dataset.exclusions if e.child_id in ids}
    keep = [((k.place.lat, k.place.lon), k.min_km) for k in dataset.keep_away if k.child_id in ids]
    wishes = {w for c in kids for w in c.wishes}
    lo_age, hi_age = min(c.age for c in kids), max(c.age for c in kids)

    def weight(kind: Kind, term: str) -> float:
        w = policy.weights[kind].get(term, 0.0)
        if term == "home_km" and not schools and not daycares:
            w = max(w, policy.weights[kind].get("school_km", 0.0))
        return w

    def score(
        kind: Kind, oid: str, point: tuple[float, float], home_km: float, extra: dict[str, float]
    ) -> float:
        raw: dict[str, float] = dict(extra)
        if schools:
            raw["school_km"] = sum(km(s, point) for s in schools) / len(schools)
        if daycares:
            raw["daycare_km"] = sum(km(d, point) for d in daycares) / len(daycares)
        raw["home_km"] = home_km
        raw["beyond_local_km"] = max(home_km - policy.local_km[kind], 0.0)
        if wishes:
            oldest = max(c.age for c in kids)
            age_weight = next(w for a, w in reversed(policy.wish_age_weights) if a <= oldest)
            raw["wish"] = age_weight if oid in wishes else 0.0
        return round(sum(round(weight(kind, t) * v, 2) for t, v in raw.items()), 2)

    found: list[NaiveProposal] = []
    counts: dict[str, int] = {}

    def consider(
        kind: Kind,
        oid: str,
        point: tuple[float, float],
        checks: list[tuple[bool, str]],
        free: int,
        max_siblings: int,
        extra: dict[str, float],
    ) -> None:
        home_km = km(home, point)
        if home_km > policy.max_km:
            reasons = ["TOO_FAR"]  # beyond the limit nothing else is examined
        else:
            checks = [
                (free < size, "NO_CAPACITY"),
                *checks,
                (kind is Kind.COMBINATION and not combination_ok, "COMBINATION_NOT_SUITABLE"),
                (
                    kind is Kind.COMBINATION and home_km > policy.max_commute_km,
                    "COMBINATION_TOO_FAR",
                ),
                (max_siblings < size, "SIBLING_GROUP_TOO_LARGE"),
                (oid in excluded, "EXCLUDED"),
                (any(km(p, point) < radius for p, radius in keep), "KEEP_AWAY"),
            ]
            reasons = [r for bad, r in checks if bad]
        for r in reasons:
            counts[r] = counts.get(r, 0) + 1
        if not reasons:
            shown = {
                "school": sum(km(s, point) for s in schools) / len(schools) if schools else None,
                "daycare": sum(km(d, point) for d in daycares) / len(daycares)
                if daycares
                else None,
                "home": home_km,
            }
            found.append(
                NaiveProposal(oid, kind.tier, score(kind, oid, point, home_km, extra), shown)
            )

    persons: dict[str, NetworkPerson] = {}
    for p in dataset.network:
        if p.child_id in ids:
            persons.setdefault(p.person_id, p)
    for pid, p in sorted(persons.items()):
        closeness, hops = 0.0, 0
        current: NetworkPerson | None = p
        while current is not None and hops < 50:
            closeness += policy.relation_weights[current.relation]
            current = persons.get(current.via) if current.via else None
            hops += 1
        consider(
            Kind.NETWORK,
            pid,
            (p.place.lat, p.place.lon),
            [
                (support >= 4, "LEVEL_TOO_LOW"),
                (p.status is NetworkStatus.REJECTED, "NETWORK_REJECTED"),
                (not p.willing, "NETWORK_UNWILLING"),
                (
                    acute and p.status not in (NetworkStatus.APPROVED, NetworkStatus.SUITABLE),
                    "NOT_ACUTE",
                ),
            ],
            p.places,
            99,
            {"relation": closeness, "level_overshoot": 0.0},
        )
    for f in dataset.families:
        for kind in [Kind.FOSTER] + ([Kind.COMBINATION] if f.combination else []):
            consider(
                kind,
                f.family_id,
                (f.place.lat, f.place.lon),
                [
                    (lo_age < f.min_age or hi_age > f.max_age, "AGE_OUT_OF_RANGE"),
                    (support >= 4 or int(f.level) < support, "LEVEL_TOO_LOW"),
                    (not needs <= f.target_groups, "NEEDS_NOT_COVERED"),
                    (acute and not f.acute, "NOT_ACUTE"),
                    (f.paused, "PAUSED"),
                ],
                f.places - f.occupied,
                f.max_siblings,
                {"level_overshoot": float(max(int(f.level) - support, 0))},
            )
    for i in dataset.institutions:
        offers = [(Kind.INSTITUTION, i.places - i.occupied)]
        if i.combination_places > 0:
            offers.append((Kind.COMBINATION, i.combination_places - i.combination_occupied))
        for kind, free in offers:
            consider(
                kind,
                i.institution_id,
                (i.place.lat, i.place.lon),
                [
                    (lo_age < i.min_age or hi_age > i.max_age, "AGE_OUT_OF_RANGE"),
                    (support > i.max_level, "LEVEL_TOO_LOW"),
                    (not needs <= i.target_groups, "NEEDS_NOT_COVERED"),
                    (acute and not i.acute, "NOT_ACUTE"),
                    (i.kind is InstitutionKind.SIKRET and not secure_ok, "SECURE_NEEDS_DECISION"),
                ],
                free,
                99,
                {"level_overshoot": float(max(i.max_level - support, 0))},
            )
    found.sort(key=lambda p: (p.tier, p.score, p.option_id))
    return NaiveResult(found if top is None else found[:top], len(found), counts)
