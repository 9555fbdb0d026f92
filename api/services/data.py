"""The kommune's dataset in and out of the database: import as a sync in one transaction
(or a dry run that writes nothing), export as the CSV contract."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from api.db.mappers import load_from_db, placements_tracked
from api.db.sync import ImportBlocked, SyncReport, sync_dataset
from api.services.errors import Conflict
from api.services.runtime import Service
from models.dataset import Dataset

__all__ = ["export_dataset", "import_dataset"]


def import_dataset(session: Session, dataset: Dataset, dry_run: bool = False) -> SyncReport:
    """Sync the children, options and capacity with a validated dataset: what was added,
    changed and removed per file. Conflict (reason IMPORT_BLOCKED, `errors` naming every
    row in the way) when the files would drop a live decision; nothing is written then, nor
    on a dry run."""
    try:
        report = sync_dataset(session, dataset)
    except ImportBlocked as blocked:
        session.rollback()
        raise Conflict(
            f"{len(blocked.problems)} row(s) of the files block the import; nothing was written",
            reason="IMPORT_BLOCKED",
            errors=blocked.problems,
        ) from None
    if dry_run:
        session.rollback()
    else:
        Service.bump(session, "structure", "capacity")
    return report


def export_dataset(session: Session) -> Dataset:
    """The database as a dataset. placements.csv only where the import carried one: otherwise
    the placements confirmed through the service cover only part of `occupied`."""
    dataset = load_from_db(session)
    if not placements_tracked(session):
        dataset = replace(dataset, placements=())
    return dataset
