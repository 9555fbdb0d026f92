"""What placements cost the kommune: a report on an assignment, never an input to one.

Cost never enters a ranking or a batch objective (Odder: the step "afhænger *ikke* af hvor
udgiftstung"), so this module only reads what the matcher already decided: the kind of each
placement and the option it went to. Rates come from the `[costs]` section of the child's
kommune's policy profile:

- network care: `network_monthly_dkk`;
- a foster family: `foster_monthly_dkk` by the family's level (vederlag plus standard tillæg);
- combination: `combination_institution_share` of the institution's daily rate (the option's
  own `daily_rate` when it is an institution that has one, otherwise `institution_daily_dkk`)
  plus `combination_family_monthly_dkk` for the days with the family;
- an institution: its own `daily_rate`, otherwise `institution_daily_dkk`.

A month is 365/12 days, so a year is exactly twelve months.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from matcher.policy import Costs, PolicySet
from models.dataset import Dataset

__all__ = [
    "DAYS_PER_MONTH",
    "KINDS",
    "Economy",
    "Rates",
    "assignment_economy",
    "compare",
    "counts_economy",
    "kind_rates",
    "monthly_cost",
]

DAYS_PER_MONTH = 365 / 12
KINDS = ("network", "foster", "combination", "institution")


@dataclass(frozen=True)
class Economy:
    """The cost of a set of placements, DKK."""

    placed: int
    monthly_by_kind: dict[str, float]
    monthly: float
    yearly: float
    monthly_per_child: float | None
    yearly_per_child: float | None

    @property
    def yearly_by_kind(self) -> dict[str, float]:
        return {k: round(v * 12, 0) for k, v in self.monthly_by_kind.items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "placed": self.placed,
            "monthly_by_kind": dict(self.monthly_by_kind),
            "yearly_by_kind": self.yearly_by_kind,
            "monthly": self.monthly,
            "yearly": self.yearly,
            "monthly_per_child": self.monthly_per_child,
            "yearly_per_child": self.yearly_per_child,
        }


def _costs(policies: PolicySet, kommune: str) -> Costs:
    costs = policies.for_kommune(kommune).costs or policies.default.costs
    if costs is None:
        raise ValueError("the policy profile has no [costs] section")
    return costs


class Rates:
    """The monthly cost of one placement, from a dataset's options and the policy profiles."""

    def __init__(self, dataset: Dataset, policies: PolicySet) -> None:
        self.dataset = dataset
        self.policies = policies
        self.levels = {f.family_id: f.level.label for f in dataset.families}
        # A family's own monthly fee, where agreed, instead of the profile's fee for its level.
        self.family_monthly = {
            f.family_id: f.monthly_rate for f in dataset.families if f.monthly_rate
        }
        # A daily_rate of 0 is how a file without the column reads: no rate of its own.
        self.daily = {i.institution_id: i.daily_rate for i in dataset.institutions if i.daily_rate}

    @classmethod
    def if_costed(cls, dataset: Dataset, policies: PolicySet) -> Rates | None:
        """The rates, or None when the default profile has no [costs] section."""
        return cls(dataset, policies) if policies.default.costs is not None else None

    def monthly(
        self, kind: str, option_id: str, kommune: str = "", *, own_fee: bool = True
    ) -> float:
        """One placement's monthly cost, DKK: `kind` network, foster, combination or
        institution, at `option_id`, for a child acting in `kommune`. Without `own_fee`, a
        family is priced at the profile's fee for its level: a family's own agreed fee is its
        kommune's business, not shown beside other kommuners' proposals."""
        costs = _costs(self.policies, kommune)
        daily = self.daily.get(option_id) or costs.institution_daily_dkk
        if kind == "network":
            return costs.network_monthly_dkk
        if kind == "foster":
            own = self.family_monthly.get(option_id) if own_fee else None
            if own is not None:
                return own
            level = self.levels.get(option_id, "almen")
            fees = costs.foster_monthly_dkk
            return fees.get(level, fees.get("almen", 0.0))
        if kind == "combination":
            return (
                costs.combination_institution_share * daily * DAYS_PER_MONTH
                + costs.combination_family_monthly_dkk
            )
        if kind == "institution":
            return daily * DAYS_PER_MONTH
        raise ValueError(f"unknown placement kind {kind!r}; allowed: {', '.join(KINDS)}")


def monthly_cost(
    dataset: Dataset, policies: PolicySet, kind: str, option_id: str, kommune: str = ""
) -> float:
    """One placement's monthly cost, DKK (see `Rates.monthly`)."""
    return Rates(dataset, policies).monthly(kind, option_id, kommune)


def assignment_economy(
    dataset: Dataset, policies: PolicySet, assignments: Iterable[Mapping[str, Any]]
) -> Economy:
    """The cost of assignment rows (`child_id`, `option_id`, `kind`), as a batch or a
    scenario reports them; a child the dataset does not know counts at the default profile."""
    rates = Rates(dataset, policies)
    by_kind = dict.fromkeys(KINDS, 0.0)
    placed = 0
    children = dataset.child_by_id
    for row in assignments:
        child = children.get(str(row["child_id"]))
        kommune = child.kommune_code if child is not None else ""
        kind = str(row["kind"])
        by_kind[kind] += rates.monthly(kind, str(row["option_id"]), kommune)
        placed += 1
    return _economy(placed, by_kind)


def _economy(placed: int, by_kind: Mapping[str, float]) -> Economy:
    monthly = round(sum(by_kind.values()), 0)
    return Economy(
        placed=placed,
        monthly_by_kind={k: round(v, 0) for k, v in by_kind.items()},
        monthly=monthly,
        yearly=round(monthly * 12, 0),
        monthly_per_child=round(monthly / placed, 0) if placed else None,
        yearly_per_child=round(monthly * 12 / placed, 0) if placed else None,
    )


def kind_rates(dataset: Dataset, policies: PolicySet) -> dict[str, float]:
    """The mean monthly cost of one placement of each kind over the dataset's options (at the
    default profile): what the year simulation, which counts placements by kind, prices them
    at. Foster by the families' levels weighted by places; institutions by their places."""
    costs = policies.default.costs
    if costs is None:
        raise ValueError("the policy profile has no [costs] section")
    rates = Rates(dataset, policies)
    fam = [(f.family_id, max(f.places, 1)) for f in dataset.families]
    inst = [(i.institution_id, max(i.places, 1)) for i in dataset.institutions]

    def mean(kind: str, options: list[tuple[str, int]]) -> float:
        total = sum(w for _, w in options)
        if not total:
            return rates.monthly(kind, "")
        return round(sum(w * rates.monthly(kind, o) for o, w in options) / total, 0)

    return {
        "network": costs.network_monthly_dkk,
        "foster": mean("foster", fam),
        "combination": mean("combination", inst),
        "institution": mean("institution", inst),
    }


def counts_economy(counts: Mapping[str, int], rates: Mapping[str, float]) -> Economy:
    """The cost of placements counted by kind, each at its kind's mean rate."""
    by_kind = {k: counts.get(k, 0) * rates.get(k, 0.0) for k in KINDS}
    return _economy(sum(counts.get(k, 0) for k in KINDS), by_kind)


def compare(economy: Mapping[str, Any], baseline: Mapping[str, Any]) -> dict[str, float | None]:
    """The change against the baseline, DKK: monthly, yearly and yearly per placed child."""
    out: dict[str, float | None] = {}
    for key in ("monthly", "yearly", "yearly_per_child"):
        a, b = economy.get(key), baseline.get(key)
        out[key] = None if a is None or b is None else round(float(a) - float(b), 0)
    return out
