"""The model registry: plain keyword-only builder functions registered with a decorator (timm style).

    @register_model(family="3d")
    def r3d_tiny(*, num_classes: int, dropout: float = 0.0, width: int = 16) -> nn.Module: ...

    model = build_model("r3d_tiny", num_classes=5, dropout=0.2)

No string-config indirection: the options a model takes are exactly its builder's keyword arguments,
and a wrong name or option raises `ConfigError` naming it (with the close names / accepted options).
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from vidlearn.errors import ConfigError

FAMILIES = ("frame", "recurrent", "3d", "transformer")

logger = logging.getLogger(__name__)

Builder = TypeVar("Builder", bound=Callable[..., nn.Module])


@dataclass(frozen=True)
class ModelEntry:
    """One registered model: its name, family, builder and one-line description."""

    name: str
    family: str
    builder: Callable[..., nn.Module]
    description: str
    native_clip: tuple[int, int, int] | None = None  # (T, H, W) the reference was published at


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(*, family: str, native_clip: tuple[int, int, int] | None = None) -> Callable[[Builder], Builder]:
    """Decorator registering a keyword-only builder `fn(*, num_classes, dropout=..., ...)` under its name.
    `native_clip` (T, H, W) is the input its reference implementation documents (and publishes
    multiply-adds for); `model_info` measures there when no clip is asked."""
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r}; expected one of {FAMILIES}")

    def decorate(fn: Builder) -> Builder:
        params = inspect.signature(fn).parameters
        positional = [p.name for p in params.values() if p.kind not in (p.KEYWORD_ONLY, p.VAR_KEYWORD)]
        if positional or "num_classes" not in params or "dropout" not in params:
            raise TypeError(f"model builder {fn.__name__} must be keyword-only and take num_classes and dropout")
        if fn.__name__ in _REGISTRY:
            raise ValueError(f"model {fn.__name__!r} is registered twice")
        doc = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[fn.__name__] = ModelEntry(fn.__name__, family, fn, doc[0] if doc else "", native_clip)
        return fn

    return decorate


def _entry(name: str) -> ModelEntry:
    if name in _REGISTRY:
        return _REGISTRY[name]
    close = difflib.get_close_matches(name, list(_REGISTRY), n=5, cutoff=0.5)
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    raise ConfigError(f"model.name: unknown model {name!r}{hint} (available: {', '.join(sorted(_REGISTRY))})")


def list_models(filter: str | None = None) -> list[str]:  # noqa: A002 (timm's name for it)
    """Sorted names of the registered models; `filter` is a glob ("r2plus1d*"), a family name
    ("3d") or a substring ("tiny")."""
    names = sorted(_REGISTRY)
    if not filter:
        return names
    if filter in FAMILIES:
        return [n for n in names if _REGISTRY[n].family == filter]
    if any(ch in filter for ch in "*?["):
        return [n for n in names if fnmatch.fnmatchcase(n, filter)]
    return [n for n in names if filter in n]


def native_clip(name: str) -> tuple[int, int, int] | None:
    """The (T, H, W) input a registered model's reference documents, or None when it has none."""
    return _entry(name).native_clip


def model_family(name: str) -> str:
    """The family ("frame", "recurrent", "3d", "transformer") a registered model belongs to."""
    return _entry(name).family


def model_options(name: str) -> dict[str, Any]:
    """The options a model's builder accepts with their defaults (`inspect.Parameter.empty` if required)."""
    params = inspect.signature(_entry(name).builder).parameters
    return {p.name: p.default for p in params.values() if p.kind == p.KEYWORD_ONLY}


def takes_feature_sequences(name: str) -> bool:
    """True for a model that reads per-frame feature rows (B, T, F) instead of clips: its builder
    takes ``in_features`` (``feature_rnn``)."""
    return "in_features" in model_options(name)


