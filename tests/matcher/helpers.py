"""Evaluate one rule or term for one child against a tiny dataset."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from matcher.policy import Policy, load_policy
from matcher.rank import Matcher
from matcher.rules import View, make_view
from models.dataset import Dataset
from tests.factories import AS_OF


def view_of(
    ds: Dataset, child_id: str = "c1", policy: Policy | None = None
) -> tuple[View, View, Matcher]:
    """Views of the child's unit against its network table and the option table."""
    matcher = Matcher(ds, policy or load_policy())
    unit = matcher.unit_for(child_id)
    day = AS_OF.toordinal()
    return (
        make_view(unit, unit.network, matcher.pools.free, day),
        make_view(unit, matcher.options, matcher.pools.free, day),
        matcher,
    )


def by_option(view: View, values: np.ndarray) -> dict[tuple[str, int], object]:
    """Values keyed by (option_id, tier): a family offering combination has two rows."""
    return {
        (str(o), int(t)): (v.item() if hasattr(v, "item") else v)
        for o, t, v in zip(view.opts.option_id, view.opts.tier, values, strict=True)
    }


def rule_on(
    rule: Callable[[View, Policy], np.ndarray],
    ds: Dataset,
    child_id: str = "c1",
    policy: Policy | None = None,
) -> dict[tuple[str, int], object]:
    policy = policy or load_policy()
    network, options, _ = view_of(ds, child_id, policy)
    out = by_option(network, rule(network, policy))
    out.update(by_option(options, rule(options, policy)))
    return out
