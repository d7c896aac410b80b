"""The `vidlearn` command line: a thin shell over the library. Every command parses its
arguments, calls library functions and prints; user errors become one line on stderr (exit 2)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from vidlearn.cli.common import (
    _ARCH_HELP,
    _CLASSES_HELP,
    _WEIGHTS_HELP,
    _echo_json,
    _friendly,
    _model_and_data,
)
from vidlearn.cli import data
from vidlearn.cli import plan as plan_command
from vidlearn.cli.weights import weights_app
from vidlearn.errors import ConfigError, VidlearnError

app = typer.Typer(
    name="vidlearn",
    help="Deep-learning video analysis: probe, check, extract frames, train, evaluate, predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(weights_app, name="weights")


for _name, _command in (("probe", data.probe), ("check", data.check), ("frames", data.frames), ("demo-data", data.demo_data)):
    app.command(_name)(_command)  # the data commands, first in the help as in the pipeline
app.command("plan")(plan_command.plan)


@app.command()
@_friendly
def models(
    filter: Annotated[Optional[str], typer.Argument(help="only names containing this (wildcards allowed)")] = None,
    clip: Annotated[str, typer.Option(help="clip size T,H,W for the multiply-add count")] = "16,112,112",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List the models: name, family, parameters and multiply-adds for a clip size."""
    from vidlearn.models import list_models, model_info

    try:
        t, h, w = (int(v) for v in clip.split(","))
    except ValueError:
        raise typer.BadParameter("--clip must look like T,H,W, e.g. 16,112,112") from None
    from vidlearn.models import model_family, takes_feature_sequences

    rows = []
    for name in list_models(filter):
        try:
            if takes_feature_sequences(name):  # measured on T rows of the default frame features
                from vidlearn.config import ExperimentConfig
                from vidlearn.features.frames import FrameEncoder

                dim = FrameEncoder.from_config(ExperimentConfig()).dim
                info = model_info(name, clip=(t, 1, 1), in_features=dim)
                rows.append({**info, "note": f"on {t} rows of {dim} features (frame_features), not pixels"})
            else:
                rows.append(model_info(name, clip=(t, h, w)))
        except VidlearnError as exc:  # a model that cannot be built without more options: listed, not measured
            rows.append({"name": name, "family": model_family(name), "params": None, "macs": None, "note": str(exc)})
    if as_json:
        _echo_json(rows)
        return
    typer.echo(f"{'name':<22} {'family':<12} {'params':>10} {'GMACs @' + clip:>20}")
    for r in rows:
        if r["params"] is None:
            typer.echo(f"{r['name']:<22} {r['family']:<12} {'-':>10} {'-':>20}  ({r['note'].split(': ', 1)[-1]})")
            continue
        note = f"  ({r['note']})" if r.get("note") else ""
        typer.echo(f"{r['name']:<22} {r['family']:<12} {r['params'] / 1e6:>9.2f}M {r['macs'] / 1e9:>20.3f}{note}")


