"""The cluster map keeps every true-label marker visible: thumbnails sit beside their points and
the points are drawn above every thumbnail."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import make_blobs

from vidlearn.reports.cluster_map import cluster_map_figure
from vidlearn.tasks.clustering import cluster_table, project

MAGENTA = (230, 30, 200)


def test_the_thumbnails_never_hide_a_point(tmp_path) -> None:
    X, y = make_blobs(n_samples=24, centers=3, n_features=4, cluster_std=0.4, center_box=(-3, 3), random_state=0)
    df = pd.DataFrame({"path": [f"v{i}.mp4" for i in range(len(y))], "target": [("walk", "run", "wave")[v] for v in y]})
    for j in range(X.shape[1]):
        df[f"blob.f{j}"] = X[:, j]
    result = cluster_table(df, k=3)
    frame = np.zeros((30, 40, 3), np.uint8)
    frame[:] = MAGENTA  # a colour no marker has: where it shows, a thumbnail is on top

    fig = cluster_map_figure(result, thumbnails=True, frame_reader=lambda p: frame)
    fig.canvas.draw()
    px = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    height = px.shape[0]
    ax = fig.axes[0]
    xy, _ = project(result.embedding, "pca", 0)
    magenta = np.all(np.abs(px - np.array(MAGENTA)) < 30, axis=-1)
    assert magenta.sum() > 200 * len(y) * 0.5, "the thumbnails are not drawn"
    hidden = []
    for i, (x, yv) in enumerate(ax.transData.transform(xy)):
        r, c = int(round(height - yv)), int(round(x))
        patch = magenta[r - 1 : r + 2, c - 1 : c + 2]
        if patch.any():
            hidden.append(i)
    assert not hidden, f"the markers of points {hidden} are under a thumbnail"
