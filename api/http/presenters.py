"""Records of the use cases as the JSON bodies of the API (the `XPublic` schemas)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse

from api.db.orm import ApiKey, BatchJob, Reservation
from api.http.schemas import (
    BatchPublic,
    ChildPublic,
    FamilyPublic,
    InstitutionPublic,
    KeyPublic,
    ReservationPublic,
)
from api.services.children import StoredChild
from api.services.keys import key_fields
from api.services.options import StoredFamily, StoredInstitution
from models.dataset import split_list

__all__ = [
    "FastJSONResponse",
    "batch_public",
    "child_public",
    "family_public",
    "institution_public",
    "key_public",
    "reservation_public",
]


class FastJSONResponse(JSONResponse):
    """JSON by orjson: a tenth of the stdlib encoder's time on a ranking's few hundred
    values. For content of JSON types only (str keys, no NaN), as the rankings are."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def child_public(record: StoredChild) -> dict[str, Any]:
    row = record.child
    data = {c.name: getattr(row, c.name) for c in row.__table__.columns if c.name != "position"}
    data["needs"] = split_list(row.needs)
    data["wishes"] = split_list(row.wishes)
    data["network"] = [
        {
            "person_id": p.person_id,
            "relation": p.relation,
            "via": p.via,
            "lat": p.lat,
            "lon": p.lon,
            "postcode": p.postcode,
            "status": p.status,
            "places": p.places,
            "willing": p.willing,
        }
        for p in record.network
    ]
    data["exclusions"] = [{"option_id": e.option_id, "reason": e.reason} for e in record.exclusions]
    data["keep_away"] = [
        {"lat": k.lat, "lon": k.lon, "postcode": k.postcode, "min_km": k.min_km, "reason": k.reason}
        for k in record.keep_away
    ]
    return ChildPublic.model_validate(data).model_dump(mode="json")


def family_public(record: StoredFamily) -> dict[str, Any]:
    row, pool = record.family, record.pool
    data = {
        c.name: getattr(row, c.name)
        for c in row.__table__.columns
        if c.name not in ("position", "paused")
    }
    data |= {
        "target_groups": split_list(row.target_groups),
        "places": pool.places,
        "occupied": pool.occupied,
        "reserved": pool.reserved,
        "free_places": record.free_places,
        "status": "paused" if row.paused else "active",
    }
    return FamilyPublic.model_validate(data).model_dump(mode="json")


def institution_public(record: StoredInstitution) -> dict[str, Any]:
    row, pool, comb = record.institution, record.pool, record.combination
    data = {c.name: getattr(row, c.name) for c in row.__table__.columns if c.name != "position"}
    data |= {
        "target_groups": split_list(row.target_groups),
        "places": pool.places,
        "occupied": pool.occupied,
        "reserved": pool.reserved,
        "free_places": record.free_places,
        "combination_places": comb.places,
        "combination_occupied": comb.occupied,
        "combination_reserved": comb.reserved,
    }
    return InstitutionPublic.model_validate(data).model_dump(mode="json")


def reservation_public(hold: Reservation) -> dict[str, Any]:
    return ReservationPublic.model_validate(hold, from_attributes=True).model_dump(mode="json")


def batch_public(job: BatchJob) -> dict[str, Any]:
    return BatchPublic.model_validate(job, from_attributes=True).model_dump(mode="json")


def key_public(row: ApiKey) -> dict[str, Any]:
    return KeyPublic.model_validate(key_fields(row)).model_dump(mode="json")
