"""The search space of `vidlearn tune`: searched parameters, their YAML form and validation, sampling
them in a trial, and applying a trial's values to an `ExperimentConfig`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import optuna

from vidlearn.config import ExperimentConfig
from vidlearn.errors import ConfigError

__all__ = ["DEFAULT_SPACE", "SCALE_MIN", "Param", "apply_params", "default_space", "format_params", "load_space", "parse_space"]

SCALE_MIN = "transform.scale_min"  # the one derived name: the lower end of transform.scale

DEFAULT_SPACE: dict[str, dict[str, Any]] = {
    "optim.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    "optim.weight_decay": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
    "model.name": {"type": "categorical", "choices": ["r2plus1d_tiny", "r3d_tiny", "x3d_tiny", "frame_cnn_small"]},
    "sampling.num_frames": {"type": "categorical", "choices": [8, 12, 16]},
    "decode.fps": {"type": "categorical", "choices": [4.0, 8.0, 12.0]},
    "transform.crop_size": {"type": "categorical", "choices": [64, 96, 112]},
    "transform.color_jitter": {"type": "float", "low": 0.0, "high": 0.4},
    SCALE_MIN: {"type": "float", "low": 0.3, "high": 0.9},
}


_KEYS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}


@dataclass(frozen=True)
class Param:
    """One searched config field: a float or int range (optionally log-scaled or stepped) or a
    categorical choice. `name` is the dotted config field (or `transform.scale_min`)."""

    name: str
    type: Literal["float", "int", "categorical"]
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: optuna.Trial) -> Any:
        """Sample this parameter in `trial`."""
        if self.type == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.type == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)  # type: ignore[arg-type]
        return trial.suggest_float(self.name, float(self.low), float(self.high), step=self.step, log=self.log)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """The YAML form of this parameter (what a space file holds)."""
        if self.type == "categorical":
            return {"type": "categorical", "choices": list(self.choices)}
        out: dict[str, Any] = {"type": self.type, "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


def default_space(base: ExperimentConfig | None = None) -> list[Param]:
    """The built-in search space: learning rate, weight decay, model, clip length, fps, input
    size, augmentation strength (colour jitter, smallest random-resized-crop scale)."""
    return parse_space(DEFAULT_SPACE, base=base, source="default search space")


def load_space(path: str | Path, *, base: ExperimentConfig | None = None) -> list[Param]:
    """Read a search-space YAML file; a bad entry raises ConfigError naming the parameter."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the search space ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    return parse_space(data, base=base, source=str(p))


def parse_space(spec: Any, *, base: ExperimentConfig | None = None, source: str = "search space") -> list[Param]:
    """Validate a mapping `{dotted.field: {type: ..., ...}}` into Params. Every bound and choice is
    checked against the config (applied to `base`), so a value the config would reject fails here,
    before any training, with the parameter's name."""
    if not isinstance(spec, Mapping) or not spec:
        got = "an empty file" if not spec else type(spec).__name__
        raise ConfigError(
            f"{source}: a search space is a mapping of config fields to ranges, e.g. "
            f"'optim.lr: {{type: float, low: 1.0e-4, high: 1.0e-2, log: true}}'; got {got}"
        )
    base = base or ExperimentConfig()
    fields = _config_fields(base)
    params = []
    for name, entry in spec.items():
        name = str(name)

        def bad(reason: str, _name: str = name) -> ConfigError:
            return ConfigError(f"{source}: parameter '{_name}': {reason}")

        _check_name(name, fields, bad)
        if not isinstance(entry, Mapping):
            raise bad(
                f"expected a mapping such as {{type: float, low: ..., high: ...}} or {{type: categorical, choices: [...]}}, "
                f"got {entry!r} (a fixed value belongs in the base config or --set)"
            )
        kind = entry.get("type")
        if kind not in _KEYS:
            raise bad(f"'type' must be one of float, int, categorical; got {kind!r}")
        unknown = sorted(set(map(str, entry)) - _KEYS[kind])
        if unknown:
            raise bad(f"unknown key(s) {unknown} for type {kind}; allowed: {sorted(_KEYS[kind])}")
        if kind == "categorical":
            choices = entry.get("choices")
            if not isinstance(choices, (list, tuple)) or not choices:
                raise bad("'choices' must be a non-empty list")
            for c in choices:
                if c is not None and not isinstance(c, (bool, int, float, str)):
                    raise bad(f"choice {c!r} is not a single number, string or boolean")
            if len(set(map(repr, choices))) != len(choices):
                raise bad(f"'choices' has duplicates: {list(choices)}")
            if name == "model.name":
                from vidlearn.models import list_models

                unknown_models = [c for c in choices if c not in list_models()]
                if unknown_models:
                    raise bad(f"unknown model(s) {unknown_models}; `vidlearn models` lists them")
            param = Param(name, "categorical", choices=tuple(choices))
            values: list[Any] = list(choices)
        else:
            low, high = _number(entry.get("low"), "low", kind, bad), _number(entry.get("high"), "high", kind, bad)
            log = entry.get("log", False)
            if not isinstance(log, bool):
                raise bad(f"'log' must be true or false, got {log!r}")
            step = entry.get("step")
            if step is not None:
                step = _number(step, "step", kind, bad)
                if step <= 0:
                    raise bad(f"'step' must be positive, got {step}")
                if log:
                    raise bad("'step' and 'log: true' cannot be combined")
            if not low < high:
                raise bad(f"'low' ({low}) must be below 'high' ({high})")
            if log and low <= 0:
                raise bad(f"'log: true' needs 'low' > 0, got {low}")
            param = Param(name, kind, low=low, high=high, log=log, step=step)
            values = [low, high]
        for value in values:
            try:
                apply_params(base, {name: value})
            except ConfigError as exc:
                raise bad(f"value {value!r} is not allowed: {param_reason(exc)}") from None
        params.append(param)
    return params


