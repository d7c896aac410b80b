"""Export a trained model artifact to ONNX, for serving without PyTorch (onnxruntime, TensorRT,
OpenVINO, ...).

>>> export_onnx("runs/first/model", "model.onnx")   # checked against PyTorch before it is kept

The graph takes ``video``: float32 ``(batch, 3, T, H, W)`` — ``T = sampling.num_frames``, ``H = W =
transform.crop_size``, RGB scaled to 0..1 then normalised with ``transform.mean``/``std`` — and
returns what :meth:`vidlearn.predictors.deep.Predictor.outputs` returns: ``probabilities``
``(batch, K)`` (softmax) for classification, ``probabilities`` ``(batch, K)`` (a sigmoid per class)
for multilabel (the metadata's ``output.thresholds`` say which classes are predicted: score >=
threshold), or ``value`` ``(batch,)`` in the target's units for regression (the standardisation of
training is undone inside the graph). The batch axis is
dynamic. The model's metadata (``metadata_props["vidlearn"]``, JSON) holds everything needed to
feed it: the task, the class names, the input layout and normalisation, and how frames were
sampled (decode fps, short side, frames, stride, test views), plus the whole configuration.

A model that reads feature sequences (``feature_rnn``) takes ``features`` instead: float32
``(batch, T, F)``, the per-frame rows of ``frame_features`` (:mod:`vidlearn.features.frames`; the
metadata names the families and the F columns); its input standardisation is inside the graph.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidlearn.errors import ArtifactError, ConfigError
from vidlearn.fsutil import atomic_write_bytes
from vidlearn.tasks.task import Task, build_task

__all__ = ["ExportResult", "export_onnx", "onnx_metadata"]

METADATA_KEY = "vidlearn"


class _Served(nn.Module):
    """The network plus its task's output decoding (softmax, or undoing the target standardisation)."""

    def __init__(self, model: nn.Module, task: Task) -> None:
        super().__init__()
        self.model, self.task = model, task

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        out = self.task.decode(self.model(video).float())
        return out.reshape(out.shape[0], -1)[:, 0] if self.task.kind == "regression" else out


@dataclass
class ExportResult:
    """Where the model went and how closely onnxruntime reproduced PyTorch on the check input."""

    path: Path
    input_shape: tuple[int, ...]
    output_name: str
    max_abs_diff: float
    input_name: str = "video"


def onnx_metadata(path: str | Path) -> dict[str, Any]:
    """The ``vidlearn`` metadata of an exported model (task, classes, input, sampling, config)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            return json.loads(prop.value)
    raise ArtifactError(path, f"has no {METADATA_KEY!r} metadata: not exported by vidlearn")


def export_onnx(artifact: str | Path, out: str | Path, *, opset: int = 17, check: bool = True) -> ExportResult:
    """Export a saved model (directory or .vidlearn file) to the ONNX file ``out`` (written
    atomically). With ``check`` (default) onnxruntime runs the exported graph on a random batch of
    two clips beside PyTorch; the file is kept only when they agree (abs. difference <= 1e-4 on
    probabilities, or relative 1e-4 on values)."""
    import onnx

    from vidlearn.predictors.deep import DeepPredictor
    from vidlearn.provenance import __version__

    target = Path(out)
    if target.suffix.lower() != ".onnx":
        raise ConfigError(f"--out: an ONNX file name ends in .onnx, got {target.name!r}")
    if not 13 <= int(opset) <= 20:
        raise ConfigError(f"--opset must be between 13 and 20, got {opset}")
    from vidlearn.predictors.classical import META_FILE, MODEL_FILE, is_baseline_model

    if is_baseline_model(artifact):
        p = Path(artifact)
        folder = p.parent if p.is_file() else (p if (p / META_FILE).is_file() else p / "model")
        raise ConfigError(f"{artifact}: a classical model, which already is ONNX: {folder / MODEL_FILE} "
                          f"(its input columns are in {folder / META_FILE}); copy that file")
    predictor = DeepPredictor.load(artifact, device=torch.device("cpu"))
    cfg = predictor.config
    regression = predictor.is_regression
    served = _Served(predictor.model, build_task(cfg.task)).eval()
    encoder = predictor.encoder
    if encoder is not None:  # feature sequences
        shape: tuple[int, ...] = (1, cfg.sampling.num_frames, encoder.dim)
        input_name = "features"
        input_meta: dict[str, Any] = {
            "name": input_name, "layout": "NTF", "shape": ["batch", *shape[1:]], "dtype": "float32",
            "features": {"kinds": list(cfg.frame_features.kinds), "image_size": cfg.frame_features.image_size,
                         "columns": encoder.columns, "module": "vidlearn.features.frames"},
        }
    else:
        shape = (1, 3, cfg.sampling.num_frames, cfg.transform.crop_size, cfg.transform.crop_size)
        input_name = "video"
        input_meta = {"name": input_name, "layout": "NCTHW", "shape": ["batch", *shape[1:]], "dtype": "float32",
                      "color": "RGB", "scale": 1 / 255, "mean": list(cfg.transform.mean), "std": list(cfg.transform.std)}
    output_name = "value" if regression else "probabilities"
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about shape checks evaluated at export time
        torch.onnx.export(
            served, (torch.zeros(shape),), buf, opset_version=int(opset), dynamo=False,
            input_names=[input_name], output_names=[output_name],
            dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
        )
    model = onnx.load_from_string(buf.getvalue())
    meta = {
        "format": "vidlearn-onnx",
        "format_version": 1,
        "vidlearn": __version__,
        "model": cfg.model.name,
        "task": cfg.task.kind,
        "classes": list(predictor.class_names),
        "input": input_meta,
        "output": _output_meta(output_name, cfg.task, len(predictor.class_names)),
        "sampling": {"fps": cfg.decode.fps, "short_side": cfg.decode.short_side, "num_frames": cfg.sampling.num_frames,
                     "stride": cfg.sampling.stride, "test_views": cfg.sampling.test_views, "crop": "centre"},
        "config": cfg.to_dict(),
    }
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta)
    model.producer_name, model.producer_version = "vidlearn", __version__
    data = model.SerializeToString()
    diff = _check(served, data, shape, regression, input_name) if check else float("nan")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, data)
    return ExportResult(target, shape, output_name, diff, input_name)


def _output_meta(name: str, task_cfg: Any, num_classes: int) -> dict[str, Any]:
    """What the output means, through the task: multilabel adds the per-class thresholds."""
    if task_cfg.kind == "regression":
        return {"name": name, "meaning": "target value"}
    if task_cfg.kind == "multilabel":
        thresholds = build_task(task_cfg).threshold_array(num_classes)  # type: ignore[attr-defined]
        return {"name": name, "meaning": "sigmoid per class; a class is predicted when its score >= its threshold",
                "thresholds": [float(t) for t in thresholds]}
    return {"name": name, "meaning": "softmax over classes"}


def _check(served: nn.Module, data: bytes, shape: tuple[int, ...], regression: bool, input_name: str = "video") -> float:
    import onnxruntime as ort

    x = torch.randn((2, *shape[1:]), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = served(x).numpy()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {input_name: x.numpy()})
    diff = float(np.max(np.abs(got - want)))
    tol = 1e-4 * max(1.0, float(np.abs(want).max())) if regression else 1e-4
    if got.shape != want.shape or diff > tol:
        raise RuntimeError(f"the ONNX graph does not reproduce the model (max abs. difference {diff:.3g}); not written")
    return diff
