"""Cross-file checks: unique ids, references between files (network, wishes, exclusions,
keep_away, placements), and occupied places against the active placements."""

from __future__ import annotations

from typing import Any

from models.capacity import combination_pool, occupancy_by_pool
from models.domain import Child, Family, Institution, NetworkPerson, Placement
from models.enums import Kind
from models.errors import ValidationIssue

__all__ = ["check_dataset"]


def check_dataset(
    parsed: dict[str, list[tuple[int, Any]]],
    declared: dict[str, set[str]],
    issues: list[ValidationIssue],
) -> None:
    """The checks across files, on the records (with their CSV lines) that passed the row
    checks; `declared` holds the ids each file names, also on rows with other problems."""
    children = parsed["children"]
    network = parsed["network"]
    families = parsed["families"]
    institutions = parsed["institutions"]

    _duplicates("children.csv", "child_id", [(ln, c.child_id) for ln, c in children], issues)
    _duplicates("families.csv", "family_id", [(ln, f.family_id) for ln, f in families], issues)
    _duplicates(
        "institutions.csv",
        "institution_id",
        [(ln, i.institution_id) for ln, i in institutions],
        issues,
    )
    _duplicates(
        "network.csv",
        "person_id,child_id",
        [(ln, f"{p.person_id},{p.child_id}") for ln, p in network],
        issues,
    )

    child_ids = declared.get("children", set())
    family_ids = declared.get("families", set())
    institution_ids = declared.get("institutions", set())
    person_ids = declared.get("network", set())
    for line, inst in institutions:
        if inst.institution_id in family_ids:
            issues.append(
                ValidationIssue(
                    "institutions.csv",
                    line,
                    "institution_id",
                    inst.institution_id,
                    "an id not already used by a foster family",
                )
            )
    homes = family_ids | institution_ids  # once, not per network row
    for line, person in network:
        if person.person_id in homes:
            issues.append(
                ValidationIssue(
                    "network.csv",
                    line,
                    "person_id",
                    person.person_id,
                    "an id not already used by a family or institution",
                )
            )
    option_ids = family_ids | institution_ids | person_ids
    _check_network(network, child_ids, issues)
    for line, child in children:
        unknown = [w for w in child.wishes if w not in option_ids]
        if unknown:
            issues.append(
                ValidationIssue(
                    "children.csv",
                    line,
                    "wishes",
                    ";".join(unknown),
                    "ids of families, institutions or network persons",
                )
            )
    for line, excl in parsed["exclusions"]:
        if excl.child_id not in child_ids:
            issues.append(
                ValidationIssue(
                    "exclusions.csv",
                    line,
                    "child_id",
                    excl.child_id,
                    "a child_id from children.csv",
                )
            )
        if excl.option_id not in option_ids:
            issues.append(
                ValidationIssue(
                    "exclusions.csv",
                    line,
                    "option_id",
                    excl.option_id,
                    "an id of a family, institution or network person",
                )
            )
    for line, keep in parsed["keep_away"]:
        if keep.child_id not in child_ids:
            issues.append(
                ValidationIssue(
                    "keep_away.csv", line, "child_id", keep.child_id, "a child_id from children.csv"
                )
            )
    _check_placements(parsed["placements"], children, network, families, institutions, issues)


def _duplicates(
    file: str, column: str, rows: list[tuple[int, str]], issues: list[ValidationIssue]
) -> None:
    seen: dict[str, int] = {}
    for line, key in rows:
        if key in seen:
            issues.append(
                ValidationIssue(
                    file, line, column, key, f"a unique id (already used on row {seen[key]})"
                )
            )
        else:
            seen[key] = line


