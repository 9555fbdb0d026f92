"""Hard constraints and warnings (DESIGN.md §4): one vectorised function each.

Every constraint takes a `View` (one unit against an option table, with distances computed
once) and the policy, and returns a boolean mask that is True where the option is left out
for that reason. Warnings are masks of the same form over options that stay eligible.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np

from geo.distance import arc_km
from matcher.policy import Policy
from matcher.tables import STATUS_CODES, BoolArray, FloatArray, IntArray, OptionTable, Unit
from models.enums import Kind, NetworkStatus, Reason, Warning

__all__ = [
    "CONSTRAINTS",
    "DISTANCE_FREE",
    "DISTANCE_RULES",
    "WARNINGS",
    "View",
    "evaluate_reasons",
    "evaluate_warnings",
    "make_view",
    "narrow",
    "offerable_rows",
    "passes",
    "per_tier",
    "policy_arrays",
]

_REJECTED = STATUS_CODES[NetworkStatus.REJECTED]
_UNASSESSED = STATUS_CODES[NetworkStatus.UNASSESSED]
_ACUTE_NETWORK = (STATUS_CODES[NetworkStatus.APPROVED], STATUS_CODES[NetworkStatus.SUITABLE])
_TIER_OF = {k.tier: k for k in Kind}
_KINDS = tuple(_TIER_OF[t] for t in (1, 2, 3, 4))


class View:
    """One unit seen against one option table. Distances are computed on first use and
    shared by every rule and term; rules that need none (capacity, age, level...) never
    pay for them, which is what lets the batch matcher prefilter cheaply."""

    def __init__(self, unit: Unit, opts: OptionTable, free: IntArray, as_of_day: int) -> None:
        self.unit = unit
        self.opts = opts
        self.free = free
        self.as_of_day = as_of_day

    @cached_property
    def home_km(self) -> FloatArray:
        """Km from the unit's home: the one distance the hard constraints read."""
        return arc_km((self.unit.home,), self.opts.x, self.opts.y, self.opts.z)[0]

    @cached_property
    def _anchor_km(self) -> FloatArray:
        """Km from the unit's schools, then its daycares (rows), to every option: only the
        score terms and a warning read them, so ranking computes them on the eligible
        options alone."""
        unit = self.unit
        return arc_km((*unit.schools, *unit.daycares), self.opts.x, self.opts.y, self.opts.z)

    @cached_property
    def _school(self) -> tuple[FloatArray | None, FloatArray | None]:
        return _mean_and_max(self._anchor_km[: len(self.unit.schools)])

    @property
    def school_km(self) -> FloatArray | None:
        """Mean km over the unit's schools; None without a school."""
        return self._school[0]

    @property
    def school_km_max(self) -> FloatArray | None:
        return self._school[1]

    @cached_property
    def daycare_km(self) -> FloatArray | None:
        return _mean_and_max(self._anchor_km[len(self.unit.schools) :])[0]


def _mean_and_max(km: FloatArray) -> tuple[FloatArray | None, FloatArray | None]:
    if not len(km):
        return None, None
    if len(km) == 1:  # one school or daycare, the common case: no reduction to pay for
        return km[0], km[0]
    return km.mean(axis=0), km.max(axis=0)


def make_view(unit: Unit, opts: OptionTable, pool_free: IntArray, as_of_day: int) -> View:
    return View(unit, opts, pool_free[opts.pool], as_of_day)


def narrow(view: View, rows: IntArray) -> View:
    """The same unit against some rows of the view's table, keeping the distances from
    home already computed for them."""
    out = View(view.unit, view.opts.take(rows), view.free[rows], view.as_of_day)
    if "home_km" in view.__dict__:  # a cached_property's value lives in the instance dict
        out.__dict__["home_km"] = view.home_km[rows]
    return out


# ----------------------------------------------------------------------- hard constraints


def no_capacity(v: View, policy: Policy) -> BoolArray:
    return v.free < v.unit.size


def age_out_of_range(v: View, policy: Policy) -> BoolArray:
    return (v.unit.min_age < v.opts.min_age) | (v.unit.max_age > v.opts.max_age)


def level_too_low(v: View, policy: Policy) -> BoolArray:
    """Families below the child's support level; level 4 excludes families and network."""
    support = v.unit.support
    family = v.opts.at_family & ((support >= 4) | (v.opts.level < support))
    network = v.opts.is_network & (support >= 4)
    institution = ~v.opts.at_family & ~v.opts.is_network & (v.opts.level < support)
    return family | network | institution


def needs_not_covered(v: View, policy: Policy) -> BoolArray:
    uncovered = (np.int32(v.unit.needs_mask) & ~v.opts.target_mask) != 0
    return uncovered & ~v.opts.is_network


