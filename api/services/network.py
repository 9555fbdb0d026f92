"""A child's network (netværksafdækning): add or change one person. The child's whole record
goes through the same use case as `PUT /v1/children/{id}`, so a person is checked exactly as
the API and the import check it (relation, status, place, `via`, places)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.services import children
from api.services.caller import Principal
from api.services.children import StoredChild
from api.services.inputs import ChildCreate, NetworkPersonIn
from api.services.runtime import Service

__all__ = ["body_of", "save_person"]


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None and v != ""}


def body_of(record: StoredChild) -> dict[str, Any]:
    """The stored record as the use case's body (points and codes both kept: a point given
    with its code is the point, so nothing moves)."""
    row = record.child
    return _drop_none(
        {
            "child_id": row.child_id,
            "kommune_code": row.kommune_code,
            "age": row.age,
            "support_level": row.support_level,
            "needs": [n for n in row.needs.split(";") if n],
            "home_lat": row.home_lat,
            "home_lon": row.home_lon,
            "home_postcode": row.home_postcode,
            "school_lat": row.school_lat,
            "school_lon": row.school_lon,
            "school_id": row.school_id,
            "daycare_lat": row.daycare_lat,
            "daycare_lon": row.daycare_lon,
            "daycare_postcode": row.daycare_postcode,
            "sibling_group": row.sibling_group,
            "acute": row.acute,
            "combination_ok": row.combination_ok,
            "secure_decision": row.secure_decision,
            "wishes": [w for w in row.wishes.split(";") if w],
            "arrival": row.arrival,
        }
    ) | {
        "network": [
            _drop_none(
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
            )
            for p in record.network
        ],
        "exclusions": [{"option_id": e.option_id, "reason": e.reason} for e in record.exclusions],
        "keep_away": [
            _drop_none(
                {
                    "lat": k.lat,
                    "lon": k.lon,
                    "postcode": k.postcode,
                    "min_km": k.min_km,
                    "reason": k.reason,
                }
            )
            for k in record.keep_away
        ],
    }


def save_person(
    session: Session, service: Service, who: Principal, child_id: str, person: NetworkPersonIn
) -> StoredChild:
    """The child's record with `person` added, or replacing the person of the same id."""
    record = children.record_of(session, children.own_child(session, who, child_id))
    body = body_of(record)
    network = [p for p in body["network"] if p["person_id"] != person.person_id]
    mine = next(
        (n for n, p in enumerate(body["network"]) if p["person_id"] == person.person_id),
        len(network),
    )
    network.insert(mine, person.model_dump(exclude_none=True))
    body["network"] = network
    return children.update_child(session, service, who, child_id, ChildCreate.model_validate(body))
