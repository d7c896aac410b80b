"""What a search leaves behind besides the study: trials.csv, best_config.yaml, the history and
importance plots and report.html, from a loaded Optuna study."""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from vidlearn.config import ExperimentConfig
from vidlearn.training.tune_space import format_value, apply_params
from vidlearn.progress import Echo

__all__ = ["plot_history", "plot_importance", "write_reports", "write_tune_report"]



def write_reports(
    study: optuna.Study, base: ExperimentConfig, out: Path, *, metric: str, seed: int = 0, echo: Echo | None = None
) -> dict[str, Path]:
    """trials.csv (every trial), best_config.yaml (base + best values: `vidlearn train --config`
    takes it as is), history.png, importance.png and the self-contained report.html (which only
    warns through `echo`, default stderr, when it cannot be written). Returns the files written."""
    trials = study.get_trials(deepcopy=False)
    files = {"trials": _write_trials_csv(trials, out / "trials.csv")}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        cfg = apply_params(base, best.params)
        cfg.save(out / "best_config.yaml")
        files["best_config"] = out / "best_config.yaml"
    files["history"] = plot_history(trials, out / "history.png", metric=metric)
    importances: dict[str, float] = {}
    note = "needs at least 2 completed trials"
    if len(complete) >= 2:
        try:
            from optuna.importance import (
                FanovaImportanceEvaluator,
                get_param_importances,
            )

            importances = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=seed))
        except (ValueError, RuntimeError) as exc:
            text = str(exc)
            note = (
                "cannot be computed: every completed trial has the same value" if "variance" in text
                else f"cannot be computed: {text.splitlines()[0][:80] if text else exc.__class__.__name__}"
            )
    files["importance"] = plot_importance(importances, out / "importance.png", note=note)
    report = write_tune_report(study, out, files, metric=metric, importances=importances, echo=echo)
    if report is not None:
        files["report"] = report
    return files


def write_tune_report(
    study: optuna.Study,
    out: Path,
    files: Mapping[str, Path],
    *,
    metric: str,
    importances: Mapping[str, float] | None = None,
    echo: Echo | None = None,
) -> Path | None:
    """OUT/report.html: the best value and parameters, the history and importance plots, one row
    per trial (linked to the trial's own report) and best_config.yaml. Returns its path, or None
    after a one-line warning when it could not be written (the search itself has succeeded)."""
    try:
        from vidlearn.reports import (
            Section,
            image_html,
            table_html,
            text_html,
            write_html_report,
        )

        trials = [t for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING]
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        best = study.best_trial if complete else None
        states = [_state(t) for t in trials]
        metrics: dict[str, Any] = {
            "best value": None if best is None else best.value,
            "best trial": None if best is None else best.number,
            "trials": len(trials),
            **{state.lower(): states.count(state) for state in dict.fromkeys(states)},
        }
        info = {"objective": f"{metric} (maximised)", "task": study.user_attrs.get("task"), "study": str(out / "study.db")}
        sections = []
        if best is not None:
            rows = [[name, format_value(value)] for name, value in best.params.items()]
            note = text_html(f"Trial {best.number}: {metric} = {format_value(best.value)}.")
            sections.append(Section("best", "Best parameters", note + table_html(["parameter", "value"], rows, numeric=[False, False])))
        else:
            sections.append(Section("best", "Best parameters", '<p class="note">No trial has completed yet.</p>'))
        sections.append(Section("history", "Optimisation history", image_html(files["history"], "optimisation history")))
        imp = ""
        if importances:
            imp = table_html(["parameter", "importance"], [[k, v] for k, v in sorted(importances.items(), key=lambda kv: -kv[1])], numeric=[False, True])
        sections.append(Section("importance", "Parameter importance", image_html(files["importance"], "parameter importance") + imp))
        sections.append(Section("trials", f"Trials ({len(trials)})", _trials_table(trials, out)))
        if files.get("best_config") is not None and Path(files["best_config"]).is_file():
            text = Path(files["best_config"]).read_text(encoding="utf-8")
            sections.append(Section("config", "Best configuration (best_config.yaml)", text_html(text, pre=True)))
        secs = [t.duration.total_seconds() for t in trials if t.duration is not None]
        timing = {"all trials (sum)": sum(secs)} if secs else None
        return write_html_report(
            out, title=f"Tuning report: {Path(out).resolve().name}", metrics=metrics, sections=sections, info=info, timing=timing,
        )
    except Exception as exc:  # noqa: BLE001 - a missing report must not fail a finished search
        import sys

        (echo or (lambda s: print(s, file=sys.stderr)))(f"warning: {out / 'report.html'} not written ({exc.__class__.__name__}: {exc})")
        return None


def _state(t: optuna.trial.FrozenTrial) -> str:
    return "INTERRUPTED" if t.state == TrialState.FAIL and t.user_attrs.get("interrupted") else t.state.name


