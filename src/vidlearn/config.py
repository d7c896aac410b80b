"""The experiment configuration: one typed, validated object (YAML/JSON round-trip) describing
data, sampling, transforms, model, task and optimisation. It is saved inside every model artifact
so that predict and serve rebuild exactly the preprocessing that training used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from vidlearn.errors import ConfigError, listed


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DecodeConfig(_Section):
    """How frames come out of a video file."""

    fps: float = Field(8.0, ge=0.01, le=1000.0, allow_inf_nan=False, description="frames per second the clip is sampled at (0.01-1000)")
    short_side: int = Field(128, ge=16, le=2048, description="resize so the shorter side is this (done in FFmpeg)")
    threads: int = Field(0, ge=0, description="decoder threads; 0 lets FFmpeg choose")


class SamplingConfig(_Section):
    """Which seconds of a video make a clip (train) and which views are averaged (test)."""

    num_frames: int = Field(16, ge=1, le=512, description="frames per clip")
    train: Literal["random", "segments"] = Field(
        "random", description="random: a random window of num_frames at stride; segments: TSN, one random frame per segment"
    )
    stride: int = Field(1, ge=1, description="frames (at decode.fps) between sampled frames for 'random'")
    test_views: int = Field(3, ge=1, le=64, description="temporal views averaged at video level")
    test_crops: int = Field(1, ge=1, le=3, description="spatial views (1 centre or 3 crops) at video level")


class TransformConfig(_Section):
    """Per-clip transforms; training adds the augmentations, evaluation only resizes/crops/normalises."""

    crop_size: int = Field(112, ge=16, le=1024)
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45)
    std: tuple[float, float, float] = (0.225, 0.225, 0.225)
    random_resized_crop: bool = True
    scale: tuple[float, float] = (0.5, 1.0)
    hflip: bool = True
    color_jitter: float = Field(0.0, ge=0.0, le=1.0, description="brightness/contrast/saturation strength")
    temporal_jitter: bool = False
    # ---- augmentation (training only; every one is off by default) -------------------------
    hue: float = Field(0.0, ge=0.0, le=0.5, description="colour jitter: hue turned by up to this fraction of a full turn")
    grayscale_p: float = Field(0.0, ge=0.0, le=1.0, description="probability of turning a whole clip grey")
    blur_p: float = Field(0.0, ge=0.0, le=1.0, description="probability of a Gaussian blur of the whole clip")
    blur_sigma: tuple[float, float] = Field((0.1, 2.0), description="blur: sigma range in pixels (of the crop), one draw per clip")
    erase_p: float = Field(0.0, ge=0.0, le=1.0, description="probability of random erasing (one box, the same in every frame)")
    erase_scale: tuple[float, float] = Field((0.02, 0.33), description="random erasing: box area as a fraction of the frame")
    erase_ratio: tuple[float, float] = Field((0.3, 3.3), description="random erasing: box aspect-ratio range")
    erase_fill: Literal["mean", "random"] = Field("mean", description="random erasing: the mean colour (0 after normalisation) or Gaussian noise")
    erase_per_frame: bool = Field(False, description="random erasing: a new box in every frame instead of one box through time")
    speed: tuple[float, float] = Field(
        (1.0, 1.0), description="playback speed factor range (e.g. [0.8, 1.25]); a clip spans speed * num_frames frames of time; [1, 1] is off"
    )
    randaugment_n: int = Field(0, ge=0, le=16, description="RandAugment: ops applied per clip (0 is off)")
    randaugment_m: int = Field(9, ge=0, le=30, description="RandAugment: magnitude of every op, 0..30")
    randaugment_ops: tuple[
        Literal[
            "brightness", "contrast", "saturation", "sharpness", "posterize", "solarize", "autocontrast",
            "equalize", "rotate", "translate_x", "translate_y", "shear_x", "shear_y", "grayscale", "blur", "erase",
        ],
        ...,
    ] = Field(
        (
            "brightness", "contrast", "saturation", "sharpness", "posterize", "solarize", "autocontrast",
            "equalize", "rotate", "translate_x", "translate_y", "shear_x", "shear_y", "grayscale", "blur", "erase",
        ),
        description="RandAugment: the ops randaugment_n distinct ones are drawn from, per clip",
    )
    mixup_alpha: float = Field(0.0, ge=0.0, description="mixup: Beta(alpha, alpha) mixing weight of clip (or feature-row) pairs; 0 is off (classification, multilabel)")
    cutmix_alpha: float = Field(0.0, ge=0.0, description="cutmix: Beta(alpha, alpha) kept area; one box through time; 0 is off (classification, multilabel; clips, not feature rows)")
    mix_prob: float = Field(1.0, ge=0.0, le=1.0, description="mixup/cutmix: probability that a batch is mixed")
    mix_switch_prob: float = Field(0.5, ge=0.0, le=1.0, description="mixup/cutmix: with both on, probability of cutmix for a batch")

    @model_validator(mode="after")
    def _check_scale(self) -> "TransformConfig":
        lo, hi = self.scale
        if not (0 < lo <= hi <= 1):
            raise ValueError(f"scale must satisfy 0 < min <= max <= 1, got {self.scale}")
        ranges = {
            "blur_sigma": (self.blur_sigma, 0.0, 20.0, "0 < min <= max <= 20"),
            "erase_scale": (self.erase_scale, 0.0, 1.0, "0 < min <= max < 1"),
            "erase_ratio": (self.erase_ratio, 0.0, float("inf"), "0 < min <= max"),
            "speed": (self.speed, 0.0, 4.0, "0 < min <= max <= 4"),
        }
        for name, ((lo, hi), low, high, rule) in ranges.items():
            if not (low < lo <= hi <= high) or (name == "erase_scale" and hi >= 1):
                raise ValueError(f"{name} must satisfy {rule}, got {(lo, hi)}")
        ops = self.randaugment_ops
        if len(set(ops)) != len(ops):
            raise ValueError(f"randaugment_ops lists an op twice: {list(ops)}")
        if self.randaugment_n > len(ops):
            raise ValueError(f"randaugment_n={self.randaugment_n} is more than the {len(ops)} op(s) in randaugment_ops")
        return self


class ModelConfig(_Section):
    name: str = "r2plus1d_tiny"
    options: dict[str, Any] = Field(default_factory=dict, description="keyword options of the model builder")
    weights: str | None = Field(
        None, description="initial weights: a checkpoint path or a catalogue name (`vidlearn weights list`), loaded strictly"
    )
    from_weights: list[str] = Field(
        default_factory=list, description="(set by vidlearn) the config fields whose values came from the weights' preprocessing"
    )

    @model_validator(mode="before")
    @classmethod
    def _pretrained_alias(cls, data: Any) -> Any:
        """``pretrained`` (the old name of ``weights``) is read as ``weights``."""
        if isinstance(data, dict) and "pretrained" in data:
            data = dict(data)
            old = data.pop("pretrained")
            if old is not None and data.get("weights") not in (None, old):
                raise ValueError(f"pretrained ({old}) and weights ({data['weights']}) disagree; pretrained is the old name of weights")
            if old is not None:
                data["weights"] = old
        return data


CLASS_TASKS: tuple[str, ...] = ("classification", "localization")
"""Task kinds whose target is one class name a record (localisation: a window's action, or the
background class)."""
LABEL_TASKS: tuple[str, ...] = (*CLASS_TASKS, "multilabel")
"""Task kinds whose outputs are one per class name (the artifact holds the class names)."""


class TaskConfig(_Section):
    kind: Literal["classification", "regression", "multilabel", "localization"] = "classification"
    classes: list[str] = Field(default_factory=list, description="class names (filled from the data)")
    target_mean: float = Field(0.0, description="regression: targets are standardised with this mean (set from the training data)")
    target_std: float = Field(1.0, gt=0, description="regression: ... and this standard deviation")
    thresholds: list[float] = Field(
        default_factory=list,
        description="multilabel: a class is predicted when its sigmoid score is >= its threshold, one per class "
                    "(chosen on the validation videos after training; empty: 0.5 for every class)",
    )
    background: str = Field("background", min_length=1, description="localization: the class of windows that no segment covers")
    background_ratio: float = Field(1.0, ge=0, le=100, description="localization: background training windows per action window")
    window_stride: float | None = Field(None, gt=0, description="localization: seconds between training windows (default a quarter window)")

    @model_validator(mode="after")
    def _check_thresholds(self) -> "TaskConfig":
        if any(not 0.0 <= t <= 1.0 for t in self.thresholds):
            raise ValueError(f"thresholds must lie in [0, 1], got {self.thresholds}")
        if self.thresholds and self.classes and len(self.thresholds) != len(self.classes):
            raise ValueError(f"{len(self.thresholds)} thresholds for {len(self.classes)} classes; give one per class (or none)")
        return self


class OptimConfig(_Section):
    optimizer: Literal["adamw", "sgd"] = "adamw"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.05, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    schedule: Literal["cosine", "step", "constant"] = "cosine"
    warmup_epochs: float = Field(1.0, ge=0)
    step_size: int = Field(10, ge=1)
    gamma: float = Field(0.1, gt=0, le=1)
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(8, ge=1)
    accumulate: int = Field(1, ge=1)
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    class_weights: bool = Field(False, description="classification: inverse-frequency class weights; multilabel: each class's positives weighted by its negatives / positives (pos_weight)")
    loss: Literal["auto", "cross_entropy", "mse", "huber"] = "auto"
    precision: Literal["auto", "32", "16-mixed", "bf16-mixed"] = "auto"
    early_stopping: int = Field(0, ge=0, description="patience in epochs; 0 disables")
    grad_clip: float = Field(0.0, ge=0, description="clip the gradient norm to this before each step; 0 disables")
    seed: int = 0
    deterministic: bool = Field(True, description="torch's deterministic kernels where it has them (a warning where not); off: cuDNN may pick faster, nondeterministic ones")


class FinetuneConfig(_Section):
    """Fine-tuning from pretrained weights: the head (``model.head``) trains at ``optim.lr``, the
    rest of the model (the backbone) at ``optim.lr * backbone_lr_mult``."""

    backbone_lr_mult: float = Field(1.0, ge=0, le=10, description="backbone learning rate = optim.lr * this (0: the backbone never trains)")
    freeze_backbone_epochs: int = Field(0, ge=0, description="train only the head for the first N epochs (backbone frozen, in eval mode)")
    freeze_bn: bool = Field(False, description="keep every BatchNorm layer in eval mode: running statistics stay those of the weights")


class DataConfig(_Section):
    num_workers: int = Field(2, ge=0)
    cache: bool = Field(True, description="decode each video once and read later epochs from a disk cache")
    cache_dir: str | None = Field(None, description="cache folder; None: $VIDLEARN_CACHE or ~/.cache/vidlearn/frames")
    cache_format: Literal["npy", "jpeg"] = Field(
        "npy", description="npy: exact frames, memory-mapped (fastest); jpeg: ~10x smaller, ~2 grey levels off"
    )
    val_fraction: float = Field(0.2, ge=0, lt=1)


FrameFeatureKind = Literal["deep", "color", "shape", "motion"]


class FrameFeaturesConfig(_Section):
    """Per-frame feature vectors that feature-sequence models (``feature_rnn``) read instead of
    pixels: computed once per video on the ``decode`` grid (fps, short side) and cached."""

    kinds: list[FrameFeatureKind] = Field(
        default_factory=lambda: ["deep"],
        description="families, concatenated per frame: deep (ImageNet EfficientNet-Lite0, 1280-d), color, shape, motion",
    )
    image_size: int = Field(224, ge=32, le=1024, description="deep: the EfficientNet input side (short side resized, centre crop)")

    @field_validator("kinds", mode="before")
    @classmethod
    def _split_kinds(cls, value: Any) -> Any:
        if isinstance(value, str):  # "deep,motion" from the command line
            value = [k.strip() for k in value.split(",") if k.strip()]
        return value

    @model_validator(mode="after")
    def _check_kinds(self) -> "FrameFeaturesConfig":
        if not self.kinds:
            raise ValueError("kinds: name at least one of deep, color, shape, motion")
        if len(set(self.kinds)) != len(self.kinds):
            raise ValueError(f"kinds lists a family twice: {self.kinds}")
        return self


class SegmentsConfig(_Section):
    """Localization: how a long video's window scores become action segments at prediction
    (``predictors.segments``). Saved with the model; ``predict``, ``evaluate`` and ``serve`` may
    change it with ``--set segments.FIELD=VALUE``."""

    smooth: int = Field(3, ge=1, description="windows each class's score is averaged over (centred)")
    high: float = Field(0.5, ge=0, le=1, description="a segment opens where a class's smoothed score reaches this")
    low: float = Field(0.3, ge=0, le=1, description="... and stays open while it stays at or above this (hysteresis; <= high)")
    min_seconds: float = Field(0.0, ge=0, description="segments shorter than this are dropped")
    nms_iou: float = Field(0.5, gt=0, le=1, description="of a class's segments overlapping by more than this temporal IoU, the best is kept")

    @model_validator(mode="after")
    def _check_hysteresis(self) -> "SegmentsConfig":
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self


class ExperimentConfig(_Section):
    """Everything that defines an experiment; saved in every artifact."""

    decode: DecodeConfig = Field(default_factory=DecodeConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    transform: TransformConfig = Field(default_factory=TransformConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    task: TaskConfig = Field(default_factory=TaskConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    frame_features: FrameFeaturesConfig = Field(default_factory=FrameFeaturesConfig)
    segments: SegmentsConfig = Field(default_factory=SegmentsConfig)

    # ---- (de)serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> "ExperimentConfig":
        """Validate a dict; a bad value raises ConfigError naming the field."""
        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            raise ConfigError(_format_validation(exc, source)) from None

    @classmethod
    def load(cls, path: str | Path) -> "ExperimentConfig":
        """Read YAML or JSON."""
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read config ({exc.strerror or exc})") from None
        try:
            data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
        except (yaml.YAMLError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{p}: not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: {exc}") from None
        if data is not None and not isinstance(data, dict):
            raise ConfigError(f"{p}: the top level must be a mapping of sections, got {type(data).__name__}")
        return cls.from_dict(data or {}, source=str(p))

    def save(self, path: str | Path) -> None:
        """Write YAML (or JSON for a .json path) atomically."""
        from vidlearn.fsutil import atomic_write_text

        p = Path(path)
        if p.suffix.lower() == ".json":
            atomic_write_text(p, json.dumps(self.to_dict(), indent=2))
        else:
            atomic_write_text(p, yaml.safe_dump(self.to_dict(), sort_keys=False))

    def override(self, assignments: list[str] | dict[str, Any]) -> "ExperimentConfig":
        """A copy with dotted overrides applied, e.g. ["optim.lr=0.01", "model.name=c3d"].

        Values are parsed as YAML scalars/lists, so "0.01" is a float and "[1,2]" a list."""
        data = self.to_dict()
        items = assignments.items() if isinstance(assignments, dict) else [_split_assignment(a) for a in assignments]
        for key, value in items:
            key = _ALIASES.get(key, key)
            parts = key.split(".")
            node = data
            for part in parts[:-1]:
                if not isinstance(node, dict) or part not in node:
                    raise ConfigError(_unknown_field(key, data))
                node = node[part]
            if not isinstance(node, dict) or (parts[-1] not in node and parts[-2:-1] != ["options"]):
                raise ConfigError(_unknown_field(key, data))
            node[parts[-1]] = yaml.safe_load(value) if isinstance(value, str) else value
        return ExperimentConfig.from_dict(data, source="override")


_ALIASES = {"model.pretrained": "model.weights"}  # old field names that overrides still accept


def _dotted_fields(data: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in data.items():
        name = f"{prefix}{k}"
        out += _dotted_fields(v, f"{name}.") if isinstance(v, dict) and v and k != "options" else [name]
    return out


def _unknown_field(key: str, data: dict[str, Any]) -> str:
    """"unknown config field 'x'", with the closest field names (difflib) as suggestions."""
    import difflib

    fields = _dotted_fields(data)
    section = key.split(".", 1)[0]
    if section in data and "." in key:  # a known section: its own fields
        own = [f for f in fields if f.startswith(section + ".")]
        names = [f.split(".", 1)[1] for f in own]
        close = [f"{section}.{n}" for n in difflib.get_close_matches(key.split(".", 1)[1], names, n=3, cutoff=0.6)]
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else \
            f"; {section} has {listed(names, 12)}"
        return f"unknown config field '{key}'{hint}"
    close = difflib.get_close_matches(key, fields, n=3, cutoff=0.7)
    if not close:  # a field without its section, or in the wrong one: match on the last part alone
        tail = key.rsplit(".", 1)[-1]
        tails = difflib.get_close_matches(tail, [f.rsplit(".", 1)[-1] for f in fields], n=3, cutoff=0.75)
        close = [f for f in fields if f.rsplit(".", 1)[-1] in tails][:3]
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else \
        f"; the sections are {', '.join(sorted(data))}"
    return f"unknown config field '{key}'{hint}"


def explicit_fields(cfg: ExperimentConfig) -> set[str]:
    """The dotted fields ("decode.fps") given in the input `cfg` was parsed from (pydantic's
    ``model_fields_set``): what a file or dict set, as opposed to the defaults. A config made by
    `override` counts every field as given; track overrides with `override_keys` instead."""
    out = set()
    for section in cfg.model_fields_set:
        part = getattr(cfg, section)
        out |= {f"{section}.{name}" for name in getattr(part, "model_fields_set", ())}
    return out


def override_keys(assignments: list[str] | dict[str, Any] | None) -> set[str]:
    """The dotted fields that `override(assignments)` sets."""
    if not assignments:
        return set()
    keys = assignments.keys() if isinstance(assignments, dict) else (_split_assignment(a)[0] for a in assignments)
    return {_ALIASES.get(k, k) for k in keys}


def with_defaults(cfg: ExperimentConfig, defaults: dict[str, Any], explicit: set[str]) -> tuple[ExperimentConfig, list[str]]:
    """`cfg` with `defaults` (dotted field -> value) applied where the field is not in `explicit`;
    returns the new config and the fields set (also recorded in ``model.from_weights``)."""
    applied = sorted(k for k in defaults if k not in explicit)
    values = {k: defaults[k] for k in applied}
    return cfg.override({**values, "model.from_weights": applied}), applied


def _split_assignment(text: str) -> tuple[str, str]:
    if "=" not in text:
        raise ConfigError(f"override '{text}' must look like section.field=value")
    key, value = text.split("=", 1)
    return key.strip(), value.strip()


def _format_validation(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = str(err["msg"]).removeprefix("Value error, ")  # a validator's own sentence, without pydantic's tag
        lines.append(f"{field}: {msg}")
    return f"{source}: invalid configuration: " + listed(lines, 5, "; ")
