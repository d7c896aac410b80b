"""The timeline of a long video as a picture: a strip of the video's frames along the time axis,
the class predicted in each window (a coloured band), and the scores over time.

With top-k predictions (k < the number of classes) a class's score is known only in the windows
where it was among the top k: it is drawn there and nowhere else, never as a zero."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidlearn.errors import VidlearnError

__all__ = ["STRIP_FRAMES", "plot_timeline", "score_matrix"]

STRIP_FRAMES = 10  # frames along the time axis at most


def score_matrix(windows: Sequence[Any], class_names: Sequence[str]) -> np.ndarray:
    """(windows, classes) scores from each window's `top_k` [(class, score)]; NaN where a class
    was not among a window's top k (unknown, not zero)."""
    names = list(class_names)
    probs = np.full((len(windows), len(names)), np.nan)
    for i, w in enumerate(windows):
        for c, s in w.top_k:
            if c in names:
                probs[i, names.index(c)] = s
    return probs


def _strip(video: str | Path, times: np.ndarray, short_side: int) -> np.ndarray | None:
    from vidlearn.io import read_frames

    try:
        return read_frames(video, times, short_side=short_side)
    except (VidlearnError, OSError, ValueError):
        return None  # a stream that cannot be read again, a file gone: the plot without frames


def plot_timeline(
    windows: Sequence[Any],
    class_names: Sequence[str],
    path: str | Path,
    *,
    video: str | Path | None = None,
    frames: int = STRIP_FRAMES,
    short_side: int = 64,
) -> Path:
    """`path` (PNG, atomically): per-window predictions (objects with start, end, label, score,
    top_k and value, like `predictors.Prediction`) over time, under a strip of up to `frames`
    frames of `video` (default: the windows' path; none when it cannot be read) placed at their
    times. Classification: a band coloured by the predicted class and the known scores per class;
    regression: the predicted value per window."""
    from matplotlib import colormaps
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage
    from matplotlib.patches import Patch

    from vidlearn.tasks.plots import new_figure, save_png

    windows = list(windows)
    if not windows:
        raise ValueError("a timeline needs at least one window")
    starts = np.array([float(w.start) for w in windows])
    ends = np.array([float(w.end) for w in windows])
    mids = (starts + ends) / 2
    lo, hi = float(starts.min()), float(ends.max())
    source = video if video is not None else windows[0].path
    pick = np.unique(np.linspace(0, len(windows) - 1, min(frames, len(windows))).round().astype(int)) if frames > 0 else np.array([], int)
    strip = _strip(source, mids[pick], short_side) if len(pick) else None

    regression = windows[0].value is not None
    heights = ([1.1] if strip is not None else []) + ([] if regression else [0.35]) + [2.4]
    fig = new_figure(10, 0.8 + 1.15 * sum(heights))
    axes = fig.subplots(len(heights), 1, sharex=True, gridspec_kw={"height_ratios": heights})
    axes = list(np.atleast_1d(axes))
    pad = 0.02 * max(hi - lo, 1e-6)
    if strip is not None:
        ax = axes.pop(0)
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        # frames side by side, never overlapping: each gets the room to its nearest neighbour
        axes_px = 0.82 * fig.get_figwidth() * fig.dpi
        gap = float(np.diff(mids[pick]).min()) if len(pick) > 1 else hi - lo
        slot = axes_px * gap / max(hi - lo + 2 * pad, 1e-6)
        zoom = min(1.0, 0.92 * slot / max(strip.shape[2], 1), 70.0 / max(strip.shape[1], 1))
        for t, frame in zip(mids[pick], strip):
            ax.add_artist(AnnotationBbox(OffsetImage(frame, zoom=zoom), (t, 0.5), frameon=True, pad=0.1,
                                         bboxprops={"edgecolor": "#555555", "linewidth": 0.6}))
            ax.axvline(t, color="#bbbbbb", linewidth=0.6, zorder=0)
        ax.set_title(f"{Path(str(windows[0].path)).name}: frames at the windows' middles", fontsize=9)
    ax = axes[-1]
    if regression:
        ax.plot(mids, [w.value for w in windows], marker="o")
        ax.set_ylabel("predicted value")
    else:
        names = list(class_names)
        cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
        colour = {n: cmap(i % cmap.N) for i, n in enumerate(names)}
        band = axes[-2]
        # each window owns the time from halfway after the previous window's middle to halfway to the next one's
        edges = np.concatenate([[lo], (mids[1:] + mids[:-1]) / 2, [hi]])
        for w, a, b in zip(windows, edges[:-1], edges[1:]):
            band.axvspan(a, b, color=colour.get(w.label, (0.5, 0.5, 0.5, 1)), linewidth=0)
        band.set_yticks([])
        band.set_ylabel("top-1", rotation=0, ha="right", va="center", fontsize=8)
        probs = score_matrix(windows, names)
        complete = not np.isnan(probs).any()
        for j, name in enumerate(names):
            known = ~np.isnan(probs[:, j])
            if known.any():
                # a line where the score is known in neighbouring windows, a dot where it is known alone
                ax.plot(mids, probs[:, j], color=colour[name], marker="" if complete else "o", markersize=3, linewidth=1.4)
        top = [names.index(w.label) if w.label in names else None for w in windows]
        ax.scatter([m for m, t in zip(mids, top) if t is not None], [probs[i, t] for i, t in enumerate(top) if t is not None],
                   c="k", s=10, zorder=3, label="top-1")
        k = max(len(w.top_k) for w in windows)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("probability" if complete else f"probability (top-{k} only)")
        shown = [n for j, n in enumerate(names) if not np.isnan(probs[:, j]).all()]
        ax.legend(handles=[Patch(color=colour[n], label=n) for n in shown], loc="upper left", bbox_to_anchor=(1.005, 1.0),
                  fontsize=7, borderaxespad=0.0, title="class", title_fontsize=7)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_xlabel("seconds")
    ax.grid(alpha=0.3)
    if strip is None:
        axes[0].set_title(Path(str(windows[0].path)).name, fontsize=9)
    return save_png(fig, path)
