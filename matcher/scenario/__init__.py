"""What-if scenarios: a TOML file of named change sets applied to copies of a base dataset.

    base = "var/national"        # dataset directory, relative to the scenario file
    as_of = "2026-11-01"
    seed = 1
    solver = "auto"              # default for every scenario (auto, flow, cpsat, greedy)
    time_limit = 30
    policy = "auto"              # a profile name or path; auto: by the child's kommune

    [cohort]                     # default cohort: kommuner, min_age, max_age,
    kommuner = ["101"]           # support_levels, children

    [[scenario]]
    name = "recruit-north"
    description = "20 reinforced families in Nordjylland"
      [[scenario.change]]
      type = "add_families"      # add_families, remove, pause, set_places, close_institution
      count = 20
      level = "forstaerket"
      places = { "1" = 0.5, "2" = 0.5 }
      kommuner = ["860", "813"]
      [scenario.policy]          # overrides of the policy's settings
      limits_km = { foster = 40 }

A `baseline` scenario without changes is always run first. Everything here is pure: the
file is parsed into frozen records, and `apply_changes` returns a new dataset.
"""

from matcher.scenario._apply import apply_changes, check_scenario
from matcher.scenario._parse import load_scenarios, parse_scenarios
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
    scenario_seed,
)

__all__ = [
    "BASELINE",
    "CHANGE_TYPES",
    "SOLVERS",
    "AddFamilies",
    "Change",
    "CloseInstitution",
    "Cohort",
    "PauseOptions",
    "RemoveOptions",
    "Scenario",
    "ScenarioError",
    "ScenarioFile",
    "Selector",
    "SetPlaces",
    "apply_changes",
    "check_scenario",
    "load_scenarios",
    "parse_scenarios",
    "scenario_seed",
]
