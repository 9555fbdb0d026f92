"""Optimal batch matching of a cohort of children to a region's capacity.

The problem comes from the ranking core (same rules, same score terms): a unit (a child, or
a sibling group placed together) may take an eligible offer; each capacity pool (a home) has
free places. The objective is lexicographic and exact:

  (1) most children placed, (2) most sibling groups kept together, (3) most in tier 1,
  (4) most in tier 2, (5) most in tier 3, (6) lowest total within-tier score (children x
  score, in whole hundredths). Policy `[siblings] priority = "after_tiers"` moves (2)
  after (5).

Levels are combined with weights only where the weights are proven large enough from the
data's bounds (`merge_levels`); otherwise they are solved in stages, each stage restricted to
the optimal solutions of the one before:

- `flow`: every unit needs one place. OR-Tools min-cost flow per stage; between stages, node
  potentials (shortest paths in the residual graph) give reduced costs, and by complementary
  slackness a flow is optimal for the stage iff it uses no arc of positive reduced cost and
  saturates every arc of negative reduced cost, so those arcs are removed or fixed and the
  next stage optimises over exactly the optimal face. Each stage is priced: it is solved on
  the units' best few edges and re-solved with any edge whose reduced cost turns out
  negative, so the 2 M-edge stress instance is solved on about a twentieth of its edges,
  exactly.
- `cpsat`: sibling groups make it a packing problem. CP-SAT per stage; each stage fixes the
  previous stage's optimal value as a constraint. Reports FEASIBLE, the bound and the gap when
  a stage is not proven within the time limit.
- `greedy`: today's practice, the baseline: units in arrival order take their best-ranked
  option that still has room.
- split mode (`solve_split`): a group is split only where that places more children; the
  groups the no-split optimum keeps together stay together.
- `EdgeMemo`: a build's edges kept for the next (what-if scenarios), reused where the
  homes are unchanged: the next problem is the one a cold build gives.
- `explain`: for each child not given its first-ranked option, who holds it and the exact
  change of every level if it were forced (a re-solve with that one assignment fixed).
"""

from matcher.batch._cpsat import import_solvers, solve_cpsat
from matcher.batch._dispatch import solve
from matcher.batch._explain import LEVELS, explain, first_choice, forced_objective
from matcher.batch._flow import solve_flow
from matcher.batch._greedy import solve_greedy
from matcher.batch._problem import (
    AFTER_PLACED,
    AFTER_TIERS,
    BatchProblem,
    Objective,
    build_problem,
    merge_levels,
    objective_levels,
)
from matcher.batch._reuse import EdgeMemo
from matcher.batch._solution import FEASIBLE, OPTIMAL, Solution
from matcher.batch._split import solve_split

__all__ = [
    "AFTER_PLACED",
    "AFTER_TIERS",
    "FEASIBLE",
    "LEVELS",
    "OPTIMAL",
    "BatchProblem",
    "EdgeMemo",
    "Objective",
    "Solution",
    "build_problem",
    "explain",
    "first_choice",
    "forced_objective",
    "import_solvers",
    "merge_levels",
    "objective_levels",
    "solve",
    "solve_cpsat",
    "solve_flow",
    "solve_greedy",
    "solve_split",
]
