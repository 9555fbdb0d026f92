"""The `solve` dispatcher: one solver by name."""

from __future__ import annotations

from matcher.batch._cpsat import solve_cpsat
from matcher.batch._flow import solve_flow
from matcher.batch._greedy import solve_greedy
from matcher.batch._problem import BatchProblem
from matcher.batch._solution import Solution
from matcher.batch._split import solve_split
from models.enums import Solver

__all__ = ["solve"]


def solve(
    problem: BatchProblem,
    solver: Solver | str = Solver.AUTO,
    time_limit: float | None = None,
    workers: int = 1,
    deterministic: bool = False,
) -> Solution:
    """Solve with the named method; with `deterministic`, CP-SAT's time limit is counted in
    deterministic time, so the same problem always gets the same answer."""
    try:
        method = Solver(solver)
    except ValueError:
        raise ValueError(f"unknown solver {solver!r}: auto, flow, cpsat or greedy") from None
    if method is Solver.AUTO:
        groups = (problem.size > 1).any() or problem.split
        method = Solver.CPSAT if groups else Solver.FLOW
    if method is Solver.FLOW:
        return solve_flow(problem, time_limit)
    if method is Solver.CPSAT and problem.split:
        return solve_split(problem, time_limit, workers, deterministic=deterministic)
    if method is Solver.CPSAT:
        return solve_cpsat(problem, time_limit, workers, deterministic=deterministic)
    return solve_greedy(problem)
