"""Policy profiles: weights, limits and thresholds read from small TOML files (DESIGN.md §5).

`default.toml` holds every setting. A municipal profile names only the settings its policy
document speaks to, each with a comment citing the passage; the rest inherit from default.
A child's acting kommune selects its profile (`PolicySet.for_kommune`).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.enums import Kind, Relation

__all__ = [
    "AUTO",
    "POLICY_DIR",
    "SIBLING_PRIORITIES",
    "Costs",
    "Policy",
    "PolicyError",
    "PolicySet",
    "list_policies",
    "load_policy",
    "load_policy_set",
    "policy_sources",
    "wish_weight",
]

POLICY_DIR = Path(__file__).parent / "policies"
TERMS = (
    "relation",
    "school_km",
    "daycare_km",
    "home_km",
    "beyond_local_km",
    "joins_sibling",
    "level_overshoot",
    "wish",
)
AUTO = "auto"  # the child's acting kommune selects the profile
SIBLING_PRIORITIES = ("after_placed", "after_tiers")


@dataclass(frozen=True)
class Costs:
    """What a placement costs the kommune, for reports only: cost never enters a ranking or
    a batch objective (Odder: the step "afhænger *ikke* af hvor udgiftstung")."""

    foster_monthly_dkk: dict[
        str, float
    ]  # by level (almen, forstaerket, specialiseret): vederlag + tillæg
    network_monthly_dkk: float
    combination_institution_share: float  # share of the institution's daily rate
    combination_family_monthly_dkk: float
    institution_daily_dkk: float  # when an institution has no daily_rate of its own


class PolicyError(ValueError):
    """A policy file is missing, or names an unknown or invalid setting."""


@dataclass(frozen=True)
class Policy:
    name: str
    # The local area (nærmiljø) per tier, km from the child's home: beyond it an option stays
    # eligible with OUTSIDE_LOCAL_AREA and the beyond_local_km score term.
    local_km: dict[Kind, float]
    max_commute_km: float
    stale_days: int
    school_keep_km: float
    relation_weights: dict[Relation, float]
    weights: dict[Kind, dict[str, float]]
    follow_up_first_weeks: int = 13
    follow_up_every_weeks: int = 26
    # Months in a placement of this kind after which a step-down review is due (0: never).
    step_down_months: dict[Kind, int] = field(default_factory=dict)
    step_down_target_share: float = 0.8
    step_down_within_months: int = 8
    # The one practical maximum (TOO_FAR), the same for every tier, so that distance can never
    # exclude a less intrusive option while a more intrusive one farther away stays eligible.
    max_km: float = 300.0
    # Months in a placement after which the return home is to be assessed (0: no such rule).
    home_assessment_months: int = 0
    # Months after which a placement counts as settled and is not proposed for a move (0: never).
    settled_after_months: int = 0
    # The child's wish weighs by age (Barnets Lov § 46: passende vægt efter alder og
    # modenhed): ((from_age, weight), ...) ascending; the last step at or below the age applies.
    wish_age_weights: tuple[tuple[int, float], ...] = ((0, 1.0),)
    # Where "sibling groups kept together" sits in the batch objective: right after "children
    # placed" (after_placed) or after the three tier counts (after_tiers).
    siblings_priority: str = "after_placed"
    costs: Costs | None = None
    kommune: str | None = None
    description: str = ""
    source: str = ""

    @property
    def limits_km(self) -> dict[Kind, float]:
        """The former name of `local_km` (read by older callers)."""
        return self.local_km

    @property
    def max_limit_km(self) -> float:
        return self.max_km

    def weight(self, kind: Kind, term: str) -> float:
        return self.weights[kind].get(term, 0.0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kommune_code": self.kommune,
            "description": self.description,
            "local_km": {k.value: v for k, v in self.local_km.items()},
            "distance": {"max_km": self.max_km},
            "combination": {"max_commute_km": self.max_commute_km},
            "vacancy": {"stale_days": self.stale_days},
            "school": {"keep_km": self.school_keep_km},
            "relation_weights": {k.value: v for k, v in self.relation_weights.items()},
            "weights": {k.value: dict(w) for k, w in self.weights.items()},
            "follow_up": {
                "first_weeks": self.follow_up_first_weeks,
                "every_weeks": self.follow_up_every_weeks,
            },
            "step_down": {
                "review_months": {k.value: v for k, v in self.step_down_months.items()},
                "target_share": self.step_down_target_share,
                "within_months": self.step_down_within_months,
                "home_assessment_months": self.home_assessment_months,
                "settled_after_months": self.settled_after_months,
            },
            "wish": {"age_weights": {str(a): w for a, w in self.wish_age_weights}},
            "siblings": {"priority": self.siblings_priority},
            **({"costs": _costs_dict(self.costs)} if self.costs else {}),
        }


def _costs_dict(costs: Costs) -> dict[str, Any]:
    return {
        "foster_monthly_dkk": dict(costs.foster_monthly_dkk),
        "network_monthly_dkk": costs.network_monthly_dkk,
        "combination_institution_share": costs.combination_institution_share,
        "combination_family_monthly_dkk": costs.combination_family_monthly_dkk,
        "institution_daily_dkk": costs.institution_daily_dkk,
    }


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, Mapping) and isinstance(out.get(key), dict)
            else value
        )
    return out


def _unknown_keys(base: Mapping[str, Any], over: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths in `over` that default.toml does not define (weights may add terms)."""
    found = []
    for key, value in over.items():
        path = f"{prefix}{key}"
        if key not in base:
            if not prefix.startswith("weights."):
                found.append(f"{path} (allowed: {', '.join(sorted(base))})")
            continue
        if isinstance(value, Mapping) and isinstance(base[key], Mapping):
            found.extend(_unknown_keys(base[key], value, f"{path}."))
    return found


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise PolicyError(f"policy file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: {exc}") from exc


