"""Pictures that come with results: confusion matrix, learning curves, regression scatter, and a
markdown per-class table. PNGs are rendered with Matplotlib's Agg canvas (no GUI, no pyplot
global state) and written atomically (temp file beside the target, then rename)."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vidlearn.fsutil import tmp_path_for

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["per_class_table", "plot_confusion_matrix", "plot_learning_curves", "plot_regression_scatter"]

_MAX_ANNOTATED_CLASSES = 30


def new_figure(width: float, height: float) -> "Figure":
    # An explicit Agg canvas and no pyplot: always Agg, and the user's backend is left alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # render with Agg whatever the session's interactive backend is
    return fig


def save_png(fig: "Figure", path: str | Path) -> Path:
    target = Path(path)
    tmp = tmp_path_for(target)
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


def plot_confusion_matrix(
    cm: Sequence[Sequence[int]] | np.ndarray,
    class_names: Sequence[str],
    path: str | Path,
    normalize: bool = True,
    *,
    title: str | None = None,
) -> Path:
    """Confusion matrix as a PNG (rows = true class). With ``normalize`` the colours show each row's
    fraction (recall); every cell is annotated with its count (and percentage when normalised)."""
    counts = np.asarray(cm, dtype=np.int64)
    k = len(class_names)
    if counts.shape != (k, k):
        raise ValueError(f"confusion matrix has shape {counts.shape}, expected ({k}, {k}) for {k} class names")
    if normalize:
        row = counts.sum(axis=1, keepdims=True)
        shown = np.divide(counts, row, out=np.zeros(counts.shape, dtype=np.float64), where=row > 0)
        vmax = 1.0
    else:
        shown = counts.astype(np.float64)
        vmax = max(float(shown.max()), 1.0)

    side = min(max(4.0, 0.55 * k + 2.5), 24.0)
    fig = new_figure(side + 1.0, side)
    ax = fig.add_subplot()
    im = ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=vmax)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class" if normalize else "count")
    ax.set_xticks(range(k), labels=[str(c) for c in class_names], rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticks(range(k), labels=[str(c) for c in class_names])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    total = int(counts.sum())
    acc = float(np.trace(counts)) / total if total else float("nan")
    ax.set_title(title or f"confusion matrix (n={total}, accuracy={acc:.3f})")
    if k <= _MAX_ANNOTATED_CLASSES:
        fontsize = 9 if k <= 10 else 7
        for i in range(k):
            for j in range(k):
                text = f"{counts[i, j]}\n{shown[i, j]:.0%}" if normalize else f"{counts[i, j]}"
                colour = "white" if shown[i, j] > 0.5 * vmax else "black"
                ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=fontsize)
    return save_png(fig, path)


_SKIP_COLUMNS = {"epoch", "step", "global_step", "time", "lr", "learning_rate"}


def _load_history(source: str | Path | Mapping[str, Sequence[Any]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-epoch series from a metrics CSV (e.g. Lightning's CSVLogger, sparse rows) or a dict of lists."""
    import pandas as pd

    if isinstance(source, Mapping):
        series = {str(k): pd.Series(list(v), dtype="float64") for k, v in source.items()}
        frame = pd.DataFrame(series)
    else:
        try:
            frame = pd.read_csv(source)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise ValueError(f"{source}: cannot read learning-curve CSV ({exc})") from None
    frame = frame.apply(pd.to_numeric, errors="coerce")
    if "epoch" in frame.columns and frame["epoch"].notna().any():
        frame = frame[frame["epoch"].notna()].groupby("epoch", sort=True).last()  # last non-NaN value per epoch
        epochs = frame.index.to_numpy(dtype=np.float64)
    else:
        epochs = np.arange(len(frame), dtype=np.float64)
    columns = {
        c: frame[c].to_numpy(dtype=np.float64)
        for c in frame.columns
        if c.lower() not in _SKIP_COLUMNS
        and not c.lower().startswith("lr")
        and not c.endswith("_step")
        and frame[c].notna().any()
    }
    return epochs, columns


def plot_learning_curves(source: str | Path | Mapping[str, Sequence[Any]], path: str | Path) -> Path:
    """Loss (left) and accuracy or other metrics (right) per epoch, from a metrics CSV or a dict of
    lists such as ``{"train_loss": [...], "val_loss": [...], "val_acc": [...]}``."""
    epochs, columns = _load_history(source)
    loss = {c: v for c, v in columns.items() if "loss" in c.lower()}
    other = {c: v for c, v in columns.items() if c not in loss}
    if not columns:
        raise ValueError(f"{source if not isinstance(source, Mapping) else 'history'}: no metric columns to plot")
    panels = [(title, series) for title, series in (("loss", loss), ("accuracy" if all("acc" in c.lower() for c in other) else "metric", other)) if series]

    from matplotlib.ticker import MaxNLocator

    fig = new_figure(5.5 * len(panels), 4.0)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, series) in zip(axes, panels):
        for name, values in series.items():
            ok = np.isfinite(values)
            style = "--" if name.lower().startswith("train") else "-"
            ax.plot(epochs[ok], values[ok], style, marker="o", markersize=3, label=name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(title)
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        if title == "accuracy":
            ax.set_ylim(-0.02, 1.02)
    return save_png(fig, path)


def plot_regression_scatter(
    y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray, path: str | Path
) -> Path:
    """Predicted vs true values with the identity line; MAE and R² in the title."""
    from vidlearn.tasks.metrics import regression_metrics

    t = np.asarray(y_true, dtype=np.float64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    m = regression_metrics(t, p)
    fig = new_figure(5.0, 5.0)
    ax = fig.add_subplot()
    ax.scatter(t, p, s=14, alpha=0.7)
    lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    pad = 0.05 * (hi - lo) if hi > lo else 1.0
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "k--", linewidth=1, label="y = x")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_aspect("equal")
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    r2 = "n/a" if m["r2"] is None else f"{m['r2']:.3f}"
    ax.set_title(f"n={m['n']}  MAE={m['mae']:.3g}  R²={r2}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return save_png(fig, path)


def per_class_table(metrics: Mapping[str, Any]) -> str:
    """A markdown table of per-class precision/recall/F1/support, with macro and weighted rows."""
    rows = metrics.get("per_class")
    if rows is None:
        raise ValueError("metrics have no 'per_class' entry (is this a classification result?)")

    def fmt(value: Any) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "—"
        return f"{value:.3f}"

    def cell(text: Any) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = ["| class | precision | recall | f1 | support |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {cell(r['class'])} | {fmt(r.get('precision'))} | {fmt(r.get('recall'))} | {fmt(r.get('f1'))} | {int(r.get('support', 0))} |"
        )
    total = sum(int(r.get("support", 0)) for r in rows)
    for avg in ("macro", "weighted"):
        if avg in metrics:
            a = metrics[avg]
            lines.append(
                f"| **{avg} avg** | {fmt(a.get('precision'))} | {fmt(a.get('recall'))} | {fmt(a.get('f1'))} | {total} |"
            )
    return "\n".join(lines) + "\n"