def _check_placements(
    placements: list[tuple[int, Placement]],
    children: list[tuple[int, Child]],
    network: list[tuple[int, NetworkPerson]],
    families: list[tuple[int, Family]],
    institutions: list[tuple[int, Institution]],
    issues: list[ValidationIssue],
) -> None:
    """Every placement names a known child and an option of its kind; a child has at most one
    active placement; and when the file is there, each option's occupied places are exactly
    its active placements."""
    if not placements:
        return
    file = "placements.csv"
    child_ids = {c.child_id for _, c in children}
    family = {f.family_id: f for _, f in families}
    institution = {i.institution_id: i for _, i in institutions}
    network_of = {(p.person_id, p.child_id) for _, p in network}
    active_row: dict[str, int] = {}
    for line, p in placements:
        if p.child_id not in child_ids:
            issues.append(
                ValidationIssue(file, line, "child_id", p.child_id, "a child_id from children.csv")
            )
        kind = p.kind
        if kind is Kind.NETWORK:
            ok = (p.option_id, p.child_id) in network_of
            allowed = "a person_id of this child's network (network.csv)"
        elif kind is Kind.FOSTER:
            ok = p.option_id in family
            allowed = "a family_id from families.csv"
        elif kind is Kind.INSTITUTION:
            ok = p.option_id in institution
            allowed = "an institution_id from institutions.csv"
        else:
            ok = (p.option_id in family and family[p.option_id].combination) or (
                p.option_id in institution and institution[p.option_id].combination_places > 0
            )
            allowed = "a family with combination=true or an institution with combination_places"
        if not ok:
            issues.append(
                ValidationIssue(
                    file, line, "option_id", p.option_id, f"{allowed} (kind {kind.value})"
                )
            )
        if not p.active:
            continue
        if p.child_id in active_row:
            issues.append(
                ValidationIssue(
                    file,
                    line,
                    "status",
                    "active",
                    f"one active placement per child (row {active_row[p.child_id]} is active too)",
                )
            )
        active_row.setdefault(p.child_id, line)
    counts = occupancy_by_pool((p for _, p in placements), institution)
    for line, f in families:
        n = counts.get(f.family_id, 0)
        if n != f.occupied:
            issues.append(
                ValidationIssue(
                    "families.csv",
                    line,
                    "occupied",
                    str(f.occupied),
                    f"{n} (the active placements of {f.family_id} in placements.csv)",
                )
            )
    for line, i in institutions:
        for pool, column, have, what in (
            (i.institution_id, "occupied", i.occupied, ""),
            (
                combination_pool(i.institution_id),
                "combination_occupied",
                i.combination_occupied,
                "combination ",
            ),
        ):
            n = counts.get(pool, 0)
            if n != have:
                issues.append(
                    ValidationIssue(
                        "institutions.csv",
                        line,
                        column,
                        str(have),
                        f"{n} (the active {what}placements of {i.institution_id} "
                        "in placements.csv)",
                    )
                )


def _check_network(
    network: list[tuple[int, NetworkPerson]], child_ids: set[str], issues: list[ValidationIssue]
) -> None:
    persons_of_child: dict[str, set[str]] = {}
    places_of_person: dict[str, tuple[int, int]] = {}
    via_of_child: dict[str, dict[str, str | None]] = {}
    for _, person in network:
        persons_of_child.setdefault(person.child_id, set()).add(person.person_id)
        via_of_child.setdefault(person.child_id, {})[person.person_id] = person.via
    for line, person in network:
        if person.child_id not in child_ids:
            issues.append(
                ValidationIssue(
                    "network.csv", line, "child_id", person.child_id, "a child_id from children.csv"
                )
            )
        if person.via is not None:
            if person.via == person.person_id:
                issues.append(
                    ValidationIssue(
                        "network.csv",
                        line,
                        "via",
                        person.via,
                        "another person in the child's network",
                    )
                )
            elif person.via not in persons_of_child.get(person.child_id, set()):
                issues.append(
                    ValidationIssue(
                        "network.csv",
                        line,
                        "via",
                        person.via,
                        "a person_id in the same child's network",
                    )
                )
        if _via_cycle(person, via_of_child[person.child_id]):
            issues.append(
                ValidationIssue(
                    "network.csv",
                    line,
                    "via",
                    person.via,
                    "a chain of via persons that ends at the child (this one loops)",
                )
            )
        first = places_of_person.setdefault(person.person_id, (line, person.places))
        if first[1] != person.places:
            issues.append(
                ValidationIssue(
                    "network.csv",
                    line,
                    "places",
                    str(person.places),
                    f"the same places as on row {first[0]} ({first[1]}): a person is one household",
                )
            )


def _via_cycle(person: NetworkPerson, via_of: dict[str, str | None]) -> bool:
    seen = {person.person_id}
    current = person.via
    while current is not None:
        if current in seen:
            return True
        seen.add(current)
        current = via_of.get(current)
    return False