def _path_of(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if not path.suffix:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name_or_path):
            raise PolicyError(f"policy {name_or_path!r}: not a profile name")
        path = POLICY_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise PolicyError(
                f"policy {name_or_path!r} does not exist; allowed: "
                f"{', '.join(p.name for p in list_policies())} or a path to a .toml file"
            )
    return path


def load_policy(
    name_or_path: str = "default", overrides: Mapping[str, Any] | None = None
) -> Policy:
    """A profile by name (matcher/policies/NAME.toml) or path, with optional overrides on top;
    settings the profile does not set inherit default."""
    path = _path_of(name_or_path)
    default = _read(POLICY_DIR / "default.toml")
    data = default
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if path.resolve() != (POLICY_DIR / "default.toml").resolve():
        layers.append((str(path), _read(path)))
    if overrides:
        layers.append(("overrides", overrides))
    for where, layer in layers:
        renamed = _renamed(where, layer)
        unknown = _unknown_keys(default, renamed)
        if renamed is not layer:  # name the setting as the file spells it
            unknown = [u.replace("local_km.", "limits_km.", 1) for u in unknown]
        layer = renamed
        if unknown:
            raise PolicyError(f"{where}: unknown setting {unknown[0]}")
        data = _merge(data, layer)
    return _build(data, str(path) if not overrides else f"{path} + overrides")


def _renamed(where: str, layer: Mapping[str, Any]) -> Mapping[str, Any]:
    """`limits_km` is the former name of `local_km`: profiles and scenario files that still use
    it set the local-area radius (it is no longer a hard limit)."""
    if "limits_km" not in layer:
        return layer
    if "local_km" in layer:
        raise PolicyError(f"{where}: set local_km or its former name limits_km, not both")
    out = {k: v for k, v in layer.items() if k != "limits_km"}
    out["local_km"] = layer["limits_km"]
    return out


def _number(data: Mapping[str, Any], *keys: str, lo: float = 0.0, hi: float | None = None) -> float:
    value: Any = data
    for key in keys:
        value = value[key]
    # TOML reads inf and nan as numbers: a weight of either would turn a term's zeros into
    # NaN costs (and every bound check passes nan).
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PolicyError(f"{'.'.join(keys)}: got {value!r}; allowed: a finite number")
    if value < lo or (hi is not None and value > hi):
        bound = f"from {lo:g}" + (f" to {hi:g}" if hi is not None else "")
        raise PolicyError(f"{'.'.join(keys)}: got {value!r}; allowed: a number {bound}")
    return float(value)


def _age_weights(data: Mapping[str, Any]) -> tuple[tuple[int, float], ...]:
    steps = data["wish"]["age_weights"]
    out: list[tuple[int, float]] = []
    for age in steps:
        if not str(age).isdigit():
            raise PolicyError(f'wish.age_weights.{age}: allowed: an age in whole years, like "12"')
        out.append((int(age), _number(data, "wish", "age_weights", age, hi=1.0)))
    if not out or min(a for a, _ in out) != 0:
        raise PolicyError('wish.age_weights: allowed: steps from age "0" up, like { 0 = 0.25 }')
    return tuple(sorted(out))


def wish_weight(policy: Policy, age: int) -> float:
    """The weight of a child's wish at `age` (the step at or below it)."""
    return next(w for a, w in reversed(policy.wish_age_weights) if a <= age)


def _choice(data: Mapping[str, Any], allowed: tuple[str, ...], *keys: str) -> str:
    value: Any = data
    for key in keys:
        value = value[key]
    if value not in allowed:
        raise PolicyError(f"{'.'.join(keys)}: got {value!r}; allowed: {', '.join(allowed)}")
    return str(value)


def _costs(data: Mapping[str, Any]) -> Costs:
    return Costs(
        foster_monthly_dkk={
            level: _number(data, "costs", "foster_monthly_dkk", level)
            for level in data["costs"]["foster_monthly_dkk"]
        },
        network_monthly_dkk=_number(data, "costs", "network_monthly_dkk"),
        combination_institution_share=_number(
            data, "costs", "combination_institution_share", hi=1.0
        ),
        combination_family_monthly_dkk=_number(data, "costs", "combination_family_monthly_dkk"),
        institution_daily_dkk=_number(data, "costs", "institution_daily_dkk"),
    )


