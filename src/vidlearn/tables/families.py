"""The feature families of one run: the kinds asked for (:func:`parse_kinds`) and their extractors
(:func:`build_families`), split by where they run -- the classical ones in the workers, the
EfficientNet one and an artifact's one in this process -- and the columns they produce."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vidlearn.errors import ConfigError

__all__ = ["Families", "build_families", "parse_kinds"]


def parse_kinds(kinds: str | Sequence[str]) -> list[str]:
    """``"color,shape,deep"`` or a list -> a clean list of kind names (no blanks, no repeats).

    ``"deep:PATH"`` (a trained model artifact) keeps its path as written."""
    items = kinds.split(",") if isinstance(kinds, str) else [str(k) for k in kinds]
    out = [k.strip() for k in items if k.strip()]
    if not out:
        raise ConfigError("features.kinds: choose at least one of color, shape, motion, deep, deep:ARTIFACT")
    seen: set[str] = set()
    for k in out:
        if k in seen:
            raise ConfigError(f"features.kinds: {k!r} is listed twice")
        seen.add(k)
    return out


@dataclass
class Families:
    """The extractors of one run: classical ones (sent to the workers), the EfficientNet one (this
    process) and an artifact one (this process, reads the video itself)."""

    kinds: list[str]
    classical: list[tuple[str, Any]]
    effnet: Any | None
    artifact: Any | None
    columns: list[str] = field(default_factory=list)

    @property
    def needs_frames(self) -> bool:
        return bool(self.classical) or self.effnet is not None


def build_families(kinds: list[str], params: dict[str, Any], device: str) -> Families:
    from vidlearn.features.registry import build_extractors, build_video_family

    artifact_kinds = [k for k in kinds if k.startswith("deep:")]
    frame_kinds = [k for k in kinds if not k.startswith("deep:")]
    if len(artifact_kinds) > 1:
        raise ConfigError("features.kinds: give at most one 'deep:ARTIFACT' kind; their columns would clash")
    if "deep" in frame_kinds or artifact_kinds:
        import vidlearn.features.deep  # noqa: F401 - registers "deep"
    if not frame_kinds and params:
        raise ConfigError(f"features.{sorted(params)[0]}: not a parameter of {', '.join(kinds)}")
    extractors = dict(zip(frame_kinds, build_extractors(frame_kinds, **params))) if frame_kinds else {}
    artifact = build_video_family(artifact_kinds[0], device=device) if artifact_kinds else None
    effnet = extractors.get("deep")
    if effnet is not None and device != "cpu":
        import torch

        effnet.device = torch.device(device)
    classical = [(k, e) for k, e in extractors.items() if k != "deep"]
    columns = [c for k in kinds for c in (artifact if k.startswith("deep:") else extractors[k]).columns]
    if len(set(columns)) != len(columns):
        raise ConfigError("features.kinds: two families produce the same column names")
    return Families(kinds=kinds, classical=classical, effnet=effnet, artifact=artifact, columns=columns)