@app.command()
@_friendly
def train(
    data: Annotated[Path, typer.Argument(help="training data: class folders, CSV manifest or split list")],
    out: Annotated[Path, typer.Option("--out", "-o", help="run directory")],
    model: Annotated[Optional[str], typer.Option(help="model name (see `vidlearn models`)")] = None,
    config: Annotated[Optional[Path], typer.Option(help="experiment config (YAML/JSON)")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="training epochs")] = None,
    task: Annotated[Optional[str], typer.Option(help="classification or regression")] = None,
    cv: Annotated[Optional[str], typer.Option(help="cross-validation: kfold:K or leave-one-group-out")] = None,
    group: Annotated[Optional[str], typer.Option(help="manifest column used as group (e.g. actor)")] = None,
    resume: Annotated[bool, typer.Option(help="continue from the run's last checkpoint")] = False,
    devices: Annotated[str, typer.Option(help="number of devices (DDP when > 1), or 'auto'")] = "1",
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="override a config field: section.field=value")] = None,
    weights: Annotated[Optional[str], typer.Option(help="initial weights: a checkpoint or a catalogue name (`vidlearn weights list`); a catalogue entry also sets the model and the preprocessing you did not set")] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
    budget: Annotated[Optional[str], typer.Option(help=plan_command.BUDGET_HELP + "; with no recipe flags the recipe is always planned")] = None,
) -> None:
    """Train a model (with validation, or every cross-validation fold) and save the artifact. With no
    recipe flags (--config, --model, --epochs, --set, --weights), or with --budget, the recipe is
    planned from the data, the machine and the budget (`vidlearn plan` shows it); flags win over it."""
    from vidlearn.training.experiment import build_config, train_on_data

    if budget is not None or not (config or model or epochs or set_ or weights):
        named = {"model.name": model, "optim.epochs": epochs, "task.kind": task, "model.weights": weights}
        result = plan_command.train_with_plan(data, out, budget=budget, config=config, set_=set_, named=named, task=task, cv=cv,
                                              group=group, devices=devices, resume=resume, quiet=quiet)
    else:
        cfg = build_config(config, overrides=set_, model=model, epochs=epochs, task=task, weights=weights, echo=typer.echo)
        result = train_on_data(data, cfg, out, cv=cv, group=group, devices=devices, resume=resume, progress=not quiet, echo=typer.echo)
    if isinstance(result, dict):
        m = result["video"]["metrics"]
        key = "accuracy" if "accuracy" in m else "mae"
        typer.echo(f"cross-validation {result['protocol']}: video {key} {m[key]['mean']:.3f} ± {m[key]['std']:.3f} "
                   f"over {result['video']['n_folds']} folds -> {out}/cv_metrics.json")
        return
    if result.artifact is None:
        return  # a non-zero DDP rank
    line = f"trained {result.epochs} epoch(s) in {result.seconds:.0f} s; model: {result.artifact}"
    if result.metrics:
        v = result.metrics["video"]
        line += f"; validation video {'accuracy' if 'accuracy' in v else 'MAE'} {v.get('accuracy', v.get('mae')):.3f}"
    typer.echo(line)


@app.command()
@_friendly
def evaluate(
    artifact: Annotated[str, typer.Argument(metavar="MODEL", help="a trained model (directory or .vidlearn file), a baseline model folder or a catalogue name")],
    data: Annotated[Optional[str], typer.Argument(metavar="DATA", help="labelled data to evaluate on")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="report folder")] = Path("eval"),
    group: Annotated[Optional[str], typer.Option(help="manifest column used as group")] = None,
    weights: Annotated[Optional[str], typer.Option(help=_WEIGHTS_HELP)] = None,
    arch: Annotated[Optional[str], typer.Option("--model", help=_ARCH_HELP)] = None,
    classes: Annotated[Optional[Path], typer.Option(help=_CLASSES_HELP)] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
) -> None:
    """Evaluate a model: clip- and video-level metrics, confusion matrix, per-class table.
    `evaluate MODEL DATA`, or `evaluate --weights NAME|FILE DATA` for pretrained weights."""
    from vidlearn.training.experiment import evaluate_artifact

    source, data = _model_and_data(artifact, data, weights, arch, classes, "DATA")
    metrics = evaluate_artifact(source, data, out, group=group, progress=not quiet)
    v, c = metrics["video"], metrics.get("clip")  # baseline models have no clip level
    if "accuracy" in v:
        clip = f", clip accuracy {c['accuracy']:.3f}" if c else ""
        typer.echo(f"video accuracy {v['accuracy']:.3f} (n={v['n']}){clip}, macro F1 {v['macro']['f1']:.3f}")
    else:
        typer.echo(f"video MAE {v['mae']:.3f}, RMSE {v['rmse']:.3f}, R2 {v['r2']}")
    for s in metrics.get("skipped", []):
        typer.echo(f"skipped {s['path']}: {s['reason']}")
    typer.echo(f"report: {out}")