def network_rejected(v: View, policy: Policy) -> BoolArray:
    return v.opts.is_network & (v.opts.status == _REJECTED)


def network_unwilling(v: View, policy: Policy) -> BoolArray:
    return v.opts.is_network & ~v.opts.willing


def not_acute(v: View, policy: Policy) -> BoolArray:
    """An acute unit needs emergency intake; approved or suitable network carers may take it."""
    if not v.unit.acute:
        return np.zeros(len(v.opts), dtype=bool)
    network_ok = v.opts.is_network & np.isin(v.opts.status, _ACUTE_NETWORK)
    return ~(v.opts.acute | network_ok)


def combination_not_suitable(v: View, policy: Policy) -> BoolArray:
    return (v.opts.tier == Kind.COMBINATION.tier) & (not v.unit.combination_ok)


def combination_too_far(v: View, policy: Policy) -> BoolArray:
    return (v.opts.tier == Kind.COMBINATION.tier) & (v.home_km > policy.max_commute_km)


def secure_needs_decision(v: View, policy: Policy) -> BoolArray:
    return v.opts.secure & (not v.unit.secure_decision)


def sibling_group_too_large(v: View, policy: Policy) -> BoolArray:
    return v.opts.max_siblings < v.unit.size


def excluded(v: View, policy: Policy) -> BoolArray:
    if not v.unit.excluded:
        return np.zeros(len(v.opts), dtype=bool)
    return np.isin(v.opts.option_id, list(v.unit.excluded))


def keep_away(v: View, policy: Policy) -> BoolArray:
    """Barnets Lov § 105: nothing closer than min_km to an address the child is kept from."""
    hit = np.zeros(len(v.opts), dtype=bool)
    if not v.unit.keep_away:
        return hit
    points = tuple((lat, lon) for lat, lon, _ in v.unit.keep_away)
    for km, (_, _, min_km) in zip(
        arc_km(points, v.opts.x, v.opts.y, v.opts.z), v.unit.keep_away, strict=True
    ):
        hit |= km < min_km
    return hit


def paused(v: View, policy: Policy) -> BoolArray:
    return v.opts.paused.copy()


def too_far(v: View, policy: Policy) -> BoolArray:
    """Beyond the practical maximum, one number for every tier: the staircase is law, nærhed
    only orders options within a tier (see outside_local_area)."""
    return v.home_km > policy.max_km


def local_radius(v: View, policy: Policy) -> FloatArray:
    """The local-area radius of each option's tier."""
    return per_tier(policy, LOCAL_KM)[v.opts.tier]


LOCAL_KM = "[local_km]"  # not a term name: the local-area radii in `per_tier`


_POLICY_ARRAYS: dict[int, tuple[Policy, dict[object, FloatArray]]] = {}


def policy_arrays(policy: Policy) -> dict[object, FloatArray]:
    """Arrays derived from one policy object, kept for as long as it is in use: every
    evaluation asks for several, and building them was a tenth of ranking a child. Keys are
    the caller's (`per_tier` uses names; the score's weight rows, tuples of names)."""
    hit = _POLICY_ARRAYS.get(id(policy))
    if hit is None or hit[0] is not policy:  # the policy is held, so its id is not reused
        if len(_POLICY_ARRAYS) > 256:  # what-if sweeps make many profiles; keep the cache small
            _POLICY_ARRAYS.clear()
        hit = (policy, {})
        _POLICY_ARRAYS[id(policy)] = hit
    return hit[1]


def per_tier(policy: Policy, name: str) -> FloatArray:
    """A policy number per tier as an array indexed by tier (index 0 unused): the local-area
    radii (`LOCAL_KM`), or a score term's weight (by the term's name). Built once per policy
    object (`policy_arrays`)."""
    arrays = policy_arrays(policy)
    found = arrays.get(name)
    if found is None:
        if name == LOCAL_KM:
            found = np.array([0.0] + [policy.local_km[k] for k in _KINDS])
        else:
            found = np.array([0.0] + [policy.weight(k, name) for k in _KINDS])
        found.setflags(write=False)  # shared by every call: nobody may change it in place
        arrays[name] = found
    return found


Rule = Callable[[View, Policy], BoolArray]

