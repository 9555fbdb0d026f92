"""Danish names of every code a page shows: the one table of labels for the web interface."""

from __future__ import annotations

import re
from datetime import date, datetime

from api.services.caller import Role

__all__ = [
    "CHOICES",
    "END_REASONS",
    "FIELDS",
    "FOLLOW_UP_STATUS",
    "FOSTER_LEVELS",
    "HOLD_STATUS",
    "INSTITUTION_KINDS",
    "INVALID",
    "KINDS",
    "LEVELS",
    "NEEDS",
    "NETWORK_STATUS",
    "POINTS_NOTE",
    "POLICY_NAMES",
    "POLICY_PARTS",
    "REASONS",
    "RELATIONS",
    "ROLE_NAMES",
    "SERVICE_INVALID",
    "SOLVERS",
    "STATUS_PAGES",
    "STEP_DOWN_REASONS",
    "TERMS",
    "TIERS",
    "WARNINGS",
    "codes_da",
    "day",
    "decimal",
    "km",
    "kroner",
    "needs_da",
    "number",
    "option_label",
    "percent",
    "setting_da",
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
    "OUTSIDE_LOCAL_AREA": "uden for nærmiljøet",
    "FEWER_DAYS_AT_HOME": "færre dage hjemme",
    "HOME_ASSESSMENT_DUE": "vurdering af hjemgivelse skal foretages",
}
TERMS = {
    "relation": "relation til barnet (højere = fjernere relation)",
    "school_km": "afstand til skole",
    "daycare_km": "afstand til dagtilbud",
    "home_km": "afstand til hjemmet",
    "beyond_local_km": "km uden for nærmiljøet",
    "level_overshoot": "mere specialiseret end barnets behov",
    # The wish term is a bonus (a negative weight) on the option the child asked for.
    "wish": "barnets ønske (fradrag)",
    "joins_sibling": "bor sammen med en søskende",
}
# What the scores mean, shown beside every table of points.
POINTS_NOTE = "1 point ≈ 1 km ekstra afstand; lavere er bedre"
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
# A foster family's level as the contract writes it (families.csv `level`).
FOSTER_LEVELS = {"almen": "almen", "forstaerket": "forstærket", "specialiseret": "specialiseret"}
INSTITUTION_KINDS = {
    "doegninstitution": "døgninstitution",
    "opholdssted": "opholdssted",
    "sikret": "sikret afdeling",
}
NEEDS = {
    "attachment": "tilknytning",
    "trauma": "traumer",
    "adhd": "ADHD",
    "autism": "autisme",
    "intellectual_disability": "udviklingshæmning",
    "physical_disability": "fysisk funktionsnedsættelse",
    "mental_health": "psykiske vanskeligheder",
    "substance_use": "misbrug",
    "offending": "kriminalitet",
    "medical_care": "medicinsk pleje",
}
RELATIONS = {
    "grandparent": "bedsteforælder",
    "aunt_uncle": "moster, faster, morbror eller farbror",
    "adult_sibling": "voksen søskende",
    "other_relative": "anden slægtning",
    "family_friend": "familiens ven",
    "professional": "fagperson barnet kender",
}
NETWORK_STATUS = {
    "unassessed": "ikke vurderet",
    "suitable": "vurderet egnet",
    "approved": "godkendt",
    "rejected": "vurderet uegnet",
}
END_REASONS = {
    "home": "hjemgivelse",
    "step_down": "trin ned ad indsatstrappen",
    "breakdown": "sammenbrud",
    "age_out": "alder (18 år eller efterværn slut)",
    "moved": "flytning til et andet tilbud",
    "other": "anden grund",
}
HOLD_STATUS = {
    "held": "reserveret",
    "confirmed": "bekræftet",
    "released": "frigivet",
    "expired": "udløbet",
}
FOLLOW_UP_STATUS = {"overdue": "overskredet", "due": "snart", "ok": "i orden"}
STEP_DOWN_REASONS = {
    "NO_LESS_INTRUSIVE_TIER": "næste trin er hjemgivelse",
    "NO_ELIGIBLE_OPTION": "intet mindre indgribende tilbud er muligt",
    "PLACEMENT_SETTLED": "anbringelsen er stabil: kontinuitet før flytning",
}
# The parts of a policy profile's setting names ("weights.foster.school_km"), for the
# recommendation's list of the settings and the lines they cite.
POLICY_PARTS = {
    "name": "profilens navn",
    "kommune": "kommune",
    "description": "beskrivelse",
    "limits_km": "nærmiljø i km",
    "local_km": "nærmiljø i km",
    "distance": "afstand",
    "max_km": "højst km fra hjemmet",
    "combination": "kombination",
    "max_commute_km": "højst km mellem hjem og anbringelsessted",
    "vacancy": "vakance",
    "stale_days": "forældet efter dage",
    "school": "skole",
    "keep_km": "skolen bevares inden for km",
    "relation_weights": "relationens vægt",
    "weights": "vægt",
    "follow_up": "opfølgning",
    "first_weeks": "første gang efter uger",
    "every_weeks": "derefter hver uge nr.",
    "step_down": "revurdering",
    "review_months": "efter måneder",
    "target_share": "målandel",
    "within_months": "inden for måneder",
    "siblings": "søskende",
    "priority": "prioritet i samlet matchning",
    "costs": "udgifter",
    "network_monthly_dkk": "netværkspleje pr. måned",
    "combination_institution_share": "kombination: andel af institutionens døgntakst",
    "combination_family_monthly_dkk": "kombination: familiens del pr. måned",
    "institution_daily_dkk": "institution pr. døgn (uden egen takst)",
    "foster_monthly_dkk": "plejefamilie pr. måned",
}


