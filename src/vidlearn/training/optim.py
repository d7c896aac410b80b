"""Optimisers and learning-rate schedules built from `OptimConfig`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from vidlearn.config import OptimConfig


def build_optimizer(
    model: nn.Module, cfg: OptimConfig, *, lr_groups: list[tuple[list[nn.Parameter], float]] | None = None
) -> torch.optim.Optimizer:
    """AdamW or SGD (Nesterov momentum when `momentum` > 0); no weight decay on biases and
    normalisation weights. `lr_groups`: (parameters, learning rate) per part of the model (e.g. the
    head and the backbone, `finetune.lr_groups`); default: every parameter at ``cfg.lr``."""
    names = {id(p): n for n, p in model.named_parameters()}
    groups: list[dict] = []
    for params, lr in lr_groups or [(list(model.parameters()), cfg.lr)]:
        decay, no_decay = [], []
        for p in params:
            if not p.requires_grad:
                continue
            (no_decay if p.ndim <= 1 or names.get(id(p), "").endswith(".bias") else decay).append(p)
        groups += [{"params": decay, "weight_decay": cfg.weight_decay, "lr": lr}, {"params": no_decay, "weight_decay": 0.0, "lr": lr}]
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise ValueError("the model has no trainable parameters")
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)  # Nesterov needs momentum
    return torch.optim.AdamW(groups, lr=cfg.lr)


class LrSchedule:
    """The multiplier of the base learning rate at each optimiser step: a linear warm-up of
    ``warmup_epochs``, then cosine to 0 at ``total_steps`` (or step decay, or constant).

    Its state is plain numbers (LambdaLR saves it in the checkpoint, loaded with weights_only);
    ``total_steps`` may be shortened during training (a deadline: see ``training.fit``), and the
    cosine then ends at the new horizon."""

    def __init__(self, cfg: OptimConfig, *, steps_per_epoch: int, total_steps: int) -> None:
        self.schedule = str(cfg.schedule)
        self.gamma = float(cfg.gamma)
        self.step_size = int(cfg.step_size)
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.warmup = int(round(cfg.warmup_epochs * steps_per_epoch))
        self.total_steps = int(total_steps)

    def __call__(self, step: int) -> float:
        if self.warmup and step < self.warmup:
            return (step + 1) / self.warmup
        if self.schedule == "constant":
            return 1.0
        if self.schedule == "step":
            return self.gamma ** ((step // self.steps_per_epoch) // self.step_size)
        progress = (step - self.warmup) / max(1, self.total_steps - self.warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: OptimConfig, *, steps_per_epoch: int, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step LambdaLR following an :class:`LrSchedule` (one a parameter group)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, [LrSchedule(cfg, steps_per_epoch=steps_per_epoch, total_steps=total_steps) for _ in optimizer.param_groups]
    )


def positive_weights(multi_hot: Any) -> torch.Tensor:
    """Multi-label class weights: per class, its negatives over its positives in the (N, K) 0/1
    targets (the binary cross-entropy's ``pos_weight``), so a rare label counts as much as its
    absence; a class with no positive or no negative gets 1."""
    y = torch.as_tensor(np.asarray(multi_hot, dtype=np.float32))
    pos = y.sum(0)
    neg = y.shape[0] - pos
    weights = neg / pos.clamp(min=1)
    weights[(pos == 0) | (neg == 0)] = 1.0
    return weights


def class_weights(targets: Iterable[int], num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights N / (K * n_c), for imbalanced classes (absent classes get 0)."""
    counts = torch.bincount(torch.as_tensor(list(targets), dtype=torch.long), minlength=num_classes).float()
    weights = counts.sum() / (num_classes * counts.clamp(min=1))
    weights[counts == 0] = 0.0
    return weights
