"""Domain types and the dataset contract. Imports no solver, web or database library."""

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
from models.errors import DatasetError, ValidationIssue

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
