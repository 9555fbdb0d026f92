"""Who is asking: a key's role and the kommuner it may act in."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Principal", "Role"]


class Role(StrEnum):
    COORDINATOR = "coordinator"  # children, proposals, reservations in own kommuner
    CONSULTANT = "consultant"  # families, institutions, capacity in own kommuner
    PLANNER = "planner"  # batches; child ids and KPIs, never names or addresses
    ADMIN = "admin"  # keys, audit


@dataclass(frozen=True)
class Principal:
    key_id: int
    role: Role
    kommuner: frozenset[str]

    def in_scope(self, kommune_code: str) -> bool:
        return kommune_code in self.kommuner
