"""The planner's rules: a pure function of (data fingerprint, machine fingerprint, budget, task,
the user's explicit settings, and optionally a calibration measured on this machine) to a full
experiment configuration, the validation protocol and one reason per choice.

Nothing here reads a file, the clock or the machine: every input is an argument, so the same
inputs always give the same plan (``tests/planning/test_rules.py``). Each constant below is the
measurement that set it; docs/planner.md lists them with their sources in docs/results.md.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from vidlearn.config import ExperimentConfig
from vidlearn.data.fingerprint import DataFingerprint
from vidlearn.errors import ConfigError
from vidlearn.planning.machine import MachineFingerprint

__all__ = ["Calibration", "Choice", "FAMILIES", "FEATURE_FAMILIES", "Plan", "candidate_families", "plan_recipe"]

# ---- the measurements behind the rules (docs/planner.md) ------------------------------------
MAX_SHORT_SIDE = 128  # the library default: above it a tiny CNN gains nothing on CPU and costs pixels^2
CROP_FRACTION = 0.875  # 56 of 64 px: mild crops keep the waving hands (Weizmann 35-36/36); 0.5-1.0 RRC cut them off
TARGET_FPS = 12.5  # Weizmann 12.5 fps (35-36/36), demo 12 fps (0.85)
FRAMES = {"scratch_3d": 8, "frame_features": 16, "motion_features": 16, "video_backbone": 16}  # 8 @ 12.5 fps: 35-36/36 scratch; feature_rnn: 16 > 8, 24
TEST_VIEWS = 4  # both Weizmann configs
NEED_STEPS = {"scratch_3d": 480, "frame_features": 240, "motion_features": 240, "video_backbone": 300}  # 480: 36/36 (120 underfit: 29/36); rnn 240: 35/36
MIN_EPOCHS = 10  # on large data the measured step need is less than this many passes
MIN_FRACTION_OF_NEED = 0.25  # below a quarter of the measured need a family does not "fit" the budget
FEW_VIDEOS = 200  # up to this many videos: cross-validation (a single held-out split is a few videos' noise)
MAX_LOGO_GROUPS = 10  # leave-one-group-out up to 10 groups, else group-aware 5-fold
PLAN_FRACTION = 0.85  # the plan aims at 85 % of the budget; the run's deadline keeps the rest as margin
FEATURES_FIRST_PASS_MAX = 0.5  # cached per-frame features: embedding every frame may take at most half the budget
FOLD_OVERHEAD_S = 4.0  # set-up, evaluation, artifact and report around a fold's loop (measured 0.6-3.9 s, Weizmann plan run)
EPOCH_OVERHEAD_S = 0.15  # checkpoint + logging per epoch (tiny models, measured)
CLIP_MEMORY_FACTOR = 120  # bytes of activations+gradients per input byte, r2plus1d_tiny (measured, CPU, fp32)

FAMILIES = ("video_backbone", "frame_features", "motion_features", "scratch_3d")
FEATURE_FAMILIES = ("frame_features", "motion_features")  # a GRU over cached per-frame rows


@dataclass(frozen=True)
class Choice:
    """One planned field: its value, why, and who set it ("plan" or "you")."""

    field: str
    value: Any
    reason: str
    source: str = "plan"


@dataclass(frozen=True)
class Calibration:
    """Timings measured by a short run of the real data path and model step on this machine
    (:func:`vidlearn.planning.calibrate.calibrate`)."""

    model: str
    batch_size: int
    num_frames: int
    side: int
    step_s: float  # one optimiser step (forward, backward, update) on a batch read from the cache
    first_pass_s: float  # per video: decoding into the cache, or computing its per-frame features
    eval_s: float  # per video: reading and scoring all of its test views
    videos: int
    steps: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict."""
        return asdict(self)