POLICY_NAMES = {
    "default": "standardprofilen (Barnets Lov og indsatstrappen)",
    "hvidovre": "Hvidovre Kommunes profil",
    "hjoerring": "Hjørring Kommunes profil",
    "norddjurs": "Norddjurs Kommunes profil",
    "odder": "Odder Kommunes profil",
}


def setting_da(key: str) -> str:
    """A policy setting's dotted name in Danish: "weights.foster.school_km" is "vægt,
    plejefamilie, afstand til skole"."""
    tables: list[dict[str, str]] = [POLICY_PARTS, KINDS, TERMS, RELATIONS, FOSTER_LEVELS]
    parts = []
    for part in key.split("."):
        found = next((t[part] for t in tables if part in t), part.replace("_", " "))
        parts.append(found)
    return ", ".join(parts)


def codes_da(text: str) -> str:
    """Free text (a policy file's comment) with each reason or warning code in it named in
    Danish."""
    table = {**REASONS, **WARNINGS, **STEP_DOWN_REASONS}
    return re.sub(r"\b[A-Z][A-Z_]{3,}\b", lambda m: table.get(m.group(0), m.group(0)), text)


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


def percent(share: float | None, digits: int = 1) -> str:
    """A share (0.631) as a Danish percentage: "63,1 %"."""
    return "–" if share is None else f"{decimal(share * 100, digits)} %"


def day(value: date | datetime | None) -> str:
    """A date as dd-mm-åååå (a moment in local time, with its hour: "05-12-2026 kl. 14:30")."""
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%d-%m-%Y kl. %H:%M")
    return value.strftime("%d-%m-%Y")


def kroner(value: float | None) -> str:
    """An amount in Danish kroner: "12.345 kr." (thousands with a dot, no øre)."""
    if value is None:
        return "–"
    return f"{round(value):,}".replace(",", ".") + " kr."


def option_label(kind: str, label: str) -> str:
    """The matcher's label of an option (a foster level, an institution kind, a relation) in
    Danish."""
    for table in (FOSTER_LEVELS, INSTITUTION_KINDS, RELATIONS):
        if label in table:
            return table[label]
    return label


