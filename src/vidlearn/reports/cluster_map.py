"""The cluster map: a 2-D picture (PCA or t-SNE) of the clustered videos, coloured by cluster, with
each video's middle frame as a thumbnail beside its point. The points, whose marker shape is the
video's true label, are drawn above the thumbnails, so that no thumbnail hides one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vidlearn.errors import VidlearnError
from vidlearn.reports import thumbnails
from vidlearn.tasks.cluster_result import ClusterResult
from vidlearn.tasks.clustering import NOISE, Projection, project

__all__ = ["THUMBNAILS_MAX_VIDEOS", "cluster_map_figure", "middle_frame", "plot_cluster_map"]

THUMBNAILS_MAX_VIDEOS = 100


def middle_frame(path: str | Path, *, short_side: int = 48) -> np.ndarray | None:
    """The frame in the middle of a video (``H x W x 3`` uint8), or None when it cannot be read
    (a map keeps its point without a picture)."""
    try:
        return thumbnails.middle_frame(path, short_side=short_side)
    except (VidlearnError, OSError, ValueError):
        return None


def plot_cluster_map(
    result: ClusterResult,
    path: str | Path,
    *,
    projection: Projection = "pca",
    thumbnails: bool | None = None,
    base_dir: str | Path | None = None,
    thumb_size: int = 40,
    seed: int = 0,
    frame_reader: Callable[[Path], np.ndarray | None] | None = None,
) -> Path:
    """`path` (PNG, atomically): the map of `cluster_map_figure` (same arguments)."""
    from vidlearn.tasks.plots import save_png

    fig = cluster_map_figure(result, projection=projection, thumbnails=thumbnails, base_dir=base_dir,
                             thumb_size=thumb_size, seed=seed, frame_reader=frame_reader)
    return save_png(fig, path)


def cluster_map_figure(
    result: ClusterResult,
    *,
    projection: Projection = "pca",
    thumbnails: bool | None = None,
    base_dir: str | Path | None = None,
    thumb_size: int = 40,
    seed: int = 0,
    frame_reader: Callable[[Path], np.ndarray | None] | None = None,
) -> Any:
    """A 2-D map of the videos (PCA of the clustered features, or t-SNE) coloured by cluster, with
    markers by label when there are labels, and -- by default for at most 100 videos -- a small
    thumbnail of each video's middle frame framed in its cluster's colour, set just above its
    point and tied to it by a short line; the points stay on top of every thumbnail. Videos whose
    frame cannot be read are drawn as plain points. Relative paths are looked up under
    ``base_dir``. Returns the Matplotlib figure (Agg canvas)."""
    from matplotlib import colormaps
    from matplotlib.lines import Line2D
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    from vidlearn.tasks.plots import new_figure

    xy, (xlabel, ylabel) = project(result.embedding, projection, seed)
    clusters = result.clusters
    n = len(clusters)
    if thumbnails is None:
        thumbnails = n <= THUMBNAILS_MAX_VIDEOS
    ids = sorted(result.sizes)
    real = [c for c in ids if c != NOISE]
    cmap = colormaps["tab10" if len(real) <= 10 else "tab20"]
    colour = {c: cmap(i % cmap.N) for i, c in enumerate(real)}
    colour[NOISE] = (0.55, 0.55, 0.55, 1.0)

    labels = result.assignments["label"] if "label" in result.assignments.columns else None
    markers = "os^Dv<>pPX*h"
    label_names = sorted({str(v) for v in labels.dropna()}) if labels is not None else []
    marker_of = {name: markers[i % len(markers)] for i, name in enumerate(label_names)}

    side = 9.0 if thumbnails else 7.0
    fig = new_figure(side + 2.0, side)
    ax = fig.add_subplot()
    for c in ids:
        sel = clusters == c
        if labels is None:
            ax.scatter(xy[sel, 0], xy[sel, 1], s=44, color=colour[c], edgecolors="black", linewidths=0.6, zorder=4)
            continue
        for name in [*label_names, None]:
            pick = sel & (labels.isna().to_numpy() if name is None else (labels.astype(str) == name).to_numpy())
            if pick.any():
                ax.scatter(
                    xy[pick, 0], xy[pick, 1], s=44, color=colour[c], marker=marker_of.get(name, "."),
                    edgecolors="black", linewidths=0.6, zorder=4,
                )

    shown = 0
    if thumbnails:
        reader = frame_reader or (lambda p: middle_frame(p, short_side=thumb_size))
        base = Path(base_dir) if base_dir is not None else None
        for i, raw in enumerate(result.assignments["path"]):
            frame = reader(_resolve(raw, base))
            if frame is None:
                continue
            zoom = thumb_size / max(frame.shape[0], frame.shape[1])
            # above its point (offset in points, whatever the axes' scale), tied to it by a line
            box = AnnotationBbox(
                OffsetImage(frame, zoom=zoom), (xy[i, 0], xy[i, 1]), xybox=(0.0, 0.5 * thumb_size + 10.0),
                boxcoords="offset points", frameon=True, pad=0.1,
                bboxprops={"edgecolor": colour[clusters[i]], "linewidth": 2.0},
                arrowprops={"arrowstyle": "-", "color": colour[clusters[i]], "linewidth": 0.8}, zorder=3,
            )
            ax.add_artist(box)
            shown += 1

    handles = [
        Line2D([], [], linestyle="", marker="s", markersize=9, color=colour[c],
               label=("noise" if c == NOISE else f"cluster {c}") + f" ({result.sizes[c]})")
        for c in ids
    ]
    handles += [
        Line2D([], [], linestyle="", marker=marker_of[name], markersize=7, color="white",
               markeredgecolor="black", label=name)
        for name in label_names
    ]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
              title="clusters" + (" / labels" if label_names else ""), title_fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.margins(0.12)
    ax.grid(True, alpha=0.3)
    head, _, rest = result.summary().partition(", ")
    ax.set_title(f"{head}\n{rest}  [{', '.join(result.features)}]", fontsize=9)
    return fig


def _resolve(raw: Any, base: Path | None) -> Path:
    p = Path(str(raw))
    if p.is_absolute() or base is None or p.exists():
        return p
    return base / p