def _config_fields(cfg: ExperimentConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict) and prefix.count(".") < 1:
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = node

    walk("", cfg.to_dict())
    return out


def _check_name(name: str, fields: dict[str, Any], bad: Callable[[str], ConfigError]) -> None:
    if name == SCALE_MIN or (name.startswith("model.options.") and len(name) > len("model.options.")):
        return
    if name not in fields:
        import difflib

        close = difflib.get_close_matches(name, [*fields, SCALE_MIN], n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise bad(f"not a config field{hint}; names are dotted config fields such as optim.lr or model.name")
    if name == "transform.scale":
        raise bad(f"transform.scale is a pair; search its lower end with {SCALE_MIN}")
    if name.startswith("task.") or name.startswith("data."):
        raise bad("task and data settings describe the data, not the model; they cannot be searched")
    if isinstance(fields[name], (list, dict)):
        raise bad("this field is not a single value and cannot be searched")


def _number(value: Any, key: str, kind: str, bad: Callable[[str], ConfigError]) -> float | int:
    if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad(f"'{key}' must be a number, got {value!r}")
    if kind == "int":
        if float(value) != int(value):
            raise bad(f"'{key}' must be a whole number for type int, got {value!r}")
        return int(value)
    return float(value)


def param_reason(exc: ConfigError) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return "; ".join(lines[1:]) if len(lines) > 1 else (lines[0] if lines else "invalid")


def apply_params(base: ExperimentConfig, params: Mapping[str, Any]) -> ExperimentConfig:
    """`base` with a trial's values applied. `transform.scale_min` sets the lower end of
    transform.scale; a sampled `transform.crop_size` keeps `decode.short_side` consistent (the
    base config's short-side/crop ratio, never below the crop) unless short_side is searched too."""
    values = dict(params)
    over: dict[str, Any] = {}
    if SCALE_MIN in values:
        lo = float(values.pop(SCALE_MIN))
        hi = float(base.transform.scale[1])
        over["transform.scale"] = [lo, max(lo, hi)]
    over.update(values)
    if "transform.crop_size" in values:
        crop = int(values["transform.crop_size"])
        short = values.get("decode.short_side")
        if short is None:
            ratio = max(1.0, base.decode.short_side / base.transform.crop_size)
            short = math.ceil(crop * ratio)
        over["decode.short_side"] = max(int(short), crop)
    return base.override(over)


def format_params_short(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={format_value(v)}" for k, v in params.items())


def format_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def format_params(params: Mapping[str, Any]) -> str:
    """`a=1, b=0.001` for printing a trial's values."""
    return format_params_short(params)
