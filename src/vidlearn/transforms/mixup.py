"""Batch-level mixing: mixup and cutmix (one box through time) with soft targets (label smoothing folded in), and the soft-target cross entropy the training step uses."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from vidlearn.transforms.draws import check_p


@dataclass(frozen=True)
class MixParams:
    """How one batch is mixed: sample ``i`` is combined with sample ``perm[i]``; ``lam`` is the
    weight of sample ``i`` (its pixels' share, and its target's); ``box`` (top, left, h, w) is
    the region cutmix pastes from the partner, the same in every frame."""

    mode: Literal["none", "mixup", "cutmix"]
    lam: float
    perm: torch.Tensor
    box: tuple[int, int, int, int] | None = None


class MixupCutmix:
    """Mixup and cutmix for batches of clips ``(B, C, T, H, W)`` with class-index targets.

    Per batch, with probability ``prob`` it mixes: cutmix (when only ``cutmix_alpha`` > 0, or
    with probability ``switch_prob`` when both are on) or mixup, with ``lam ~ Beta(alpha, alpha)``
    and a random pairing of the batch. The soft targets are ``lam * y_i + (1 - lam) * y_perm[i]``
    of label-smoothed one-hots (``(1 - eps) * onehot + eps / K``); every row sums to 1. For cutmix
    ``lam`` is the share of the frame that is not pasted over (after the box is cut at the edges).
    Random draws come from a ``numpy.random.Generator`` (Beta draws).
    """

    def __init__(
        self,
        *,
        mixup_alpha: float = 0.0,
        cutmix_alpha: float = 0.0,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        label_smoothing: float = 0.0,
    ) -> None:
        if mixup_alpha < 0 or cutmix_alpha < 0:
            raise ValueError(f"alphas must be >= 0, got mixup {mixup_alpha}, cutmix {cutmix_alpha}")
        if mixup_alpha == 0 and cutmix_alpha == 0:
            raise ValueError("MixupCutmix needs mixup_alpha > 0 or cutmix_alpha > 0")
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.mixup_alpha = float(mixup_alpha)
        self.cutmix_alpha = float(cutmix_alpha)
        self.prob = check_p(prob)
        self.switch_prob = check_p(switch_prob)
        self.label_smoothing = float(label_smoothing)

    def draw(self, batch_size: int, height: int, width: int, rng: np.random.Generator) -> MixParams:
        """The mixing of one batch."""
        identity = torch.arange(batch_size)
        if rng.random() >= self.prob:
            return MixParams("none", 1.0, identity)
        use_cutmix = self.cutmix_alpha > 0 and (self.mixup_alpha == 0 or rng.random() < self.switch_prob)
        perm = torch.from_numpy(rng.permutation(batch_size)).long()
        if not use_cutmix:
            return MixParams("mixup", float(rng.beta(self.mixup_alpha, self.mixup_alpha)), perm)
        lam = float(rng.beta(self.cutmix_alpha, self.cutmix_alpha))
        cut = math.sqrt(1.0 - lam)
        ch, cw = int(height * cut), int(width * cut)
        cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
        top, bottom = max(cy - ch // 2, 0), min(cy + ch // 2, height)
        left, right = max(cx - cw // 2, 0), min(cx + cw // 2, width)
        box = (top, left, bottom - top, right - left)
        lam = 1.0 - box[2] * box[3] / float(height * width)
        return MixParams("cutmix", lam, perm, box)

    def mix_inputs(self, video: torch.Tensor, params: MixParams) -> torch.Tensor:
        """The mixed batch (B, ..., H, W); cutmix pastes the same box in every frame."""
        if params.mode == "none":
            return video
        perm = params.perm.to(video.device)
        if params.mode == "mixup":
            return video * params.lam + video[perm] * (1.0 - params.lam)
        top, left, h, w = params.box  # type: ignore[misc]
        out = video.clone()
        out[..., top : top + h, left : left + w] = video[perm][..., top : top + h, left : left + w]
        return out

    def soft_targets(self, target: torch.Tensor, params: MixParams, num_classes: int) -> torch.Tensor:
        """(B, num_classes) float targets, each row summing to 1."""
        y = target.long().reshape(-1)
        eps = self.label_smoothing
        onehot = F.one_hot(y, num_classes).float() * (1.0 - eps) + eps / num_classes
        if params.mode == "none":
            return onehot
        return onehot * params.lam + onehot[params.perm.to(onehot.device)] * (1.0 - params.lam)

    def mix_label_sets(self, target: torch.Tensor, params: MixParams) -> torch.Tensor:
        """(B, K) multi-label targets (0/1 a class) mixed as the clips were: ``lam`` of each clip's
        own label set plus ``1 - lam`` of its partner's (no label smoothing; not summing to 1)."""
        y = target.float()
        if params.mode == "none":
            return y
        return y * params.lam + y[params.perm.to(y.device)] * (1.0 - params.lam)

    def __call__(
        self, video: torch.Tensor, target: torch.Tensor, num_classes: int, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mixed video, soft targets) of a batch."""
        params = self.draw(video.shape[0], video.shape[-2], video.shape[-1], rng)
        return self.mix_inputs(video, params), self.soft_targets(target, params, num_classes)

    def __repr__(self) -> str:
        return (
            f"MixupCutmix(mixup_alpha={self.mixup_alpha}, cutmix_alpha={self.cutmix_alpha}, prob={self.prob}, "
            f"switch_prob={self.switch_prob}, label_smoothing={self.label_smoothing})"
        )


def build_mixer(cfg, *, label_smoothing: float = 0.0) -> MixupCutmix | None:
    """The batch mixer of a :class:`~vidlearn.config.TransformConfig` (None when both alphas are 0)."""
    if cfg.mixup_alpha <= 0 and cfg.cutmix_alpha <= 0:
        return None
    return MixupCutmix(
        mixup_alpha=cfg.mixup_alpha,
        cutmix_alpha=cfg.cutmix_alpha,
        prob=cfg.mix_prob,
        switch_prob=cfg.mix_switch_prob,
        label_smoothing=label_smoothing,
    )


def soft_target_cross_entropy(
    logits: torch.Tensor, soft: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean over the batch of ``-sum_k w_k * soft_k * log_softmax(logits)_k`` (``w`` = 1 without
    class weights): cross-entropy with probability targets."""
    logp = F.log_softmax(logits.float(), dim=-1)
    per_class = -soft.to(logp.dtype) * logp
    if weight is not None:
        per_class = per_class * weight.to(logp.dtype)
    return per_class.sum(-1).mean()
