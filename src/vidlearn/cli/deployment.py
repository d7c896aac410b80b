"""The deployment commands: predict, export, serve (registered on the app by `vidlearn.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vidlearn.cli.common import (
    ArchOpt,
    ClassesOpt,
    Config,
    ModelArg,
    Quiet,
    Sets,
    WeightsOpt,
    _friendly,
    _model_and_data,
    check_suffix,
    needs_extra,
    with_pipeline,
)
from vidlearn.errors import ConfigError


@_friendly
def predict(
    artifact: ModelArg,
    target: Annotated[Optional[str], typer.Argument(metavar="TARGET", help="a video, a folder of videos, a manifest, or a stream (rtsp://..., pipe:0, a FIFO)")] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="classes per prediction")] = 1,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="write predictions to .csv or .json (with --timeline also a timeline PNG per video beside it)")] = None,
    timeline: Annotated[bool, typer.Option(help="slide a window over each video: per-window predictions (the PNG needs --out)")] = False,
    stride: Annotated[Optional[float], typer.Option(help="timeline step in seconds (default: half a window; a quarter for --segments)")] = None,
    segments: Annotated[bool, typer.Option(help="a localization model: action segments (start, end, label, score); with --out also a timeline PNG")] = False,
    ray: Annotated[Optional[str], typer.Option(help="predict on a Ray cluster: local, auto or ray://HOST:PORT")] = None,
    weights: WeightsOpt = None,
    arch: ArchOpt = None,
    classes: ClassesOpt = None,
    config: Config = None,
    set_: Sets = None,
    quiet: Quiet = False,
) -> None:
    """Predict labels (or values) for videos, or window by window for a stream (rtsp://, http://,
    udp://, pipe:0, a named pipe); bad files are reported and skipped. `predict MODEL TARGET`, or
    `predict --weights NAME|FILE TARGET` for pretrained weights (e.g. Kinetics-400 names)."""
    from vidlearn.deploy.predict import PredictReport, run_predictions

    if out is not None:
        check_suffix("--out", out, (".csv", ".json"))
    if top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {top_k}")
    if stride is not None and not 0 < stride <= 3600:
        raise ConfigError(f"--stride must be a step of more than 0 and at most 3600 seconds, got {stride:g}")
    if ray:
        needs_extra("--ray", ("ray",), "ray")
    source, target = _model_and_data(artifact, target, weights, arch, classes, "TARGET")
    source = with_pipeline(source, config, set_)
    if segments:
        from vidlearn.deploy.segments import SegmentReport, run_segments

        seg_report = run_segments(source, target, out=out, stride=stride, on_segment=lambda s: typer.echo(SegmentReport.line(s)))
        for line in seg_report.lines(segments=not seg_report.streamed):
            typer.echo(line)
        if seg_report.skipped and not seg_report.segments:
            raise typer.Exit(1)
        return
    live = lambda p: typer.echo(PredictReport.line(p))  # noqa: E731 - streams: each window as it comes
    report = run_predictions(source, target, top_k=top_k, out=out, timeline=timeline, stride=stride, on_prediction=live,
                             ray=ray, progress=not quiet)
    for line in report.lines(predictions=not report.streamed):
        typer.echo(line)
    if report.skipped and not report.predictions:
        raise typer.Exit(1)


@_friendly
def export(
    artifact: Annotated[Path, typer.Argument(metavar="MODEL", help="a trained deep model (directory or .vidlearn file); a classical model already is ONNX")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the .onnx file to write")],
    opset: Annotated[int, typer.Option(help="ONNX opset")] = 17,
) -> None:
    """Export a trained model to ONNX (checked against PyTorch with onnxruntime before it is kept)."""
    from vidlearn.deploy.export import export_onnx

    result = export_onnx(artifact, out, opset=opset)
    shape = "x".join(str(d) for d in result.input_shape[1:])
    typer.echo(f"wrote {result.path}: input {result.input_name} (batch, {shape}) -> {result.output_name}; "
               f"onnxruntime matches PyTorch (max abs. difference {result.max_abs_diff:.2g})")


@_friendly
def serve(
    artifact: Annotated[Path, typer.Argument(metavar="MODEL", help="a trained model (directory or .vidlearn file) or a baseline model folder")],
    host: Annotated[str, typer.Option(help="interface to listen on (0.0.0.0: all)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    max_mb: Annotated[Optional[int], typer.Option(help="largest upload, in MiB (default 512; env VIDLEARN_SERVE_MAX_BYTES in bytes)")] = None,
    max_seconds: Annotated[Optional[float], typer.Option(help="longest video per request, in seconds (default 300)")] = None,
    max_frames: Annotated[Optional[int], typer.Option(help="most frames in a video per request (default 18000)")] = None,
    header_timeout: Annotated[Optional[float], typer.Option(help="seconds a connection may take to send a request head (default 10)")] = None,
    read_timeout: Annotated[Optional[float], typer.Option(help="longest silence, in seconds, while an upload arrives (default 30)")] = None,
    upload_timeout: Annotated[Optional[float], typer.Option(help="seconds a whole upload may take (default 600)")] = None,
    max_connections: Annotated[Optional[int], typer.Option(help="concurrent connections; past it 503 (default 64)")] = None,
    max_queue: Annotated[Optional[int], typer.Option(help="requests waiting for the model; past it 503 (default 8)")] = None,
    queue_timeout: Annotated[Optional[float], typer.Option(help="longest wait for the model, in seconds; past it 503 (default 30)")] = None,
    config: Config = None,
    set_: Sets = None,
) -> None:
    """Serve a model over HTTP: POST a video (raw body or multipart `file`) to /predict or /timeline; GET /health, /docs.

    Every limit can also be set as VIDLEARN_SERVE_<NAME> (e.g. VIDLEARN_SERVE_MAX_SECONDS=120); an option wins."""
    needs_extra("serve", ("fastapi", "uvicorn", "fastapi_offline", "multipart"), "serve")
    from vidlearn.deploy.serve import ServeLimits
    from vidlearn.deploy.serve import serve as run_server

    if max_mb is not None and max_mb < 1:
        raise ConfigError(f"--max-mb must be at least 1, got {max_mb}")
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port must be a TCP port, 0 to 65535, got {port}")
    model = with_pipeline(str(artifact), config, set_)
    limits = ServeLimits.resolve(
        max_bytes=None if max_mb is None else max_mb * 1024 * 1024, max_seconds=max_seconds, max_frames=max_frames,
        header_timeout=header_timeout, read_timeout=read_timeout, upload_timeout=upload_timeout,
        max_connections=max_connections, max_queue=max_queue, queue_timeout=queue_timeout,
    )
    run_server(model if not isinstance(model, str) else artifact, host=host, port=port, limits=limits)