def build_model(name: str, *, num_classes: int, **options: Any) -> nn.Module:
    """Build a registered model. Every model maps float (B, 3, T, H, W) to (B, num_classes)
    (except `feature_rnn`, which takes (B, T, F)), has `forward_features(x) -> (B, num_features)`
    and a replaceable classifier `model.head`. Freshly initialised: `vidlearn.models.build_model`
    (`pretrained.build_model`) also loads `weights`."""
    entry = _entry(name)
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ConfigError(f"model {name}: num_classes must be a positive integer, got {num_classes!r}")
    accepted = model_options(name)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(
            f"model.options: {name} does not take {', '.join(unknown)} "
            f"(accepted: {', '.join(k for k in accepted if k != 'num_classes')})"
        )
    missing = [k for k, v in accepted.items() if v is inspect.Parameter.empty and k != "num_classes" and k not in options]
    if missing:
        raise ConfigError(f"model.options: {name} needs {', '.join(missing)}")
    try:
        model = entry.builder(num_classes=num_classes, **options)
    except ValueError as exc:
        raise ConfigError(f"model.options: {name}: {exc}") from exc
    model.model_name = name
    use_channels_last_3d(model)
    return model


def _to_channels_last_3d(module: nn.Module, args: tuple) -> tuple:
    x = args[0]
    if torch.onnx.is_in_onnx_export() or torch.jit.is_tracing():
        return args  # a layout is not an operation: exported graphs stay plain
    if isinstance(x, torch.Tensor) and x.ndim == 5:
        return (x.contiguous(memory_format=torch.channels_last_3d), *args[1:])
    return args


def use_channels_last_3d(model: nn.Module) -> bool:
    """Give a model with 3-D convolutions the channels-last-3d memory layout (its 5-D weights,
    and its input through a forward pre-hook). On the CPU a training step of the 3-D CNNs is
    1.1-2x faster (bench/bench_train_step.py; 2x for the depthwise X3D); frame models keep the default layout, which
    is faster for them. Values, names and shapes are unchanged. Returns whether it applied."""
    if not any(isinstance(m, nn.Conv3d) for m in model.modules()):
        return False
    for p in model.parameters():
        if p.ndim == 5:
            p.data = p.data.contiguous(memory_format=torch.channels_last_3d)
    model.register_forward_pre_hook(_to_channels_last_3d)
    return True


def example_input(model: nn.Module, clip: tuple[int, int, int] = (8, 64, 64), batch: int = 1) -> torch.Tensor:
    """A random input of the shape `model` takes: (batch, 3, T, H, W), or (batch, T, F) for
    feature-sequence models (those with an `in_features` attribute)."""
    t, h, w = clip
    in_features = getattr(model, "in_features", None)
    if in_features is not None:
        return torch.randn(batch, t, in_features)
    return torch.randn(batch, 3, t, h, w)


def count_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds of one forward pass on `x`, measured with FlopCounterMode (flops / 2)."""
    was_training = model.training
    model.eval()
    try:
        # oneDNN's fused RNN kernel is invisible to the counter; without it LSTMs run as matmuls
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False), FlopCounterMode(display=False) as counter:
                model(x)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops()) // 2


def model_info(
    name: str | nn.Module,
    clip: tuple[int, int, int] | None = None,
    *,
    num_classes: int = 400,
    **options: Any,
) -> dict[str, Any]:
    """Name, family, parameter count and multiply-adds (batch 1, 3 channels, clip=(T, H, W)) of a model.

    `name` may be a registered name (built with `num_classes` and `options` on the meta device, so
    nothing is allocated or computed) or a built model (run on its device). With no `clip`, the
    model's native clip (see `register_model`), else (8, 112, 112)."""
    if clip is None:
        entry = _REGISTRY.get(name if isinstance(name, str) else getattr(name, "model_name", ""))
        clip = (entry.native_clip if entry else None) or (8, 112, 112)
    if isinstance(name, nn.Module):
        model = name
        model_name = getattr(model, "model_name", type(model).__name__)
        device = next(model.parameters()).device
    else:  # built on the meta device: shapes only, so even the big models cost nothing to measure
        accepted = model_options(name)
        # models built for one clip size (the video transformer) are built for the asked clip
        if "num_frames" in accepted and "num_frames" not in options:
            options["num_frames"] = clip[0]
        for size_option in ("img_size", "image_size"):  # the zoo's and Hugging Face's names
            if size_option in accepted and size_option not in options and clip[1] == clip[2]:
                options[size_option] = clip[1]
        with torch.device("meta"):
            model = build_model(name, num_classes=num_classes, **options)
        model_name, device = name, torch.device("meta")
    family = _REGISTRY[model_name].family if model_name in _REGISTRY else "unknown"
    params = sum(p.numel() for p in model.parameters())
    macs = count_macs(model, example_input(model, clip).to(device))
    return {"name": model_name, "family": family, "params": params, "macs": macs, "clip": tuple(clip)}
