"""The written recommendation (begrundet indstilling) for the visitation committee: the
child's facts, the network search, the chosen option with the ranked alternatives and their
reasons, why-not counts, the § 52 considerations, purpose and expected duration, the cost,
and the policy profile with the lines it cites. Assembled from the same ranking as the child
page; reading it is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy.orm import Session

from api.db.orm import NetworkRow, PlacementRow
from api.services import case_notes, children, options
from api.services.caller import Principal
from api.services.children import StoredChild
from api.services.follow_ups import active_placement
from api.services.runtime import Service
from geo.distance import haversine_km
from matcher.economy import Rates
from matcher.policy import Policy, PolicyError, policy_sources
from matcher.rank import Proposal, Ranking

__all__ = ["Recommendation", "recommendation"]

ALTERNATIVES = 5


@dataclass(frozen=True)
class Recommendation:
    record: StoredChild
    ranking: Ranking
    chosen_id: str | None
    chosen_kind: str | None
    chosen_basis: str  # placement, hold or proposal: why this option is the one put forward
    chosen: Proposal | None  # its ranking entry, when it is still an eligible option
    alternatives: list[Proposal]
    network: list[NetworkRow]
    school_kept: bool | None  # None: the child has no school
    network_km: float | None  # from the chosen option to the nearest network person
    monthly_cost: float | None
    daily_rate: float | None  # an institution's own rate, when it has one
    notes: dict[str, str]
    policy: Policy
    sources: dict[str, str]
    as_of: date
    caseworker: str


def _chosen(
    session: Session, child_id: str, ranking: Ranking, holds: list[str]
) -> tuple[str | None, str | None, str]:
    placed: PlacementRow | None = active_placement(session, child_id)
    if placed is not None:
        return placed.option_id, placed.kind, "placement"
    if holds:
        option, kind = holds[0].split("|")
        return option, kind, "hold"
    if ranking.proposals:
        return ranking.proposals[0].option_id, ranking.proposals[0].kind, "proposal"
    return None, None, "none"


def recommendation(
    session: Session, service: Service, who: Principal, child_id: str
) -> Recommendation:
    case = children.open_case(session, service, who, child_id)
    service.audit(session, who, "ui.recommendation.read", child_id)
    record = children.record_of(session, case.row)
    ranking = case.ranking
    matcher = service.matcher(session)
    policy = matcher.policy_for(matcher.unit_for(child_id))
    live = [f"{h.option_id}|{h.kind}" for h in case.holds if h.status == "held"]
    chosen_id, chosen_kind, basis = _chosen(session, child_id, ranking, live)
    by_id = {p.option_id: p for p in ranking.proposals}
    chosen = by_id.get(chosen_id or "")
    alternatives = [p for p in ranking.proposals if p.option_id != chosen_id][:ALTERNATIVES]
    school_kept: bool | None = None
    if case.child.school is not None and chosen is not None:
        school_kept = "SCHOOL_CHANGE" not in chosen.warnings
    network_km: float | None = None
    point = None
    if chosen_id and chosen_kind:
        point = options.option_point(session, chosen_id, chosen_kind)
    others = [p for p in record.network if p.person_id != chosen_id]
    if point is not None and others:
        km = haversine_km(
            point[0], point[1], np.array([p.lat for p in others]), np.array([p.lon for p in others])
        )
        network_km = float(km.min())
    monthly = daily = None
    if chosen_id and chosen_kind:
        try:
            rates = Rates(matcher.dataset, matcher.policies)
            monthly = rates.monthly(chosen_kind, chosen_id, case.row.kommune_code)
            daily = rates.daily.get(chosen_id)
        except ValueError:  # a profile without a [costs] section
            monthly = None
    try:
        sources = policy_sources(policy.source or policy.name)
    except (PolicyError, OSError, ValueError):
        sources = {}
    return Recommendation(
        record=record,
        ranking=ranking,
        chosen_id=chosen_id,
        chosen_kind=chosen_kind,
        chosen_basis=basis,
        chosen=chosen,
        alternatives=alternatives,
        network=record.network,
        school_kept=school_kept,
        network_km=network_km,
        monthly_cost=monthly,
        daily_rate=daily,
        notes=case_notes.latest_notes(session, child_id),
        policy=policy,
        sources=sources,
        as_of=ranking.as_of,
        caseworker=case_notes.key_labels(session, {who.key_id})[who.key_id],
    )
