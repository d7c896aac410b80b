"""Clustering: group unlabelled videos by their features, score the grouping, draw a map.

The input is a feature table: one row per video with ``path``, optional ``target`` (the label, used
only to score the clusters) and ``group``, and feature columns named ``"<family>.<...>"`` (as written
by :func:`vidlearn.features.table.compute_feature_table`).

>>> result = cluster_table(df, method="kmeans", k=4, columns=["color", "motion"])
>>> result.nmi, result.ari, result.silhouette, result.sizes
>>> result = cluster_table(df, auto=True)               # k chosen by silhouette over 2..min(10, n-1)
>>> write_cluster_report(result, "out/")   # assignments.csv, cluster_metrics.json, cluster_map.png, report.html

Methods: ``kmeans`` and ``agglomerative`` (Ward) need ``k`` or ``auto=True``; ``dbscan`` and
``hdbscan`` find their own number of clusters and may leave points out as noise (cluster ``-1``).
Clusters are numbered 0, 1, ... by decreasing size.

Scores (scikit-learn): ``silhouette`` of the assignment in the space that was clustered (after
scaling and PCA; noise points left out; ``None`` when undefined, i.e. fewer than 2 clusters or as
many clusters as clustered points); ``nmi`` (normalized mutual information) and ``ari`` (adjusted Rand
index) against the labels, when the table has them, over the labelled rows; noise counts as one
more cluster there. 1.0 is a perfect match with the labels, ~0 is chance.

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

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from vidlearn.errors import ConfigError, DataSourceError, VidlearnError
from vidlearn.fsutil import atomic_write_text
from vidlearn.tasks.metrics import write_metrics

__all__ = [
    "DENSITY_METHODS",
    "METHODS",
    "PARTITION_METHODS",
    "ClusterResult",
    "cluster_table",
    "cluster_videos",
    "feature_columns",
    "feature_families",
    "middle_frame",
    "plot_cluster_map",
    "write_assignments",
    "write_cluster_html",
    "write_cluster_report",
]

Method = Literal["kmeans", "agglomerative", "dbscan", "hdbscan"]
Projection = Literal["pca", "tsne"]

PARTITION_METHODS: tuple[str, ...] = ("kmeans", "agglomerative")
DENSITY_METHODS: tuple[str, ...] = ("dbscan", "hdbscan")
METHODS: tuple[str, ...] = PARTITION_METHODS + DENSITY_METHODS
AUTO_MAX_K = 10
THUMBNAILS_MAX_VIDEOS = 100
NOISE = -1

_META_COLUMNS = ("path", "target", "label", "group")
_LABEL_COLUMNS = ("target", "label")


# ---- the table -----------------------------------------------------------------------------


def feature_columns(df: pd.DataFrame, prefixes: Sequence[str] | str | None = None) -> list[str]:
    """Numeric feature columns of ``df`` (named ``"<family>.<...>"``), in table order.

    ``prefixes`` keeps only columns whose name is a prefix or starts with ``prefix + "."`` (so
    ``"color"`` selects ``color.*`` and ``"motion.hof"`` selects ``motion.hof.*``); every prefix
    must match something, or a :class:`ConfigError` lists the families that the table has.
    """
    numeric = [
        c
        for c in df.columns
        if isinstance(c, str) and "." in c and c not in _META_COLUMNS and pd.api.types.is_numeric_dtype(df[c])
        and not pd.api.types.is_bool_dtype(df[c])
    ]
    if prefixes is None:
        if not numeric:
            raise ConfigError(
                f"features: the table has no feature columns named '<family>.<name>' (columns: {_preview(df.columns)})"
            )
        return numeric
    items = [prefixes] if isinstance(prefixes, str) else list(prefixes)
    items = [p.strip().rstrip(".") for p in items if p and p.strip()]
    if not items:
        raise ConfigError("features: choose at least one feature family")
    chosen: list[str] = []
    for prefix in items:
        found = [c for c in numeric if c == prefix or c.startswith(prefix + ".")]
        if not found:
            have = ", ".join(feature_families(df)) or "none"
            raise ConfigError(f"features: the table has no '{prefix}' feature columns (families in the table: {have})")
        chosen.extend(c for c in found if c not in chosen)
    order = {c: i for i, c in enumerate(numeric)}
    return sorted(chosen, key=order.__getitem__)


def feature_families(df: pd.DataFrame) -> list[str]:
    """The feature families (column-name prefixes before the first dot) present in ``df``."""
    families: list[str] = []
    for c in df.columns:
        if isinstance(c, str) and "." in c and c not in _META_COLUMNS:
            fam = c.split(".", 1)[0]
            if fam not in families:
                families.append(fam)
    return families


def _preview(columns: Sequence[Any], n: int = 8) -> str:
    cols = [str(c) for c in columns]
    return ", ".join(cols[:n]) + (f", ... ({len(cols)} in all)" if len(cols) > n else "") if cols else "none"


def _label_series(df: pd.DataFrame, labels: str | Sequence[Any] | None) -> tuple[pd.Series | None, str | None]:
    """The class labels to score against and where they come from, or ``(None, None)``: a named
    column, given values, or by default the ``target`` (else ``label``) column when it holds class
    names (numbers with decimals are regression targets and are not used)."""
    if labels is not None and not isinstance(labels, str):
        items = list(labels)
        if len(items) != len(df):
            raise ConfigError(f"labels: {len(items)} values for {len(df)} rows")
        values = pd.Series(items, index=df.index, dtype="object")
        return values.where(values.notna(), None), "given labels"
    if isinstance(labels, str):
        if labels not in df.columns:
            raise ConfigError(f"labels: no column '{labels}' in the table (columns: {_preview(df.columns)})")
        name = labels
    else:
        name = next((c for c in _LABEL_COLUMNS if c in df.columns and df[c].notna().any()), None)
        if name is None:
            return None, None
        if pd.api.types.is_float_dtype(df[name]) and not np.all(np.mod(df[name].dropna().to_numpy(), 1) == 0):
            return None, None  # regression targets are not classes
    col = df[name].astype("object")
    col = col.where(df[name].notna(), None)
    return (col, name) if col.notna().any() else (None, None)


# ---- result --------------------------------------------------------------------------------


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


# ---- clustering ----------------------------------------------------------------------------


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < low:
        raise ConfigError(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(value)


def _density_defaults(n: int) -> int:
    # sklearn's default (5) would call everything noise in small tables; scale it down for them
    return max(2, min(5, n // 4))


def _fit(X: np.ndarray, method: str, k: int | None, seed: int, opts: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    """Cluster ids (``-1``: noise) for the rows of ``X`` and the parameters actually used."""
    from sklearn.cluster import DBSCAN, HDBSCAN, AgglomerativeClustering, KMeans

    n = X.shape[0]
    if method == "kmeans":
        model = KMeans(n_clusters=k, n_init=10, random_state=seed)
        return model.fit_predict(X).astype(np.int64), {"seed": seed, "n_init": 10}
    if method == "agglomerative":
        linkage = opts.get("linkage") or "ward"
        model = AgglomerativeClustering(n_clusters=k, linkage=linkage)
        return model.fit_predict(X).astype(np.int64), {"linkage": linkage}
    if method == "dbscan":
        min_samples = opts.get("min_samples") or _density_defaults(n)
        eps = opts.get("eps")
        if eps is None:
            eps = _auto_eps(X, min_samples)
        model = DBSCAN(eps=float(eps), min_samples=int(min_samples))
        return model.fit_predict(X).astype(np.int64), {"eps": float(eps), "min_samples": int(min_samples)}
    if method == "hdbscan":
        min_cluster_size = opts.get("min_cluster_size") or _density_defaults(n)
        min_samples = opts.get("min_samples")
        model = HDBSCAN(min_cluster_size=int(min_cluster_size), min_samples=min_samples, copy=True)
        used = {"min_cluster_size": int(min_cluster_size), "min_samples": min_samples}
        return model.fit_predict(X).astype(np.int64), used
    raise ConfigError(f"method: unknown clustering method {method!r}; choose from {', '.join(METHODS)}")


def _auto_eps(X: np.ndarray, min_samples: int) -> float:
    """DBSCAN's radius when none is given. Candidates are the 5th, 10th, ..., 95th percentiles of
    every point's distance to its ``min_samples``-th nearest neighbour (itself included, as DBSCAN
    counts it); the one whose clustering has the best silhouette (over the clustered points) times
    the fraction of points clustered wins. When no candidate gives two clusters: the 90th
    percentile (dense regions then hold nearly every point)."""
    from sklearn.cluster import DBSCAN
    from sklearn.neighbors import NearestNeighbors

    n_neighbors = min(int(min_samples), X.shape[0])
    dist, _ = NearestNeighbors(n_neighbors=n_neighbors).fit(X).kneighbors(X)
    kdist = dist[:, -1]
    best: tuple[float, float] | None = None
    for eps in np.unique(np.percentile(kdist, np.arange(5, 100, 5))):
        if eps <= 0:
            continue
        found = DBSCAN(eps=float(eps), min_samples=int(min_samples)).fit_predict(X)
        score = _silhouette(X, found)
        if score is None:
            continue
        score *= float(np.mean(found != NOISE))
        if best is None or score > best[0]:
            best = (score, float(eps))
    if best is not None:
        return best[1]
    eps = float(np.percentile(kdist, 90))
    return eps if eps > 0 else 1e-6


def _silhouette(X: np.ndarray, clusters: np.ndarray) -> float | None:
    from sklearn.metrics import silhouette_score

    keep = clusters != NOISE
    ids = clusters[keep]
    n_clusters = len(np.unique(ids))
    if n_clusters < 2 or n_clusters > keep.sum() - 1:
        return None
    value = float(silhouette_score(X[keep], ids))
    return value if math.isfinite(value) else None


def _renumber(clusters: np.ndarray) -> np.ndarray:
    """Cluster ids 0..k-1 by decreasing size (ties: first appearance); noise stays -1."""
    out = np.full_like(clusters, NOISE)
    ids, first, counts = np.unique(clusters[clusters != NOISE], return_index=True, return_counts=True)
    order = sorted(range(len(ids)), key=lambda i: (-counts[i], first[i]))
    for new, i in enumerate(order):
        out[clusters == ids[i]] = new
    return out


def _check_options(
    *,
    method: str,
    k: int | None,
    auto: bool,
    pca: int | None,
    seed: int,
    eps: float | None,
    min_samples: int | None,
    min_cluster_size: int | None,
    linkage: str | None,
) -> dict[str, Any]:
    """Validate the options that do not depend on the table; returns the whole numbers as ints."""
    if method not in METHODS:
        raise ConfigError(f"method: unknown clustering method {method!r}; choose from {', '.join(METHODS)}")
    if method in PARTITION_METHODS:
        if auto and k is not None:
            raise ConfigError("give either k or auto=True (--k or --auto), not both")
        if not auto and k is None:
            raise ConfigError(f"{method} needs the number of clusters: give k (--k N) or auto=True (--auto)")
    elif k is not None or auto:
        raise ConfigError(f"{method} finds the number of clusters itself: leave out k (--k) and auto (--auto)")
    if method != "agglomerative" and linkage is not None:
        raise ConfigError("linkage only applies to method 'agglomerative'")
    if linkage is not None and linkage not in ("ward", "complete", "average", "single"):
        raise ConfigError(f"linkage must be ward, complete, average or single, got {linkage!r}")
    if method != "dbscan" and eps is not None:
        raise ConfigError("eps only applies to method 'dbscan'")
    if eps is not None and not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
        raise ConfigError(f"eps must be a positive number, got {eps!r}")
    if method != "hdbscan" and min_cluster_size is not None:
        raise ConfigError("min_cluster_size only applies to method 'hdbscan'")
    if min_samples is not None and method not in DENSITY_METHODS:
        raise ConfigError("min_samples only applies to methods 'dbscan' and 'hdbscan'")
    return {
        "k": None if k is None else _check_int("k", k, 2),
        "pca": None if pca is None else _check_int("pca", pca, 1),
        "seed": _check_int("seed", seed, 0),
        "min_samples": None if min_samples is None else _check_int("min_samples", min_samples, 1),
        "min_cluster_size": None if min_cluster_size is None else _check_int("min_cluster_size", min_cluster_size, 2),
    }


def cluster_table(
    df: pd.DataFrame,
    *,
    method: Method = "kmeans",
    k: int | None = None,
    auto: bool = False,
    columns: Sequence[str] | str | None = None,
    scale: bool = True,
    pca: int | None = None,
    seed: int = 0,
    labels: str | Sequence[Any] | None = None,
    eps: float | None = None,
    min_samples: int | None = None,
    min_cluster_size: int | None = None,
    linkage: str | None = None,
) -> ClusterResult:
    """Cluster the videos (rows) of a feature table.

    ``method``: ``kmeans`` / ``agglomerative`` take ``k`` clusters, or with ``auto=True`` the k in
    ``2..min(10, n-1)`` with the best silhouette (ties: the smaller k); ``dbscan`` / ``hdbscan``
    find their own number (``eps`` / ``min_samples`` / ``min_cluster_size`` tune them; DBSCAN's
    ``eps`` defaults to the nearest-neighbour distance, among a range of them, with the best
    silhouette -- see :func:`_auto_eps`; both default ``min_samples`` / ``min_cluster_size`` to
    ``max(2, min(5, n // 4))``). ``columns``: feature-family
    prefixes to use (default: every feature column). ``scale`` standardises every column (zero
    mean, unit variance) first; ``pca`` then keeps that many principal components (at most
    ``min(n, columns)``). ``labels``: a column name or values to score against (default: the
    ``target``/``label`` column when it holds classes). Rows with missing or infinite feature
    values are an error that names them. Invalid arguments raise :class:`ConfigError`.
    """
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(f"cluster_table needs a pandas DataFrame, got {type(df).__name__}")
    checked = _check_options(
        method=method, k=k, auto=auto, pca=pca, seed=seed, eps=eps, min_samples=min_samples,
        min_cluster_size=min_cluster_size, linkage=linkage,
    )
    k, pca, seed, min_samples, min_cluster_size = (
        checked["k"], checked["pca"], checked["seed"], checked["min_samples"], checked["min_cluster_size"]
    )
    n = len(df)
    if n < 2:
        raise ConfigError(f"clustering needs at least 2 videos, the table has {n}")
    if k is not None and k > n:
        raise ConfigError(f"k={k} is more than the number of videos ({n}); choose k between 2 and {n}")
    if auto and n < 3:
        raise ConfigError(f"auto needs at least 3 videos to compare values of k, the table has {n}")

    cols = feature_columns(df, columns)
    X = df[cols].to_numpy(dtype=np.float64)
    bad_rows = ~np.all(np.isfinite(X), axis=1)
    if bad_rows.any():
        names = [str(v) for v in (df["path"] if "path" in df.columns else df.index)[bad_rows]]
        raise ConfigError(
            f"features: {int(bad_rows.sum())} row(s) have missing or infinite values: {_preview(names, 5)}"
        )

    if scale:
        from sklearn.preprocessing import StandardScaler

        X = StandardScaler().fit_transform(X)
    pca_used = None
    if pca is not None:
        from sklearn.decomposition import PCA

        pca_used = min(pca, n, X.shape[1])
        X = PCA(n_components=pca_used, random_state=seed).fit_transform(X)

    opts = {"eps": eps, "min_samples": min_samples, "min_cluster_size": min_cluster_size, "linkage": linkage}
    auto_scores: dict[int, float | None] | None = None
    if auto:
        auto_scores = {}
        best: tuple[float, int] | None = None
        for kk in range(2, min(AUTO_MAX_K, n - 1) + 1):
            found, _ = _fit(X, method, kk, seed, opts)
            score = _silhouette(X, found)
            auto_scores[kk] = score
            if score is not None and (best is None or score > best[0]):
                best = (score, kk)
        k = best[1] if best is not None else 2
    clusters, params = _fit(X, method, k, seed, opts)
    clusters = _renumber(clusters)

    sil = _silhouette(X, clusters)
    label_values, label_source = _label_series(df, labels)
    assignments = pd.DataFrame(
        {"path": df["path"].astype(str).to_numpy() if "path" in df.columns else [str(i) for i in df.index]}
    )
    assignments["cluster"] = clusters
    nmi = ari = None
    n_labelled = 0
    if label_values is not None:
        assignments["label"] = label_values.to_numpy()
        known = label_values.notna().to_numpy()
        n_labelled = int(known.sum())
        if n_labelled:
            from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

            truth = label_values[known].astype(str).to_numpy()
            nmi = float(normalized_mutual_info_score(truth, clusters[known]))
            ari = float(adjusted_rand_score(truth, clusters[known]))
    ids, counts = np.unique(clusters, return_counts=True)
    sizes = {int(c): int(s) for c, s in zip(ids, counts) if c != NOISE}
    n_noise = int((clusters == NOISE).sum())
    if n_noise:
        sizes[NOISE] = n_noise
    return ClusterResult(
        method=method,
        k=int(len([c for c in sizes if c != NOISE])),
        n=n,
        assignments=assignments,
        silhouette=sil,
        nmi=nmi,
        ari=ari,
        sizes=sizes,
        n_noise=n_noise,
        n_labelled=n_labelled,
        label_source=label_source if n_labelled else None,
        columns=cols,
        embedding=X,
        scale=bool(scale),
        pca=pca_used,
        auto_silhouette=auto_scores,
        params={"seed": seed, **params},
        skipped=[
            {"path": str(x.get("path")), "reason": str(x.get("reason"))}
            for x in ((df.attrs.get("vidlearn") or {}).get("skipped") or [])
            if isinstance(x, dict)
        ],
    )


# ---- the map -------------------------------------------------------------------------------


def _project(X: np.ndarray, projection: str, seed: int) -> tuple[np.ndarray, tuple[str, str]]:
    """2-D coordinates of the rows of ``X`` and the two axis titles."""
    n, d = X.shape
    if projection == "pca":
        if d == 1:
            return np.column_stack([X[:, 0], np.zeros(n)]), ("the only feature", "")
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=seed)
        xy = pca.fit_transform(X)
        ev = pca.explained_variance_ratio_
        return xy, (f"PC1 ({ev[0]:.0%} of variance)", f"PC2 ({ev[1]:.0%} of variance)")
    if projection == "tsne":
        if n < 3:
            raise ConfigError("projection 'tsne' needs at least 3 videos; use 'pca'")
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(1.0, (n - 1) / 3.0)))
        init = "pca" if d >= 2 else "random"
        # exact gradients are faster than Barnes-Hut for the few hundred videos a map can show
        method = "exact" if n <= 1000 else "barnes_hut"
        xy = TSNE(n_components=2, perplexity=perplexity, init=init, method=method, random_state=seed).fit_transform(X)
        return xy, (f"t-SNE 1 (perplexity {perplexity:g})", "t-SNE 2")
    raise ConfigError(f"projection must be 'pca' or 'tsne', got {projection!r}")


def middle_frame(path: str | Path, *, short_side: int = 48) -> np.ndarray | None:
    """The frame in the middle of a video (``H x W x 3`` uint8), or None when it cannot be read."""
    from vidlearn.io import probe, read_frames

    try:
        info = probe(path)
        return read_frames(path, [max(0.0, info.duration / 2.0)], short_side=short_side)[0]
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
    """A 2-D map of the videos (PCA of the clustered features, or t-SNE) coloured by cluster, with
    markers by label when there are labels, and -- by default for at most 100 videos -- a small
    thumbnail of each video's middle frame framed in its cluster's colour. Videos whose frame
    cannot be read are drawn as plain points. Relative paths are looked up under ``base_dir``.
    Written atomically as PNG (Agg canvas)."""
    from matplotlib import colormaps
    from matplotlib.lines import Line2D
    from matplotlib.offsetbox import AnnotationBbox, OffsetImage

    from vidlearn.tasks.plots import _new_figure, _save_png

    xy, (xlabel, ylabel) = _project(result.embedding, projection, seed)
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
    fig = _new_figure(side + 2.0, side)
    ax = fig.add_subplot()
    for c in ids:
        sel = clusters == c
        if labels is None:
            ax.scatter(xy[sel, 0], xy[sel, 1], s=36, color=colour[c], edgecolors="black", linewidths=0.4, zorder=2)
            continue
        for name in [*label_names, None]:
            pick = sel & (labels.isna().to_numpy() if name is None else (labels.astype(str) == name).to_numpy())
            if pick.any():
                ax.scatter(
                    xy[pick, 0], xy[pick, 1], s=36, color=colour[c], marker=marker_of.get(name, "."),
                    edgecolors="black", linewidths=0.4, zorder=2,
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
            box = AnnotationBbox(
                OffsetImage(frame, zoom=zoom), (xy[i, 0], xy[i, 1]), frameon=True, pad=0.1,
                bboxprops={"edgecolor": colour[clusters[i]], "linewidth": 2.0}, zorder=3,
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
    return _save_png(fig, path)


def _resolve(raw: Any, base: Path | None) -> Path:
    p = Path(str(raw))
    if p.is_absolute() or base is None or p.exists():
        return p
    return base / p


# ---- files ---------------------------------------------------------------------------------


def write_assignments(result: ClusterResult, path: str | Path) -> Path:
    """``path,cluster[,label]`` CSV, one row per video, atomically."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    has_labels = "label" in result.assignments.columns
    writer.writerow(["path", "cluster", "label"] if has_labels else ["path", "cluster"])
    for row in result.assignments.itertuples(index=False):
        cells = [row.path, int(row.cluster)]
        if has_labels:
            cells.append("" if row.label is None or (isinstance(row.label, float) and math.isnan(row.label)) else row.label)
        writer.writerow(cells)
    p = Path(path)
    atomic_write_text(p, buf.getvalue())
    return p


def write_cluster_report(
    result: ClusterResult,
    out: str | Path,
    *,
    projection: Projection = "pca",
    thumbnails: bool | None = None,
    base_dir: str | Path | None = None,
    seed: int = 0,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Write ``assignments.csv``, ``cluster_metrics.json``, ``cluster_map.png`` and the
    self-contained ``report.html`` into ``out`` (each atomically); returns their paths by name.
    The report is a by-product: when it cannot be written, a warning (``echo``, default stderr)
    says why and ``"report"`` is missing from the result."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    if projection not in ("pca", "tsne"):
        raise ConfigError(f"projection must be 'pca' or 'tsne', got {projection!r}")
    written = {
        "assignments": write_assignments(result, folder / "assignments.csv"),
        "metrics": write_metrics(folder / "cluster_metrics.json", result.to_dict()),
        "map": plot_cluster_map(
            result, folder / "cluster_map.png", projection=projection, thumbnails=thumbnails,
            base_dir=base_dir, seed=seed,
        ),
    }
    report = write_cluster_html(result, folder, map_png=written["map"], projection=projection, echo=echo)
    if report is not None:
        written["report"] = report
    return written


REPORT_MAX_ASSIGNMENTS = 5000


def write_cluster_html(
    result: ClusterResult,
    out: str | Path,
    *,
    map_png: str | Path | None = None,
    projection: str = "pca",
    echo: Callable[[str], None] | None = None,
) -> Path | None:
    """``out/report.html``: the scores (silhouette, NMI, ARI), k, method and cluster sizes, the
    per-cluster table, the cluster map, the k search (``auto``) and the assignments. Returns its
    path, or None (after a one-line warning) when it could not be written."""
    folder = Path(out)
    try:
        from vidlearn.reports import Section, image_html, table_html, text_html, write_html_report

        sizes = ", ".join(
            ("noise" if c == NOISE else f"{c}") + f": {s}" for c, s in sorted(result.sizes.items(), key=lambda kv: (kv[0] == NOISE, kv[0]))
        )
        metrics = {
            "silhouette": result.silhouette,
            "NMI": result.nmi,
            "ARI": result.ari,
            "k (clusters)": result.k,
            "videos": result.n,
            "noise": result.n_noise,
            "labelled videos": result.n_labelled,
        }
        if result.skipped:
            metrics["skipped"] = list(result.skipped)  # the report's "skipped" section
        info = {
            "method": result.method,
            "sizes": sizes or "none",
            "labels": result.label_source,
            "features": f"{len(result.columns)} column(s): " + ", ".join(result.features),
            "scale": result.scale,
            "pca": result.pca,
            "parameters": ", ".join(f"{k}={v}" for k, v in result.params.items() if v is not None) or None,
        }
        sections = []
        summary = result.cluster_summary()
        has_labels = any("majority_label" in row for row in summary)
        heads = ["cluster", "size"] + (["majority label", "purity"] if has_labels else [])
        rows = [
            [("noise" if row["cluster"] == NOISE else row["cluster"]), row["size"]]
            + ([row.get("majority_label"), row.get("purity")] if has_labels else [])
            for row in summary
        ]
        sections.append(Section("clusters", "Clusters", table_html(heads, rows, numeric=[False, True, False, True])))
        if map_png is not None:
            axes = "t-SNE" if projection == "tsne" else "PCA"
            sections.append(Section("map", "Cluster map", image_html(map_png, "cluster map", caption=f"{axes} projection of the clustered features, coloured by cluster")))
        if result.auto_silhouette:
            sections.append(Section(
                "auto-k", "Choice of k (silhouette)",
                table_html(["k", "silhouette"], [[k, v] for k, v in sorted(result.auto_silhouette.items())], numeric=[True, True])
                + text_html(f"k = {result.k}: the best silhouette (ties: the smaller k)."),
            ))
        frame = (
            result.assignments.assign(_noise=result.assignments["cluster"] == NOISE)
            .sort_values(["_noise", "cluster", "path"], kind="stable")
            .drop(columns="_noise")
        )
        shown = frame.head(REPORT_MAX_ASSIGNMENTS)
        has_label_col = "label" in frame.columns
        arows = [
            [r.path, "noise" if int(r.cluster) == NOISE else int(r.cluster)]
            + ([None if r.label is None or (isinstance(r.label, float) and math.isnan(r.label)) else r.label] if has_label_col else [])
            for r in shown.itertuples(index=False)
        ]
        more = text_html(f"… and {len(frame) - len(shown)} more: see assignments.csv.") if len(frame) > len(shown) else ""
        sections.append(Section(
            "assignments", f"Assignments ({len(frame)} videos)",
            table_html(["path", "cluster"] + (["label"] if has_label_col else []), arows, numeric=[False, True, False]) + more,
        ))
        config = {"method": result.method, "features": result.features, "scale": result.scale, "pca": result.pca,
                  "params": dict(result.params), "projection": projection}
        return write_html_report(
            folder, title=f"Clustering report: {result.method} ({folder.name})", metrics=metrics, config=config,
            sections=sections, info=info,
        )
    except Exception as exc:  # noqa: BLE001 - a missing report must not fail a finished run
        import sys

        (echo or (lambda s: print(s, file=sys.stderr)))(f"warning: {folder / 'report.html'} not written ({exc.__class__.__name__}: {exc})")
        return None


# ---- from data or a feature table to a report ----------------------------------------------

DEFAULT_KINDS: tuple[str, ...] = ("color", "shape", "motion")


def cluster_videos(
    source: str | Path,
    out: str | Path,
    *,
    features: Sequence[str] | str | None = None,
    method: Method = "kmeans",
    k: int | None = None,
    auto: bool = False,
    scale: bool = True,
    pca: int | None = None,
    seed: int = 0,
    projection: Projection = "pca",
    thumbnails: bool | None = None,
    group: str | None = None,
    fps: float | None = None,
    short_side: int | None = None,
    workers: int | None = None,
    progress: bool = True,
    eps: float | None = None,
    min_samples: int | None = None,
    min_cluster_size: int | None = None,
    linkage: str | None = None,
    labels: str | None = None,
    echo: Callable[[str], None] | None = None,
) -> ClusterResult:
    """What ``vidlearn cluster`` does: read a ``.parquet`` feature table, or compute one from data
    (a folder, manifest or split list; see :func:`vidlearn.data.sources.load_records`) into
    ``out/features.parquet`` (resumable), cluster it (:func:`cluster_table`) and write the report
    (:func:`write_cluster_report`). ``features`` names the families (default: all in the table;
    for data: color, shape, motion; ``deep`` is the EfficientNet-Lite0 embedding, ``deep:PATH`` a
    trained model's). ``labels`` names the column to score against (default: ``target``).
    ``fps``/``short_side``/``workers``/``echo`` go to
    :func:`~vidlearn.features.table.compute_feature_table` (None: its defaults). Videos it could not
    read are left out and listed in ``result.skipped`` and the metrics file."""
    from vidlearn.features.table import parse_kinds, read_feature_table

    # wrong options fail now, not after minutes of feature extraction
    _check_options(
        method=method, k=k, auto=auto, pca=pca, seed=seed, eps=eps, min_samples=min_samples,
        min_cluster_size=min_cluster_size, linkage=linkage,
    )
    if projection not in ("pca", "tsne"):
        raise ConfigError(f"projection must be 'pca' or 'tsne', got {projection!r}")
    kinds = None if features is None else parse_kinds(features)
    src = Path(source)
    out_dir = Path(out)
    base_dir: Path | None = None
    if src.suffix.lower() == ".parquet":
        if group is not None:
            raise ConfigError("--group applies to data, not to a feature table")
        df = read_feature_table(src)
        if "path" not in df.columns:
            raise DataSourceError(src, [f"not a feature table: no 'path' column (columns: {_preview(df.columns)})"])
        base_dir = src.parent
    else:
        from vidlearn.data.sources import load_records
        from vidlearn.features.table import compute_feature_table

        records = load_records(src, group=group, labelled=False)
        table_kinds = kinds or list(DEFAULT_KINDS)
        opts: dict[str, Any] = {"out": out_dir / "features.parquet", "progress": progress, "echo": echo}
        if fps is not None:
            opts["fps"] = fps
        if short_side is not None:
            opts["short_side"] = short_side
        if workers is not None:
            opts["workers"] = workers
        out_dir.mkdir(parents=True, exist_ok=True)
        df = compute_feature_table(records, table_kinds, **opts)
        kinds = table_kinds
    # "deep:ARTIFACT" writes deep.* columns
    prefixes = None if kinds is None else list(dict.fromkeys(kind.split(":", 1)[0] for kind in kinds))
    result = cluster_table(
        df, method=method, k=k, auto=auto, columns=prefixes, scale=scale, pca=pca, seed=seed,
        eps=eps, min_samples=min_samples, min_cluster_size=min_cluster_size, linkage=linkage, labels=labels,
    )
    write_cluster_report(result, out_dir, projection=projection, thumbnails=thumbnails, base_dir=base_dir, seed=seed, echo=echo)
    return result
