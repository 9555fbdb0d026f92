"""Policy profiles, read-only: the same as `placement policies`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import Caller
from api.errors import ApiError
from matcher.policy import PolicyError, list_policies, load_policy, policy_sources

router = APIRouter(prefix="/v1", tags=["policies"])


@router.get("/policies")
def read_policies(who: Caller) -> Any:
    """Every bundled profile; a child's acting kommune selects its profile."""
    return [
        {"name": p.name, "kommune_code": p.kommune, "description": p.description}
        for p in (load_policy(path.stem) for path in list_policies())
    ]


@router.get("/policies/{name}")
def read_policy(name: str, who: Caller) -> Any:
    """One profile's settings, with the policy passage each of its own settings comes from."""
    if name not in {p.stem for p in list_policies()}:
        raise ApiError(404, f"no policy profile {name!r}")
    try:
        return {**load_policy(name).as_dict(), "sources": policy_sources(name)}
    except PolicyError as exc:  # a broken bundled file is ours, not the caller's
        raise ApiError(500, f"policy profile {name!r} cannot be read") from exc
