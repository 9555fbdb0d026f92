"""Applying a scenario's changes to a copy of the base dataset."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np

from matcher.scenario._records import (
    AddFamilies,
    CloseInstitution,
    PauseOptions,
    RemoveOptions,
    Scenario,
    ScenarioError,
    SetPlaces,
    scenario_seed,
)
from models.dataset import DENMARK_BBOX, Dataset
from models.domain import Family, Institution, Place
from models.enums import NEEDS, FosterLevel

__all__ = ["apply_changes", "check_scenario"]


def check_scenario(ds: Dataset, scenario: Scenario, issues: list[str]) -> None:
    """Append an issue for every id or kommune a change names that the base does not have."""
    families = {f.family_id for f in ds.families}
    institutions = {i.institution_id for i in ds.institutions}
    kommuner = {f.kommune_code for f in ds.families} | {c.kommune_code for c in ds.children}
    for k, change in enumerate(scenario.changes, start=1):
        where = f"scenario '{scenario.name}', change {k}"
        if isinstance(change, CloseInstitution):
            for oid in change.ids:
                if oid not in institutions:
                    issues.append(
                        f"{where} (close_institution), field 'ids': got {oid!r}; "
                        "allowed: institution ids of the base dataset"
                    )
        elif isinstance(change, AddFamilies):
            for code in change.kommuner:
                if code not in kommuner:
                    issues.append(
                        f"{where} (add_families), field 'kommuner': got {code!r}; "
                        "allowed: kommuner with families or children in the base dataset"
                    )
        else:
            for oid in change.selector.ids:
                if oid not in families and oid not in institutions:
                    issues.append(
                        f"{where}, field 'ids': got {oid!r}; allowed: family or "
                        "institution ids of the base dataset"
                    )
    for cid in scenario.cohort.children:
        if cid not in ds.child_by_id:
            issues.append(
                f"scenario '{scenario.name}', [cohort], field 'children': got {cid!r}; "
                "allowed: child ids of the base dataset"
            )


def _new_families(
    ds: Dataset, change: AddFamilies, rng: np.random.Generator, prefix: str, as_of: date
) -> list[Family]:
    codes = change.kommuner or tuple(sorted({f.kommune_code for f in ds.families}))
    anchors: dict[str, list[Place]] = {}
    for code in codes:
        homes = [f.place for f in ds.families if f.kommune_code == code]
        anchors[code] = homes or [c.home for c in ds.children if c.kommune_code == code]
    sizes = np.array([p for p, _ in change.places])
    shares = np.array([s for _, s in change.places])
    shares = shares / shares.sum()
    lat_min, lat_max, lon_min, lon_max = DENMARK_BBOX
    pool = NEEDS[:4] if change.level == FosterLevel.ALMEN else NEEDS
    out = []
    for n in range(change.count):
        code = codes[int(rng.integers(len(codes)))]
        anchor = anchors[code][int(rng.integers(len(anchors[code])))]
        dlat = rng.normal(0.0, change.spread_km / 111.0)
        dlon = rng.normal(0.0, change.spread_km / (111.0 * np.cos(np.radians(anchor.lat))))
        lat = round(float(np.clip(anchor.lat + dlat, lat_min + 0.01, lat_max - 0.01)), 6)
        lon = round(float(np.clip(anchor.lon + dlon, lon_min + 0.01, lon_max - 0.01)), 6)
        places = int(sizes[int(rng.choice(len(sizes), p=shares))])
        if change.target_groups is None:
            k = int(rng.integers(2, 7))
            groups = frozenset(
                str(x) for x in rng.choice(pool, size=min(k, len(pool)), replace=False)
            )
        else:
            groups = change.target_groups
        out.append(
            Family(
                family_id=f"{prefix}{n + 1:04d}",
                kommune_code=code,
                place=Place(lat, lon),
                level=change.level,
                places=places,
                occupied=0,
                min_age=change.min_age,
                max_age=change.max_age,
                target_groups=groups,
                max_siblings=min(change.max_siblings, places),
                acute=change.acute,
                combination=change.combination,
                vacancy_confirmed=as_of,
            )
        )
    return out


def _set_places(option: Any, change: SetPlaces) -> Any:
    places = option.places
    if change.places is not None:
        places = change.places
    elif change.delta is not None:
        places = max(option.places + change.delta, 0)
    # Approved places may fall below the children already placed; nobody is moved, so
    # occupied stays and the option simply has no free place.
    updates: dict[str, Any] = {"places": places, "occupied": min(option.occupied, places)}
    if isinstance(option, Institution) and change.combination_places is not None:
        updates["combination_places"] = change.combination_places
        updates["combination_occupied"] = min(
            option.combination_occupied, change.combination_places
        )
    return replace(option, **updates)


def apply_changes(dataset: Dataset, scenario: Scenario, seed: int, as_of: date) -> Dataset:
    """A new dataset with the scenario's changes applied in order; the base is untouched."""
    issues: list[str] = []
    check_scenario(dataset, scenario, issues)
    if issues:
        raise ScenarioError(issues)
    rng = np.random.default_rng(scenario_seed(seed, scenario.name))
    families = list(dataset.families)
    institutions = list(dataset.institutions)
    taken = dataset.option_ids()
    for k, change in enumerate(scenario.changes, start=1):
        if isinstance(change, AddFamilies):
            prefix = f"new{k}-"
            while any(oid.startswith(prefix) for oid in taken):
                prefix = "x" + prefix
            work = replace(dataset, families=tuple(families))
            added = _new_families(work, change, rng, prefix, as_of)
            families.extend(added)
            taken |= {f.family_id for f in added}
        elif isinstance(change, RemoveOptions):
            families = [f for f in families if not change.selector.picks_family(f)]
            institutions = [i for i in institutions if not change.selector.picks_institution(i)]
        elif isinstance(change, PauseOptions):
            families = [
                replace(f, paused=True) if change.selector.picks_family(f) else f for f in families
            ]
            institutions = [
                replace(i, places=i.occupied, combination_places=i.combination_occupied)
                if change.selector.picks_institution(i)
                else i
                for i in institutions
            ]
        elif isinstance(change, SetPlaces):
            families = [
                _set_places(f, change) if change.selector.picks_family(f) else f for f in families
            ]
            institutions = [
                _set_places(i, change) if change.selector.picks_institution(i) else i
                for i in institutions
            ]
        else:
            closed = set(change.ids)
            institutions = [i for i in institutions if i.institution_id not in closed]
    kept = {f.family_id for f in families} | {i.institution_id for i in institutions}
    kept |= {p.person_id for p in dataset.network}
    return replace(
        dataset,
        families=tuple(families),
        institutions=tuple(institutions),
        exclusions=tuple(e for e in dataset.exclusions if e.option_id in kept),
    )
