"""The feature and classical-baseline commands: features, baseline, cluster (registered on the app by `vidlearn.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vidlearn.cli.common import KIND_HELP, GroupColumn, Quiet, _friendly, check_suffix, needs_extra
from vidlearn.errors import ConfigError


@_friendly
def features(
    data: Annotated[Path, typer.Argument(help="videos: class folders, CSV manifest, split list or one video")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the feature table to write: .parquet, or .csv/.tsv for other tools (metadata in OUT.json)")],
    kind: Annotated[str, typer.Option("--kind", help=KIND_HELP)] = "color,shape,motion",
    fps: Annotated[Optional[float], typer.Option(help="decode rate for the frame families (default 8, or the native rate when lower)")] = None,
    size: Annotated[Optional[int], typer.Option(help="decoded short side in pixels (default 128, or the native short side when smaller)")] = None,
    workers: Annotated[int, typer.Option(help="processes for decoding + classical features (1: none)")] = 2,
    group: GroupColumn = None,
    task: Annotated[str, typer.Option(help="classification (the manifest's label column), regression (its numeric target column) or multilabel (label a|b, or label:CLASS 0/1 columns)")] = "classification",
    ray: Annotated[Optional[str], typer.Option(help="decode + classical features on a Ray cluster: local, auto or ray://HOST:PORT")] = None,
    quiet: Quiet = False,
) -> None:
    """Compute a feature table (one row per video): Parquet, or CSV/TSV by the --out suffix; resumes an interrupted run."""
    from vidlearn.data.sources import load_records
    from vidlearn.tables.table import compute_feature_table

    check_suffix("--out", out, (".parquet", ".csv", ".tsv"))
    if ray:
        needs_extra("--ray", ("ray",), "ray")

    records = load_records(data, task=task, group=group, labelled=False)
    if fps is None or size is None:  # never upscale or resample above the files' rate
        from vidlearn.data.fingerprint import native_decode

        nfps, nside, why = native_decode(records, fps=8.0, short_side=128)
        fps, size = (nfps if fps is None else fps), (nside if size is None else size)
        if why:
            typer.echo(f"decoding: {why}")
    table = compute_feature_table(records, kind, fps=fps, short_side=size, out=out, workers=workers,
                                  progress=not quiet, ray=ray, echo=typer.echo)
    info = table.attrs["vidlearn"]
    for s in info["skipped"]:
        typer.echo(f"skipped {s['path']}: {s['reason']}")
    typer.echo(f"{len(table)} video(s) x {len(info['feature_columns'])} feature column(s) -> {out} "
               f"({info['computed']} computed, {info['reused']} reused, {len(info['skipped'])} skipped)")


@_friendly
def baseline(
    table: Annotated[Path, typer.Argument(help="a feature table from `vidlearn features`")],
    out: Annotated[Path, typer.Option("--out", "-o", help="report folder (metrics, confusion matrix, model)")],
    estimator: Annotated[str, typer.Option("--estimator", "--classifier", help="classification: svm, logreg, knn, rf; regression: svm (SVR), ridge, knn, rf; multilabel (one-vs-rest): svm, logreg, knn")] = "svm",
    task: Annotated[str, typer.Option(help="classification (class names), regression (numeric targets) or multilabel (labels joined by |)")] = "classification",
    cv: Annotated[Optional[str], typer.Option(help="leave-one-group-out or kfold:K (default: by group when there are groups)")] = None,
    group: Annotated[Optional[str], typer.Option(
        help="the manifest column holding the group (e.g. actor; the table keeps manifest columns); "
             "default: the group given to `vidlearn features --group`")] = None,
    pca: Annotated[Optional[int], typer.Option(help="keep this many principal components")] = None,
    columns: Annotated[Optional[str], typer.Option(help="feature column prefixes, e.g. color,motion")] = None,
    seed: Annotated[int, typer.Option(help="random seed (folds, forests)")] = 0,
    quiet: Quiet = False,
) -> None:
    """Cross-validate a classical model on a feature table; save the report and an ONNX model."""
    from vidlearn.training.baseline import run_baseline

    result = run_baseline(table, out, estimator=estimator, task=task, cv=cv, group=group or "group", pca=pca, columns=columns,
                          seed=seed, echo=(lambda _line: None) if quiet else typer.echo)
    m = result["video"]["metrics"]
    name, key = {"classification": ("video accuracy", "accuracy"), "multilabel": ("video mAP", "map")}.get(task, ("MAE", "mae"))
    extra = "" if task != "regression" or m["r2"]["mean"] is None else f", R² {m['r2']['mean']:.3f} ± {m['r2']['std']:.3f}"
    typer.echo(f"{result['protocol']}: {name} {m[key]['mean']:.4g} ± {m[key]['std']:.4g}{extra} over "
               f"{result['video']['n_folds']} folds -> {out}/cv_metrics.json")


@_friendly
def cluster(
    source: Annotated[Path, typer.Argument(help="a .parquet feature table, or data (folder, manifest, split list) to compute one from")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for assignments.csv, cluster_metrics.json, cluster_map.png, report.html")],
    kind: Annotated[Optional[str], typer.Option("--kind", help="feature families, comma-separated: deep, color, shape, motion (default: all in the table; for data color,shape,motion)")] = None,
    old_features: Annotated[Optional[str], typer.Option("--features", hidden=True, help="old name of --kind")] = None,
    k: Annotated[Optional[int], typer.Option("--k", help="number of clusters (kmeans, agglomerative)")] = None,
    auto: Annotated[bool, typer.Option("--auto", help="choose k by silhouette over 2..min(10, n-1)")] = False,
    method: Annotated[str, typer.Option(help="kmeans, agglomerative, dbscan or hdbscan")] = "kmeans",
    pca: Annotated[Optional[int], typer.Option(help="cluster on this many principal components")] = None,
    scale: Annotated[bool, typer.Option(help="standardise every feature column first")] = True,
    projection: Annotated[str, typer.Option(help="map: pca or tsne")] = "pca",
    thumbnails: Annotated[Optional[bool], typer.Option("--thumbnails/--no-thumbnails", help="middle frames on the map (default: when <= 100 videos)")] = None,
    eps: Annotated[Optional[float], typer.Option(help="dbscan radius (default: chosen by silhouette)")] = None,
    min_samples: Annotated[Optional[int], typer.Option(help="dbscan/hdbscan min_samples")] = None,
    min_cluster_size: Annotated[Optional[int], typer.Option(help="hdbscan min_cluster_size")] = None,
    labels: Annotated[Optional[str], typer.Option(help="table column to score against (default: target), e.g. group")] = None,
    group: GroupColumn = None,
    fps: Annotated[Optional[float], typer.Option(help="data only: decode rate for the features (default 8, or the native rate when lower)")] = None,
    size: Annotated[Optional[int], typer.Option(help="data only: decoded short side in pixels (default 128, or the native one when smaller)")] = None,
    workers: Annotated[Optional[int], typer.Option(help="data only: processes for decoding + classical features (default 2)")] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    quiet: Quiet = False,
) -> None:
    """Group videos by their features; score clusters against labels when there are any (NMI, ARI)."""
    from vidlearn.training.cluster import cluster_videos

    if kind is not None and old_features is not None:
        raise ConfigError("--features is the old name of --kind: give one of them")
    features = kind if kind is not None else old_features
    if k is not None and k < 2:
        raise ConfigError(f"--k must be a number of clusters, 2 or more, got {k}")
    result = cluster_videos(
        source, out, features=features, method=method, k=k, auto=auto, scale=scale, pca=pca, seed=seed,
        projection=projection, thumbnails=thumbnails, group=group, fps=fps, short_side=size,
        workers=workers, progress=not quiet, eps=eps, min_samples=min_samples, min_cluster_size=min_cluster_size,
        labels=labels, echo=typer.echo,
    )
    for s in result.skipped:
        typer.echo(f"skipped {s['path']}: {s['reason']}")
    typer.echo(result.summary())
    typer.echo("sizes: " + ", ".join(f"{'noise' if c < 0 else c}: {s}" for c, s in result.sizes.items()))
    typer.echo(f"wrote {out}/assignments.csv, {out}/cluster_metrics.json, {out}/cluster_map.png, {out}/report.html")
