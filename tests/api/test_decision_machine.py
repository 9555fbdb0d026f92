"""A stateful property test of the use cases: random sequences of holds, confirmations,
releases, expiries, endings, moves, capacity patches and re-imports, from keys of two
kommuner, keep the service's invariants after every step:

- occupied + reserved <= places in every capacity pool, and reserved is exactly the places
  of the live holds;
- at most one live hold and one active placement per child;
- every placement's child and option exist;
- audit rows only grow."""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.db.engine import session_scope
from api.db.orm import (
    AuditEntry,
    CapacityPool,
    ChildRow,
    FamilyRow,
    InstitutionRow,
    LiveHold,
    NetworkRow,
    PlacementRow,
    Reservation,
)
from api.services import data, holds, options, placements
from api.services.caller import Principal, Role
from api.services.errors import DomainError
from api.services.inputs import CapacityPatch, PlacementEnd, PlacementMove, ReservationCreate
from api.services.runtime import Service
from geo.gazetteer import Gazetteer, default_gazetteer
from matcher.rank import UnknownChild
from models.dataset import Dataset
from models.enums import EndReason, Kind
from models.synthetic import SyntheticSpec, generate_dataset
from tests.api.conftest import KOMMUNER, PG_ENV, fresh_engine, load

COORDINATORS = {
    k: Principal(100 + n, Role.COORDINATOR, frozenset({k})) for n, k in enumerate(KOMMUNER)
}
CONSULTANT = Principal(200, Role.CONSULTANT, frozenset(KOMMUNER))


@cache
def _world() -> tuple[Gazetteer, Dataset]:
    gazetteer = default_gazetteer()
    schools = gazetteer.schools.frame
    schools = schools[schools["kommune_code"].isin(KOMMUNER)]
    # Few places, so that holds compete and capacity runs out.
    return gazetteer, generate_dataset(SyntheticSpec(16, 10, 2, seed=11), schools)


