"""Within-tier score terms: one function each, in km-equivalents (lower is better).

A term function returns the raw value per option (km, a count, a path length) or None when
it does not apply to the unit (no school, no wishes). The policy's weight for the option's
kind turns it into km-equivalents; every weighted term is rounded to 0.01 and the score is
their sum, so the terms a caseworker reads add up exactly to the score, and the batch
optimiser works on the same numbers as whole hundredths.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from matcher.policy import Policy, wish_weight
from matcher.rules import View, local_radius, per_tier, policy_arrays
from matcher.tables import FloatArray

__all__ = ["TERMS", "score_terms"]


def relation(v: View) -> FloatArray | None:
    """Closeness in the child's network graph (network offers only)."""
    if not v.opts.is_network.any():
        return None
    return np.where(v.opts.is_network, v.opts.closeness, 0.0)


def school_km(v: View) -> FloatArray | None:
    return v.school_km


def daycare_km(v: View) -> FloatArray | None:
    return v.daycare_km


def home_km(v: View) -> FloatArray | None:
    return v.home_km


def beyond_local_km(v: View, policy: Policy) -> FloatArray | None:
    """Km beyond the tier's local area (nærmiljø): nearness as score, never as exclusion."""
    return np.maximum(v.home_km - local_radius(v, policy), 0.0)


def joins_sibling(v: View) -> FloatArray | None:
    """The home where a sibling lives now (Barnets Lov § 52(3): siblings together)."""
    if not v.unit.sibling_homes:
        return None
    here = np.zeros(len(v.opts), dtype=bool)
    for option_id, tier in v.unit.sibling_homes:  # one or two homes: a loop is cheapest
        here |= (v.opts.option_id == option_id) & (v.opts.tier == tier)
    return here.astype(np.float64)


def level_overshoot(v: View) -> FloatArray | None:
    """How far the option's level exceeds the child's needs: a scarce place kept in use."""
    over = np.maximum(v.opts.level.astype(np.float64) - v.unit.support, 0.0)
    return np.where(v.opts.is_network, 0.0, over)


def wish(v: View, policy: Policy) -> FloatArray | None:
    """The child asked for this option or person (barnets stemme), weighed by age and
    maturity (a sibling group: its oldest member)."""
    if not v.unit.wishes:
        return None
    asked = np.isin(v.opts.option_id, list(v.unit.wishes)).astype(np.float64)
    return asked * wish_weight(policy, v.unit.max_age)


Term = Callable[[View, Policy], FloatArray | None]


def _plain(term: Callable[[View], FloatArray | None]) -> Term:
    return lambda v, _policy: term(v)


TERMS: tuple[tuple[str, Term], ...] = (
    ("relation", _plain(relation)),
    ("school_km", _plain(school_km)),
    ("daycare_km", _plain(daycare_km)),
    ("home_km", _plain(home_km)),
    ("beyond_local_km", beyond_local_km),
    ("joins_sibling", _plain(joins_sibling)),
    ("level_overshoot", _plain(level_overshoot)),
    ("wish", wish),
)


def _weight_rows(policy: Policy, names: tuple[str, ...], home_is_anchor: bool) -> FloatArray:
    """The policy's weights of the terms `names`, one row per term, indexed by tier. Without
    a school and a daycare the home is the child's everyday anchor: home_km then weighs at
    least as much as school_km. Built once per policy and set of terms (`policy_arrays`)."""
    arrays = policy_arrays(policy)
    key = ("weight rows", names, home_is_anchor)
    found = arrays.get(key)
    if found is None:
        rows = []
        for name in names:
            weights = per_tier(policy, name)
            if name == "home_km" and home_is_anchor:
                weights = np.maximum(weights, per_tier(policy, "school_km"))
            rows.append(weights)
        found = np.array(rows)
        found.setflags(write=False)
        arrays[key] = found
    return found


def score_terms(v: View, policy: Policy) -> tuple[FloatArray, dict[str, FloatArray]]:
    """The score per option and each weighted term (rounded to 0.01) that adds up to it.

    The terms are weighed, rounded and summed as one array of rows: a ranking has a few
    hundred options, where a numpy call per term and step cost more than the arithmetic."""
    names: list[str] = []
    raws: list[FloatArray] = []
    for name, term in TERMS:
        raw = term(v, policy)
        if raw is not None:
            names.append(name)
            raws.append(raw)
    if not names:
        return np.zeros(len(v.opts)), {}
    home_is_anchor = v.school_km is None and v.daycare_km is None
    weights = _weight_rows(policy, tuple(names), home_is_anchor)[:, v.opts.tier]
    weights *= np.array(raws, dtype=np.float64)
    weighted = np.round(weights, 2, out=weights)
    weighted += 0.0  # no -0.0 shown
    # Each weighted term is a whole number of hundredths, so however numpy orders the sum (in
    # row order, or pairwise for a single option) it lies within 1e-12 of a multiple of 0.01
    # and rounds to the same score as the term-by-term loop (tested bit for bit).
    total = weighted.sum(axis=0)
    return np.round(total, 2, out=total), dict(zip(names, weighted, strict=True))
