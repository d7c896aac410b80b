"""The LightningModule: a video model, its loss and its optimiser for one task."""

from __future__ import annotations

from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from vidlearn.clips.dataset import reads_features
from vidlearn.config import CLASS_TASKS, ExperimentConfig
from vidlearn.errors import ConfigError
from vidlearn.tasks.task import batch_accuracy, build_task
from vidlearn.training.finetune import (
    lr_groups,
    set_backbone_frozen,
    set_bn_eval,
    trainable_ids,
)
from vidlearn.training.optim import build_optimizer, build_scheduler
from vidlearn.transforms.mixup import build_mixer, soft_target_cross_entropy


class VideoModule(L.LightningModule):
    """Trains `model` for classification (cross-entropy, label smoothing, class weights) or
    regression (MSE/Huber on standardised targets). Batches are the datasets' dicts; a batch of
    only bad videos arrives as None and is skipped.

    Classification with ``cfg.transform.mixup_alpha`` or ``cutmix_alpha`` > 0 mixes every training
    batch (:class:`~vidlearn.transforms.mixup.MixupCutmix`, seeded by ``(optim.seed, epoch, batch,
    rank)``) and trains on the soft targets (label smoothing folded in) with the soft-target
    cross-entropy; multi-label training mixes the label sets the same way and keeps the binary
    cross-entropy (on the mixed targets). A feature-sequence model's rows are mixed by mixup
    (cutmix, a box of the frames, is refused there). Validation is never mixed; regression is never mixed."""

    def __init__(self, model: nn.Module, cfg: ExperimentConfig, class_weights: torch.Tensor | None = None) -> None:
        super().__init__()
        self.model = model
        self.cfg = cfg
        self.kind = cfg.task.kind
        self.task = build_task(cfg.task, loss=cfg.optim.loss, label_smoothing=cfg.optim.label_smoothing)
        if class_weights is not None:
            self.register_buffer("class_weights", class_weights.float(), persistent=False)
        else:
            self.class_weights = None
        self.mixer = (
            build_mixer(cfg.transform, label_smoothing=cfg.optim.label_smoothing) if self.kind in (*CLASS_TASKS, "multilabel") else None
        )
        if self.mixer is not None and cfg.transform.cutmix_alpha > 0 and reads_features(cfg):
            raise ConfigError(f"transform.cutmix_alpha: cutmix pastes a box of the frames, and {cfg.model.name} reads per-frame "
                              "feature rows; use transform.mixup_alpha (it mixes the rows)")
        self._trainable = trainable_ids(model)  # what trains at all (a model's own frozen parts stay frozen)
        self._backbone_frozen = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    # ---- loss ------------------------------------------------------------------------------
    def loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The configured loss for this task (regression targets are standardised here)."""
        return self.task.loss(out, target, weight=self.class_weights)

    def _step(self, batch: dict[str, Any] | None, stage: str) -> torch.Tensor | None:
        if batch is None:
            return None
        x, y = batch["video"], batch["target"]
        if x.ndim == 6:  # (B, V, C, T, H, W): average the views' outputs
            b, v = x.shape[:2]
            out = self(x.flatten(0, 1)).reshape(b, v, -1).mean(1)
        else:
            out = self(x)
        loss = self.loss(out, y)
        bs = x.shape[0]
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=bs, sync_dist=True)
        value = self.task.batch_metric(out, y)
        self.log(f"{stage}_{self.task.metric}", value, on_step=False, on_epoch=True, prog_bar=True, batch_size=bs, sync_dist=True)
        return loss

    def training_step(self, batch, batch_idx: int):  # noqa: D102
        if batch is not None and self.mixer is not None and batch["video"].ndim in (3, 5):  # clips or feature rows, one view
            return self._mixed_step(batch, batch_idx)
        return self._step(batch, "train")

    def mix_rng(self, batch_idx: int) -> np.random.Generator:
        """The generator that mixes training batch ``batch_idx`` of the current epoch."""
        return np.random.default_rng([self.cfg.optim.seed % 2**63, self.current_epoch, int(batch_idx), self.global_rank])

    def _mixed_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        """Mixup/cutmix training step (classification, multilabel): mixed clips, mixed targets."""
        assert self.mixer is not None
        x, y = batch["video"], batch["target"]
        params = self.mixer.draw(x.shape[0], x.shape[-2], x.shape[-1], self.mix_rng(batch_idx))
        out = self(self.mixer.mix_inputs(x, params))
        bs = x.shape[0]
        if self.kind == "multilabel":
            mixed = self.mixer.mix_label_sets(y.to(out.device), params)
            loss = self.loss(out, mixed)
            self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=bs, sync_dist=True)
            f1 = self.task.batch_metric(out, mixed)  # against the labels each mix holds more than half of
            self.log(f"train_{self.task.metric}", f1, on_step=False, on_epoch=True, prog_bar=True, batch_size=bs, sync_dist=True)
            return loss
        soft = self.mixer.soft_targets(y.to(out.device), params, out.shape[-1])
        loss = soft_target_cross_entropy(out, soft, weight=self.class_weights)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=bs, sync_dist=True)
        acc = batch_accuracy(out, soft.argmax(-1))  # against the dominant label of each mix
        self.log("train_acc", acc, on_step=False, on_epoch=True, prog_bar=True, batch_size=bs, sync_dist=True)
        return loss

    def validation_step(self, batch, batch_idx: int):  # noqa: D102
        self._step(batch, "val")

    def on_train_epoch_start(self) -> None:
        for dl in (self.trainer.train_dataloader,):
            ds = getattr(dl, "dataset", None)
            if hasattr(ds, "set_epoch"):
                ds.set_epoch(self.current_epoch)
        ft = self.cfg.finetune
        if ft.freeze_backbone_epochs:  # the head alone for the first N epochs
            self._backbone_frozen = self.current_epoch < ft.freeze_backbone_epochs
            set_backbone_frozen(self.model, self._backbone_frozen, trainable=self._trainable)
        self.train(self.training)  # re-apply the eval-mode parts

    def train(self, mode: bool = True):  # noqa: D102 - frozen parts stay in eval mode whenever Lightning sets train mode
        super().train(mode)
        if mode and getattr(self, "_backbone_frozen", False):
            set_backbone_frozen(self.model, True)
        if mode and getattr(self, "cfg", None) is not None and self.cfg.finetune.freeze_bn:
            set_bn_eval(self.model)
        return self

    # ---- optimisation ----------------------------------------------------------------------
    def configure_optimizers(self):  # noqa: D102
        opt = build_optimizer(self.model, self.cfg.optim, lr_groups=lr_groups(self.model, self.cfg))
        total = max(1, int(self.trainer.estimated_stepping_batches))
        per_epoch = max(1, total // max(1, self.trainer.max_epochs or 1))
        sched = build_scheduler(opt, self.cfg.optim, steps_per_epoch=per_epoch, total_steps=total)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
