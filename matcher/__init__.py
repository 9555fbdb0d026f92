"""The performance-critical core: rules, scoring, ranking (and batch matching).

Names are imported on first use (numpy and the tables only when ranking is asked for).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models._lazy import lazy_exports

if TYPE_CHECKING:
    from matcher.policy import (
        Policy,
        PolicyError,
        load_policy,
    )
    from matcher.rank import (
        Evaluation,
        Matcher,
        Proposal,
        Ranking,
        UnknownChild,
    )

__all__ = [
    "Evaluation",
    "Matcher",
    "Policy",
    "PolicyError",
    "Proposal",
    "Ranking",
    "UnknownChild",
    "load_policy",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "matcher.policy": ("Policy", "PolicyError", "load_policy"),
        "matcher.rank": ("Evaluation", "Matcher", "Proposal", "Ranking", "UnknownChild"),
    },
)
