"""Rankings kept per data version (`Service.rank`): the same child asked again while nothing
changed gets the same ranking, every read is still audited, and any change of places or
options is seen by the very next request."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from api.db.orm import AuditEntry
from api.services.runtime import RANKINGS_KEPT_ENV, RANKINGS_TOP_KEPT, Service, _Rankings
from matcher.rank import Matcher
from tests.api.conftest import Env


def _single_in_751(env: Env) -> str:
    return next(
        c.child_id for c in env.dataset.children if c.kommune_code == "751" and not c.sibling_group
    )


def _proposals(env: Env, child_id: str, **body: object) -> dict:
    answer = env.client.post(
        f"/v1/children/{child_id}/proposals", json=body, headers=env.auth("coordinator")
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _reads(env: Env, child_id: str) -> int:
    with sessionmaker(env.engine)() as s:
        query = select(func.count()).where(
            AuditEntry.child_id == child_id, AuditEntry.action == "child.proposals"
        )
        return int(s.scalar(query) or 0)


@pytest.fixture
def ranked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The children the matcher actually ranks, in order."""
    calls: list[str] = []
    real = Matcher.rank

    def counting(self: Matcher, child_id: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(child_id)
        return real(self, child_id, *args, **kwargs)

    monkeypatch.setattr(Matcher, "rank", counting)
    return calls


def test_the_same_child_asked_twice_is_ranked_once_and_audited_twice(
    env: Env, ranked: list[str]
) -> None:
    cid = _single_in_751(env)
    first = _proposals(env, cid, top=5)
    assert _proposals(env, cid, top=5) == first
    assert ranked == [cid]  # given again, not ranked again
    assert _reads(env, cid) == 2
    _proposals(env, cid, top=6)  # another question is another ranking
    assert ranked == [cid, cid]


def test_long_lists_are_ranked_every_time(env: Env, ranked: list[str]) -> None:
    cid = _single_in_751(env)
    top = RANKINGS_TOP_KEPT + 1
    assert _proposals(env, cid, top=top) == _proposals(env, cid, top=top)
    assert ranked == [cid, cid]


def test_a_paused_family_is_gone_from_the_next_ranking_and_back_after(
    env: Env, ranked: list[str]
) -> None:
    cid = _single_in_751(env)
    before = _proposals(env, cid, top=50)["proposals"]
    family = next(p["option_id"] for p in before if p["kind"] == "foster")

    def pause(paused: bool) -> None:
        answer = env.client.patch(
            f"/v1/families/{family}/capacity",
            json={"paused": paused},
            headers=env.auth("consultant"),
        )
        assert answer.status_code == 200, answer.text

    pause(True)
    assert family not in {p["option_id"] for p in _proposals(env, cid, top=50)["proposals"]}
    pause(False)
    assert _proposals(env, cid, top=50)["proposals"] == before
    assert ranked == [cid, cid, cid]  # each change made the next request rank afresh


def test_why_not_rankings_are_not_kept(env: Env, ranked: list[str]) -> None:
    cid = _single_in_751(env)
    full = _proposals(env, cid, top=3, why_not=True)
    assert full["excluded_options"]
    assert _proposals(env, cid, top=3, why_not=True) == full
    assert ranked == [cid, cid]


def test_the_rankings_kept_are_the_most_recently_asked() -> None:
    kept = _Rankings(kept=2)
    a, b, c = (object() for _ in range(3))
    day = date(2026, 11, 29)
    kept.put(("a", 10, day), a)  # type: ignore[arg-type]
    kept.put(("b", 10, day), b)  # type: ignore[arg-type]
    assert kept.get(("a", 10, day)) is a  # asked again: now the most recent
    kept.put(("c", 10, day), c)  # type: ignore[arg-type]
    assert len(kept) == 2
    assert kept.get(("b", 10, day)) is None
    assert kept.get(("a", 10, day)) is a and kept.get(("c", 10, day)) is c


def test_none_are_kept_when_the_setting_says_0(
    env: Env, ranked: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(RANKINGS_KEPT_ENV, "0")
    # The setting is read when a matcher is built (the server builds one as it starts): a
    # change of the structure counter has the next request build one under it.
    with sessionmaker(env.engine).begin() as session:
        Service.bump(session, "structure")
    cid = _single_in_751(env)
    first = _proposals(env, cid, top=5)
    assert _proposals(env, cid, top=5) == first
    assert ranked == [cid, cid]


def test_the_shared_matcher_is_refreshed_from_committed_data_only(env: Env) -> None:
    """A writing use case's session may hold counter bumps not committed. A stale matcher
    is refreshed from committed data, never from that session: after its rollback nothing
    of its change remains in the matcher or in the rankings kept with it."""
    from api.db.orm import CapacityPool

    service = env.service
    shared = service.matcher()
    pool = shared.pools.pool_id[0]
    before = int(shared.pools.occupied[0])

    def occupy(s: Any, occupied: int) -> None:
        s.get_one(CapacityPool, pool).occupied = occupied
        Service.bump(s, "capacity")
        s.flush()

    with sessionmaker(env.engine).begin() as s:  # committed: the matcher is now stale
        occupy(s, before + 1)
    with sessionmaker(env.engine)() as s:
        occupy(s, before + 2)  # not committed
        assert int(service.matcher(s).pools.occupied[0]) == before + 1
        s.rollback()
    assert int(service.matcher().pools.occupied[0]) == before + 1
