"""The performance-critical core: rules, scoring, ranking (and batch matching).

Names are imported on first use (numpy and the tables only when ranking is asked for).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

# Where each name lives: imported on first use (PEP 562), so that importing one light
# submodule does not import them all.
_HOME = {
    "Policy": "matcher.policy",
    "PolicyError": "matcher.policy",
    "load_policy": "matcher.policy",
    "Evaluation": "matcher.rank",
    "Matcher": "matcher.rank",
    "Proposal": "matcher.rank",
    "Ranking": "matcher.rank",
    "UnknownChild": "matcher.rank",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
