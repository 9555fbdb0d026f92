"""The kommune's dataset in and out of the database: import in one transaction, export as
the CSV contract."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from api.db.mappers import load_from_db, placements_tracked, replace_all
from api.services.runtime import Service
from models.dataset import Dataset

__all__ = ["export_dataset", "import_dataset"]


def import_dataset(session: Session, dataset: Dataset) -> None:
    """Replace the children, options and capacity with a validated dataset (caller commits)."""
    replace_all(session, dataset)
    Service.bump(session, "structure", "capacity")


def export_dataset(session: Session) -> Dataset:
    """The database as a dataset. placements.csv only where the import carried one: otherwise
    the placements confirmed through the service cover only part of `occupied`."""
    dataset = load_from_db(session)
    if not placements_tracked(session):
        dataset = replace(dataset, placements=())
    return dataset