class DecisionMachine(RuleBasedStateMachine):
    backend = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self.gazetteer, self.dataset = _world()
        self.tmp = tempfile.TemporaryDirectory()
        self.engine = fresh_engine(self.backend, Path(self.tmp.name))
        load(self.engine, self.dataset)
        self.service = Service(self.engine, self.gazetteer)
        self.audit_rows = 0
        self.children = [c.child_id for c in self.dataset.children]
        self.option_ids = sorted(self.dataset.option_ids())

    def teardown(self) -> None:
        self.service.close()
        self.engine.dispose()
        self.tmp.cleanup()

    # -- helpers ---------------------------------------------------------------------------
    def _do(self, name: str, step: object) -> None:
        """Run a use case in its own transaction; a refusal is a valid outcome (counted in
        `--hypothesis-show-statistics`, so that a run of refusals only shows)."""
        try:
            with session_scope(self.service.sessions) as session:
                step(session)  # type: ignore[operator]
            event(f"{name}: done")
        except DomainError as exc:
            event(f"{name}: {exc.reason or type(exc).__name__}")

    def _kommune_of(self, session: Session, child_id: str) -> Principal:
        child = session.get(ChildRow, child_id)
        return COORDINATORS[child.kommune_code if child else KOMMUNER[0]]

    def _choices(self, session: Session, child_id: str, n: int) -> list[tuple[str, str | None]]:
        """Options ranked for the child, or any option (a child gone from the files has no
        ranking; the use case must refuse it)."""
        try:
            ranking = self.service.matcher(session).rank(child_id, top=6, as_of=date.today())
            ranked: list[tuple[str, str | None]] = [
                (p.option_id, p.kind) for p in ranking.proposals
            ]
        except UnknownChild:
            ranked = []
        return ranked or [(self.option_ids[n % len(self.option_ids)], None)]

    def _pick(self, session: Session, query: object, n: int) -> object | None:
        rows = list(session.scalars(query))  # type: ignore[call-overload]
        return rows[n % len(rows)] if rows else None

    # -- steps -----------------------------------------------------------------------------
    @rule(child=st.integers(0, 99), pick=st.integers(0, 99), own=st.booleans())
    def hold(self, child: int, pick: int, own: bool) -> None:
        cid = self.children[child % len(self.children)]

        def step(session: Session) -> None:
            choices = self._choices(session, cid, pick)
            option_id, kind = choices[pick % len(choices)]
            who = self._kommune_of(session, cid)
            if not own:  # a key of the other kommune: refused as if the child did not exist
                who = next(p for k, p in COORDINATORS.items() if p is not who)
            body = ReservationCreate(child_id=cid, option_id=option_id, kind=kind)
            holds.create_hold(session, self.service, who, body)

        self._do("hold", step)

    @rule(pick=st.integers(0, 99))
    def confirm(self, pick: int) -> None:
        def step(session: Session) -> None:
            hold = self._pick(session, select(Reservation).order_by(Reservation.id), pick)
            if isinstance(hold, Reservation):
                who = COORDINATORS[hold.kommune_code]
                holds.confirm_hold(session, self.service, who, hold.id)

        self._do("confirm", step)

    @rule(pick=st.integers(0, 99))
    def release(self, pick: int) -> None:
        def step(session: Session) -> None:
            hold = self._pick(session, select(Reservation).order_by(Reservation.id), pick)
            if isinstance(hold, Reservation):
                holds.release_hold(session, self.service, COORDINATORS[hold.kommune_code], hold.id)

        self._do("release", step)

    @rule(pick=st.integers(0, 99))
    def expire(self, pick: int) -> None:
        def step(session: Session) -> None:
            query = select(Reservation).where(Reservation.status == "held").order_by(Reservation.id)
            hold = self._pick(session, query, pick)
            if isinstance(hold, Reservation):
                session.execute(
                    update(Reservation)
                    .where(Reservation.id == hold.id)
                    .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
                )
                self.service.expire_holds(session)

        self._do("expire", step)

    @rule(pick=st.integers(0, 99), reason=st.sampled_from(list(EndReason)))
    def end(self, pick: int, reason: EndReason) -> None:
        def step(session: Session) -> None:
            query = select(PlacementRow).where(PlacementRow.status == "active")
            row = self._pick(session, query.order_by(PlacementRow.id), pick)
            if isinstance(row, PlacementRow):
                who = self._kommune_of(session, row.child_id)
                body = PlacementEnd(end_reason=reason)
                placements.end_placement(session, self.service, who, row.id, body)

        self._do("end", step)

    @rule(pick=st.integers(0, 99), dest=st.integers(0, 99))
    def move(self, pick: int, dest: int) -> None:
        def step(session: Session) -> None:
            query = select(PlacementRow).where(PlacementRow.status == "active")
            row = self._pick(session, query.order_by(PlacementRow.id), pick)
            if isinstance(row, PlacementRow):
                choices = self._choices(session, row.child_id, dest)
                option_id, kind = choices[dest % len(choices)]
                body = PlacementMove(
                    option_id=option_id,
                    kind=Kind(kind) if kind else None,
                    end_reason=EndReason.STEP_DOWN if dest % 2 else EndReason.MOVED,
                )
                who = self._kommune_of(session, row.child_id)
                placements.move_placement(session, self.service, who, row.id, body)

        self._do("move", step)

    @rule(pick=st.integers(0, 99), places=st.integers(0, 4))
    def patch_capacity(self, pick: int, places: int) -> None:
        family = self.dataset.families[pick % len(self.dataset.families)]

        def step(session: Session) -> None:
            options.patch_capacity(
                session, self.service, CONSULTANT, family.family_id, CapacityPatch(places=places)
            )

        self._do("patch_capacity", step)

    @rule(drop=st.integers(-1, 99))
    def reimport(self, drop: int) -> None:
        dataset = self.dataset
        if drop >= 0:  # the kommune's files without one child
            gone = self.children[drop % len(self.children)]
            dataset = replace(
                dataset,
                children=tuple(c for c in dataset.children if c.child_id != gone),
                network=tuple(p for p in dataset.network if p.child_id != gone),
                exclusions=tuple(e for e in dataset.exclusions if e.child_id != gone),
                keep_away=tuple(k for k in dataset.keep_away if k.child_id != gone),
            )
        self._do("reimport", lambda session: data.import_dataset(session, dataset))

    # -- invariants ------------------------------------------------------------------------
    @invariant()
    def capacity_is_never_overbooked(self) -> None:
        with sessionmaker(self.engine)() as s:
            held: dict[str, int] = {}
            for hold in s.scalars(select(Reservation).where(Reservation.status == "held")):
                held[hold.pool_id] = held.get(hold.pool_id, 0) + hold.places
            for pool in s.scalars(select(CapacityPool)):
                assert pool.occupied >= 0 and pool.reserved >= 0, pool.pool_id
                assert pool.occupied + pool.reserved <= pool.places, pool.pool_id
                assert pool.reserved == held.get(pool.pool_id, 0), pool.pool_id

    @invariant()
    def one_hold_and_one_placement_per_child(self) -> None:
        with sessionmaker(self.engine)() as s:
            live: list[str] = []
            for hold in s.scalars(select(Reservation).where(Reservation.status == "held")):
                live += hold.child_ids.split(";")
            assert len(live) == len(set(live))
            assert sorted(live) == sorted(s.scalars(select(LiveHold.child_id)))
            active = list(
                s.scalars(select(PlacementRow.child_id).where(PlacementRow.status == "active"))
            )
            assert len(active) == len(set(active))

    @invariant()
    def every_placement_has_its_child_and_option(self) -> None:
        with sessionmaker(self.engine)() as s:
            for p in s.scalars(select(PlacementRow)):
                assert s.get(ChildRow, p.child_id) is not None, p.child_id
                assert (
                    s.get(FamilyRow, p.option_id) is not None
                    or s.get(InstitutionRow, p.option_id) is not None
                    or s.scalars(
                        select(NetworkRow).where(NetworkRow.person_id == p.option_id)
                    ).first()
                    is not None
                ), p.option_id

    @invariant()
    def audit_rows_only_grow(self) -> None:
        with sessionmaker(self.engine)() as s:
            rows = int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0)
        assert rows >= self.audit_rows
        self.audit_rows = rows


_SETTINGS = settings(
    max_examples=int(os.environ.get("PLACEMENT_MACHINE_EXAMPLES", "25")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,  # the same sequences on every run: CI is reproducible
)

TestDecisionsOnSQLite = DecisionMachine.TestCase
TestDecisionsOnSQLite.settings = _SETTINGS


class PostgresMachine(DecisionMachine):
    backend = "postgresql"


TestDecisionsOnPostgreSQL = pytest.mark.skipif(
    not os.environ.get(PG_ENV), reason=f"{PG_ENV} is not set"
)(PostgresMachine.TestCase)
TestDecisionsOnPostgreSQL.settings = _SETTINGS
