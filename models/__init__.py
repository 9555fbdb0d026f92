"""Domain types and the dataset contract. Imports no solver, web or database library.

Names are imported on first use: `from models.enums import Kind` costs the enums only,
not the dataset loader and numpy (the command line's `--help` pays for what it shows).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

# Where each name lives: imported on first use (PEP 562), so that importing one light
# submodule does not import them all.
_HOME = {
    "DENMARK_BBOX": "models.dataset",
    "FILES": "models.dataset",
    "Dataset": "models.dataset",
    "PlaceResolver": "models.dataset",
    "inside_denmark": "models.dataset",
    "load_dataset": "models.dataset",
    "write_dataset": "models.dataset",
    "Child": "models.domain",
    "Exclusion": "models.domain",
    "Family": "models.domain",
    "Institution": "models.domain",
    "KeepAway": "models.domain",
    "NetworkPerson": "models.domain",
    "Place": "models.domain",
    "Placement": "models.domain",
    "NEEDS": "models.enums",
    "FosterLevel": "models.enums",
    "InstitutionKind": "models.enums",
    "Kind": "models.enums",
    "NetworkStatus": "models.enums",
    "PlacementStatus": "models.enums",
    "Reason": "models.enums",
    "Relation": "models.enums",
    "Warning": "models.enums",
    "DatasetError": "models.errors",
    "ValidationIssue": "models.errors",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
