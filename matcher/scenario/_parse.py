"""Reading a scenario file: every problem is collected, each naming where it is."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from matcher.scenario._records import (
    BASELINE,
    CHANGE_TYPES,
    SOLVERS,
    AddFamilies,
    Change,
    CloseInstitution,
    Cohort,
    PauseOptions,
    RemoveOptions,
    Scenario,
    ScenarioError,
    ScenarioFile,
    Selector,
    SetPlaces,
)
from matcher.simulate import SimulationParams
from models.enums import NEEDS, FosterLevel, InstitutionKind

__all__ = ["load_scenarios", "parse_scenarios"]

_OPTION_KINDS = ("foster", "institution", *(k.value for k in InstitutionKind))
_LEVEL_NAMES = {lv.label: lv for lv in FosterLevel} | {str(lv.value): lv for lv in FosterLevel}


class _Fields:
    """Reads one table of the file, recording issues that name where they are."""

    def __init__(self, table: Mapping[str, Any], where: str, issues: list[str]) -> None:
        self.table = table
        self.where = where
        self.issues = issues
        self.used: set[str] = set()

    def issue(self, key: str, value: Any, allowed: str) -> None:
        self.issues.append(f"{self.where}, field '{key}': got {value!r}; allowed: {allowed}")

    def get(self, key: str) -> Any:
        self.used.add(key)
        return self.table.get(key)

    def integer(self, key: str, default: int, lo: int, hi: int) -> int:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.issue(key, value, f"a whole number from {lo} to {hi}")
            return default
        return value

    def optional_int(self, key: str, lo: int, hi: int) -> int | None:
        if self.table.get(key) is None:
            self.used.add(key)
            return None
        return self.integer(key, 0, lo, hi)

    def number(self, key: str, default: float | None, lo: float, hi: float) -> float | None:
        value = self.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            self.issue(key, value, f"a number from {lo:g} to {hi:g}")
            return default
        return float(value)

    def text(self, key: str, default: str, allowed: Iterable[str] | None = None) -> str:
        value = self.get(key)
        if value is None:
            return default
        options = list(allowed) if allowed is not None else None
        if not isinstance(value, str) or (options is not None and value not in options):
            self.issue(key, value, ", ".join(options) if options else "a text")
            return default
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.issue(key, value, "true or false")
            return default
        return value

    def texts(self, key: str, check: str = "") -> tuple[str, ...]:
        value = self.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.issue(key, value, "a list of texts")
            return ()
        if check == "kommune":
            bad = [v for v in value if not (len(v) == 3 and v.isdigit())]
            if bad:
                self.issue(key, bad[0], '3-digit kommune codes, e.g. "101"')
                return ()
        if check == "needs":
            bad = [v for v in value if v not in NEEDS]
            if bad:
                self.issue(key, bad[0], ", ".join(NEEDS))
                return ()
        return tuple(value)

    def integers(self, key: str, lo: int, hi: int) -> tuple[int, ...]:
        value = self.get(key)
        if value is None:
            return ()
        if isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi for v in value
        ):
            self.issue(key, value, f"a list of whole numbers from {lo} to {hi}")
            return ()
        return tuple(value)

    def finish(self) -> None:
        for key in sorted(set(self.table) - self.used):
            self.issues.append(
                f"{self.where}: unknown field '{key}'; allowed: {', '.join(sorted(self.used))}"
            )


def _cohort(table: Any, where: str, issues: list[str], default: Cohort) -> Cohort:
    if table is None:
        return default
    if not isinstance(table, Mapping):
        issues.append(f"{where}: got {table!r}; allowed: a table")
        return default
    f = _Fields(table, where, issues)
    cohort = Cohort(
        kommuner=f.texts("kommuner", "kommune") or default.kommuner,
        min_age=f.integer("min_age", default.min_age, 0, 17),
        max_age=f.integer("max_age", default.max_age, 0, 17),
        support_levels=f.integers("support_levels", 1, 4) or default.support_levels,
        children=f.texts("children") or default.children,
    )
    f.finish()
    if cohort.min_age > cohort.max_age:
        f.issue("min_age", cohort.min_age, f"at most max_age ({cohort.max_age})")
    return cohort


def _selector(f: _Fields) -> Selector:
    selector = Selector(
        ids=f.texts("ids"),
        kind=f.text("kind", "", _OPTION_KINDS) or None,
        kommuner=f.texts("kommuner", "kommune"),
        levels=_levels(f),
    )
    if selector == Selector():
        f.issues.append(f"{f.where}: name the options with ids, kind, kommuner or levels")
    return selector


def _levels(f: _Fields) -> tuple[int, ...]:
    value = f.get("levels")
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        level = _LEVEL_NAMES.get(str(item))
        if level is None or isinstance(item, bool):
            f.issue("levels", item, ", ".join(lv.label for lv in FosterLevel) + " or 1-3")
            return ()
        out.append(int(level))
    return tuple(out)


def _places_distribution(f: _Fields) -> tuple[tuple[int, float], ...]:
    value = f.get("places")
    if value is None:
        return ((1, 1.0),)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 10:
        return ((value, 1.0),)
    if isinstance(value, Mapping):
        pairs = []
        for key, share in value.items():
            if not (str(key).isdigit() and 1 <= int(key) <= 10):
                f.issue(f"places.{key}", key, "places from 1 to 10 as keys")
                return ((1, 1.0),)
            if isinstance(share, bool) or not isinstance(share, int | float) or share < 0:
                f.issue(f"places.{key}", share, "a share from 0 to 1")
                return ((1, 1.0),)
            pairs.append((int(key), float(share)))
        total = sum(s for _, s in pairs)
        if pairs and abs(total - 1.0) <= 1e-6:
            return tuple(sorted(pairs))
        f.issue("places", value, "shares that sum to 1")
        return ((1, 1.0),)
    f.issue("places", value, 'a whole number from 1 to 10, or shares like { "1" = 0.5, "2" = 0.5 }')
    return ((1, 1.0),)


def _change(table: Any, where: str, issues: list[str]) -> Change | None:
    if not isinstance(table, Mapping):
        issues.append(f"{where}: got {table!r}; allowed: a table with a 'type'")
        return None
    kind = table.get("type")
    if kind not in CHANGE_TYPES:
        issues.append(f"{where}, field 'type': got {kind!r}; allowed: {', '.join(CHANGE_TYPES)}")
        return None
    f = _Fields(table, f"{where} ({kind})", issues)
    f.get("type")
    change: Change | None
    if kind == "add_families":
        level_raw = f.get("level")
        level = _LEVEL_NAMES.get(str(level_raw)) if not isinstance(level_raw, bool) else None
        if level is None:
            f.issue("level", level_raw, ", ".join(lv.label for lv in FosterLevel) + " or 1-3")
        groups = f.texts("target_groups", "needs")
        change = AddFamilies(
            count=f.integer("count", 1, 1, 10_000),
            level=level or FosterLevel.ALMEN,
            places=_places_distribution(f),
            kommuner=f.texts("kommuner", "kommune"),
            target_groups=frozenset(groups) if "target_groups" in table else None,
            min_age=f.integer("min_age", 0, 0, 17),
            max_age=f.integer("max_age", 17, 0, 17),
            max_siblings=f.integer("max_siblings", 1, 1, 10),
            acute=f.flag("acute"),
            combination=f.flag("combination"),
            spread_km=f.number("spread_km", 3.0, 0.0, 50.0) or 0.0,
        )
    elif kind in ("remove", "pause"):
        selector = _selector(f)
        change = RemoveOptions(selector) if kind == "remove" else PauseOptions(selector)
    elif kind == "set_places":
        change = SetPlaces(
            _selector(f),
            places=f.optional_int("places", 0, 500),
            delta=f.optional_int("delta", -500, 500),
            combination_places=f.optional_int("combination_places", 0, 500),
        )
        if change.places is None and change.delta is None and change.combination_places is None:
            issues.append(f"{f.where}: give places, delta or combination_places")
        if change.places is not None and change.delta is not None:
            issues.append(f"{f.where}: give places or delta, not both")
    else:
        ids = f.texts("ids")
        if not ids:
            f.issue("ids", table.get("ids"), "a list of institution ids")
        change = CloseInstitution(ids)
    f.finish()
    return change


def parse_scenarios(data: Mapping[str, Any], path: Path) -> ScenarioFile:
    """The scenario file's records; raises ScenarioError listing every problem."""
    issues: list[str] = []
    top = _Fields(data, str(path), issues)
    base_raw = top.text("base", "")
    if not base_raw:
        top.issue("base", data.get("base"), "the path of a dataset directory or .xlsx workbook")
    base = (path.parent / base_raw).resolve() if base_raw else path.parent
    as_of_raw = top.get("as_of")
    as_of = date.today()
    if isinstance(as_of_raw, date):
        as_of = as_of_raw
    elif isinstance(as_of_raw, str):
        try:
            as_of = date.fromisoformat(as_of_raw)
        except ValueError:
            top.issue("as_of", as_of_raw, "a date YYYY-MM-DD")
    elif as_of_raw is not None:
        top.issue("as_of", as_of_raw, "a date YYYY-MM-DD")
    seed = top.integer("seed", 0, 0, 2**31 - 1)
    solver = top.text("solver", "auto", SOLVERS)
    time_limit = top.number("time_limit", None, 0.1, 86_400)
    policy = top.text("policy", "auto")
    cohort = _cohort(top.get("cohort"), f"{path}: [cohort]", issues, Cohort())
    simulation = _simulation(top.get("simulate"), f"{path}: [simulate]", issues, seed)
    raw = top.get("scenario")
    if raw is None:
        raw = top.get("scenarios")
    else:
        top.used.add("scenarios")
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        top.issue("scenario", raw, "[[scenario]] tables")
        raw = []
    top.finish()

    scenarios: list[Scenario] = []
    seen: set[str] = set()
    for n, table in enumerate(raw, start=1):
        if not isinstance(table, Mapping):
            issues.append(f"{path}: scenario {n}: got {table!r}; allowed: a table")
            continue
        name = table.get("name")
        label = f"{path}: scenario {n}"
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            issues.append(
                f"{label}, field 'name': got {name!r}; allowed: a name of 1-64 characters"
            )
            name = f"scenario-{n}"
        elif any(ch in name for ch in '/\\:*?"<>|') or name.startswith("."):
            issues.append(
                f"{label}, field 'name': got {name!r}; allowed: no / \\ : * ? \" < > | "
                "(it names a file of the report)"
            )
        else:
            label = f"{path}: scenario '{name}'"
        if name in seen:
            issues.append(f"{label}, field 'name': got {name!r}; allowed: a name not used before")
        seen.add(name)
        f = _Fields(table, label, issues)
        f.get("name")
        raw_changes = f.get("change")
        if raw_changes is None:
            raw_changes = f.get("changes")
        else:
            f.used.add("changes")
        raw_changes = raw_changes or []
        if not isinstance(raw_changes, list):
            f.issue("change", raw_changes, "[[scenario.change]] tables")
            raw_changes = []
        changes = [
            _change(c, f"{label}, change {k}", issues) for k, c in enumerate(raw_changes, start=1)
        ]
        overrides = f.get("policy_overrides")
        policy_name = policy
        policy_raw = f.get("policy")
        if isinstance(policy_raw, Mapping):
            overrides = policy_raw
        elif isinstance(policy_raw, str):
            policy_name = policy_raw
        elif policy_raw is not None:
            f.issue("policy", policy_raw, "a profile name, or a table of settings to override")
        if overrides is not None and not isinstance(overrides, Mapping):
            f.issue("policy_overrides", overrides, "a table of settings to override")
            overrides = None
        scenario = Scenario(
            name=name,
            description=f.text("description", ""),
            changes=tuple(c for c in changes if c is not None),
            cohort=_cohort(f.get("cohort"), f"{label}, [cohort]", issues, cohort),
            policy=policy_name,
            policy_overrides=dict(overrides or {}),
            solver=f.text("solver", solver, SOLVERS),
            time_limit=f.number("time_limit", time_limit, 0.1, 86_400),
            allow_sibling_split=f.flag("allow_sibling_split"),
        )
        f.finish()
        if name == BASELINE and (scenario.changes or scenario.policy_overrides):
            issues.append(
                f"{label}: the baseline scenario is the base dataset as it is; give the "
                "changed one another name"
            )
        scenarios.append(scenario)
    if issues:
        raise ScenarioError(issues)
    if BASELINE not in seen:
        scenarios.insert(
            0,
            Scenario(
                BASELINE, "the base dataset, no changes", (), cohort, policy, {}, solver, time_limit
            ),
        )
    else:
        scenarios.sort(key=lambda s: s.name != BASELINE)
    return ScenarioFile(path, base, as_of, seed, tuple(scenarios), simulation)


def _simulation(raw: Any, where: str, issues: list[str], seed: int) -> SimulationParams | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        issues.append(f"{where}: got {raw!r}; allowed: a table of simulation settings")
        return None
    f = _Fields(raw, where, issues)
    defaults = SimulationParams()
    params = SimulationParams(
        months=f.integer("months", defaults.months, 1, 120),
        seed=f.integer("seed", seed, 0, 2**31 - 1),
        arrivals=f.optional_int("arrivals", 0, 100_000),
        accept=f.number("accept", defaults.accept, 0.0, 1.0) or 0.0,
        end=f.number("end", defaults.end, 0.0, 1.0) or 0.0,
        capacity_change=f.number("capacity_change", defaults.capacity_change, 0.0, 1.0) or 0.0,
        time_limit=f.number("time_limit", defaults.time_limit, 0.1, 3_600) or defaults.time_limit,
    )
    f.finish()
    return params


def load_scenarios(path: str | Path) -> ScenarioFile:
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ScenarioError([f"{path}: the scenario file does not exist"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([f"{path}: not valid TOML ({exc})"]) from None
    return parse_scenarios(data, path)
