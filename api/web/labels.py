"""Danish names of every code a page shows: the one table of labels for the web interface."""

from __future__ import annotations

from api.services.caller import Role

__all__ = [
    "KINDS",
    "LEVELS",
    "REASONS",
    "ROLE_NAMES",
    "TERMS",
    "TIERS",
    "WARNINGS",
    "decimal",
    "km",
]

TIERS = {
    1: "Netværkspleje",
    2: "Plejefamilie",
    3: "Kombinationsanbringelse",
    4: "Institution (døgninstitution, opholdssted)",
}
KINDS = {
    "network": "netværk",
    "foster": "plejefamilie",
    "combination": "kombination",
    "institution": "institution",
}
WARNINGS = {
    "NETWORK_UNASSESSED": "ikke vurderet",
    "STALE_VACANCY": "vakance ikke bekræftet",
    "SCHOOL_CHANGE": "skoleskift",
}
TERMS = {
    "relation": "relation til barnet",
    "school_km": "afstand til skole",
    "daycare_km": "afstand til dagtilbud",
    "home_km": "afstand til hjemmet",
    "level_overshoot": "mere indgribende end barnets behov",
    "wish": "barnets ønske ikke opfyldt",
}
REASONS = {
    "NO_CAPACITY": "ingen ledig plads",
    "AGE_OUT_OF_RANGE": "barnets alder ligger uden for godkendelsen",
    "LEVEL_TOO_LOW": "for lavt niveau til barnets støttebehov",
    "NEEDS_NOT_COVERED": "barnets behov er ikke i målgruppen",
    "NETWORK_REJECTED": "netværkspersonen er vurderet uegnet",
    "NETWORK_UNWILLING": "netværkspersonen kan eller vil ikke",
    "NOT_ACUTE": "tager ikke akutte anbringelser",
    "COMBINATION_NOT_SUITABLE": "kombinationsanbringelse er ikke egnet",
    "COMBINATION_TOO_FAR": "for langt fra hjemmet til kombinationsanbringelse",
    "SECURE_NEEDS_DECISION": "sikret afdeling kræver en afgørelse",
    "SIBLING_GROUP_TOO_LARGE": "kan ikke tage hele søskendegruppen",
    "EXCLUDED": "udelukket for dette barn",
    "KEEP_AWAY": "for tæt på en person, barnet skal holdes væk fra",
    "PAUSED": "sat på pause",
    "TOO_FAR": "for langt fra barnets hjem",
}
LEVELS = {1: "almen", 2: "forstærket", 3: "specialiseret", 4: "behandling"}
ROLE_NAMES = {
    Role.COORDINATOR: "anbringelseskoordinator",
    Role.CONSULTANT: "familieplejekonsulent",
    Role.PLANNER: "planlægger",
    Role.ADMIN: "administrator",
}


def decimal(value: float, digits: int = 1) -> str:
    """A number with a Danish decimal comma."""
    return f"{value:.{digits}f}".replace(".", ",")


def km(value: float | None) -> str:
    return "–" if value is None else decimal(value) + " km"
