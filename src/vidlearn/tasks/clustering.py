"""Clustering algorithms and their scores: group unlabelled videos by their features.

The input is a feature table: one row per video with ``path``, optional ``target`` (the label, used
only to score the clusters) and ``group``, and feature columns named ``"<family>.<...>"`` (as written
by :func:`vidlearn.tables.table.compute_feature_table`; :mod:`vidlearn.tasks.feature_columns` picks
them). The result is a :class:`~vidlearn.tasks.cluster_result.ClusterResult`; the files, the map and
``vidlearn cluster`` are in :mod:`vidlearn.training.cluster`.

>>> result = cluster_table(df, method="kmeans", k=4, columns=["color", "motion"])
>>> result.nmi, result.ari, result.silhouette, result.sizes
>>> result = cluster_table(df, auto=True)               # k chosen by silhouette over 2..min(10, n-1)

Methods: ``kmeans`` and ``agglomerative`` (Ward) need ``k`` or ``auto=True``; ``dbscan`` and
``hdbscan`` find their own number of clusters and may leave points out as noise (cluster ``-1``).
Clusters are numbered 0, 1, ... by decreasing size.

Scores (scikit-learn): ``silhouette`` of the assignment in the space that was clustered (after
scaling and PCA; noise points left out; ``None`` when undefined, i.e. fewer than 2 clusters or as
many clusters as clustered points); ``nmi`` (normalized mutual information) and ``ari`` (adjusted Rand
index) against the labels, when the table has them, over the labelled rows; noise counts as one
more cluster there. 1.0 is a perfect match with the labels, ~0 is chance.

:func:`project` gives the 2-D coordinates (PCA or t-SNE) that the cluster map is drawn from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from vidlearn.errors import ConfigError
from vidlearn.tasks.cluster_result import ClusterResult
from vidlearn.tasks.feature_columns import (
    label_series,
    preview_columns,
    feature_columns,
    feature_families,
)

__all__ = [
    "DENSITY_METHODS",
    "METHODS",
    "NOISE",
    "PARTITION_METHODS",
    "ClusterResult",
    "cluster_table",
    "feature_columns",
    "feature_families",
]

Method = Literal["kmeans", "agglomerative", "dbscan", "hdbscan"]
Projection = Literal["pca", "tsne"]

PARTITION_METHODS: tuple[str, ...] = ("kmeans", "agglomerative")
DENSITY_METHODS: tuple[str, ...] = ("dbscan", "hdbscan")
METHODS: tuple[str, ...] = PARTITION_METHODS + DENSITY_METHODS
AUTO_MAX_K = 10
NOISE = -1


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


def check_options(
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
            raise ConfigError("give either the number of clusters (--k) or --auto, not both")
        if not auto and k is None:
            raise ConfigError(f"{method} needs the number of clusters: give --k N, or --auto to choose it by silhouette")
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
    checked = check_options(
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
            f"features: {int(bad_rows.sum())} row(s) have missing or infinite values: {preview_columns(names, 5)}"
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
    label_values, label_source = label_series(df, labels)
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


# ---- the map's coordinates ----------------------------------------------------------------


def project(X: np.ndarray, projection: str, seed: int) -> tuple[np.ndarray, tuple[str, str]]:
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
