"""Domain types and the dataset contract. Imports no solver, web or database library.

Names are imported on first use: `from models.enums import Kind` costs the enums only,
not the dataset loader and numpy (the command line's `--help` pays for what it shows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from models._lazy import lazy_exports

if TYPE_CHECKING:
    from models.dataset import (
        DENMARK_BBOX,
        FILES,
        Dataset,
        PlaceResolver,
        inside_denmark,
        load_dataset,
        write_dataset,
    )
    from models.domain import (
        Child,
        Exclusion,
        Family,
        Institution,
        KeepAway,
        NetworkPerson,
        Place,
        Placement,
    )
    from models.enums import (
        NEEDS,
        FosterLevel,
        InstitutionKind,
        Kind,
        NetworkStatus,
        PlacementStatus,
        Reason,
        Relation,
        Warning,
    )
    from models.errors import (
        DatasetError,
        ValidationIssue,
    )

__all__ = [
    "DENMARK_BBOX",
    "FILES",
    "NEEDS",
    "Child",
    "Dataset",
    "DatasetError",
    "Exclusion",
    "Family",
    "FosterLevel",
    "Institution",
    "InstitutionKind",
    "KeepAway",
    "Kind",
    "NetworkPerson",
    "NetworkStatus",
    "Place",
    "PlaceResolver",
    "Placement",
    "PlacementStatus",
    "Reason",
    "Relation",
    "ValidationIssue",
    "Warning",
    "inside_denmark",
    "load_dataset",
    "write_dataset",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "models.dataset": (
            "DENMARK_BBOX",
            "FILES",
            "Dataset",
            "PlaceResolver",
            "inside_denmark",
            "load_dataset",
            "write_dataset",
        ),
        "models.domain": (
            "Child",
            "Exclusion",
            "Family",
            "Institution",
            "KeepAway",
            "NetworkPerson",
            "Place",
            "Placement",
        ),
        "models.enums": (
            "NEEDS",
            "FosterLevel",
            "InstitutionKind",
            "Kind",
            "NetworkStatus",
            "PlacementStatus",
            "Reason",
            "Relation",
            "Warning",
        ),
        "models.errors": ("DatasetError", "ValidationIssue"),
    },
)
