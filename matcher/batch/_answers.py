"""The groups' proof's answers: the singles' flow around each placement of the groups, priced
(`Singles`), and the best packing seen so far, polished (`Answers`).

Three pieces of work can go ahead in forked children while this process does something it
must do anyway: the pricing of a placement that may be needed later (while the score level
is solved), and, while a placement is priced here, the pricing halfway between two
placements (`GroupProof.mid_prices`, the next round's cut) or the polish of the best
answer. Each is the work this process would do itself (the same deterministic code on a
copy of the same memory), and each result is taken at the point it would be worked out
here, where nothing can be forked (a worker of a process pool, `PLACEMENT_EDGE_WORKERS=1`):
the answer must not depend on whether a child could be forked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from matcher.batch._ahead import Forked, may_fork
from matcher.batch._groups import PROOF_STAGE_SECONDS
from matcher.batch._problem import Objective, objective_of
from matcher.batch._solution import Clock
from matcher.tables import IntArray

if TYPE_CHECKING:
    from matcher.batch._proof import GroupProof

__all__ = ["Answers", "Singles"]


@dataclass(frozen=True)
class Singles:
    """The singles' lexicographic optimum (count levels merged, then score) on the places
    a group placement leaves, with each stage's price per place of every pool."""

    flows: npt.NDArray[np.int8]  # children per edge of the singles' problem: 0-1 (0-2 halfway)
    count: int
    score: int
    count_price: IntArray  # per pool of the whole problem
    score_prices: list[IntArray]  # the largest and the least, per pool

    ARRAYS = 5  # how many `arrays` gives: fewer from a child means it was cut short

    def arrays(self) -> list[np.ndarray]:
        """As arrays, for a forked child to send (`of_arrays` reads them back)."""
        values = np.array([self.count, self.score], dtype=np.int64)
        return [self.flows, values, self.count_price, *self.score_prices]

    @classmethod
    def of_arrays(cls, found: list[np.ndarray]) -> Singles:
        flows, values, count_price, *score_prices = found
        return cls(flows, int(values[0]), int(values[1]), count_price, score_prices)


@dataclass
class _Polishing:
    """A polish under way: the answer it starts from, and the child working it out."""

    chosen: IntArray
    child: Forked | None  # None: worked out here when it is finished
    spent: list[float]  # each clock's CP-SAT time spent when it started (`Clock.chain`)


