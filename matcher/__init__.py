"""The performance-critical core: rules, scoring, ranking (and batch matching)."""

from matcher.policy import Policy, PolicyError, load_policy
from matcher.rank import Evaluation, Matcher, Proposal, Ranking, UnknownChild

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
