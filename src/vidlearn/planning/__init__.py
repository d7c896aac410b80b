"""Self-configuring training: the data and machine fingerprints, the pure planning rules, the
calibration run that measures a recipe on this machine, and `make_plan`, which puts them together
(what `vidlearn plan` prints and `vidlearn train` uses when no recipe is given). docs/planner.md
lists the rules and the measurements that set them.

It sits above `training` (calibration runs the training step; `train` runs the plan) and below
`demo`/`cli`; `deploy` does not need it."""

from vidlearn.data.fingerprint import DataFingerprint, fingerprint_records
from vidlearn.planning.budget import DEFAULT_BUDGET_S, format_seconds, parse_budget
from vidlearn.planning.calibrate import calibrate
from vidlearn.planning.machine import MachineFingerprint, fingerprint_machine
from vidlearn.planning.planner import format_plan, make_plan, save_plan_config, train_planned, user_settings
from vidlearn.planning.rules import Calibration, Choice, Plan, candidate_families, plan_recipe

__all__ = [
    "Calibration",
    "Choice",
    "DEFAULT_BUDGET_S",
    "DataFingerprint",
    "MachineFingerprint",
    "Plan",
    "calibrate",
    "candidate_families",
    "fingerprint_machine",
    "fingerprint_records",
    "format_plan",
    "format_seconds",
    "make_plan",
    "parse_budget",
    "plan_recipe",
    "save_plan_config",
    "train_planned",
    "user_settings",
]
