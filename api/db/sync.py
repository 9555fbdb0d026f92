"""Import as a sync: the kommune's files are the source of children and options, the service
is the source of its holds, the placements it confirmed, moved and ended, its keys, sign-ins
and audit trail. A re-import inserts and updates the files' rows, removes rows gone from the
files, and never deletes a placement, a hold, an audit row, a key or a sign-in.

Rows of the source tables (children with their network, exclusions and keep-away, families,
institutions) are rewritten from the files: nothing durable refers to them by foreign key.
Capacity pools are updated in place, since holds refer to them and keep their `reserved`
places. Placements are merged by (child_id, option_id, start_date)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from api.db.mappers import (
    TRACKED,
    child_rows,
    family_rows,
    institution_rows,
    load_from_db,
    placement_from_row,
)
from api.db.orm import (
    CapacityPool,
    ChildRow,
    DataVersion,
    ExclusionRow,
    FamilyRow,
    InstitutionRow,
    KeepAwayRow,
    LiveHold,
    NetworkRow,
    PlacementRow,
    Reservation,
)
from models.capacity import combination_pool, occupancy_by_pool
from models.dataset import Dataset
from models.domain import Exclusion, KeepAway, Placement

__all__ = ["FileDiff", "ImportBlocked", "SyncReport", "sync_dataset"]


@dataclass(frozen=True)
class FileDiff:
    """What an import changes in one file's rows, by their ids."""

    file: str
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    # Of the removed, those kept as history because placements refer to them.
    retired: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "added": list(self.added),
            "changed": list(self.changed),
            "removed": list(self.removed),
            "retired": list(self.retired),
        }


@dataclass(frozen=True)
class SyncReport:
    diffs: tuple[FileDiff, ...]
    kept_placements: int  # in the database, not in the file: the service's own
    warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": [d.as_dict() for d in self.diffs],
            "kept_placements": self.kept_placements,
            "warnings": list(self.warnings),
        }


