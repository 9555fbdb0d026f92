"""Solutions, their status, the time budget, and bounds and gaps."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from matcher.batch._problem import BatchProblem, Objective
from matcher.tables import IntArray

if TYPE_CHECKING:  # imported where a model is solved: ortools' CP-SAT module loads pandas
    from ortools.sat.python import cp_model

__all__ = [
    "FEASIBLE",
    "OPTIMAL",
    "Clock",
    "Solution",
    "gap_level",
    "gap_to",
    "relaxation_bound",
    "set_objective",
]

OPTIMAL = "OPTIMAL"
FEASIBLE = "FEASIBLE"


@dataclass
class Solution:
    status: str
    solver: str
    seconds: float
    chosen: IntArray  # edge per unit, -1 unplaced
    objective: Objective
    bound: dict[str, Any] = field(default_factory=dict)
    gap: float | None = 0.0  # None: no bound known (greedy)
    stages: int = 1
    notes: list[str] = field(default_factory=list)


def relaxation_bound(problem: BatchProblem, flows: IntArray) -> Objective:
    """The objective of a relaxed flow: an upper bound, lexicographically, on any packing.
    A group partly sent to one home counts as that fraction of a group kept together."""
    tier = problem.e_tier
    size = problem.size[problem.e_unit]
    together = float((flows[size > 1] / size[size > 1]).sum())
    return Objective(
        int(flows.sum()),
        int(flows[tier == 1].sum()),
        int(flows[tier == 2].sum()),
        int(flows[tier == 3].sum()),
        int((flows * problem.e_cost).sum()) / 100,
        round(together, 6),
        problem.together_after,
        round(float((flows / size)[problem.protected[problem.e_unit]].sum()), 6),
    )


def gap_to(obj: Objective, bound: Objective) -> float:
    """Relative gap at the first level where the solution falls short of the bound (the
    score level, a cost, counts the excess)."""
    have_key, best_key = obj.key(), bound.key()
    for have, best in zip(have_key[:-1], best_key[:-1], strict=True):
        if have != best:
            return max(best - have, 0.0) / max(abs(best), 1)
    return max(obj.score - bound.score, 0.0) / max(abs(bound.score), 1.0)


def gap_level(obj: Objective, bound: Objective) -> str | None:
    """The name of the first level where the solution differs from the bound."""
    for name, have, best in zip(obj.level_names(), obj.key(), bound.key(), strict=True):
        if have != best:
            return name
    return None


class Clock:
    """The solver's time budget: wall seconds, or CP-SAT's deterministic time, which gives
    the same answer on a loaded machine, a fast one or a Dask worker."""

    def __init__(
        self, limit: float | None, deterministic: bool = False, parent: Clock | None = None
    ) -> None:
        self.limit = limit
        self.deterministic = deterministic
        self.start = time.perf_counter()
        self.spent = 0.0
        self.parent = parent  # a budget carved out of a larger one: charged to it too

    def used(self) -> float:
        """Seconds used so far, in the clock's own measure."""
        return self.spent if self.deterministic else time.perf_counter() - self.start

    def remaining(self) -> float | None:
        if self.limit is None:
            return None
        return max(self.limit - self.used(), 0.0)

    def left(self, seconds: float) -> bool:
        """Whether `seconds` more fit in the budget."""
        remaining = self.remaining()
        return remaining is None or remaining >= seconds

    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0.0

    def arm(self, solver: cp_model.CpSolver) -> None:
        left = self.remaining()
        if left is None:
            return
        if self.deterministic:
            solver.parameters.max_deterministic_time = max(left, 0.01)
        else:
            solver.parameters.max_time_in_seconds = max(left, 0.01)

    def charge(self, solver: cp_model.CpSolver) -> None:
        used = float(solver.deterministic_time)
        for clock in self.chain():
            clock.spent += used

    def chain(self) -> list[Clock]:
        """This clock and the ones it is carved out of, innermost first."""
        chain = [self]
        while chain[-1].parent is not None:
            chain.append(chain[-1].parent)
        return chain


def set_objective(model: cp_model.CpModel, variables: list[int], weights: list[int]) -> None:
    """`model.minimize` of a weighted sum, written to the model's proto at once (the method
    appends its variables one by one: 0.2 s for 32,000)."""
    model.clear_objective()
    objective = model.proto.objective
    objective.vars.extend(variables)
    objective.coeffs.extend(weights)
    objective.scaling_factor = 1.0
