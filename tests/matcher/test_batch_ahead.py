"""The second flow relaxation started ahead in a forked child (`matcher.batch._ahead`): the
same flows and the same solution as computed in one process, a failed child costs only the
time, and a child no longer needed is stopped and reaped.

The forks run in a fresh interpreter: this one runs pytest-xdist's threads, and a fork copies
only one thread (`can_fork` refuses here, which is tested too)."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from matcher.batch import build_problem
from matcher.batch._ahead import Ahead, can_fork, cores
from matcher.batch._cpsat import _SecondRelaxation
from matcher.batch._problem import AFTER_PLACED, AFTER_TIERS, objective_levels
from matcher.rank import Matcher
from tests.factories import AS_OF
from tests.matcher.test_batch import tiny

_IN_A_FRESH_PROCESS = """
import os, time
import numpy as np
from matcher.batch import _ahead, _cpsat, build_problem, solve
from matcher.batch._ahead import Ahead
from matcher.rank import Matcher
from tests.factories import AS_OF
from tests.matcher.test_batch import tiny

os.environ.pop("PLACEMENT_EDGE_WORKERS", None)  # whatever the caller's setting
assert _ahead.can_fork()
parent = os.getpid()

# An array comes back whole, zeros and all.
values = np.array([0, 3, 0, 0, -2, 7, 0], dtype=np.int64)
job = Ahead.start(lambda: values)
assert job is not None
assert np.array_equal(job.result(), values)

# A child that fails answers None: the caller computes the array itself.
def fails():
    raise RuntimeError("a child that fails")
job = Ahead.start(fails)
assert job.result() is None

def reaped(pid):
    try:
        os.waitpid(pid, os.WNOHANG)
        return False
    except ChildProcessError:
        return True

# A child no longer needed is killed and reaped (no zombie left behind).
job = Ahead.start(lambda: time.sleep(60) or values)
pid = job._pid
job.cancel()
assert reaped(pid)
job.cancel()  # twice is harmless

# A child that hangs past the wait answers None, and is killed and reaped too.
job = Ahead.start(lambda: time.sleep(60) or values)
pid = job._pid
started = time.monotonic()
assert job.result(0.5) is None
assert time.monotonic() - started < 10 and reaped(pid)

# Turned off by the edge builder's variable.
os.environ["PLACEMENT_EDGE_WORKERS"] = "1"
assert Ahead.start(lambda: values) is None
del os.environ["PLACEMENT_EDGE_WORKERS"]

# The second relaxation from the child is the one worked out here, flow for flow. (It runs
# where the groups' proof does not apply: turned off here.)
_cpsat.GroupProof.of = classmethod(lambda cls, problem: None)
m = Matcher(tiny(7, 120, 70, 6, siblings=0.5))
problem = build_problem(m, m.units, AS_OF)
assert problem.together_scale > 1
_cpsat.AHEAD_FROM_EDGES = 0
second = _cpsat._SecondRelaxation(problem)
assert second.ahead is not None
here = _cpsat._flows_only(problem, second.levels)
assert here.any()
assert np.array_equal(second.flows(60.0), here)
second.close()

# The solver with the relaxation computed ahead gives the very same solution as without.
started = []
real_start = Ahead.start.__func__
def counted(cls, job):
    found = real_start(cls, job)
    started.append(found is not None)
    return found
_cpsat.AHEAD_FROM_EDGES = 10**12
alone = solve(problem, "cpsat", deterministic=True)
assert started == []
_cpsat.Ahead.start = classmethod(counted)
_cpsat.AHEAD_FROM_EDGES = 0
ahead = solve(problem, "cpsat", deterministic=True)
assert started == [True], started
assert os.getpid() == parent
assert np.array_equal(alone.chosen, ahead.chosen)
assert alone.objective == ahead.objective and alone.status == ahead.status
print("same")
"""


def assert_same_in_a_fresh_process(script: str) -> None:
    """Run `script` in a fresh interpreter (no pytest-xdist threads: forks are allowed
    there) and check that it ends well and prints "same"; skipped on one core, where
    nothing is forked."""
    if cores() < 2:
        pytest.skip("nothing is forked on one core")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "same"


def test_work_started_ahead_gives_the_same_answers_as_work_done_here() -> None:
    assert_same_in_a_fresh_process(_IN_A_FRESH_PROCESS)


def test_nothing_is_forked_from_a_process_with_threads() -> None:
    if threading.active_count() == 1:
        assert can_fork() is hasattr(__import__("os"), "fork")
        return
    assert not can_fork()
    assert Ahead.start(lambda: np.zeros(3, dtype=np.int64)) is None


def test_the_second_relaxation_drops_exactly_the_together_level() -> None:
    """In either order of the levels (groups together right after placed, or after the
    tiers), only the together level goes; an earlier version dropped tier 1 in the second."""
    m = Matcher(tiny(3, 40, 30, 3, siblings=0.5))
    for order in (AFTER_PLACED, AFTER_TIERS):
        problem = build_problem(m, m.units, AS_OF, together_after=order)
        assert problem.together_scale > 1
        levels = objective_levels(problem)
        second = _SecondRelaxation.plan(problem)
        assert second is not None and second.ahead is None  # small: nothing forked
        kept = [next(k for k, level in enumerate(levels) if level is s) for s in second.levels]
        dropped = set(range(len(levels))) - set(kept)
        assert len(dropped) == 1
        together = levels[dropped.pop()]
        size = problem.size[problem.e_unit]
        assert np.array_equal(together, -np.where(size > 1, problem.together_scale // size, 0)), (
            order
        )


def test_no_second_relaxation_without_groups() -> None:
    m = Matcher(tiny(5, 30, 20, 2, siblings=0.0))
    problem = build_problem(m, m.units, AS_OF)
    assert problem.together_scale == 1
    assert _SecondRelaxation.plan(problem) is None
