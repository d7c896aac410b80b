"""The timeline picture of a localisation: per-class window scores over time, with the predicted
segments drawn over them (one band a class) and, when known, the ground truth beneath."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vidlearn.tasks.localization_metrics import TimedSegment
from vidlearn.tasks.plots import new_figure, save_png

__all__ = ["plot_segment_timeline"]


def plot_segment_timeline(
    times: np.ndarray,
    scores: np.ndarray,
    classes: Sequence[str],
    background: str,
    segments: Sequence[TimedSegment],
    path: str | Path,
    *,
    truth: Sequence[TimedSegment] | None = None,
    title: str = "",
) -> Path:
    """Write the PNG: scores ``(N, K)`` at window centres ``times``; a coloured band per segment
    (label and score written in it); ground-truth segments as grey bars at the bottom."""
    fig = new_figure(11, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    colours = {c: f"C{i % 10}" for i, c in enumerate(c for c in classes if c != background)}
    times = np.asarray(times, dtype=float)
    scores = np.asarray(scores, dtype=float).reshape(len(times), len(classes))
    for j, name in enumerate(classes):
        if name == background:
            ax.plot(times, scores[:, j], color="0.6", lw=1, ls="--", label=name)
        else:
            ax.plot(times, scores[:, j], color=colours[name], lw=1.5, label=name)
    for s in segments:
        colour = colours.get(s.label, "k")
        ax.axvspan(s.start, s.end, ymin=0.1, ymax=1.0, color=colour, alpha=0.18)
        ax.text((s.start + s.end) / 2, 1.02, f"{s.label} {s.score:.2f}", ha="center", va="bottom", fontsize=7, color=colour)
    for s in truth or []:
        ax.axvspan(s.start, s.end, ymin=0.0, ymax=0.07, color=colours.get(s.label, "k"), alpha=0.9)
    ax.set_ylim(-0.02, 1.12)
    ax.set_xlim(0, max([float(times.max()) if times.size else 1.0] + [s.end for s in segments] + [s.end for s in truth or []]))
    ax.set_xlabel("seconds")
    ax.set_ylabel("window probability")
    ax.legend(loc="upper right", fontsize=7, ncol=min(5, len(classes)))
    ax.set_title(title + ("   (bands: predicted segments; bottom bars: ground truth)" if truth else "   (bands: predicted segments)"), fontsize=9)
    return save_png(fig, path)
