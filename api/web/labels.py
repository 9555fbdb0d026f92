"""Danish names of every code a page shows: the one table of labels for the web interface."""

from __future__ import annotations

from api.services.caller import Role

__all__ = [
    "CHOICES",
    "FIELDS",
    "INVALID",
    "KINDS",
    "LEVELS",
    "REASONS",
    "ROLE_NAMES",
    "SOLVERS",
    "STATUS_PAGES",
    "TERMS",
    "TIERS",
    "WARNINGS",
    "decimal",
    "km",
    "number",
    "size",
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
SOLVERS = {
    "auto": "optimal (auto)",
    "flow": "optimal (flow)",
    "cpsat": "optimal (cpsat)",
    "greedy": "først-til-mølle (greedy)",
}
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


# Form and query fields by their name in the request, as the pages label them.
FIELDS = {
    "places": "Pladser",
    "paused": "Pause",
    "kommune": "Kommune",
    "kommuner": "Kommune",
    "solver": "Løser",
    "time_limit": "Tidsgrænse (sekunder)",
    "option_id": "Tilbud",
    "kind": "Type",
    "child_id": "Barn",
    "hours": "Timer",
    "q": "Søg på id",
    "acute": "Akut",
    "sibling": "Søskendegruppe",
    "level": "Støtteniveau",
    "held": "Reservation",
    "message": "Besked",
    "api_key": "API-nøgle",
    "login_token": "Log-ind-formularen",
    "csrf_token": "Formularens sikkerhedsfelt",
}
# The allowed values of a choice, by field, for "skal være en af: ...".
CHOICES: dict[str, dict[str, str]] = {"kind": KINDS, "solver": SOLVERS}
# What is wrong with a value, by the validation error's type; {ge}, {le}, {max_length}...
# come from the rule that was broken. Anything else is "er ikke gyldig".
INVALID = {
    "missing": "skal udfyldes",
    "string_too_short": "skal udfyldes",
    "string_too_long": "må højst være {max_length} tegn",
    "string_pattern_mismatch": "må kun bestå af bogstaver, tal og tegnene . _ : -",
    "int_parsing": "skal være et helt tal",
    "int_from_float": "skal være et helt tal",
    "int_type": "skal være et helt tal",
    "float_parsing": "skal være et tal",
    "float_type": "skal være et tal",
    "finite_number": "skal være et tal",
    "bool_parsing": "skal være ja eller nej",
    "bool_type": "skal være ja eller nej",
    "greater_than_equal": "skal være mindst {ge}",
    "greater_than": "skal være større end {gt}",
    "less_than_equal": "må højst være {le}",
    "less_than": "skal være mindre end {lt}",
    "enum": "skal være en af: {choices}",
    "literal_error": "skal være en af: {choices}",
    "value_error": "er ikke gyldig",
    "extra_forbidden": "hører ikke til formularen",
}
# The page shown for an HTTP error under /ui, by status; {limit} is the body limit.
STATUS_PAGES = {
    400: "Forespørgslen kunne ikke læses. Gå tilbage og prøv igen.",
    404: "Siden findes ikke.",
    405: "Siden kan ikke bruges på den måde. Gå tilbage og brug knapperne på siden.",
    413: "Det indsendte er for stort: højst {limit} kan modtages.",
    422: "Et felt har en ugyldig værdi.",
    500: "Der opstod en uventet fejl. Den er logget; prøv igen om lidt.",
}


def number(value: float) -> str:
    """A bound of a rule as a Danish number: whole numbers without decimals."""
    return str(int(value)) if float(value).is_integer() else decimal(value, 2).rstrip("0")


def size(n: int) -> str:
    """A number of bytes for a person: "1 MiB", "512 KiB", "1000 byte"."""
    for unit, step in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n >= step and n % step == 0:
            return f"{n // step} {unit}"
    return f"{n} byte"