@dataclass
class Plan:
    """A planned experiment: the configuration, the protocol, one Choice per planned field and
    the predicted wall time (with its parts) for the budget."""

    config: ExperimentConfig
    cv: str | None
    family: str
    choices: list[Choice]
    budget_s: float
    predicted_s: float | None
    breakdown: dict[str, float] = field(default_factory=dict)
    calibration: Calibration | None = None
    fits: bool = True
    notes: list[str] = field(default_factory=list)
    data: DataFingerprint | None = None
    machine: MachineFingerprint | None = None
    fit_ratio: float = 1.0  # planned steps over the family's measured need (1: the budget is not the limit)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict (saved as plan.json in the run and the artifact)."""
        return {
            "family": self.family, "cv": self.cv, "budget_s": self.budget_s, "predicted_s": self.predicted_s,
            "breakdown": self.breakdown, "fits": self.fits, "notes": self.notes,
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "choices": [asdict(c) for c in self.choices], "config": self.config.to_dict(),
            "data": self.data.to_dict() if self.data else None, "machine": self.machine.to_dict() if self.machine else None,
        }

    def rows(self) -> list[tuple[str, str, str]]:
        """(field, value, reason) for tables; a choice the user made says so."""
        return [(c.field, _show(c.value), ("you: " if c.source == "you" else "") + c.reason) for c in self.choices]


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return "-" if value is None else str(value)


def candidate_families(data: DataFingerprint, machine: MachineFingerprint, *, task: str,
                       explicit: dict[str, Any] | None = None) -> list[str]:
    """The model families worth trying, best first (the first that fits the budget is planned):
    a pretrained video backbone when catalogue weights are downloaded and there is a GPU; for
    classification, a frozen ImageNet frame encoder + optical flow with cached per-frame rows when
    the encoder's weights are installed; a GRU over per-frame optical-flow rows alone (no weights,
    about 15x cheaper to compute than the encoder's rows); a small 3-D CNN from scratch."""
    explicit = explicit or {}
    if "model.name" in explicit:
        from vidlearn.models import takes_feature_sequences

        if not takes_feature_sequences(str(explicit["model.name"])):
            return ["scratch_3d"]
        kinds = explicit.get("frame_features.kinds")
        encoder = task == "classification" and machine.frame_encoder and (kinds is None or "deep" in kinds)
        return ["frame_features" if encoder else "motion_features"]
    out = []
    if machine.video_weights and machine.gpus and task == "classification":
        out.append("video_backbone")
    if task == "classification" and machine.frame_encoder:
        out.append("frame_features")
    out += ["motion_features", "scratch_3d"]
    return out