def _trials_table(trials: Sequence[optuna.trial.FrozenTrial], out: Path) -> str:
    """One row per trial (as in trials.csv); the trial number links to the trial's report."""
    from html import escape

    from vidlearn.reports import table_html

    names: list[str] = []
    for t in trials:
        names += [n for n in t.params if n not in names]
    rows = []
    for t in trials:
        number = escape(str(t.number))
        run_dir = t.user_attrs.get("run_dir")
        if run_dir:
            report = Path(run_dir) / "eval" / "report.html"
            if report.is_file():
                href = Path(os.path.relpath(report.resolve(), Path(out).resolve())).as_posix()
                number = f'<a href="{escape(href)}">{number}</a>'
        secs = t.duration.total_seconds() if t.duration is not None else None
        rows.append([
            number, escape(_state(t)), "—" if t.value is None else escape(format_value(t.value)),
            "—" if secs is None else f"{secs:.1f}", str(len(t.intermediate_values)),
            *[escape(format_value(t.params[n])) if n in t.params else "—" for n in names],
            escape(str(t.user_attrs.get("error", ""))[:200]),
        ])
    heads = ["trial", "state", "value", "seconds", "epochs reported", *names, "error"]
    numbers = [all(isinstance(t.params.get(n, 0), (int, float)) and not isinstance(t.params.get(n), bool) for t in trials) for n in names]
    numeric = [True, False, True, True, True, *numbers, False]
    return table_html(heads, rows, numeric=numeric, raw=True)


def _write_trials_csv(trials: Sequence[optuna.trial.FrozenTrial], path: Path) -> Path:
    from vidlearn.fsutil import atomic_write_text

    trials = [t for t in trials if t.state != TrialState.WAITING]  # queued, not run yet
    names: list[str] = []
    for t in trials:
        names += [n for n in t.params if n not in names]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["number", "state", "value", "seconds", "epochs_reported", *names, "run_dir", "error"])
    for t in trials:
        secs = t.duration.total_seconds() if t.duration is not None else ""
        state = _state(t)
        w.writerow([
            t.number, state, "" if t.value is None else t.value, f"{secs:.1f}" if secs != "" else "",
            len(t.intermediate_values), *[t.params.get(n, "") for n in names],
            t.user_attrs.get("run_dir", ""), t.user_attrs.get("error", ""),
        ])
    atomic_write_text(path, buf.getvalue())
    return path


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # an explicit Agg canvas: no pyplot, no GUI backend
    return fig


def _save_png(fig, path: Path) -> Path:
    from vidlearn.fsutil import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())
    return path


def plot_history(trials: Sequence[optuna.trial.FrozenTrial], path: Path, *, metric: str) -> Path:
    """Objective per trial (completed: dots, pruned: crosses at their last reported value) and
    the best so far."""
    fig = _new_figure(7, 4)
    ax = fig.add_subplot(1, 1, 1)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if done:
        xs, ys = [t.number for t in done], [float(t.value) for t in done]  # type: ignore[arg-type]
        ax.plot(xs, ys, "o", color="tab:blue", label="completed")
        best, run = [], -math.inf
        for y in ys:
            run = max(run, y)
            best.append(run)
        ax.step(xs, best, where="post", color="tab:red", label="best so far")
    pruned = [t for t in trials if t.state == TrialState.PRUNED and t.intermediate_values]
    if pruned:
        ax.plot([t.number for t in pruned], [t.intermediate_values[max(t.intermediate_values)] for t in pruned],
                "x", color="tab:gray", label="pruned (last epoch)")
    if not done and not pruned:
        ax.text(0.5, 0.5, "no finished trial yet", ha="center", va="center", transform=ax.transAxes)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title("optimisation history")
    ax.grid(alpha=0.3)
    if done or pruned:
        ax.legend(loc="best", fontsize=8)
    return _save_png(fig, path)


def plot_importance(importances: Mapping[str, float], path: Path, *, note: str = "") -> Path:
    """Horizontal bars of the parameters' importances (fANOVA, summing to 1)."""
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig = _new_figure(7, max(2.5, 0.45 * len(items) + 1.2))
    ax = fig.add_subplot(1, 1, 1)
    if items:
        ax.barh([k for k, _ in items], [v for _, v in items], color="tab:blue")
        for i, (_, v) in enumerate(items):
            ax.text(v, i, f" {v:.2f}", va="center", fontsize=8)
        ax.set_xlabel("importance (fANOVA)")
        ax.set_xlim(0, max(1e-9, max(v for _, v in items)) * 1.2)
    else:
        ax.text(0.5, 0.5, f"parameter importance {note}", wrap=True, ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    ax.set_title("parameter importance")
    return _save_png(fig, path)
