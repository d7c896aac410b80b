"""Training from pretrained weights: the task model with its initial weights loaded strictly, the
weights' preprocessing as configuration defaults, and the fine-tuning recipe (``finetune``: a
backbone learning-rate multiplier, a frozen backbone for the first epochs, frozen BatchNorm).

The head is ``model.head`` (every zoo model has one); the backbone is everything else."""

from __future__ import annotations

from typing import Any

from torch import nn

from vidlearn.config import ExperimentConfig, with_defaults
from vidlearn.errors import ConfigError

__all__ = [
    "apply_weights_preprocessing",
    "backbone_parameters",
    "build_task_model",
    "describe_training",
    "head_parameters",
    "set_backbone_frozen",
    "set_bn_eval",
]


def apply_weights_preprocessing(cfg: ExperimentConfig, explicit: set[str]) -> tuple[ExperimentConfig, str | None]:
    """`cfg` with the preprocessing of its weights (``model.weights`` from the catalogue, or a
    pretrained EfficientNet-Lite0 encoder) as the default of every field not in `explicit` (what
    the user set: config file, ``--set``, flags); the fields taken are recorded in
    ``model.from_weights``. Returns the config and where the defaults came from (None: nowhere)."""
    from vidlearn.models.preprocessing import weights_defaults

    defaults, source = weights_defaults(cfg.model.name, dict(cfg.model.options), cfg.model.weights)
    if not defaults:
        return cfg, None
    cfg, _ = with_defaults(cfg, defaults, explicit)
    return cfg, source


def build_task_model(cfg: ExperimentConfig) -> nn.Module:
    """The configured architecture with the task's number of outputs, initialised from
    ``model.weights`` when set: loaded strictly (a file that does not fit fails, naming it); a
    classifier of another shape is replaced by a fresh head, which ``model.weights_report``
    (a `LoadReport`) says."""
    from vidlearn.models import build_model

    outputs = len(cfg.task.classes) if cfg.task.kind in ("classification", "multilabel") else 1
    return build_model(cfg.model.name, num_classes=outputs, weights=cfg.model.weights, **cfg.model.options)


def head_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The classifier's parameters (``model.head``)."""
    head = getattr(model, "head", None)
    if not isinstance(head, nn.Module):
        raise ConfigError(f"finetune: model {getattr(model, 'model_name', type(model).__name__)} has no `head` module to tell from its backbone")
    return list(head.parameters())


def backbone_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every parameter that is not the head's."""
    head = {id(p) for p in head_parameters(model)}
    return [p for p in model.parameters() if id(p) not in head]


def _backbone_modules(model: nn.Module) -> list[nn.Module]:
    head = getattr(model, "head", None)
    inside = {id(m) for m in head.modules()} if isinstance(head, nn.Module) else set()
    return [m for m in model.modules() if id(m) not in inside and m is not model]


def set_backbone_frozen(model: nn.Module, frozen: bool, *, trainable: set[int] | None = None) -> None:
    """Freeze (no gradients, eval mode) or release the backbone. Released parameters get their
    gradient back only when they had one to start with (`trainable`: ids of those)."""
    for p in backbone_parameters(model):
        p.requires_grad_(not frozen and (trainable is None or id(p) in trainable))
    if frozen:
        for m in _backbone_modules(model):
            m.eval()


_BN = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def set_bn_eval(model: nn.Module) -> int:
    """Every BatchNorm layer in eval mode (its running statistics are used, not updated); returns
    how many there are."""
    layers = [m for m in model.modules() if isinstance(m, _BN)]
    for m in layers:
        m.eval()
    return len(layers)


def describe_training(cfg: ExperimentConfig, model: nn.Module) -> str:
    """One line: which parts of the model train, at which learning rates and from which epoch."""
    ft, lr = cfg.finetune, cfg.optim.lr
    if not hasattr(model, "head"):
        return f"trained: the whole model at lr {lr:g}"
    train_back = [p for p in backbone_parameters(model) if p.requires_grad]
    parts = [f"head at lr {lr:g}"]
    if not train_back or ft.backbone_lr_mult == 0:
        parts.append("backbone frozen" + (" (its own setting)" if not train_back else " (backbone_lr_mult 0)"))
    else:
        when = f" from epoch {ft.freeze_backbone_epochs + 1} (frozen before)" if ft.freeze_backbone_epochs else ""
        parts.append(f"backbone at lr {lr * ft.backbone_lr_mult:g}{when}")
    if ft.freeze_bn:
        parts.append("BatchNorm statistics frozen")
    return "trained: " + ", ".join(parts)


def lr_groups(model: nn.Module, cfg: ExperimentConfig) -> list[tuple[list[nn.Parameter], float]]:
    """(parameters, learning rate) per part: the head at ``optim.lr``, the backbone at
    ``optim.lr * finetune.backbone_lr_mult`` (one group when the multiplier is 1 or the model has
    no head)."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    mult = cfg.finetune.backbone_lr_mult
    if mult == 1.0 or not isinstance(getattr(model, "head", None), nn.Module):
        return [(trainable, cfg.optim.lr)]
    head = {id(p) for p in head_parameters(model)}
    return [([p for p in trainable if id(p) in head], cfg.optim.lr), ([p for p in trainable if id(p) not in head], cfg.optim.lr * mult)]


def trainable_ids(model: nn.Module) -> set[int]:
    """Ids of the parameters that train at all (a model's own frozen parts excluded)."""
    return {id(p) for p in model.parameters() if p.requires_grad}


def report_info(cfg: ExperimentConfig, model: nn.Module) -> dict[str, Any]:
    """The lines a run report shows about initial weights and what was trained."""
    info: dict[str, Any] = {"trained": describe_training(cfg, model)}
    rep = getattr(model, "weights_report", None)
    if rep is not None:
        info["weights"] = rep.message
    if cfg.model.from_weights:
        info["preprocessing from the weights"] = ", ".join(cfg.model.from_weights)
    return info

