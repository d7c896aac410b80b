"""Clustering of feature tables (`cluster_table`), its report files, and `vidlearn cluster`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.datasets import make_blobs
from typer.testing import CliRunner

from vidlearn.cli import app
from vidlearn.errors import ConfigError
from vidlearn.reports.cluster_map import middle_frame, plot_cluster_map
from vidlearn.tasks.clustering import cluster_table
from vidlearn.training.cluster import write_cluster_report

N = 30


def blob_table(*, n: int = N, labelled: bool = True, noise_family: bool = False, seed: int = 0) -> pd.DataFrame:
    """Three well-separated blobs in `blob.*` columns (+ optional structureless `noise.*` columns)."""
    X, y = make_blobs(n_samples=n, centers=3, n_features=5, cluster_std=0.6, center_box=(-12, 12), random_state=seed)
    df = pd.DataFrame({"path": [f"videos/v{i:02d}.mp4" for i in range(n)]})
    if labelled:
        df["target"] = [("walk", "run", "wave")[v] for v in y]
    df["group"] = [f"g{i % 3}" for i in range(n)]
    for j in range(X.shape[1]):
        df[f"blob.f{j}"] = X[:, j]
    if noise_family:
        rng = np.random.default_rng(seed)
        for j in range(5):
            df[f"noise.f{j}"] = rng.normal(size=n)
    return df


@pytest.fixture(scope="module")
def blobs() -> pd.DataFrame:
    return blob_table()


# ---- the library ---------------------------------------------------------------------------


def test_kmeans_recovers_the_labelled_blobs(blobs):
    r = cluster_table(blobs, method="kmeans", k=3)
    assert (r.method, r.k, r.n, r.n_noise) == ("kmeans", 3, N, 0)
    assert r.nmi == pytest.approx(1.0) and r.ari == pytest.approx(1.0)
    assert r.silhouette is not None and r.silhouette > 0.5
    assert sum(r.sizes.values()) == N and sorted(r.sizes) == [0, 1, 2]
    assert list(r.assignments.columns) == ["path", "cluster", "label"]
    assert list(r.assignments["path"]) == list(blobs["path"])
    # every cluster is one label
    for row in r.to_dict()["clusters"]:
        assert row["purity"] == pytest.approx(1.0)


def test_results_do_not_depend_on_run_or_row_order(blobs):
    a = cluster_table(blobs, k=3, seed=1)
    b = cluster_table(blobs, k=3, seed=1)
    assert np.array_equal(a.clusters, b.clusters)
    shuffled = blobs.sample(frac=1.0, random_state=3).reset_index(drop=True)
    c = cluster_table(shuffled, k=3, seed=1)
    assert c.nmi == pytest.approx(1.0)


@pytest.mark.parametrize("method", ["kmeans", "agglomerative"])
def test_auto_chooses_three_clusters_by_silhouette(blobs, method):
    r = cluster_table(blobs, method=method, auto=True)
    assert r.k == 3
    assert sorted(r.auto_silhouette) == list(range(2, 11))  # 2..min(10, n-1)
    assert max(r.auto_silhouette, key=lambda k: r.auto_silhouette[k]) == 3
    assert r.to_dict()["auto"]["k_range"] == [2, 10]
    assert r.nmi == pytest.approx(1.0)


def test_auto_range_shrinks_for_small_tables():
    r = cluster_table(blob_table(n=6), auto=True)
    assert sorted(r.auto_silhouette) == [2, 3, 4, 5]


@pytest.mark.parametrize("method", ["dbscan", "hdbscan"])
def test_density_methods_find_the_blobs_and_report_noise(method):
    df = blob_table()
    outlier = {c: 0.0 for c in df.columns if c.startswith("blob.")}
    outlier.update({"blob.f0": 400.0, "blob.f1": -400.0, "path": "videos/odd.mp4", "target": "walk", "group": "g0"})
    df = pd.concat([df, pd.DataFrame([outlier])], ignore_index=True)
    r = cluster_table(df, method=method)
    assert r.k == 3
    assert r.n_noise >= 1 and r.sizes[-1] == r.n_noise
    assert r.assignments.set_index("path").loc["videos/odd.mp4", "cluster"] == -1
    assert r.nmi > 0.8 and r.ari > 0.8
    assert r.to_dict()["sizes"]["-1"] == r.n_noise


def test_columns_choose_feature_families():
    df = blob_table(noise_family=True)
    good = cluster_table(df, k=3, columns=["blob"])
    bad = cluster_table(df, k=3, columns="noise")
    both = cluster_table(df, k=3)
    assert good.columns == [f"blob.f{j}" for j in range(5)] and good.nmi == pytest.approx(1.0)
    assert bad.nmi < 0.5
    assert len(both.columns) == 10 and both.to_dict()["features"] == ["blob", "noise"]


def test_pca_and_no_scaling(blobs):
    r = cluster_table(blobs, k=3, pca=2, scale=False)
    assert r.embedding.shape == (N, 2) and r.pca == 2 and r.scale is False
    assert r.nmi == pytest.approx(1.0)
    assert cluster_table(blobs, k=3, pca=50).pca == 5  # at most the number of columns


def test_unlabelled_table_has_no_label_scores():
    r = cluster_table(blob_table(labelled=False), k=3)
    assert r.nmi is None and r.ari is None and r.n_labelled == 0
    assert list(r.assignments.columns) == ["path", "cluster"]
    assert "majority_label" not in r.to_dict()["clusters"][0]


def test_scores_against_another_column(blobs):
    df = blobs.copy()
    df["group"] = df["target"].map({"walk": "ann", "run": "bob", "wave": "cy"})
    df["target"] = "same"  # one class: no information
    by_group = cluster_table(df, k=3, labels="group")
    assert by_group.nmi == pytest.approx(1.0) and by_group.to_dict()["labels"] == "group"
    assert set(by_group.assignments["label"]) == {"ann", "bob", "cy"}
    assert cluster_table(df, k=3).nmi == pytest.approx(0.0)
    assert "vs group" in by_group.summary()


def test_partly_labelled_table_scores_the_labelled_rows(blobs):
    df = blobs.copy()
    df.loc[:9, "target"] = None
    r = cluster_table(df, k=3)
    assert r.n_labelled == N - 10 and r.nmi == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"k": N + 1}, [f"k={N + 1}", f"number of videos ({N})"]),
        ({"k": 1}, ["k must be"]),
        ({}, ["--k", "--auto"]),
        ({"k": 3, "auto": True}, ["not both"]),
        ({"method": "dbscan", "k": 3}, ["dbscan", "itself"]),
        ({"method": "spectral", "k": 3}, ["spectral", "kmeans"]),
        ({"k": 3, "columns": ["deep"]}, ["'deep'", "blob"]),
        ({"k": 3, "pca": 0}, ["pca"]),
    ],
)
def test_bad_arguments_give_clear_errors(blobs, kwargs, words):
    with pytest.raises(ConfigError) as info:
        cluster_table(blobs, **kwargs)
    for word in words:
        assert word in str(info.value)


def test_missing_feature_values_name_the_video(blobs):
    df = blobs.copy()
    df.loc[4, "blob.f2"] = np.nan
    with pytest.raises(ConfigError, match=r"videos/v04\.mp4"):
        cluster_table(df, k=3)


def test_table_without_feature_columns_is_an_error():
    with pytest.raises(ConfigError, match="no feature columns"):
        cluster_table(pd.DataFrame({"path": ["a", "b", "c"], "target": ["x", "y", "z"]}), k=2)


# ---- the report ----------------------------------------------------------------------------


def test_report_files_are_written(blobs, tmp_path):
    r = cluster_table(blobs, k=3)
    written = write_cluster_report(r, tmp_path / "out", thumbnails=False)
    out = tmp_path / "out"
    assert set(written) == {"assignments", "metrics", "map", "report"}
    rows = list(csv.DictReader(open(out / "assignments.csv")))
    assert len(rows) == N and set(rows[0]) == {"path", "cluster", "label"}
    assert {(row["path"], int(row["cluster"]), row["label"]) for row in rows} == {
        (p, int(c), lab) for p, c, lab in r.assignments.itertuples(index=False)
    }
    m = json.loads((out / "cluster_metrics.json").read_text())
    assert m["method"] == "kmeans" and m["k"] == 3 and m["n"] == N
    assert m["nmi"] == pytest.approx(1.0) and m["ari"] == pytest.approx(1.0) and m["silhouette"] > 0.5
    assert sum(m["sizes"].values()) == N
    with Image.open(out / "cluster_map.png") as im:
        assert im.format == "PNG" and im.size[0] > 300
    assert sorted(p.name for p in out.iterdir()) == ["assignments.csv", "cluster_map.png", "cluster_metrics.json", "report.html"]
    report = (out / "report.html").read_text()
    assert all(f'id="{sid}"' in report for sid in ("summary", "clusters", "map", "assignments")) and "<img" in report


def test_map_thumbnails_default_on_for_small_tables(blobs, tmp_path):
    r = cluster_table(blobs, k=3)
    asked: list[Path] = []

    def reader(path: Path):
        asked.append(path)
        return None if path.name == "v00.mp4" else np.full((24, 32, 3), 200, np.uint8)  # one unreadable

    plot_cluster_map(r, tmp_path / "a.png", frame_reader=reader, base_dir=tmp_path)
    assert len(asked) == N and asked[1] == tmp_path / "videos" / "v01.mp4"
    asked.clear()
    plot_cluster_map(r, tmp_path / "b.png", frame_reader=reader, thumbnails=False)
    assert asked == []
    plot_cluster_map(r, tmp_path / "c.png", projection="tsne", thumbnails=False)
    for name in ("a.png", "b.png", "c.png"):
        with Image.open(tmp_path / name) as im:
            assert im.format == "PNG"


# ---- the command ---------------------------------------------------------------------------


def test_cli_on_a_feature_table(blobs, tmp_path):
    table = tmp_path / "features.parquet"
    blobs.to_parquet(table)
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["cluster", str(table), "--auto", "--features", "blob", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "3 cluster(s)" in res.output and "NMI 1.000" in res.output
    m = json.loads((out / "cluster_metrics.json").read_text())
    assert m["k"] == 3 and m["auto"] is not None and m["features"] == ["blob"] and m["labels"] == "target"
    assert (out / "assignments.csv").is_file() and (out / "cluster_map.png").is_file()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--k", str(N + 5)], [f"k={N + 5}"]),
        (["--k", "3", "--features", "motion"], ["'motion'", "blob"]),
        (["--method", "dbscan", "--k", "3"], ["dbscan"]),
    ],
)
def test_cli_errors_are_one_clear_line(blobs, tmp_path, args, words):
    table = tmp_path / "features.parquet"
    blobs.to_parquet(table)
    res = CliRunner().invoke(app, ["cluster", str(table), *args, "--out", str(tmp_path / "run")])
    assert res.exit_code == 2
    assert "Traceback" not in res.output and res.output.startswith("error:")
    for word in words:
        assert word in res.output
    assert not (tmp_path / "run" / "cluster_metrics.json").exists()


def test_cli_checks_options_before_computing_features(tmp_path):
    data = tmp_path / "videos"
    data.mkdir()
    (data / "a.mp4").write_bytes(b"")
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["cluster", str(data), "--method", "dbscan", "--k", "3", "--out", str(out)])
    assert res.exit_code == 2 and "dbscan" in res.output and "Traceback" not in res.output
    assert not (out / "features.parquet").exists()


def test_cli_on_an_unreadable_table(tmp_path):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"not parquet at all")
    res = CliRunner().invoke(app, ["cluster", str(bad), "--k", "2", "--out", str(tmp_path / "run")])
    assert res.exit_code == 2 and "broken.parquet" in res.output and "Traceback" not in res.output


def test_cli_end_to_end_on_generated_videos(tmp_path):
    pytest.importorskip("vidlearn.tables.table", reason="vidlearn.tables.table is not written yet")
    from vidlearn.data.synthetic import generate_demo_dataset

    manifest = generate_demo_dataset(tmp_path / "data", classes=["left", "blink"], videos_per_class=4, size=32, duration=1.0)
    out = tmp_path / "run"
    args = ["cluster", str(manifest), "--features", "color,motion", "--k", "2", "--out", str(out), "--quiet"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    table = pd.read_parquet(out / "features.parquet")
    assert len(table) == 8
    rows = list(csv.DictReader(open(out / "assignments.csv")))
    assert len(rows) == 8 and {r["label"] for r in rows} == {"left", "blink"}
    assert {int(r["cluster"]) for r in rows} == {0, 1}
    m = json.loads((out / "cluster_metrics.json").read_text())
    assert m["features"] == ["color", "motion"] and m["n"] == 8 and m["nmi"] is not None
    assert 0.0 <= m["nmi"] <= 1.0
    with Image.open(out / "cluster_map.png") as im:
        assert im.format == "PNG"
    # the map's thumbnails come from the videos themselves
    frame = middle_frame(Path(rows[0]["path"]), short_side=24)
    assert frame is not None and frame.dtype == np.uint8 and min(frame.shape[:2]) == 24
    assert middle_frame(tmp_path / "missing.mp4") is None
    # the written table clusters again without recomputing, with one family of its features
    res = CliRunner().invoke(app, ["cluster", str(out / "features.parquet"), "--features", "motion", "--auto",
                                   "--no-thumbnails", "--out", str(tmp_path / "again")])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "again" / "cluster_metrics.json").read_text())
    assert m["features"] == ["motion"] and m["n"] == 8 and 2 <= m["k"] <= 7
