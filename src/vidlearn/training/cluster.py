"""What ``vidlearn cluster`` does: read a feature table or compute one from data, cluster it
(:func:`vidlearn.tasks.clustering.cluster_table`) and write the files: ``assignments.csv``,
``cluster_metrics.json``, ``cluster_map.png`` (:mod:`vidlearn.reports.cluster_map`) and
``report.html`` (:mod:`vidlearn.reports.cluster_report`).

>>> result = cluster_videos("features.parquet", "out/", method="kmeans", k=4, features=["color", "motion"])
>>> write_cluster_report(cluster_table(df, auto=True), "out/")   # the files, for a result in hand
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vidlearn.errors import ConfigError, DataSourceError
from vidlearn.fsutil import atomic_write_text
from vidlearn.reports.cluster_map import plot_cluster_map
from vidlearn.reports.cluster_report import write_cluster_html
from vidlearn.tasks.cluster_result import ClusterResult
from vidlearn.tasks.clustering import Method, Projection, check_options, cluster_table
from vidlearn.tasks.feature_columns import preview_columns
from vidlearn.tasks.metrics import write_metrics

__all__ = ["DEFAULT_KINDS", "cluster_videos", "write_assignments", "write_cluster_report"]


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
    :func:`~vidlearn.tables.table.compute_feature_table` (None: its defaults). Videos it could not
    read are left out and listed in ``result.skipped`` and the metrics file."""
    from vidlearn.tables.table import parse_kinds, read_feature_table

    # wrong options fail now, not after minutes of feature extraction
    check_options(
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
            raise DataSourceError(src, [f"not a feature table: no 'path' column (columns: {preview_columns(df.columns)})"])
        base_dir = src.parent
    else:
        from vidlearn.data.sources import load_records
        from vidlearn.tables.table import compute_feature_table

        records = load_records(src, group=group, labelled=False)
        table_kinds = kinds or list(DEFAULT_KINDS)
        opts: dict[str, Any] = {"out": out_dir / "features.parquet", "progress": progress, "echo": echo}
        if fps is None or short_side is None:  # the defaults, but never above the files' native size and rate
            from vidlearn.data.fingerprint import native_decode

            nfps, nside, why = native_decode(records, fps=8.0, short_side=128)
            fps = nfps if fps is None else fps
            short_side = nside if short_side is None else short_side
            if why:
                echo(f"decoding: {why}")
        opts["fps"] = fps
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
