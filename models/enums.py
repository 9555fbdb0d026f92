"""Vocabularies of the dataset contract (DESIGN.md §3-4)."""

from __future__ import annotations

from enum import IntEnum, StrEnum

__all__ = [
    "NEEDS",
    "EndReason",
    "FosterLevel",
    "InstitutionKind",
    "Kind",
    "NetworkStatus",
    "PlacementStatus",
    "Reason",
    "Relation",
    "Solver",
    "SupportLevel",
    "Warning",
]


class Kind(StrEnum):
    """Placement option kinds, in staircase order (least intrusive first)."""

    NETWORK = "network"
    FOSTER = "foster"
    COMBINATION = "combination"
    INSTITUTION = "institution"

    @property
    def tier(self) -> int:
        return _TIERS[self]


_TIERS = {Kind.NETWORK: 1, Kind.FOSTER: 2, Kind.COMBINATION: 3, Kind.INSTITUTION: 4}


class FosterLevel(IntEnum):
    """Foster family levels; the value is the highest support level the family handles."""

    ALMEN = 1
    FORSTAERKET = 2
    SPECIALISERET = 3

    @classmethod
    def parse(cls, text: str) -> FosterLevel:
        return cls[text.upper()]

    @property
    def label(self) -> str:
        return self.name.lower()


class SupportLevel(IntEnum):
    """A child's support level (DESIGN.md §3): 1 almen … 4 behandling. A foster family of
    level L takes children up to support level L; level 4 needs an institution."""

    ALMEN = 1
    FORSTAERKET = 2
    SPECIALISERET = 3
    BEHANDLING = 4

    @property
    def label(self) -> str:
        return self.name.lower()


class Solver(StrEnum):
    """Batch solvers: `auto` picks min-cost flow without sibling groups, CP-SAT with them."""

    AUTO = "auto"
    FLOW = "flow"
    CPSAT = "cpsat"
    GREEDY = "greedy"


class InstitutionKind(StrEnum):
    DOEGNINSTITUTION = "doegninstitution"
    OPHOLDSSTED = "opholdssted"
    SIKRET = "sikret"


class Relation(StrEnum):
    GRANDPARENT = "grandparent"
    AUNT_UNCLE = "aunt_uncle"
    ADULT_SIBLING = "adult_sibling"
    OTHER_RELATIVE = "other_relative"
    FAMILY_FRIEND = "family_friend"
    PROFESSIONAL = "professional"


class PlacementStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class EndReason(StrEnum):
    """Why a placement ended, when it is ended through the service (placements.csv's
    `end_reason` stays free text, as kommuner's systems write it)."""

    HOME = "home"  # hjemgivelse
    STEP_DOWN = "step_down"  # to a less intrusive placement
    BREAKDOWN = "breakdown"  # sammenbrud
    AGE_OUT = "age_out"  # 18, or the end of efterværn
    MOVED = "moved"  # to another placement of the same or a higher step
    OTHER = "other"


class NetworkStatus(StrEnum):
    UNASSESSED = "unassessed"
    SUITABLE = "suitable"
    APPROVED = "approved"
    REJECTED = "rejected"


NEEDS: tuple[str, ...] = (
    "attachment",
    "trauma",
    "adhd",
    "autism",
    "intellectual_disability",
    "physical_disability",
    "mental_health",
    "substance_use",
    "offending",
    "medical_care",
)


class Reason(StrEnum):
    """Hard-constraint reason codes: why an option is left out ("why not")."""

    NO_CAPACITY = "NO_CAPACITY"
    AGE_OUT_OF_RANGE = "AGE_OUT_OF_RANGE"
    LEVEL_TOO_LOW = "LEVEL_TOO_LOW"
    NEEDS_NOT_COVERED = "NEEDS_NOT_COVERED"
    NETWORK_REJECTED = "NETWORK_REJECTED"
    NETWORK_UNWILLING = "NETWORK_UNWILLING"
    NOT_ACUTE = "NOT_ACUTE"
    COMBINATION_NOT_SUITABLE = "COMBINATION_NOT_SUITABLE"
    COMBINATION_TOO_FAR = "COMBINATION_TOO_FAR"
    SECURE_NEEDS_DECISION = "SECURE_NEEDS_DECISION"
    SIBLING_GROUP_TOO_LARGE = "SIBLING_GROUP_TOO_LARGE"
    EXCLUDED = "EXCLUDED"
    KEEP_AWAY = "KEEP_AWAY"
    PAUSED = "PAUSED"
    TOO_FAR = "TOO_FAR"


class Warning(StrEnum):
    """Flags on eligible proposals: ranked, but a coordinator must look."""

    NETWORK_UNASSESSED = "NETWORK_UNASSESSED"
    STALE_VACANCY = "STALE_VACANCY"
    SCHOOL_CHANGE = "SCHOOL_CHANGE"
    OUTSIDE_LOCAL_AREA = "OUTSIDE_LOCAL_AREA"  # beyond the tier's local area (local_km)
    # The review's flags (matcher/review.py), not the ranking's:
    FEWER_DAYS_AT_HOME = "FEWER_DAYS_AT_HOME"  # full-time care proposed from a combination
    HOME_ASSESSMENT_DUE = "HOME_ASSESSMENT_DUE"  # the return home is to be assessed