def _build(data: dict[str, Any], source: str) -> Policy:
    try:
        weights: dict[Kind, dict[str, float]] = {}
        for k, w in data["weights"].items():
            unknown = set(w) - set(TERMS)
            if unknown:
                raise PolicyError(
                    f"weights.{k} has unknown terms {sorted(unknown)}; allowed: {', '.join(TERMS)}"
                )
            weights[Kind(k)] = {t: _number(data, "weights", k, t, lo=-1e6) for t in w}
        step = data["step_down"]
        return Policy(
            name=str(data["name"]),
            description=str(data.get("description", "")),
            kommune=str(data["kommune"]) if data.get("kommune") else None,
            local_km={Kind(k): _number(data, "local_km", k) for k in data["local_km"]},
            max_km=_number(data, "distance", "max_km", lo=1.0),
            max_commute_km=_number(data, "combination", "max_commute_km"),
            stale_days=int(_number(data, "vacancy", "stale_days")),
            school_keep_km=_number(data, "school", "keep_km"),
            relation_weights={
                Relation(k): _number(data, "relation_weights", k) for k in data["relation_weights"]
            },
            weights=weights,
            follow_up_first_weeks=int(_number(data, "follow_up", "first_weeks", lo=1)),
            follow_up_every_weeks=int(_number(data, "follow_up", "every_weeks", lo=1)),
            step_down_months={
                Kind(k): int(_number(data, "step_down", "review_months", k))
                for k in step["review_months"]
            },
            step_down_target_share=_number(data, "step_down", "target_share", hi=1.0),
            step_down_within_months=int(_number(data, "step_down", "within_months", lo=1)),
            home_assessment_months=int(_number(data, "step_down", "home_assessment_months")),
            settled_after_months=int(_number(data, "step_down", "settled_after_months")),
            wish_age_weights=_age_weights(data),
            siblings_priority=_choice(data, SIBLING_PRIORITIES, "siblings", "priority"),
            costs=_costs(data),
            source=source,
        )
    except PolicyError as exc:
        raise PolicyError(f"{source}: {exc}") from None
    except (KeyError, ValueError, TypeError) as exc:
        raise PolicyError(f"{source}: invalid setting ({exc})") from exc


def list_policies() -> list[Path]:
    """The bundled profiles, default first."""
    files = sorted(POLICY_DIR.glob("*.toml"))
    return sorted(files, key=lambda p: (p.stem != "default", p.stem))


_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")
_SETTING = re.compile(r"^\s*([A-Za-z0-9_]+)\s*=\s*([^#]*?)\s*(#\s*(.*))?$")


def policy_sources(name_or_path: str) -> dict[str, str]:
    """Each setting a profile file sets, as a dotted path, with the comment that cites its
    source: the comment lines just above the setting (or its section) and any comment after it.
    """
    path = _path_of(name_or_path)
    section = ""
    section_note: list[str] = []
    pending: list[str] = []
    previous: list[str] = []  # a setting right below another shares its comment
    sources: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped:
            pending = []
            previous = []
            continue
        if stripped.startswith("#"):
            pending.append(stripped.lstrip("#").strip())
            continue
        m = _SECTION.match(line)
        if m:
            section = m.group(1).strip()
            section_note = pending + ([m.group(2).lstrip("#").strip()] if m.group(2) else [])
            pending = []
            previous = []
            continue
        m = _SETTING.match(line)
        if m:
            key = f"{section}.{m.group(1)}" if section else m.group(1)
            own = [*pending, *([m.group(4)] if m.group(4) else [])]
            note = [*section_note, *(own or previous)]
            sources[key] = " ".join(n for n in note if n)
            previous = own or previous
            pending = []
    return sources


@dataclass(frozen=True)
class PolicySet:
    """The profile for each child: a forced one, or the acting kommune's (default otherwise)."""

    default: Policy
    by_kommune: dict[str, Policy] = field(default_factory=dict)
    forced: bool = False

    @property
    def name(self) -> str:
        return self.default.name if self.forced else AUTO

    def for_kommune(self, kommune_code: str) -> Policy:
        if self.forced:
            return self.default
        return self.by_kommune.get(kommune_code, self.default)


def load_policy_set(
    name_or_path: str = AUTO, overrides: Mapping[str, Any] | None = None
) -> PolicySet:
    """`auto`: every bundled profile, selected by kommune; anything else: that one profile."""
    if name_or_path != AUTO:
        return PolicySet(load_policy(name_or_path, overrides), forced=True)
    by_kommune: dict[str, Policy] = {}
    for path in list_policies():
        policy = load_policy(path.stem, overrides)
        if policy.kommune:
            by_kommune[policy.kommune] = policy
    return PolicySet(load_policy("default", overrides), by_kommune)
