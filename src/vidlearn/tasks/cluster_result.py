"""What a clustering found (:class:`ClusterResult`): the assignments and scores, the per-cluster
summary, and the ``cluster_metrics.json`` content.

``cluster_metrics.json``::

    {"task": "clustering", "method": "kmeans", "n": 36, "k": 4, "n_noise": 0,
     "silhouette": 0.21, "nmi": 0.64, "ari": 0.52, "n_labelled": 36, "labels": "target",
     "sizes": {"0": 9, "1": 10, ...},                       # noise, if any, under "-1"
     "clusters": [{"cluster": 0, "size": 9, "majority_label": "walk", "purity": 0.89}, ...],
     "features": ["color", "motion"], "n_features": 420, "scale": true, "pca": null,
     "auto": {"k_range": [2, 10], "silhouette": {"2": 0.3, ...}} | null,
     "params": {"seed": 0, ...},                              # method parameters actually used
     "skipped": [{"path": ..., "reason": ...}]}               # videos the feature table left out
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ClusterResult"]


@dataclass(frozen=True)
class ClusterResult:
    """What :func:`cluster_table` found.

    ``assignments`` has one row per clustered video: ``path``, ``cluster`` (``-1``: noise) and,
    when the table has labels, ``label``. ``embedding`` is the matrix that was clustered (rows of
    ``assignments``, after scaling/PCA); the map is drawn from it.
    """

    method: str
    k: int
    n: int
    assignments: pd.DataFrame
    silhouette: float | None
    nmi: float | None
    ari: float | None
    sizes: dict[int, int]
    n_noise: int
    n_labelled: int
    label_source: str | None
    columns: list[str]
    embedding: np.ndarray
    scale: bool
    pca: int | None
    auto_silhouette: dict[int, float | None] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)

    @property
    def clusters(self) -> np.ndarray:
        """Cluster per row (``-1``: noise)."""
        return self.assignments["cluster"].to_numpy()

    @property
    def features(self) -> list[str]:
        """Feature families used."""
        fams: list[str] = []
        for c in self.columns:
            f = c.split(".", 1)[0]
            if f not in fams:
                fams.append(f)
        return fams

    def cluster_summary(self) -> list[dict[str, Any]]:
        """Per cluster: size and, with labels, the majority label and its share (purity)."""
        rows = []
        has_labels = "label" in self.assignments.columns
        for cid, size in self.sizes.items():
            row: dict[str, Any] = {"cluster": cid, "size": size}
            if has_labels:
                lab = self.assignments.loc[self.assignments["cluster"] == cid, "label"].dropna()
                if len(lab):
                    counts = lab.astype(str).value_counts()
                    row["majority_label"] = str(counts.index[0])
                    row["purity"] = float(counts.iloc[0] / len(lab))
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        """The ``cluster_metrics.json`` content (see the module docstring)."""
        auto = None
        if self.auto_silhouette is not None:
            ks = sorted(self.auto_silhouette)
            auto = {"k_range": [ks[0], ks[-1]], "silhouette": {str(k): self.auto_silhouette[k] for k in ks}}
        return {
            "task": "clustering",
            "method": self.method,
            "n": self.n,
            "k": self.k,
            "n_noise": self.n_noise,
            "silhouette": self.silhouette,
            "nmi": self.nmi,
            "ari": self.ari,
            "n_labelled": self.n_labelled,
            "labels": self.label_source,
            "sizes": {str(c): s for c, s in self.sizes.items()},
            "clusters": self.cluster_summary(),
            "features": self.features,
            "n_features": len(self.columns),
            "scale": self.scale,
            "pca": self.pca,
            "auto": auto,
            "params": dict(self.params),
            "skipped": list(self.skipped),
        }

    def summary(self) -> str:
        """One line for people."""
        parts = [f"{self.method}: {self.k} cluster(s) over {self.n} video(s)"]
        if self.n_noise:
            parts.append(f"{self.n_noise} noise" + (" (all of them: try pca=N / --pca N, or a smaller min_samples)" if self.k == 0 else ""))
        parts.append("silhouette " + ("n/a" if self.silhouette is None else f"{self.silhouette:.3f}"))
        if self.nmi is not None:
            parts.append(f"NMI {self.nmi:.3f}, ARI {self.ari:.3f} vs {self.label_source} (n={self.n_labelled})")
        return ", ".join(parts)