@app.command()
@_friendly
def predict(
    artifact: Annotated[str, typer.Argument(metavar="MODEL", help="a trained model (directory or .vidlearn file), a baseline model folder or a catalogue name")],
    target: Annotated[Optional[str], typer.Argument(metavar="TARGET", help="a video, a folder of videos, a manifest, or a stream (rtsp://..., pipe:0, a FIFO)")] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="classes per prediction")] = 1,
    out: Annotated[Optional[Path], typer.Option(help="write predictions to .csv or .json")] = None,
    timeline: Annotated[bool, typer.Option(help="slide a window over each video: per-window predictions")] = False,
    stride: Annotated[Optional[float], typer.Option(help="timeline step in seconds (default: half a window)")] = None,
    ray: Annotated[Optional[str], typer.Option(help="predict on a Ray cluster: local, auto or ray://HOST:PORT")] = None,
    weights: Annotated[Optional[str], typer.Option(help=_WEIGHTS_HELP)] = None,
    arch: Annotated[Optional[str], typer.Option("--model", help=_ARCH_HELP)] = None,
    classes: Annotated[Optional[Path], typer.Option(help=_CLASSES_HELP)] = None,
) -> None:
    """Predict labels (or values) for videos, or window by window for a stream (rtsp://, http://,
    udp://, pipe:0, a named pipe); bad files are reported and skipped. `predict MODEL TARGET`, or
    `predict --weights NAME|FILE TARGET` for pretrained weights (e.g. Kinetics-400 names)."""
    from vidlearn.deploy.predict import PredictReport, run_predictions

    source, target = _model_and_data(artifact, target, weights, arch, classes, "TARGET")
    live = lambda p: typer.echo(PredictReport.line(p))  # noqa: E731 - streams: each window as it comes
    report = run_predictions(source, target, top_k=top_k, out=out, timeline=timeline, stride=stride, on_prediction=live, ray=ray)
    for line in report.lines(predictions=not report.streamed):
        typer.echo(line)
    if report.skipped and not report.predictions:
        raise typer.Exit(1)


@app.command()
@_friendly
def export(
    artifact: Annotated[Path, typer.Argument(help="a trained model (directory or .vidlearn file)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the .onnx file to write")],
    opset: Annotated[int, typer.Option(help="ONNX opset")] = 17,
) -> None:
    """Export a trained model to ONNX (checked against PyTorch with onnxruntime before it is kept)."""
    from vidlearn.deploy.export import export_onnx

    result = export_onnx(artifact, out, opset=opset)
    shape = "x".join(str(d) for d in result.input_shape[1:])
    typer.echo(f"wrote {result.path}: input {result.input_name} (batch, {shape}) -> {result.output_name}; "
               f"onnxruntime matches PyTorch (max abs. difference {result.max_abs_diff:.2g})")