def needs_da(codes: str | list[str] | tuple[str, ...] | frozenset[str]) -> list[str]:
    """Needs (a `;`-joined text or a collection) in Danish, in the contract's order."""
    items = [n for n in codes.split(";") if n] if isinstance(codes, str) else list(codes)
    order = list(NEEDS)
    return [
        NEEDS.get(n, n)
        for n in sorted(items, key=lambda n: (order.index(n) if n in order else 99, n))
    ]


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
    # A child's case (children.csv, exclusions.csv, keep_away.csv, network.csv).
    "kommune_code": "Handlekommune",
    "age": "Alder",
    "support_level": "Støtteniveau",
    "needs": "Behov",
    "home_postcode": "Hjemmets postnummer",
    "home_lat": "Hjem, breddegrad",
    "home_lon": "Hjem, længdegrad",
    "school_id": "Skole",
    "school_lat": "Skole, breddegrad",
    "school_lon": "Skole, længdegrad",
    "daycare_postcode": "Dagtilbuddets postnummer",
    "daycare_lat": "Dagtilbud, breddegrad",
    "daycare_lon": "Dagtilbud, længdegrad",
    "sibling_group": "Søskendegruppe",
    "combination_ok": "Egnet til kombinationsanbringelse",
    "secure_decision": "Afgørelse om sikret afdeling",
    "wishes": "Barnets ønsker",
    "reason": "Grund",
    "postcode": "Postnummer",
    "lat": "Breddegrad",
    "lon": "Længdegrad",
    "min_km": "Mindst km væk",
    "child_view": "Barnets synspunkter",
    "parent_view": "Forældrenes synspunkter",
    "purpose": "Formål",
    "duration": "Forventet varighed",
    "person_id": "Personens id",
    "relation": "Relation",
    "via": "Via",
    "status": "Vurdering",
    "willing": "Vil og kan",
    "network": "Netværket",
    "exclusions": "Udelukkede tilbud",
    "keep_away": "Adresser at holde afstand til",
    "on_date": "Dato",
    "with_whom": "Holdt med",
    "child_heard": "Barnet hørt",
    "note": "Notat",
    "end_reason": "Grund til afslutning",
    "end_date": "Slutdato",
    "start_date": "Startdato",
}
# What a field must be when the use case's own checks (the dataset contract) refuse it.
SERVICE_INVALID = {
    "kommune_code": "skal være en kommunekode med 3 cifre fra kommunelisten",
    "home_postcode": "skal være et kendt dansk postnummer med 4 cifre (eller angiv et punkt)",
    "daycare_postcode": "skal være et kendt dansk postnummer med 4 cifre",
    "postcode": "skal være et kendt dansk postnummer med 4 cifre",
    "home_lat": "skal være et punkt i Danmark (bredde 54,5–57,8 og længde 8,0–15,3)",
    "home_lon": "skal være et punkt i Danmark (bredde 54,5–57,8 og længde 8,0–15,3)",
    "lat": "skal være et punkt i Danmark (bredde 54,5–57,8 og længde 8,0–15,3)",
    "lon": "skal være et punkt i Danmark (bredde 54,5–57,8 og længde 8,0–15,3)",
    "school_id": "skal være et institutionsnummer fra skoleregistret – søg skolen på navn",
    "needs": "skal være behov fra listen",
    "wishes": "skal være id på en familie, en institution eller en person i barnets netværk",
    "option_id": "skal være id på en familie, en institution eller en person i barnets netværk",
    "via": "skal være en anden person i barnets netværk",
    "relation": "skal være en af relationerne på listen",
    "status": "skal være en af vurderingerne på listen",
    "places": "skal være det antal pladser, personen allerede er registreret med",
    "person_id": "er allerede i brug uden for dine kommuner – vælg et andet id",
    "on_date": "skal ligge mellem anbringelsens start og i dag",
    "end_date": "skal ligge mellem anbringelsens start og i dag",
    "start_date": "skal ligge mellem anbringelsens start og i dag",
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


# --- planners: KPIs, jobs and costs (batch, what-if, key figures) ---------------------------
# The planners' KPIs by their key in a batch's or a scenario's `kpis` (flattened with dots).
KPI_NAMES = {
    "children": "Børn i kørslen",
    "placed": "Anbragt",
    "placed_share": "Andel anbragt",
    "share_by_kind.network": "Andel i netværkspleje",
    "share_by_kind.foster": "Andel i plejefamilie",
    "share_by_kind.combination": "Andel i kombinationsanbringelse",
    "share_by_kind.institution": "Andel på institution",
    "share_by_foster_level.almen": "Andel i almen plejefamilie",
    "share_by_foster_level.forstaerket": "Andel i forstærket plejefamilie",
    "share_by_foster_level.specialiseret": "Andel i specialiseret plejefamilie",
    "km_to_school.mean": "Afstand til skole, gennemsnit",
    "km_to_school.p90": "Afstand til skole, 90 % har højst",
    "km_to_daycare.mean": "Afstand til dagtilbud, gennemsnit",
    "km_to_daycare.p90": "Afstand til dagtilbud, 90 % har højst",
    "km_to_home.mean": "Afstand til hjemmet, gennemsnit",
    "km_to_home.p90": "Afstand til hjemmet, 90 % har højst",
    "school_change_share": "Andel med skoleskift",
    "sibling_groups.total": "Søskendegrupper",
    "sibling_groups.together": "Søskendegrupper anbragt samlet",
    "sibling_groups.split": "Søskendegrupper delt",
    "sibling_groups.unplaced": "Søskendegrupper uden plads",
    "placed_in_own_kommune_share": "Andel anbragt i egen kommune (uden netværk)",
    "institution_daily_cost_dkk": "Institutionspladser, pris pr. døgn i alt",
    "status": "Løsning",
    "solver": "Løser",
    "gap": "Afstand til bevist optimum",
    "solve_seconds": "Løsningstid",
}
JOB_STATUS = {"queued": "i kø", "running": "kører", "done": "færdig", "failed": "fejlet"}
JOB_STAGES = {
    "queued": "venter",
    "loading": "henter data",
    "solving": "beregner",
    "checking": "kontrollerer scenariet",
    "reporting": "skriver rapporten",
    "done": "færdig",
    "failed": "fejlet",
    "interrupted": "afbrudt af en genstart",
}
SOLUTION_STATUS = {
    "OPTIMAL": "optimal",
    "FEASIBLE": "gyldig, ikke bevist optimal",
    "INFEASIBLE": "ingen løsning",
    "FAILED": "fejlet",
}
# Why a child of a batch was left without a place (beyond REASONS, which exclude options).
UNPLACED = {
    "TAKEN_BY_OTHERS": "de egnede pladser gik til andre børn i kørslen",
    "NO_OPTIONS": "intet tilbud at vurdere",
}
# The what-if builder's and key figures' fields (the forms' labels), for their messages.
FIELDS.update(
    {
        "name": "Navn",
        "description": "Beskrivelse",
        "add_count": "Antal familier",
        "add_level": "Niveau",
        "add_places": "Pladser pr. familie",
        "add_kommuner": "Kommuner",
        "pause_ids": "Sæt på pause",
        "remove_ids": "Fjern",
        "close_ids": "Luk institution",
        "set_ids": "Sæt pladser for",
        "set_places": "til antal pladser",
        "foster_km": "Nærmiljø: højst km til plejefamilie",
        "institution_km": "Højst km til institution",
        "cohort_kommune": "Kommune",
        "min_age": "Alder fra",
        "max_age": "Alder til",
        "months": "Årssimulering: måneder",
        "budget": "Budget pr. måned",
        "start": "Fra",
        "end": "Til",
    }
)

# --- consultants: a foster family's status (families.csv `status`) ---------------------------
FAMILY_STATUS = {"active": "aktiv", "paused": "sat på pause"}
