"""What a search leaves behind besides the study: trials.csv, best_config.yaml, Optuna's own
plots (optimisation history, parameter importance, slice, parallel coordinates, the per-epoch
curves of the trials) and report.html, from a loaded Optuna study.

The plots are `optuna.visualization.matplotlib`'s, saved as PNG; the trials table is
`study.trials_dataframe()`, renamed to the columns trials.csv has always had."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from vidlearn.config import ExperimentConfig
from vidlearn.training.tune_space import format_value, apply_params
from vidlearn.progress import Echo

__all__ = ["PLOTS", "plot_history", "plot_importance", "trials_frame", "write_reports", "write_tune_report"]

# file stem -> (report section title, what it shows); in the page's order
PLOTS = {
    "history": ("Optimisation history", "the objective of each completed trial and the best so far"),
    "importance": ("Parameter importance", "fANOVA importance of each parameter (they sum to 1)"),
    "slice": ("Slice plot", "the objective against each parameter's sampled values"),
    "parallel": ("Parallel coordinates", "each completed trial as a line through its parameter values and objective"),
    "intermediate": ("Per-epoch validation curves", "the value each trial reported to the pruner per epoch (validation accuracy, minus the MAE, or for multilabel minus the validation loss; pruned trials stop early)"),
}


def write_reports(
    study: optuna.Study, base: ExperimentConfig, out: Path, *, metric: str, seed: int = 0, echo: Echo | None = None
) -> dict[str, Path]:
    """trials.csv (every trial), best_config.yaml (base + best values: `vidlearn train --config`
    takes it as is), history.png, importance.png, slice.png, parallel.png, intermediate.png and
    the self-contained report.html (which only warns through `echo`, default stderr, when it
    cannot be written). Returns the files written."""
    trials = study.get_trials(deepcopy=False)
    files = {"trials": _write_trials_csv(study, out / "trials.csv")}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        cfg = apply_params(base, best.params)
        cfg.save(out / "best_config.yaml")
        files["best_config"] = out / "best_config.yaml"
    files["history"] = plot_history(study, out / "history.png", metric=metric)
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
    files["importance"] = plot_importance(study, importances, out / "importance.png", note=note)
    files["slice"] = _optuna_plot("plot_slice", study, out / "slice.png", metric=metric, need=1,
                                  width=lambda n: max(6.0, 3.0 * n + 1.5))
    files["parallel"] = _optuna_plot("plot_parallel_coordinate", study, out / "parallel.png", metric=metric, need=2,
                                     width=lambda n: max(7.0, 1.6 * (n + 1) + 2.0))
    if any(t.intermediate_values for t in trials):
        files["intermediate"] = _optuna_plot("plot_intermediate_values", study, out / "intermediate.png", metric=metric, need=0)
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
    """OUT/report.html: the best value and parameters, the plots of `files` (see PLOTS), one row
    per trial (linked to the trial's own report) and best_config.yaml. Every table fits a 1280 px
    window: a trial's parameters share one cell. Returns its path, or None after a one-line
    warning when it could not be written (the search itself has succeeded)."""
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
        for stem, (title, what) in PLOTS.items():
            if files.get(stem) is None:
                continue
            html = image_html(files[stem], title.lower(), caption=what)
            if stem == "importance" and importances:
                html += table_html(["parameter", "importance"], [[k, v] for k, v in sorted(importances.items(), key=lambda kv: -kv[1])], numeric=[False, True])
            sections.append(Section(stem, title, html))
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
    """One row per trial (as in trials.csv); the trial number links to the trial's report. The
    parameters share one cell, one `name = value` a line, so that the table keeps its width
    however many parameters the space has."""
    from html import escape

    from vidlearn.reports import table_html

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
        params = "<br>".join(f"<code>{escape(n)}</code> = {escape(format_value(v))}" for n, v in t.params.items()) or "—"
        error = str(t.user_attrs.get("error", ""))
        rows.append([
            number, escape(_state(t)), "—" if t.value is None else escape(format_value(t.value)),
            "—" if secs is None else f"{secs:.1f}", str(len(t.intermediate_values)),
            f'<span class="params">{params}</span>',
            f'<span class="wrap">{escape(error[:200])}{"…" if len(error) > 200 else ""}</span>',
        ])
    heads = ["trial", "state", "value", "seconds", "epochs", "parameters", "error"]
    return table_html(heads, rows, numeric=[True, False, True, True, True, False, False], raw=True, cls="trials")


_CSV_COLUMNS = {"number": "number", "state": "state", "value": "value", "duration": "seconds"}


def trials_frame(study: optuna.Study) -> Any:
    """`study.trials_dataframe()` with the columns of trials.csv: number, state (INTERRUPTED for a
    trial a killed search left behind), value, seconds, epochs_reported, one column per
    parameter (its dotted config name), run_dir, error. Queued (WAITING) trials are left out."""
    import pandas as pd

    df = study.trials_dataframe(attrs=("number", "value", "duration", "params", "user_attrs", "state"))
    if df.empty:
        return pd.DataFrame(columns=["number", "state", "value", "seconds", "epochs_reported", "run_dir", "error"])
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    df = df[df["state"] != "WAITING"].copy()
    if "user_attrs_interrupted" in df:
        df.loc[(df["state"] == "FAIL") & (df["user_attrs_interrupted"] == True), "state"] = "INTERRUPTED"  # noqa: E712 - a column of objects
    df["duration"] = df["duration"].dt.total_seconds().round(1) if "duration" in df else None
    df["epochs_reported"] = [len(by_number[int(n)].intermediate_values) for n in df["number"]]
    params = [c for c in df.columns if c.startswith("params_")]
    out = df.rename(columns={**_CSV_COLUMNS, **{c: c[len("params_"):] for c in params}})
    for attr in ("run_dir", "error"):
        out[attr] = df[f"user_attrs_{attr}"].fillna("") if f"user_attrs_{attr}" in df else ""
    return out[["number", "state", "value", "seconds", "epochs_reported", *[c[len("params_"):] for c in params], "run_dir", "error"]]


def _write_trials_csv(study: optuna.Study, path: Path) -> Path:
    from vidlearn.fsutil import atomic_write_text

    atomic_write_text(path, trials_frame(study).to_csv(index=False))
    return path


@contextlib.contextmanager
def _pyplot() -> Iterator[Any]:
    """pyplot as Optuna's plots need it (they draw through it): their warnings muted, and every
    figure they open closed afterwards (only a file is wanted; nothing is shown)."""
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning, "no completed trial" notes
            yield plt
    finally:
        for num in set(plt.get_fignums()) - before:
            plt.close(num)


def _save(ax: Any, path: Path, *, width: float | None = None) -> Path:
    from io import BytesIO

    from vidlearn.fsutil import atomic_write_bytes

    fig = (ax.flat[0] if hasattr(ax, "flat") else ax).figure
    if width is not None:
        fig.set_size_inches(width, fig.get_size_inches()[1])
    buf = BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    return path


def _note_png(path: Path, text: str) -> Path:
    """A small picture that says why a plot is empty."""
    from vidlearn.tasks.plots import new_figure, save_png

    fig = new_figure(7, 1.6)
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, transform=ax.transAxes)
    ax.set_axis_off()
    return save_png(fig, path)


def _optuna_plot(name: str, study: optuna.Study, path: Path, *, metric: str, need: int, width: Callable[[int], float] | None = None) -> Path:
    """`optuna.visualization.matplotlib.<name>(study)` saved as PNG (`need`: the completed trials
    it needs; fewer get a note instead)."""
    from optuna.visualization import matplotlib as optuna_plots

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if len(complete) < need:
        return _note_png(path, f"{PLOTS[Path(path).stem][0] if Path(path).stem in PLOTS else name}: needs at least {need} completed trials")
    n_params = len({p for t in complete for p in t.params})
    with _pyplot():
        kwargs = {"target_name": metric} if name != "plot_intermediate_values" else {}
        ax = getattr(optuna_plots, name)(study, **kwargs)
        return _save(ax, path, width=None if width is None else width(n_params))


def plot_history(study: optuna.Study, path: Path, *, metric: str) -> Path:
    """Optuna's optimisation history: the objective per completed trial and the best so far."""
    return _optuna_plot("plot_optimization_history", study, path, metric=metric, need=1)


class _Known(optuna.importance.BaseImportanceEvaluator):
    """An evaluator that answers the importances already computed (fANOVA is not run twice)."""

    def __init__(self, importances: Mapping[str, float]) -> None:
        self.importances = dict(importances)

    def evaluate(self, study: optuna.Study, params: Any = None, *, target: Any = None) -> dict[str, float]:  # noqa: ARG002
        return dict(sorted(self.importances.items(), key=lambda kv: -kv[1]))


def plot_importance(study: optuna.Study, importances: Mapping[str, float], path: Path, *, note: str = "") -> Path:
    """Optuna's parameter-importance bars for `importances` (fANOVA, summing to 1), or a note
    saying why there are none."""
    if not importances:
        return _note_png(path, f"parameter importance {note}")
    from optuna.visualization import matplotlib as optuna_plots

    with _pyplot():
        return _save(optuna_plots.plot_param_importances(study, evaluator=_Known(importances)), path)
