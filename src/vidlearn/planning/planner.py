"""Planning an experiment for DATA: fingerprint the data and the machine, take the user's explicit
settings, plan each candidate model family with the pure rules (:mod:`vidlearn.planning.rules`),
calibrate it on this machine, re-plan with the measurement, and keep the first family that fits
the budget. What `vidlearn plan` prints and `vidlearn train` uses when no recipe is given."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from vidlearn.config import ExperimentConfig, explicit_fields, override_keys
from vidlearn.data.fingerprint import DataFingerprint, fingerprint_records
from vidlearn.planning.budget import format_seconds
from vidlearn.planning.machine import MachineFingerprint, fingerprint_machine
from vidlearn.planning.rules import FEATURE_FAMILIES, FEATURES_FIRST_PASS_MAX, Plan, candidate_families, plan_recipe
from vidlearn.progress import Echo

__all__ = ["format_plan", "make_plan", "plan_header", "save_plan_config", "train_planned", "user_settings"]


def user_settings(config_file: str | Path | ExperimentConfig | None = None, *, overrides: list[str] | None = None,
                  named: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dotted fields the user set, with their values: those in the config file, the named
    options (e.g. ``{"model.name": "c3d"}``; None values are left out) and the ``--set`` overrides."""
    if isinstance(config_file, ExperimentConfig):
        cfg = config_file
    else:
        cfg = ExperimentConfig.load(config_file) if config_file else ExperimentConfig()
    keys = explicit_fields(cfg) if config_file is not None else set()
    named = {k: v for k, v in (named or {}).items() if v is not None}
    if named:
        cfg = cfg.override(named)
    if overrides:
        cfg = cfg.override(list(overrides))
    keys |= set(named) | override_keys(overrides)
    data = cfg.to_dict()
    out: dict[str, Any] = {}
    for key in sorted(keys):
        node: Any = data
        for part in key.split("."):
            node = node[part]
        out[key] = node
    return out


def make_plan(
    data: str | Path,
    *,
    budget_s: float,
    task: str = "classification",
    group: str | None = None,
    cv: str | None = None,
    explicit: dict[str, Any] | None = None,
    calibrate: bool = True,
    started: float | None = None,
    echo: Echo | None = None,
) -> Plan:
    """The plan for DATA (see the module docs). `explicit`: from `user_settings`. `started`: when
    the budget's clock started (default now); planning and calibration are taken out of the budget
    that the training is planned for."""
    from vidlearn.data.sources import load_records
    from vidlearn.planning.calibrate import calibrate as run_calibration

    started = time.time() if started is None else started
    explicit = dict(explicit or {})
    records = load_records(data, task=task, group=group)
    fp = fingerprint_records(records, task=task)
    machine = fingerprint_machine(explicit.get("data.cache_dir"))
    families = candidate_families(fp, machine, task=task, explicit=explicit)
    bad = {p for p, _ in fp.bad}
    plan: Plan | None = None
    tried: list[str] = []
    planned: list[Plan] = []
    for family in families:
        first = plan_recipe(fp, machine, budget_s, task=task, explicit=explicit, cv=cv, family=family)
        if not calibrate:
            plan = first
            break
        if echo:
            echo(f"calibrating {first.config.model.name} ({family}) on a few videos ...")
        limit = None
        if family in FEATURE_FAMILIES:  # stop measuring once computing every video's features could not fit

            limit = FEATURES_FIRST_PASS_MAX * budget_s / max(1, fp.n_videos)
        cal = run_calibration(records, first.config, bad=bad, first_pass_limit=limit)
        left = max(1.0, budget_s - (time.time() - started))
        plan = plan_recipe(fp, machine, left, task=task, explicit=explicit, cv=cv, family=family, calibration=cal)
        plan.budget_s = float(budget_s)
        planned.append(plan)
        if plan.fits:
            break
        tried.append(f"{family}: " + "; ".join(plan.notes))
    if planned and not planned[-1].fits:  # none fits: the family that gets closest to its measured need
        plan = max(planned, key=lambda p: (p.fit_ratio, -(p.predicted_s or 0.0)))
        tried = [t for t in tried if not t.startswith(plan.family + ":")]
    assert plan is not None
    plan.notes = [f"not planned: {t}" for t in tried] + plan.notes
    plan.data, plan.machine = fp, machine
    return plan


def _data_line(fp: DataFingerprint) -> str:
    parts = [f"{fp.n_videos} videos"]
    if fp.classes:
        parts.append(f"{len(fp.classes)} classes ({min(fp.classes.values())}-{max(fp.classes.values())} a class)")
    if fp.target_range:
        parts.append(f"target {fp.target_range[0]:g}..{fp.target_range[1]:g}")
    parts.append(f"{fp.n_groups} groups" if fp.n_groups else "no groups")
    if fp.duration and fp.short_side and fp.fps:
        parts.append(f"{fp.duration.min:.2f}-{fp.duration.max:.2f} s (median {fp.duration.median:.2f})")
        parts.append(f"short side {fp.short_side.min:g}-{fp.short_side.max:g} px")
        parts.append(f"{fp.fps.min:g}-{fp.fps.max:g} fps")
    parts.append(f"audio in {fp.audio_fraction:.0%}")
    parts.append(f"{len(fp.bad)} bad file(s)" + (": " + "; ".join(f"{p}: {r}" for p, r in fp.bad[:5]) if fp.bad else ""))
    return ", ".join(parts) + f" [{fp.sampling}]"