class Answers:
    """The best answer so far, and the singles' flow around each placement of the groups
    priced so far (each packing weighed as an answer). A placement whose pricing may be
    needed later can be priced `ahead` in a forked child, and the best answer polished in
    one (`start_polish`, `finish_polish`), or the singles priced halfway between two
    placements (`mid_ahead`, `mid_of`)."""

    def __init__(self, plan: GroupProof, chosen: IntArray) -> None:
        self.plan = plan
        self.best = chosen
        self._seen: dict[bytes, Singles] = {}
        self._ahead: dict[bytes, Forked] = {}
        self._by_score: set[bytes] = set()  # the score level's placements of the groups
        self._polished: set[bytes] = set()  # answers polished, and what their polish gave
        self._moved: dict[bytes, float] = {}  # a polish's better answer: the score it had
        self._polishing: _Polishing | None = None
        self._halfway: dict[bytes, Forked] = {}  # `mid_prices` under way in a child
        self._wait = 10.0  # seconds a child may take: twice a pricing here, and then some

    def objective(self) -> Objective:
        return objective_of(self.plan.problem, self.best)

    def offer(self, candidate: IntArray) -> None:
        problem = self.plan.problem
        if objective_of(problem, candidate).key() > objective_of(problem, self.best).key():
            self.best = candidate

    def evaluate(self, groups: IntArray) -> Singles:
        """The singles' flow around `groups`, priced; the packing becomes the answer if
        better."""
        key = groups.tobytes()
        if key not in self._seen:
            child = self._ahead.pop(key, None)
            found = None if child is None else child.arrays(self._wait)
            if found is not None and len(found) == Singles.ARRAYS:
                self._seen[key] = Singles.of_arrays(found)
            else:
                started = time.perf_counter()
                self._seen[key] = self.plan.singles_at(groups)
                self._wait = 2 * (time.perf_counter() - started) + 10.0
            self.offer(self.plan.packing(groups, self._seen[key].flows))
        return self._seen[key]

    def placed_by_score(self, groups: IntArray) -> None:
        """Note `groups` as a placement the score level found."""
        self._by_score.add(groups.tobytes())

    def best_placed_by_score(self) -> bool:
        """Whether the best answer's groups are where a score level placed them."""
        return self.best[self.plan.group_units].tobytes() in self._by_score

    def ahead(self, groups: IntArray) -> None:
        """Start pricing `groups` in a child, where that is safe and a core is free."""
        key = groups.tobytes()
        if key in self._seen or key in self._ahead or not may_fork():
            return
        child = Forked.fork(partial(_priced_arrays, self.plan, groups))
        if child is not None:
            self._ahead[key] = child

    def count_of(self, groups: IntArray | None) -> int:
        """The merged count cost of the answer, or of `groups` with the singles' flow
        around them (weighed as an answer on the way)."""
        if groups is None:
            return self.plan.merged_count(self.best)
        return self.plan.merged_count(self.plan.packing(groups, self.evaluate(groups).flows))

    def mid_ahead(self, a: IntArray, b: IntArray) -> None:
        """Start pricing halfway between placements `a` and `b` in a child, where that is
        safe and a core is free (`mid_of` works it out here otherwise)."""
        key = a.tobytes() + b.tobytes()
        if key in self._halfway or not may_fork():
            return
        child = Forked.fork(partial(_halfway_arrays, self.plan, a, b))
        if child is not None:
            self._halfway[key] = child

    def mid_of(self, a: IntArray, b: IntArray) -> Singles:
        """The singles priced halfway between `a` and `b` (`GroupProof.mid_prices`)."""
        child = self._halfway.pop(a.tobytes() + b.tobytes(), None)
        found = None if child is None else child.arrays(self._wait)
        if found is not None and len(found) == Singles.ARRAYS:
            return Singles.of_arrays(found)
        return self.plan.mid_prices(a, b)

    def start_polish(self, clock: Clock, workers: int, seed: int, ahead: bool) -> None:
        """Start polishing the best answer (`GroupProof.polish`), unless it is polished or
        its polish gave it: with `ahead`, in a child where one can be forked, else here.
        `finish_polish` offers the result, in either case at the same point."""
        key = self.best.tobytes()
        if self._polishing is not None or key in self._polished or clock.expired():
            return
        self._polished.add(key)
        chosen = self.best
        spent = [each.spent for each in clock.chain()]
        child = None
        if ahead and may_fork():
            job = partial(_polished_arrays, self.plan, chosen, clock, workers, seed)
            child = Forked.fork(job)
        self._polishing = _Polishing(chosen, child, spent)

    def finish_polish(self, clock: Clock, workers: int, seed: int) -> None:
        """Offer the polish under way, if any: the child's, else worked out here now
        (where a polish here would charge the clocks: the same point either way)."""
        polishing = self._polishing
        if polishing is None:
            return
        found = None
        if polishing.child is not None:
            left = clock.remaining()
            stage = PROOF_STAGE_SECONDS if left is None else min(left, PROOF_STAGE_SECONDS)
            found = polishing.child.arrays(2 * stage + 10.0)  # reaps the child, always
        self._polishing = None
        if found is not None and len(found) == 2:
            polished, spent = found
            # The CP-SAT time the child's clocks were charged, charged here: what a polish
            # here would have left on them (`--deterministic` counts it).
            for each, then, after in zip(clock.chain(), polishing.spent, spent, strict=True):
                each.spent = float(after) + (each.spent - then)
        else:
            polished = self.plan.polish(polishing.chosen, clock, workers, seed)
        key = polished.tobytes()
        self._polished.add(key)
        if polished is not polishing.chosen and key != polishing.chosen.tobytes():
            self._moved[key] = objective_of(self.plan.problem, polishing.chosen).score
        self.offer(polished)

    def polish_note(self) -> list[str]:
        """A note on the polish, where the answer is a polish's."""
        before = self._moved.get(self.best.tobytes())
        if before is None:
            return []
        return [
            f"groups moved at the same counts: score {before:.2f} -> {self.objective().score:.2f}"
        ]

    def stop_halfway(self) -> None:
        """Stop and reap every child still pricing halfway."""
        for child in self._halfway.values():
            child.cancel()
        self._halfway.clear()

    def stop_all(self) -> None:
        """Stop and reap every child: pricing, polishing, or pricing halfway."""
        self.stop_ahead()
        self.stop_halfway()

    def stop_ahead(self) -> None:
        """Stop and reap every child still pricing a placement or polishing."""
        for child in self._ahead.values():
            child.cancel()
        self._ahead.clear()
        if self._polishing is not None and self._polishing.child is not None:
            self._polishing.child.cancel()
        self._polishing = None


def _priced_arrays(plan: GroupProof, groups: IntArray) -> list[np.ndarray]:
    return plan.singles_at(groups).arrays()


def _halfway_arrays(plan: GroupProof, a: IntArray, b: IntArray) -> list[np.ndarray]:
    return plan.mid_prices(a, b).arrays()


def _polished_arrays(
    plan: GroupProof, chosen: IntArray, clock: Clock, workers: int, seed: int
) -> list[np.ndarray]:
    polished = plan.polish(chosen, clock, workers, seed)
    return [polished, np.array([each.spent for each in clock.chain()], dtype=np.float64)]
