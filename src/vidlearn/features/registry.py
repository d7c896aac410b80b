"""Feature families by name: build extractors and extract named feature vectors from frames.

>>> values, columns = extract_vector(frames, ["color", "motion"], bins=16, flow="farneback")
>>> row = extract(frames, ["shape"])          # {"shape.edge_density.mean": 0.07, ...}

Keyword parameters go to every requested family whose constructor takes them (``stats`` and
``pyramid`` go to all); a parameter that none of them takes is a :class:`~vidlearn.errors.ConfigError`.
A keyword named after a family, with a dict value, gives parameters to that family only:
``build_extractors(["color", "shape"], color={"stats": ["mean"]})``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from vidlearn.errors import ConfigError
from vidlearn.features.base import FeatureExtractor, check_frames
from vidlearn.features.color import ColorFeatures
from vidlearn.features.motion import MotionFeatures
from vidlearn.features.shape import ShapeFeatures

__all__ = [
    "CLASSICAL_KINDS",
    "available_kinds",
    "build_extractors",
    "columns_for",
    "extract",
    "extract_vector",
    "build_video_family",
    "register_extractor",
    "register_video_family",
]

CLASSICAL_KINDS: tuple[str, ...] = ("color", "shape", "motion")

_FACTORIES: dict[str, Callable[..., FeatureExtractor]] = {
    "color": ColorFeatures,
    "shape": ShapeFeatures,
    "motion": MotionFeatures,
}


def register_extractor(name: str, factory: Callable[..., FeatureExtractor]) -> None:
    """Make ``factory(**params)`` available to :func:`build_extractors` as kind ``name``."""
    if name in _FACTORIES and _FACTORIES[name] is not factory:
        raise ValueError(f"feature kind {name!r} is already registered")
    _FACTORIES[name] = factory


_VIDEO_FAMILIES: dict[str, Callable[..., Any]] = {}


def register_video_family(prefix: str, factory: Callable[..., Any]) -> None:
    """Make kinds ``"<prefix>ARG"`` (e.g. ``"deep:runs/model"``) buildable: ``factory(ARG, device=...)``
    gives a family that reads each video itself (``columns``, ``identity``, ``embed_video(path,
    start, end)``). The predictors layer registers ``deep:`` (a trained model's embedding)."""
    if prefix in _VIDEO_FAMILIES and _VIDEO_FAMILIES[prefix] is not factory:
        raise ValueError(f"feature kind prefix {prefix!r} is already registered")
    _VIDEO_FAMILIES[prefix] = factory


def build_video_family(kind: str, *, device: str = "cpu") -> Any:
    """The family of a ``"<prefix>ARG"`` kind registered with :func:`register_video_family`."""
    for prefix, factory in _VIDEO_FAMILIES.items():
        if kind.startswith(prefix):
            arg = kind[len(prefix) :].strip()
            if not arg:
                raise ConfigError(f"features.kinds: {prefix!r} needs an argument, e.g. {prefix}runs/model")
            return factory(arg, device=device)
    raise ConfigError(f"features.kinds: unknown feature kind {kind!r} (import vidlearn.predictors for 'deep:ARTIFACT')")


def available_kinds() -> list[str]:
    """Names of the registered feature families."""
    return list(_FACTORIES)


def _accepted(factory: Callable[..., Any]) -> set[str] | None:
    """Keyword names ``factory`` takes (None: it takes ``**kwargs``)."""
    params = inspect.signature(factory).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    named = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return {p.name for p in params if p.kind in named}


def build_extractors(kinds: Sequence[str] = CLASSICAL_KINDS, **params: Any) -> list[FeatureExtractor]:
    """One extractor per name in ``kinds`` (in that order), configured from ``params``."""
    if isinstance(kinds, str):
        kinds = [kinds]
    kinds = list(kinds)
    if not kinds:
        raise ConfigError("features.kinds: choose at least one of " + ", ".join(_FACTORIES))
    for kind in kinds:
        if kind not in _FACTORIES:
            raise ConfigError(f"features.kinds: unknown feature kind {kind!r}; choose from {', '.join(_FACTORIES)}")
    if len(set(kinds)) != len(kinds):
        raise ConfigError(f"features.kinds: a kind is listed twice in {kinds}")
    own = {k: params.pop(k) for k in list(params) if k in _FACTORIES}
    for name, value in own.items():
        if name not in kinds:
            raise ConfigError(f"features.{name}: parameters given for a kind that was not requested")
        if not isinstance(value, dict):
            raise ConfigError(f"features.{name}: family parameters must be a dict, got {type(value).__name__}")
    used: set[str] = set()
    extractors: list[FeatureExtractor] = []
    for kind in kinds:
        factory = _FACTORIES[kind]
        accepted = _accepted(factory)
        shared = {k: v for k, v in params.items() if accepted is None or k in accepted}
        used.update(shared)
        specific = dict(own.get(kind, {}))
        if accepted is not None:
            unknown = sorted(set(specific) - accepted)
            if unknown:
                raise ConfigError(f"features.{kind}.{unknown[0]}: not a parameter of {kind!r} features")
        try:
            extractors.append(factory(**{**shared, **specific}))
        except TypeError as exc:  # a wrong value type reaching the constructor
            raise ConfigError(f"features.{kind}: {exc}") from None
    unused = sorted(set(params) - used)
    if unused:
        raise ConfigError(f"features.{unused[0]}: not a parameter of any of {', '.join(kinds)}")
    return extractors


def _as_extractors(kinds: Sequence[str] | Sequence[FeatureExtractor], params: dict[str, Any]) -> list[FeatureExtractor]:
    items = [kinds] if isinstance(kinds, str) else list(kinds)
    if items and all(not isinstance(k, str) for k in items):
        if params:
            raise ConfigError("features: parameters can only be given with kind names, not with built extractors")
        return items  # type: ignore[return-value]
    return build_extractors(items, **params)  # type: ignore[arg-type]


def columns_for(kinds: Sequence[str] | Sequence[FeatureExtractor] = CLASSICAL_KINDS, **params: Any) -> list[str]:
    """Column names that :func:`extract_vector` returns for these kinds and parameters."""
    return [c for ex in _as_extractors(kinds, params) for c in ex.columns]


def extract_vector(
    frames: np.ndarray,
    kinds: Sequence[str] | Sequence[FeatureExtractor] = CLASSICAL_KINDS,
    **params: Any,
) -> tuple[np.ndarray, list[str]]:
    """Concatenated float32 features of ``frames`` ``(T, H, W, 3) uint8`` and their column names.

    ``kinds`` is a list of family names (configured by ``params``) or of already built extractors.
    """
    frames = check_frames(frames)
    extractors = _as_extractors(kinds, params)
    values = [np.asarray(ex(frames), dtype=np.float32) for ex in extractors]
    columns = [c for ex in extractors for c in ex.columns]
    vector = np.concatenate(values) if values else np.zeros(0, dtype=np.float32)
    return vector, columns


def extract(
    frames: np.ndarray,
    kinds: Sequence[str] | Sequence[FeatureExtractor] = CLASSICAL_KINDS,
    **params: Any,
) -> dict[str, float]:
    """Features of ``frames`` as an ordered ``{column: value}`` dict (see :func:`extract_vector`)."""
    vector, columns = extract_vector(frames, kinds, **params)
    return dict(zip(columns, (float(v) for v in vector), strict=True))
