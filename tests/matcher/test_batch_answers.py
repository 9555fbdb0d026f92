"""The groups' proof's answers (`matcher.batch._answers`): work done in forked children is
the work done here, and the cut halfway between two placements holds."""

from __future__ import annotations

import itertools

import numpy as np

from matcher.batch._proof import GroupProof, _Cut
from tests.matcher.test_batch_ahead import assert_same_in_a_fresh_process
from tests.matcher.test_batch_proof import _problem, _small, proof_script


def _group_placements(problem, proof: GroupProof) -> list[np.ndarray]:
    """Every placement of the groups (an edge or -1 per group unit) that fits the places."""
    options = [
        [*proof.group_edges[problem.e_unit[proof.group_edges] == unit].tolist(), -1]
        for unit in proof.group_units.tolist()
    ]
    out = []
    for choice in itertools.product(*options):
        groups = np.array(choice, dtype=np.int64)
        if (proof.places_taken(groups) <= problem.pool_free).all():
            out.append(groups)
    return out


def test_a_cut_halfway_holds_wherever_its_count_part_is_exact() -> None:
    """Priced halfway between two placements of the groups, the singles' count cut is below
    their count at every placement, and where it meets it, each score cut (its base
    rounded up) is below their score there: what the score level may assume of a cut
    halfway with a proven cut's count prices."""
    checked = 0  # placements where the count cut is exact: the score cuts checked there
    for seed in range(40):
        problem = _problem(seed, 8, 5, siblings=0.6)
        proof = GroupProof.of(problem)
        if proof is None or not _small(problem) or not proof.singles.n_edges:
            continue
        placements = _group_placements(problem, proof)
        rng = np.random.default_rng(seed)
        a, b = (placements[int(k)] for k in rng.integers(0, len(placements), 2))
        halfway = proof.mid_prices(a, b)
        lost = proof.places_taken(a) + proof.places_taken(b)
        stand_in = _Cut(halfway.count_price, 0, [], [], [])  # a proven cut, same count prices
        cut = proof.mid_cut(a, b, halfway, [stand_in])
        assert cut is not None and len(cut.score_cuts) == 2  # the largest and least prices
        for groups in placements:
            singles = proof.singles_at(groups)
            lost_there = 2 * proof.places_taken(groups) - lost
            count_cut = halfway.count + int(halfway.count_price @ lost_there)
            assert 2 * singles.count >= count_cut, seed
            if 2 * singles.count == count_cut:
                checked += 1
                on = np.isin(proof.group_edges, groups).astype(np.int64)
                for base, price in cut.score_cuts:
                    assert singles.score >= base + int(price @ on), seed
    assert checked >= 20


_POLISHED_AHEAD = proof_script(
    17,
    """
here_clock = Clock(None, deterministic=True)
here = plan.polish(start, here_clock, 1, 0)
assert not np.array_equal(here, start)  # the polish moves a group: the case this is about
clock = Clock(None, deterministic=True)
answers = _answers.Answers(plan, start)
answers.start_polish(clock, 1, 0, ahead=True)
assert answers._polishing is not None and answers._polishing.child is not None
answers.finish_polish(clock, 1, 0)
assert np.array_equal(answers.best, here)
assert clock.spent == here_clock.spent > 0  # the child's CP-SAT time charged here
print("same")
""",
)


def test_the_best_answer_polished_in_a_child_is_polished_as_here() -> None:
    """While the score level's placement is priced, the best answer so far is polished in a
    forked child: the very polish worked out here, its CP-SAT time charged to the clock here
    (`--deterministic` counts it)."""
    assert_same_in_a_fresh_process(_POLISHED_AHEAD)


_WITH_OR_WITHOUT_CHILDREN = """
import os
import numpy as np
from matcher.batch import build_problem, solve_greedy
from matcher.batch import _ahead, _proof
from matcher.batch._solution import Clock
from matcher.rank import Matcher
from tests.factories import AS_OF
from tests.matcher.test_batch import tiny

os.environ.pop("PLACEMENT_EDGE_WORKERS", None)
assert _ahead.may_fork()
forks = {None: 0, "1": 0}
fork = _ahead.Forked.fork.__func__
phase = [None]


def counted(cls, job):
    forks[phase[0]] += 1
    return fork(cls, job)


_ahead.Forked.fork = classmethod(counted)
halfway = 0
for seed in (17, 25, 11):
    m = Matcher(tiny(seed, 60, 40, 4, siblings=0.5))
    problem = build_problem(m, m.units, AS_OF)
    plan = _proof.GroupProof.of(problem)
    assert plan is not None
    start = solve_greedy(problem).chosen.copy()
    start[np.random.default_rng(seed).random(problem.n_units) < 0.3] = -1
    for limit in (None, 20.0):
        found = []
        for workers_env in (None, "1"):  # children forked, then none
            phase[0] = workers_env
            if workers_env is None:
                os.environ.pop("PLACEMENT_EDGE_WORKERS", None)
            else:
                os.environ["PLACEMENT_EDGE_WORKERS"] = workers_env
            clock = Clock(limit, deterministic=True)
            best, bound, notes = _proof.group_bound(plan, start, clock, 1, 0)
            found.append((best, None if bound is None else bound.key(), notes, clock.spent))
        (a, ka, na, sa), (b, kb, nb, sb) = found
        assert np.array_equal(a, b) and ka == kb and na == nb and sa == sb, (seed, limit, na, nb)
        halfway += any("halfway" in n for n in na)
assert forks[None] > 0 and forks["1"] == 0, forks  # children did the work, then none
assert halfway > 0  # and cut halfway
try:  # every child reaped
    os.waitpid(-1, os.WNOHANG)
    raise SystemExit("a child left behind")
except ChildProcessError:
    pass
print("same")
"""


def test_the_proof_gives_the_same_with_or_without_children() -> None:
    """With CP-SAT's deterministic time, the groups' proof gives the same answer, bound,
    notes and time spent whether its pricings halfway and polishes run in forked children
    or here (`PLACEMENT_EDGE_WORKERS=1`), with a time limit and without; and it leaves no
    child behind."""
    assert_same_in_a_fresh_process(_WITH_OR_WITHOUT_CHILDREN)