@app.command()
@_friendly
def serve(
    artifact: Annotated[Path, typer.Argument(help="a trained model (directory or .vidlearn file) or a baseline model folder")],
    host: Annotated[str, typer.Option(help="interface to listen on (0.0.0.0: all)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    max_mb: Annotated[int, typer.Option(help="largest video accepted, in MiB")] = 512,
) -> None:
    """Serve a model over HTTP: POST a video's bytes to /predict (or /timeline); GET /health."""
    from vidlearn.deploy.serve import serve as run_server

    if max_mb < 1:
        raise ConfigError(f"--max-mb must be at least 1, got {max_mb}")
    run_server(artifact, host=host, port=port, max_bytes=max_mb * 1024 * 1024)


@app.command()
@_friendly
def cluster(
    source: Annotated[Path, typer.Argument(help="a .parquet feature table, or data (folder, manifest, split list) to compute one from")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for assignments.csv, cluster_metrics.json, cluster_map.png, report.html")],
    features: Annotated[Optional[str], typer.Option(help="families, comma-separated: deep, color, shape, motion (default: all in the table; for data color,shape,motion)")] = None,
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
    group: Annotated[Optional[str], typer.Option(help="manifest column used as group (e.g. actor)")] = None,
    fps: Annotated[Optional[float], typer.Option(help="data only: decode rate for the features (default 8, or the native rate when lower)")] = None,
    size: Annotated[Optional[int], typer.Option(help="data only: decoded short side in pixels (default 128, or the native one when smaller)")] = None,
    workers: Annotated[Optional[int], typer.Option(help="data only: processes for decoding + classical features (default 2)")] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
) -> None:
    """Group videos by their features; score clusters against labels when there are any (NMI, ARI)."""
    from vidlearn.training.cluster import cluster_videos

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


@app.command()
@_friendly
def tune(
    data: Annotated[Path, typer.Argument(help="training data: class folders, CSV manifest or split list")],
    out: Annotated[Path, typer.Option("--out", "-o", help="search folder: study.db, trials/, best_config.yaml, trials.csv, plots")],
    trials: Annotated[Optional[int], typer.Option(help="trials in the study in total (a re-run continues until there are this many); default with --budget: as many as fit")] = None,
    space: Annotated[Optional[Path], typer.Option(help="search-space YAML (default: lr, weight decay, model, frames, fps, size, augmentation)")] = None,
    timeout: Annotated[Optional[float], typer.Option(help="start no new trial after this many seconds")] = None,
    jobs: Annotated[int, typer.Option(help="trials run in parallel (worker processes sharing the study)")] = 1,
    group: Annotated[Optional[str], typer.Option(help="manifest column used as group (e.g. actor)")] = None,
    config: Annotated[Optional[Path], typer.Option(help="base experiment config (YAML/JSON) every trial starts from")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="training epochs per trial")] = None,
    pruner: Annotated[str, typer.Option(help="stop bad trials early: median, halving (successive halving) or none")] = "median",
    seed: Annotated[int, typer.Option(help="sampler seed")] = 0,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="override a base config field: section.field=value")] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
    budget: Annotated[Optional[str], typer.Option(help="run trials until this time is spent, e.g. 30m, 2h (the whole search, reports included)")] = None,
) -> None:
    """Search hyper-parameters with Optuna (TPE, pruning); resumable; writes best_config.yaml."""
    from vidlearn.training.experiment import build_config
    from vidlearn.training.tune import default_space, format_params, load_space
    from vidlearn.training.tune import tune as run_tune

    budget_s = None
    if budget is not None:
        from vidlearn.planning import parse_budget

        budget_s = parse_budget(budget)
    if trials is None and budget_s is None:
        raise ConfigError("give --trials N, --budget B (e.g. 30m), or both")
    cfg = build_config(config, overrides=set_, epochs=epochs)
    params = load_space(space, base=cfg) if space else default_space(cfg)
    r = run_tune(data, cfg, out, trials=trials or 10_000, space=params, timeout=timeout, jobs=jobs, group=group,
                 pruner=pruner, seed=seed, progress=not quiet, echo=typer.echo, budget=budget_s)
    typer.echo(f"{r.complete} complete, {r.pruned} pruned, {r.failed} failed trial(s) in {r.study_db} ({r.ran} run now)")
    if r.best_trial is None:
        raise VidlearnError(f"no trial completed; see {out}/trials.csv")
    typer.echo(f"best {r.direction_metric} {r.best_value:.4f} (trial {r.best_trial}): {format_params(r.best_params)}")
    typer.echo(f"best config: {r.best_config} (vidlearn train {data} --config {r.best_config} --out RUN); "
               f"its model: {r.best_run}/model; {out}/trials.csv, {out}/history.png, {out}/importance.png")


@app.command("augment-preview")
@_friendly
def augment_preview(
    data: Annotated[Path, typer.Argument(help="class folders, CSV manifest, split list or a video")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the picture: .png/.jpg grid, or .gif with --gif")],
    config: Annotated[Optional[Path], typer.Option(help="experiment config (YAML/JSON) with the transform section")] = None,
    clips: Annotated[int, typer.Option(help="videos shown")] = 4,
    gif: Annotated[bool, typer.Option("--gif", help="an animated GIF: before | after side by side, frame by frame")] = False,
    seed: Annotated[int, typer.Option(help="random seed of the augmentations")] = 0,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="override a config field: section.field=value")] = None,
) -> None:
    """Show what the model sees: clips before (evaluation transform) and after (training augmentation)."""
    from vidlearn.clips.preview import augment_preview as preview
    from vidlearn.training.experiment import build_config

    cfg = build_config(config, overrides=set_)
    res = preview(data, cfg, out, clips=clips, gif=gif or None, seed=seed)
    for path, reason in res.skipped:
        typer.echo(f"skipped {path}: {reason}")
    kind = "animated GIF" if res.path.suffix.lower() == ".gif" else "grid"
    typer.echo(f"wrote {res.path}: {kind} of {res.clips} clip(s) before/after augmentation, {res.frames} frame(s) each")