def _machine_line(m: MachineFingerprint) -> str:
    gpus = ", ".join(f"{n} ({b / 2**30:.0f} GiB)" for n, b in m.gpus) or "no GPU"
    disk = f"{m.free_disk_bytes / 2**30:.1f} GiB free at {m.cache_dir}" if m.free_disk_bytes is not None else f"free disk unknown at {m.cache_dir}"
    weights = "ImageNet frame encoder installed" if m.frame_encoder else "no frame encoder weights"
    return f"{m.cores} cores, {m.memory_bytes / 2**30:.1f} GiB RAM, {gpus}, {disk}; {weights}; " \
           f"{len(m.video_weights)} video backbone weight set(s) downloaded"


def format_plan(plan: Plan) -> list[str]:
    """The plan as readable lines: fingerprints, a table of choices with reasons, the prediction."""
    lines = []
    if plan.data is not None:
        lines.append(f"data: {_data_line(plan.data)}")
    if plan.machine is not None:
        lines.append(f"machine: {_machine_line(plan.machine)}")
    if plan.calibration is not None:
        c = plan.calibration
        lines.append(f"calibration ({c.model}, batch {c.batch_size}, {c.videos} videos, {c.steps} steps): "
                     f"{c.step_s:.3f} s a step, {c.first_pass_s:.3f} s a video first pass, {c.eval_s:.3f} s a video to evaluate")
    rows = plan.rows()
    w1 = max(len(r[0]) for r in rows)
    w2 = min(32, max(len(r[1]) for r in rows))
    lines.append(f"{'choice':<{w1}}  {'value':<{w2}}  reason")
    for f, v, why in rows:
        lines.append(f"{f:<{w1}}  {v:<{w2}}  {why}")
    if plan.predicted_s is not None:
        parts = ", ".join(f"{k} {format_seconds(v)}" for k, v in plan.breakdown.items())
        lines.append(f"predicted wall time: {format_seconds(plan.predicted_s)} of the {format_seconds(plan.budget_s)} budget ({parts})")
    else:
        lines.append(f"budget {format_seconds(plan.budget_s)}; not calibrated, so no wall time is predicted")
    lines += [f"note: {n}" for n in plan.notes]
    return lines


def plan_header(plan: Plan, data: str | Path, group: str | None) -> str:
    """The YAML comment that says how to run a saved plan."""
    cmd = f"vidlearn train {data} --config PLAN.yaml" + (f" --group {group}" if group else "") + (f" --cv {plan.cv}" if plan.cv else "")
    cmd += f" --budget {int(plan.budget_s)}s --out RUN"
    lines = [f"# planned by `vidlearn plan` for {data}: {plan.family}, budget {format_seconds(plan.budget_s)}",
             f"# run it: {cmd}"]
    if plan.predicted_s is not None:
        lines.append(f"# predicted wall time on the planning machine: {format_seconds(plan.predicted_s)}")
    return "\n".join(lines) + "\n"


def save_plan_config(plan: Plan, path: str | Path, *, data: str | Path, group: str | None = None, overwrite: bool = False) -> Path:
    """Write the plan's configuration as YAML (with a header saying how to run it) and the whole
    plan beside it as ``<name>.plan.json``; an existing file is kept unless `overwrite`."""
    import yaml

    from vidlearn.errors import ConfigError
    from vidlearn.fsutil import atomic_write_text

    p = Path(path)
    if p.exists() and not overwrite:
        raise ConfigError(f"{p}: exists; pass --force to replace it")
    atomic_write_text(p, plan_header(plan, data, group) + yaml.safe_dump(plan.config.to_dict(), sort_keys=False))
    atomic_write_text(p.with_suffix(".plan.json"), json.dumps(plan.to_dict(), indent=2))
    return p



def train_planned(
    data: str | Path,
    out: str | Path,
    *,
    budget_s: float,
    task: str = "classification",
    group: str | None = None,
    cv: str | None = None,
    explicit: dict[str, Any] | None = None,
    devices: int | str = 1,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    started: float | None = None,
    echo: Echo = print,
) -> tuple[Plan, Any]:
    """Plan (see `make_plan`), then train the plan on DATA within `budget_s` seconds from `started`
    (planning included): returns the plan and what `train_on_data` returns."""
    from vidlearn.training.checkpoints import claim_run_dir
    from vidlearn.training.experiment import train_on_data
    from vidlearn.training.finetune import apply_weights_preprocessing

    started = time.time() if started is None else started
    claim_run_dir(Path(out), resume=resume, overwrite=overwrite)  # before any time goes into a plan
    plan = make_plan(data, budget_s=budget_s, task=task, group=group, cv=cv, explicit=explicit, started=started, echo=echo)
    for line in format_plan(plan):
        echo(line)
    cfg = plan.config
    if cfg.model.weights:  # a pretrained backbone brings its preprocessing where neither the plan nor the user set it
        planned = {c.field for c in plan.choices if c.source == "plan"} - {"model.weights", "model.name"}
        cfg, _ = apply_weights_preprocessing(cfg, set(explicit or {}) | planned)
    Path(out).mkdir(parents=True, exist_ok=True)
    result = train_on_data(data, cfg, out, cv=plan.cv, group=group, devices=devices, resume=resume, overwrite=overwrite,
                           progress=progress, echo=echo, deadline=started + budget_s, plan=plan.to_dict())
    echo(f"wall time {format_seconds(time.time() - started)} of the {format_seconds(budget_s)} budget")
    return plan, result
