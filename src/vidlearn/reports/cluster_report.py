"""The clustering run's ``report.html``: the scores, the clusters, the map, the choice of k and the
assignments."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from vidlearn.tasks.cluster_result import ClusterResult
from vidlearn.tasks.clustering import NOISE

__all__ = ["REPORT_MAX_ASSIGNMENTS", "write_cluster_html"]

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
        from vidlearn.reports.html import Section, image_html, table_html, text_html, write_html_report

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