@app.command()
@_friendly
def features(
    data: Annotated[Path, typer.Argument(help="videos: class folders, CSV manifest, split list or one video")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the feature table to write: .parquet, or .csv/.tsv for other tools (metadata in OUT.json)")],
    kind: Annotated[str, typer.Option("--kind", help="families: color,shape,motion,deep and/or deep:ARTIFACT")] = "color,shape,motion",
    fps: Annotated[Optional[float], typer.Option(help="decode rate for the frame families (default 8, or the native rate when lower)")] = None,
    size: Annotated[Optional[int], typer.Option(help="decoded short side in pixels (default 128, or the native short side when smaller)")] = None,
    workers: Annotated[int, typer.Option(help="processes for decoding + classical features (1: none)")] = 2,
    group: Annotated[Optional[str], typer.Option(help="manifest column used as group (e.g. actor)")] = None,
    task: Annotated[str, typer.Option(help="classification (the manifest's label column) or regression (its numeric target column)")] = "classification",
    ray: Annotated[Optional[str], typer.Option(help="decode + classical features on a Ray cluster: local, auto or ray://HOST:PORT")] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Compute a feature table (one row per video) to Parquet; resumes an interrupted run."""
    from vidlearn.data.sources import load_records
    from vidlearn.tables.table import compute_feature_table

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


@app.command()
@_friendly
def baseline(
    table: Annotated[Path, typer.Argument(help="a feature table from `vidlearn features`")],
    out: Annotated[Path, typer.Option("--out", "-o", help="report folder (metrics, confusion matrix, model)")],
    estimator: Annotated[str, typer.Option("--estimator", "--classifier", help="classification: svm, logreg, knn, rf; regression: svm (SVR), ridge, knn, rf")] = "svm",
    task: Annotated[str, typer.Option(help="classification (class names) or regression (numeric targets)")] = "classification",
    cv: Annotated[Optional[str], typer.Option(help="leave-one-group-out or kfold:K (default: by group when there are groups)")] = None,
    group: Annotated[str, typer.Option(help="table column holding the group")] = "group",
    pca: Annotated[Optional[int], typer.Option(help="keep this many principal components")] = None,
    columns: Annotated[Optional[str], typer.Option(help="feature column prefixes, e.g. color,motion")] = None,
    seed: Annotated[int, typer.Option(help="random seed (folds, forests)")] = 0,
) -> None:
    """Cross-validate a classical model on a feature table; save the report and an ONNX model."""
    from vidlearn.training.baseline import run_baseline

    result = run_baseline(table, out, estimator=estimator, task=task, cv=cv, group=group, pca=pca, columns=columns,
                          seed=seed, echo=typer.echo)
    m = result["video"]["metrics"]
    name, key = ("video accuracy", "accuracy") if task == "classification" else ("MAE", "mae")
    extra = "" if task == "classification" or m["r2"]["mean"] is None else f", R² {m['r2']['mean']:.3f} ± {m['r2']['std']:.3f}"
    typer.echo(f"{result['protocol']}: {name} {m[key]['mean']:.4g} ± {m[key]['std']:.4g}{extra} over "
               f"{result['video']['n_folds']} folds -> {out}/cv_metrics.json")


@app.command()
@_friendly
def demo(
    out: Annotated[Path, typer.Option(help="output folder")] = Path("demo_out"),
) -> None:
    """Run the main job on the bundled demo data (what `make demo` runs)."""
    from vidlearn.demo import run_demo

    run_demo(out, echo=typer.echo)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
