"""Policy profiles, read-only: the same as `placement policies`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.http.deps import Caller
from api.http.problems import ApiError
from api.services import policies
from matcher.policy import PolicyError

router = APIRouter(prefix="/v1", tags=["policies"])


@router.get("/policies")
def read_policies(who: Caller) -> Any:
    """Every bundled profile; a child's acting kommune selects its profile."""
    return policies.list_profiles()


@router.get("/policies/{name}")
def read_policy(name: str, who: Caller) -> Any:
    """One profile's settings, with the policy passage each of its own settings comes from."""
    try:
        return policies.read_profile(name)
    except PolicyError as exc:
        raise ApiError(500, f"policy profile {name!r} cannot be read") from exc