CONSTRAINTS: tuple[tuple[Reason, Rule], ...] = (
    (Reason.NO_CAPACITY, no_capacity),
    (Reason.AGE_OUT_OF_RANGE, age_out_of_range),
    (Reason.LEVEL_TOO_LOW, level_too_low),
    (Reason.NEEDS_NOT_COVERED, needs_not_covered),
    (Reason.NETWORK_REJECTED, network_rejected),
    (Reason.NETWORK_UNWILLING, network_unwilling),
    (Reason.NOT_ACUTE, not_acute),
    (Reason.COMBINATION_NOT_SUITABLE, combination_not_suitable),
    (Reason.COMBINATION_TOO_FAR, combination_too_far),
    (Reason.SECURE_NEEDS_DECISION, secure_needs_decision),
    (Reason.SIBLING_GROUP_TOO_LARGE, sibling_group_too_large),
    (Reason.EXCLUDED, excluded),
    (Reason.KEEP_AWAY, keep_away),
    (Reason.PAUSED, paused),
    (Reason.TOO_FAR, too_far),
)
REASON_ORDER: tuple[Reason, ...] = tuple(r for r, _ in CONSTRAINTS)
# Rules that read no distance: cheap enough to run on every option before any distance is
# computed (the batch matcher's prefilter).
DISTANCE_FREE: tuple[Rule, ...] = (
    no_capacity,
    age_out_of_range,
    level_too_low,
    needs_not_covered,
    network_rejected,
    network_unwilling,
    not_acute,
    combination_not_suitable,
    secure_needs_decision,
    sibling_group_too_large,
    excluded,
    paused,
)


# The rest read distances: on options that passed DISTANCE_FREE, an option is eligible
# exactly when none of these leaves it out (the batch matcher's edges).
DISTANCE_RULES: tuple[Rule, ...] = tuple(r for _, r in CONSTRAINTS if r not in DISTANCE_FREE)


def offerable_rows(opts: OptionTable, pool_free: IntArray) -> IntArray:
    """Rows some unit may still be offered. Every unit needs at least one free place
    (`no_capacity`) and none goes to a paused option (`paused`), so the rest are left out
    for everybody: the batch matcher screens each unit against these rows alone (national:
    2,632 of 6,959 options). Tested: no row outside passes DISTANCE_FREE for any unit."""
    return np.flatnonzero((pool_free[opts.pool] >= 1) & ~opts.paused)


def passes(v: View, policy: Policy, rules: tuple[Rule, ...]) -> BoolArray:
    """True where none of `rules` leaves the option out."""
    ok = np.ones(len(v.opts), dtype=bool)
    for rule in rules:
        ok &= ~rule(v, policy)
    return ok


def _bit_field(masks: list[BoolArray], n: int) -> IntArray:
    """Bit i set where masks[i] is True: one product instead of a shift and an or per mask.

    The product is numpy's own einsum loop in float32: a third of the time of an int64
    matrix product, exact (every sum is an integer below 2**24), and single-threaded, where
    a BLAS product of this size would wake OpenBLAS's threads on every ranking of a server
    already busy with other requests."""
    if not n:
        return np.zeros(0, dtype=np.int64)
    if len(masks) > 24:
        raise ValueError("a bit field of float32 sums holds 24 masks")
    powers = _POWERS[: len(masks)]
    return np.einsum("i,in->n", powers, np.array(masks, dtype=np.float32)).astype(np.int64)


_POWERS = np.left_shift(1, np.arange(24)).astype(np.float32)


def evaluate_reasons(v: View, policy: Policy) -> IntArray:
    """A bit field per option: bit i set when CONSTRAINTS[i] leaves the option out."""
    return _bit_field([rule(v, policy) for _, rule in CONSTRAINTS], len(v.opts))


def reasons_of(bits: int) -> list[str]:
    return [r.value for i, r in enumerate(REASON_ORDER) if bits >> i & 1]


# ------------------------------------------------------------------------------ warnings


def network_unassessed(v: View, policy: Policy) -> BoolArray:
    return v.opts.is_network & (v.opts.status == _UNASSESSED)


def stale_vacancy(v: View, policy: Policy) -> BoolArray:
    never = v.opts.confirmed_day < 0
    old = (v.as_of_day - v.opts.confirmed_day) > policy.stale_days
    return ~v.opts.is_network & (never | old)


def school_change(v: View, policy: Policy) -> BoolArray:
    if v.school_km_max is None:
        return np.zeros(len(v.opts), dtype=bool)
    return v.school_km_max > policy.school_keep_km


def outside_local_area(v: View, policy: Policy) -> BoolArray:
    return v.home_km > local_radius(v, policy)


WARNINGS: tuple[tuple[Warning, Rule], ...] = (
    (Warning.NETWORK_UNASSESSED, network_unassessed),
    (Warning.STALE_VACANCY, stale_vacancy),
    (Warning.SCHOOL_CHANGE, school_change),
    (Warning.OUTSIDE_LOCAL_AREA, outside_local_area),
)


def evaluate_warnings(v: View, policy: Policy) -> IntArray:
    return _bit_field([rule(v, policy) for _, rule in WARNINGS], len(v.opts))


def warnings_of(bits: int) -> list[str]:
    return [w.value for i, (w, _) in enumerate(WARNINGS) if bits >> i & 1]
