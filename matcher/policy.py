"""Policy profiles: weights, limits and thresholds read from small TOML files (DESIGN.md §5)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.enums import Kind, Relation

__all__ = ["POLICY_DIR", "Policy", "PolicyError", "load_policy"]

POLICY_DIR = Path(__file__).parent / "policies"
TERMS = ("relation", "school_km", "daycare_km", "home_km", "level_overshoot", "wish")


class PolicyError(ValueError):
    """A policy file is missing or names an unknown setting."""


@dataclass(frozen=True)
class Policy:
    name: str
    limits_km: dict[Kind, float]
    max_commute_km: float
    stale_days: int
    school_keep_km: float
    relation_weights: dict[Relation, float]
    weights: dict[Kind, dict[str, float]]
    follow_up_first_weeks: int = 13
    follow_up_every_weeks: int = 26
    description: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def max_limit_km(self) -> float:
        return max(self.limits_km.values())

    def weight(self, kind: Kind, term: str) -> float:
        return self.weights[kind].get(term, 0.0)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise PolicyError(f"policy file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: {exc}") from exc


def load_policy(name_or_path: str = "default") -> Policy:
    """A profile by name (matcher/policies/NAME.toml) or path; unset settings inherit default."""
    path = Path(name_or_path)
    if not path.suffix:
        path = POLICY_DIR / f"{name_or_path}.toml"
    data = _read(POLICY_DIR / "default.toml")
    if path.resolve() != (POLICY_DIR / "default.toml").resolve():
        data = _merge(data, _read(path))
    try:
        weights = {Kind(k): {t: float(v) for t, v in w.items()} for k, w in data["weights"].items()}
        for kind, terms in weights.items():
            unknown = set(terms) - set(TERMS)
            if unknown:
                raise PolicyError(
                    f"{path}: weights.{kind.value} has unknown terms "
                    f"{sorted(unknown)}; allowed: {', '.join(TERMS)}"
                )
        return Policy(
            name=str(data["name"]),
            description=str(data.get("description", "")),
            limits_km={Kind(k): float(v) for k, v in data["limits_km"].items()},
            max_commute_km=float(data["combination"]["max_commute_km"]),
            stale_days=int(data["vacancy"]["stale_days"]),
            school_keep_km=float(data["school"]["keep_km"]),
            relation_weights={Relation(k): float(v) for k, v in data["relation_weights"].items()},
            weights=weights,
            follow_up_first_weeks=int(data["follow_up"]["first_weeks"]),
            follow_up_every_weeks=int(data["follow_up"]["every_weeks"]),
            source=str(path),
        )
    except (KeyError, ValueError) as exc:
        if isinstance(exc, PolicyError):
            raise
        raise PolicyError(f"{path}: invalid setting ({exc})") from exc