class ImportBlocked(Exception):
    """Rows of the files that would lose a live decision; nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} row(s) block the import")
        self.problems = problems


def _key_text(key: Hashable) -> str:
    return " ".join(str(k) for k in key) if isinstance(key, tuple) else str(key)


def _diff(file: str, old: Iterable[Any], new: Iterable[Any], key: Callable[[Any], Any]) -> FileDiff:
    before = {key(r): r for r in old}
    after = {key(r): r for r in new}
    return FileDiff(
        file,
        tuple(_key_text(k) for k in after if k not in before),
        tuple(_key_text(k) for k in after if k in before and before[k] != after[k]),
        tuple(_key_text(k) for k in before if k not in after),
    )


def _keep_key(k: KeepAway) -> tuple[str, float, float]:
    return (k.child_id, k.place.lat, k.place.lon)


def _exclusion_key(e: Exclusion) -> tuple[str, str]:
    return (e.child_id, e.option_id)


def _placement_key(p: Placement | PlacementRow) -> tuple[str, str, str]:
    return (p.child_id, p.option_id, p.start_date.isoformat())


@dataclass
class _Sync:
    session: Session
    dataset: Dataset
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    # -- what stands in the way -------------------------------------------------------------
    def live_children(self) -> dict[str, str]:
        """child_id → what it has: a live hold or an active placement."""
        live = {
            c: f"a live hold ({r})"
            for c, r in self.session.execute(select(LiveHold.child_id, LiveHold.reservation_id))
        }
        for c, o in self.session.execute(
            select(PlacementRow.child_id, PlacementRow.option_id).where(
                PlacementRow.status == "active"
            )
        ):
            live.setdefault(c, f"an active placement at {o}")
        return live

    def live_options(self) -> dict[str, str]:
        live = {
            o: f"a live hold ({r})"
            for o, r in self.session.execute(
                select(Reservation.option_id, Reservation.id).where(Reservation.status == "held")
            )
        }
        for o, c in self.session.execute(
            select(PlacementRow.option_id, PlacementRow.child_id).where(
                PlacementRow.status == "active"
            )
        ):
            live.setdefault(o, f"an active placement of {c}")
        return live

    def check_removals(self, old: Dataset, diffs: dict[str, FileDiff]) -> None:
        children = self.live_children()
        for cid in diffs["children.csv"].removed:
            if cid in children:
                self.problems.append(
                    f"children.csv: child {cid} is missing from the file but has "
                    f"{children[cid]}; end or release it first, or keep the row"
                )
        options = self.live_options()
        removed_people = {p.person_id for p in old.network} - {
            p.person_id for p in self.dataset.network
        }
        for file, removed in (
            ("families.csv", diffs["families.csv"].removed),
            ("institutions.csv", diffs["institutions.csv"].removed),
            ("network.csv", tuple(sorted(removed_people))),
        ):
            for oid in removed:
                if oid in options:
                    self.problems.append(
                        f"{file}: {oid} is missing from the file but has {options[oid]}; "
                        "end or release it first, or keep the row"
                    )

    # -- writing ----------------------------------------------------------------------------
    def rewrite_sources(self) -> dict[str, tuple[str, ...]]:
        """Rewrite the source rows from the files. A row gone from the files that placements
        refer to is retired instead of deleted (kept for that history, out of matching);
        returns the retired ids per file."""
        session, ds = self.session, self.dataset
        session.expunge_all()
        history_children = set(session.scalars(select(PlacementRow.child_id).distinct()))
        history_options = set(session.scalars(select(PlacementRow.option_id).distinct()))
        today = datetime.now(UTC).date()
        kept_children = self._retire(
            ChildRow, ChildRow.child_id, {c.child_id for c in ds.children}, history_children, today
        )
        kept_families = self._retire(
            FamilyRow,
            FamilyRow.family_id,
            {f.family_id for f in ds.families},
            history_options,
            today,
        )
        kept_institutions = self._retire(
            InstitutionRow,
            InstitutionRow.institution_id,
            {i.institution_id for i in ds.institutions},
            history_options,
            today,
        )
        people = {(p.person_id, p.child_id) for p in ds.network}
        kept_network: list[str] = []
        for row in session.scalars(select(NetworkRow)):
            if (row.person_id, row.child_id) in people:
                session.delete(row)
            elif row.child_id in kept_children or row.person_id in history_options:
                row.retired_on = row.retired_on or today
                kept_network.append(f"{row.person_id} {row.child_id}")
            else:
                session.delete(row)
        for table in (KeepAwayRow, ExclusionRow):
            session.execute(delete(table).where(table.child_id.not_in(kept_children)))
        session.flush()
        excl: dict[str, list[Exclusion]] = {}
        for e in ds.exclusions:
            excl.setdefault(e.child_id, []).append(e)
        keep: dict[str, list[KeepAway]] = {}
        for k in ds.keep_away:
            keep.setdefault(k.child_id, []).append(k)
        net_pos = {(p.person_id, p.child_id): n for n, p in enumerate(ds.network)}
        for n, c in enumerate(ds.children):
            session.add_all(
                child_rows(
                    c,
                    ds.network_by_child.get(c.child_id, ()),
                    excl.get(c.child_id, []),
                    keep.get(c.child_id, []),
                    n,
                    net_pos,
                )
            )
        for n, f in enumerate(ds.families):
            session.add(family_rows(f, n)[0])
        for n, i in enumerate(ds.institutions):
            session.add(institution_rows(i, n)[0])
        session.flush()
        return {
            "children.csv": tuple(sorted(kept_children)),
            "network.csv": tuple(kept_network),
            "families.csv": tuple(sorted(kept_families)),
            "institutions.csv": tuple(sorted(kept_institutions)),
        }

    def _retire(
        self, table: Any, key: Any, in_files: set[str], history: set[str], today: date
    ) -> set[str]:
        """Delete the table's rows (the files' rows are inserted anew), except those gone
        from the files that placements refer to: those are retired. Their ids."""
        kept: set[str] = set()
        for row_id, retired in self.session.execute(select(key, table.retired_on)):
            if row_id not in in_files and row_id in history:
                kept.add(row_id)
                if retired is None:
                    self.session.execute(
                        update(table).where(key == row_id).values(retired_on=today)
                    )
        self.session.execute(delete(table).where(key.not_in(kept)))
        return kept

    def merge_placements(self) -> int:
        """Insert the file's new placements and apply the endings it records; the service's
        own placements stay. Returns how many database placements the file does not list."""
        session = self.session
        rows = {_placement_key(r): r for r in session.scalars(select(PlacementRow))}
        active = {r.child_id: r for r in rows.values() if r.status == "active"}
        held = dict(session.execute(select(LiveHold.child_id, LiveHold.reservation_id)).all())
        listed: set[tuple[str, str, str]] = set()
        ordered = sorted(enumerate(self.dataset.placements), key=lambda np: np[1].active)
        for n, p in ordered:  # endings first, so that a move recorded in the file applies
            row_no, key = n + 2, _placement_key(p)
            listed.add(key)
            row = rows.get(key)
            if row is not None:
                self._update(row, p, row_no)
                if row.status != "active" and active.get(row.child_id) is row:
                    del active[row.child_id]
                continue
            if p.active and p.child_id in active:
                current = active[p.child_id]
                self.problems.append(
                    f"placements.csv row {row_no}: child {p.child_id} already has an active "
                    f"placement at {current.option_id} since {current.start_date}; the file "
                    f"starts another at {p.option_id} (end one of them first)"
                )
                continue
            if p.active and p.child_id in held:
                self.problems.append(
                    f"placements.csv row {row_no}: child {p.child_id} has a live hold "
                    f"({held[p.child_id]}); confirm or release it first"
                )
                continue
            new = PlacementRow(
                child_id=p.child_id,
                option_id=p.option_id,
                kind=p.kind.value,
                start_date=p.start_date,
                status=p.status.value,
                end_date=p.end_date,
                end_reason=p.end_reason,
                last_follow_up=p.last_follow_up,
            )
            session.add(new)
            if p.active:
                active[p.child_id] = new
        session.flush()
        return sum(1 for k in rows if k not in listed)

    def _update(self, row: PlacementRow, p: Placement, row_no: int) -> None:
        if row.status == "ended" and p.active:
            self.warnings.append(
                f"placements.csv row {row_no}: {p.child_id} at {p.option_id} ended in the "
                f"service on {row.end_date} ({row.end_reason}); the file's 'active' is ignored"
            )
        else:
            row.status = p.status.value
            row.end_date = p.end_date
            row.end_reason = p.end_reason
        if p.last_follow_up is not None:
            row.last_follow_up = p.last_follow_up

    def sync_pools(self) -> None:
        """Places and occupied from the files, `reserved` kept; occupied never below the
        active placements the service holds; pools of removed options go unless a hold
        refers to them."""
        session, ds = self.session, self.dataset
        institutions = {i.institution_id for i in ds.institutions}
        counts = occupancy_by_pool(
            (
                placement_from_row(r)
                for r in session.scalars(
                    select(PlacementRow).where(PlacementRow.status == "active")
                )
            ),
            institutions,
        )
        wanted: list[tuple[str, str, str, int, int]] = []  # where, pool, kind, places, occupied
        seen: set[str] = set()
        for n, person in enumerate(ds.network):
            if person.person_id not in seen:
                seen.add(person.person_id)
                where = f"network.csv row {n + 2} ({person.person_id})"
                wanted.append((where, person.person_id, "network", person.places, 0))
        for n, f in enumerate(ds.families):
            where = f"families.csv row {n + 2} ({f.family_id})"
            wanted.append((where, f.family_id, "family", f.places, f.occupied))
        for n, i in enumerate(ds.institutions):
            where = f"institutions.csv row {n + 2} ({i.institution_id})"
            wanted.append((where, i.institution_id, "institution", i.places, i.occupied))
            wanted.append(
                (
                    f"{where} combination places",
                    combination_pool(i.institution_id),
                    "combination",
                    i.combination_places,
                    i.combination_occupied,
                )
            )
        pools = {p.pool_id: p for p in session.scalars(select(CapacityPool))}
        for where, pid, kind, places, occupied in wanted:
            placed = counts.get(pid, 0)
            if occupied < placed:
                self.warnings.append(
                    f"{where}: occupied {occupied} is lower than the {placed} active "
                    f"placement(s) the service holds there; occupied is kept at {placed}"
                )
                occupied = placed
            pool = pools.pop(pid, None)
            if pool is None:
                pool = CapacityPool(pool_id=pid, kind=kind, reserved=0)
                session.add(pool)
            pool.kind, pool.places, pool.occupied = kind, places, occupied
            if occupied + pool.reserved > places:
                self.problems.append(
                    f"{where}: places {places} leave no room for {occupied} occupied and "
                    f"{pool.reserved} held place(s); release the holds or raise places"
                )
        # Pools of options gone from the files: kept (without places) where old holds or a
        # retired row refer to them.
        referenced = set(session.scalars(select(Reservation.pool_id).distinct()))
        referenced |= set(session.scalars(select(FamilyRow.family_id)))
        for institution_id in session.scalars(select(InstitutionRow.institution_id)):
            referenced |= {institution_id, combination_pool(institution_id)}
        referenced |= set(session.scalars(select(NetworkRow.person_id)))
        for pid, gone in pools.items():
            if pid in referenced:
                gone.places, gone.occupied = 0, 0
            else:
                session.delete(gone)
        session.flush()


def _diffs(old: Dataset, history: tuple[Placement, ...], new: Dataset) -> dict[str, FileDiff]:
    pairs: Sequence[tuple[str, Iterable[Any], Iterable[Any], Callable[[Any], Any]]] = (
        ("children.csv", old.children, new.children, lambda c: c.child_id),
        ("network.csv", old.network, new.network, lambda p: (p.person_id, p.child_id)),
        ("families.csv", old.families, new.families, lambda f: f.family_id),
        ("institutions.csv", old.institutions, new.institutions, lambda i: i.institution_id),
        ("exclusions.csv", old.exclusions, new.exclusions, _exclusion_key),
        ("keep_away.csv", old.keep_away, new.keep_away, _keep_key),
    )
    diffs = {file: _diff(file, o, n, key) for file, o, n, key in pairs}
    placements = _diff("placements.csv", history, new.placements, _placement_key)
    # Placements are never removed by an import: those not in the file are kept.
    diffs["placements.csv"] = FileDiff("placements.csv", placements.added, placements.changed)
    return diffs


def sync_dataset(session: Session, dataset: Dataset) -> SyncReport:
    """Bring the database in line with the kommune's files (the caller commits, or rolls
    back for a dry run). Raises ImportBlocked, listing every row in the way, when the files
    would drop a child or option with a live hold or an active placement, start a second
    active placement, or leave a pool fewer places than it has occupied and held."""
    old = load_from_db(session)
    history = tuple(placement_from_row(r) for r in session.scalars(select(PlacementRow)))
    diffs = _diffs(old, history, dataset)
    sync = _Sync(session, dataset)
    sync.check_removals(old, diffs)
    if sync.problems:
        raise ImportBlocked(sync.problems)
    retired = sync.rewrite_sources()
    for file, ids in retired.items():
        diffs[file] = replace(diffs[file], retired=ids)
    kept = sync.merge_placements()
    sync.sync_pools()
    if sync.problems:
        raise ImportBlocked(sync.problems)
    tracked = session.get(DataVersion, TRACKED)
    if tracked is None:
        session.add(DataVersion(name=TRACKED, value=int(bool(dataset.placements))))
    else:
        tracked.value = int(bool(dataset.placements))
    session.flush()
    return SyncReport(tuple(diffs.values()), kept, tuple(sync.warnings))
