"""Policy profiles, read-only: the bundled profiles and one profile's settings with sources."""

from __future__ import annotations

from typing import Any

from api.services.errors import NotFound
from matcher.policy import list_policies, load_policy, policy_sources

__all__ = ["list_profiles", "read_profile"]


def list_profiles() -> list[dict[str, Any]]:
    """Every bundled profile; a child's acting kommune selects its profile."""
    return [
        {"name": p.name, "kommune_code": p.kommune, "description": p.description}
        for p in (load_policy(path.stem) for path in list_policies())
    ]


def read_profile(name: str) -> dict[str, Any]:
    """One profile's settings, with the policy passage each of its own settings comes from.
    A bundled file that cannot be read raises PolicyError: that is ours, not the caller's."""
    if name not in {p.stem for p in list_policies()}:
        raise NotFound(f"no policy profile {name!r}")
    return {**load_policy(name).as_dict(), "sources": policy_sources(name)}