def plan_recipe(
    data: DataFingerprint,
    machine: MachineFingerprint,
    budget_s: float,
    *,
    task: str = "classification",
    explicit: dict[str, Any] | None = None,
    cv: str | None = None,
    family: str | None = None,
    calibration: Calibration | None = None,
) -> Plan:
    """Plan an experiment (see the module docs). `explicit` maps dotted config fields to the
    values the user set (they always win, and the plan says what it would have chosen); `cv` is
    the user's protocol, if any; `family` one of `candidate_families` (default: the first);
    `calibration` the measured timings of that recipe (without it, the epochs are the measured
    need and no wall time is predicted)."""
    explicit = dict(explicit or {})
    if task not in ("classification", "regression"):
        raise ConfigError(f"--task: must be classification or regression, got {task!r}")
    if budget_s <= 0:
        raise ConfigError(f"--budget: must be positive, got {budget_s}")
    if data.n_videos < 2:
        raise ConfigError(f"the data has {data.n_videos} video(s); training needs at least 2")
    family = family or candidate_families(data, machine, task=task, explicit=explicit)[0]
    if family not in FAMILIES:
        raise ConfigError(f"unknown model family {family!r} (one of {', '.join(FAMILIES)})")
    choices: list[Choice] = []
    values: dict[str, Any] = {}

    def choose(key: str, value: Any, reason: str) -> Any:
        if key in explicit:
            mine = explicit[key]
            choices.append(Choice(key, mine, f"set explicitly (the plan: {_show(value)}, {reason})", "you"))
            values[key] = mine
            return mine
        choices.append(Choice(key, value, reason))
        values[key] = value
        return value

    # ---- protocol ------------------------------------------------------------------------
    n, groups = data.n_videos, data.n_groups
    if cv is not None:
        protocol: str | None = cv
        choices.append(Choice("protocol", cv, "set explicitly (--cv)", "you"))
    elif n <= FEW_VIDEOS:
        if groups >= 2:
            protocol = "leave-one-group-out" if groups <= MAX_LOGO_GROUPS else "kfold:5"
            why = (f"{n} videos (<= {FEW_VIDEOS}): cross-validation; {groups} groups, so folds never split a group"
                   + ("" if groups <= MAX_LOGO_GROUPS else f" (more than {MAX_LOGO_GROUPS} groups: 5 group-aware folds)"))
        else:
            protocol = "kfold:5"
            why = f"{n} videos (<= {FEW_VIDEOS}) and no groups: stratified 5-fold cross-validation"
        choices.append(Choice("protocol", protocol, why))
    else:
        protocol = None
        frac = min(0.25, max(0.1, 1.0 / groups)) if groups >= 2 else 0.2
        choose("data.val_fraction", round(frac, 4),
               f"{n} videos: one held-out split" + (f", whole groups ({groups} groups: about one in {round(1 / frac)})" if groups >= 2 else ""))
    n_folds, test_frac = _folds(protocol, groups, n)
    val_frac = 0.0 if protocol else float(values.get("data.val_fraction", explicit.get("data.val_fraction", 0.2)))
    n_train = max(1, int(round(n * (1 - (test_frac if protocol else val_frac)))))
    n_test = max(1, n - n_train) if protocol else max(0, int(round(n * val_frac)))

    # ---- model family ----------------------------------------------------------------------
    if family == "video_backbone":
        from vidlearn.models.weights import get_weights

        entry = get_weights(machine.video_weights[0])
        choose("model.weights", entry.name, f"pretrained video backbone: its weights are downloaded and there is a GPU ({machine.gpus[0][0]})")
        choose("model.name", entry.architecture, "the architecture of those weights")
    elif family == "frame_features":
        choose("model.name", "feature_rnn", "a GRU over cached per-frame features: each frame is encoded once, "
                       "then every epoch reads rows (Weizmann: 35/36 in 52 s, 10x faster per fold than encoding clips)")
        choose("frame_features.kinds", ["deep", "motion"], "appearance from the frozen ImageNet EfficientNet-Lite0 (installed) + "
               "optical-flow motion, which carries direction (left/right look alike frame by frame)")
        choose("frame_features.image_size", 224, "the encoder's ImageNet input size (the frames are resized inside the encoder only)")
    elif family == "motion_features":
        choose("model.name", "feature_rnn", "a GRU over cached per-frame optical-flow rows: no weights, and about 15x cheaper "
                       "a video than the ImageNet encoder's rows (demo: 0.867 in 36 s, against r2plus1d_tiny 0.783 in 2 min)")
        choose("frame_features.kinds", ["motion"], "optical flow: the direction and speed of motion, which one frame's appearance "
               "does not carry (speed table: flow + ridge 2.6 px/s)")
    if family in FEATURE_FAMILIES:
        choose("model.options", {"rnn": "gru", "hidden": 128, "readout": "mean", "dropout": 0.2},
               "GRU, 128 hidden, mean readout, dropout 0.2 (configs/weizmann_effnet_rnn.yaml)")
    elif family == "scratch_3d":
        choose("model.name", "r2plus1d_tiny", "a 0.78 M-parameter 3-D CNN from scratch: no pretrained weights are at hand, "
                       "and it trains on a CPU (Weizmann 35-36/36, demo 0.85)")

    # ---- decoding and clips ----------------------------------------------------------------
    native_side = int(data.short_side.min) if data.short_side else MAX_SHORT_SIDE
    native_fps = float(data.fps.min) if data.fps else TARGET_FPS
    shortest = float(data.duration.min) if data.duration else None
    if family != "video_backbone":
        side = choose("decode.short_side", max(16, min(MAX_SHORT_SIDE, native_side)),
                      f"the smallest native short side ({native_side} px): never upscaled" if native_side <= MAX_SHORT_SIDE
                      else f"native {native_side} px, capped at {MAX_SHORT_SIDE} px (the cost grows with pixels)")
    else:
        side = explicit.get("decode.short_side")
    frames_want = FRAMES[family]
    fps = min(native_fps, TARGET_FPS)
    fps_reason = (f"{TARGET_FPS:g} fps: {frames_want} frames span {frames_want / TARGET_FPS:.2f} s, about one cycle of an everyday action"
                  if fps == TARGET_FPS else f"the native rate ({native_fps:g} fps) is below {TARGET_FPS:g}: never resampled up")
    if shortest is not None and frames_want / fps > shortest:  # keep the frames by a faster rate, up to the native one
        faster = min(native_fps, math.ceil(frames_want / shortest * 100) / 100)
        if faster > fps:
            fps, fps_reason = round(faster, 3), f"{frames_want} frames must fit the shortest video ({shortest:.2f} s): up to the native {native_fps:g} fps"
    if family != "video_backbone":
        fps = choose("decode.fps", round(fps, 2), fps_reason)
    else:
        fps = explicit.get("decode.fps", fps)
    max_frames = max(2, int(math.floor(shortest * float(fps) + 1e-3))) if shortest else frames_want
    nf = choose("sampling.num_frames", min(frames_want, max_frames),
                f"{frames_want} frames (measured best for this family)" + ("" if frames_want <= max_frames else
                f", cut to {max_frames} so that a clip ({max_frames / float(fps):.2f} s) is not longer than the shortest video ({shortest:.2f} s)")
                + (f"; clip {frames_want / float(fps):.2f} s <= shortest video {shortest:.2f} s" if shortest and frames_want <= max_frames else ""))
    choose("sampling.test_views", TEST_VIEWS, f"{TEST_VIEWS} temporal views averaged per video (both measured Weizmann configs)")

    # ---- crop and augmentation ---------------------------------------------------------------
    crop = None
    if family == "scratch_3d":
        crop = choose("transform.crop_size", max(16, int(int(side) * CROP_FRACTION) // 8 * 8),
                      f"{CROP_FRACTION:g} of the short side: a mild crop (the action may sit near the frame's edges)")
        choose("transform.random_resized_crop", False, "random-resized crops of 0.5-1.0 cut off the waving hands on Weizmann")
    if family != "video_backbone":
        choose("transform.hflip", False, "off: a mirror turns 'moves left' into 'moves right', and the data cannot tell whether classes have a direction")
        choose("transform.color_jitter", 0.0, "off: no effect on Weizmann (36/36 with and without); it stalled the demo at chance")
        choose("transform.grayscale_p", 0.0, "off, as colour jitter")

    # ---- batch size --------------------------------------------------------------------------
    want_bs = 4 if n_train <= 64 else 8
    if machine.gpus and n_train > 256:
        want_bs = 16
    pixel_side = int(crop or side or 112)
    clip_bytes = 3 * int(nf) * pixel_side * pixel_side * 4
    memory = min(g[1] for g in machine.gpus) if machine.gpus else machine.memory_bytes
    fit_bs = max(1, int(0.25 * memory // max(1, clip_bytes * CLIP_MEMORY_FACTOR))) if memory else want_bs
    bs = choose("optim.batch_size", min(want_bs, fit_bs),
                f"{want_bs}: {'<= 64 training videos, so an epoch still has several steps' if want_bs == 4 else 'more training videos'}"
                + (f"; capped at {fit_bs} to keep a quarter of the {'GPU' if machine.gpus else 'RAM'} free" if fit_bs < want_bs else
                   f" (uses about {want_bs * clip_bytes * CLIP_MEMORY_FACTOR / 2**20:.0f} MiB of {memory / 2**30:.0f} GiB)"))
    choose("data.num_workers", 0 if family in FEATURE_FAMILIES else min(2, machine.cores),
           "0: rows are read memory-mapped from the feature cache" if family in FEATURE_FAMILIES
           else f"{min(2, machine.cores)} loader workers ({machine.cores} cores)")

    # ---- optimisation and the budget ------------------------------------------------------------
    scratch = family == "scratch_3d"
    choose("optim.lr", 0.003, "AdamW 3e-3 (every measured recipe)")
    choose("optim.weight_decay", 0.05 if scratch else 0.01, "0.05 from scratch, 0.01 on frozen features (measured configs)")
    choose("optim.schedule", "cosine", "cosine decay over the planned steps")
    steps_per_epoch = max(1, n_train // int(bs)) if n_train > int(bs) else 1
    need = max(NEED_STEPS[family], MIN_EPOCHS * steps_per_epoch)
    notes: list[str] = []
    breakdown: dict[str, float] = {}
    predicted = None
    fits = True
    features_too_slow = False  # computing every video's per-frame rows would take over half the budget
    if calibration is None:
        epochs = max(1, math.ceil(need / steps_per_epoch))
        reason = f"{need} steps, the measured need of this family ({steps_per_epoch} a epoch); not calibrated, so no time is predicted"
    else:
        step_s = calibration.step_s * (int(bs) / max(1, calibration.batch_size))
        first = n * calibration.first_pass_s
        evals = (n_folds * n_test if protocol else n_test) * calibration.eval_s
        over = n_folds * FOLD_OVERHEAD_S
        fixed = first + evals + over
        room = PLAN_FRACTION * budget_s - fixed
        fit_steps = max(0, int(room / (n_folds * (step_s + EPOCH_OVERHEAD_S / steps_per_epoch)))) if room > 0 else 0
        features_too_slow = family in FEATURE_FAMILIES and first > FEATURES_FIRST_PASS_MAX * budget_s
        if features_too_slow:
            fits = False
            notes.append(f"computing the per-frame features of {n} videos takes {first:.0f} s, more than half the budget")
        if fit_steps < MIN_FRACTION_OF_NEED * need:
            fits = False
            notes.append(f"the budget leaves {fit_steps} steps, under a quarter of the measured need ({need})")
        steps = max(steps_per_epoch, min(need, fit_steps))
        epochs = max(1, int(round(steps / steps_per_epoch)))
        reason = (f"{epochs * steps_per_epoch} steps ({steps_per_epoch} a epoch) x {n_folds} fold(s) at {step_s:.3f} s a step (measured)"
                  + (f": the measured need ({need})" if fit_steps >= need else f": what fits {PLAN_FRACTION:.0%} of the budget (need {need})"))
    if "optim.epochs" in explicit:
        epochs = int(explicit["optim.epochs"])
    epochs = choose("optim.epochs", epochs, reason)
    choose("optim.warmup_epochs", float(min(2, max(1, int(epochs) // 10))) if scratch else 1.0, "a short linear warm-up (measured configs)")
    if calibration is not None:
        step_s = calibration.step_s * (int(values.get("optim.batch_size", bs)) / max(1, calibration.batch_size))
        train_s = n_folds * int(epochs) * (steps_per_epoch * step_s + EPOCH_OVERHEAD_S)
        if not protocol and n_test:  # validation every epoch, one view a video
            train_s += int(epochs) * n_test * calibration.eval_s / TEST_VIEWS
        breakdown = {"first pass (decode/features)": round(n * calibration.first_pass_s, 1), "training": round(train_s, 1),
                     "evaluation": round((n_folds * n_test if protocol else n_test) * calibration.eval_s, 1),
                     "set-up, reports, artifacts": round(n_folds * FOLD_OVERHEAD_S, 1)}
        predicted = round(sum(breakdown.values()), 1)
        if predicted > budget_s and fits:
            notes.append(f"the predicted {predicted:.0f} s is over the {budget_s:.0f} s left: the run stops training early to keep the budget")

    cfg = _build(values, explicit)
    ratio = 0.0 if features_too_slow else 1.0 if calibration is None else min(1.0, fit_steps / need)
    return Plan(config=cfg, cv=protocol, family=family, choices=choices, budget_s=float(budget_s), predicted_s=predicted,
                breakdown=breakdown, calibration=calibration, fits=fits, notes=notes, fit_ratio=ratio)


def _folds(protocol: str | None, groups: int, n: int) -> tuple[int, float]:
    """(number of folds, the test fraction of a fold) of a protocol."""
    if protocol is None:
        return 1, 0.0
    if protocol.startswith("kfold:"):
        try:
            k = int(protocol.split(":", 1)[1])
        except ValueError:
            raise ConfigError(f"--cv: {protocol!r} must be kfold:K or leave-one-group-out") from None
        return k, 1.0 / k
    k = max(2, groups) if groups else max(2, n)
    return k, 1.0 / k


def _build(values: dict[str, Any], explicit: dict[str, Any]) -> ExperimentConfig:
    """The configuration: the defaults, then the planned values, then everything the user set."""
    planned = {k: v for k, v in values.items() if k not in explicit and k != "model.options"}
    cfg = ExperimentConfig().override(planned)
    if "model.options" in values and "model.options" not in explicit:
        opts = {f"model.options.{k}": v for k, v in values["model.options"].items()}
        opts = {k: v for k, v in opts.items() if k not in explicit}
        cfg = cfg.override(opts)
    return cfg.override(explicit) if explicit else cfg
