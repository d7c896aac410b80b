"""Build a zoo model from a Hugging Face `config.json` (the dict inside an HF checkpoint folder).

    config = json.loads(Path("videomae-base-finetuned-kinetics/config.json").read_text())
    model = from_hf_config(config)           # videomae_base with the folder's sizes and labels
    model.load_state_dict(safetensors.torch.load_file(".../model.safetensors"), strict=True)

Supported `model_type`s: "videomae" (-> `videomae_base`) and "timesformer" (-> `timesformer_base`).
The fields that shape the network become the builder's options (same names); `num_labels` comes from
`id2label` (kept on the model as `model.id2label`). Generic HF keys (architectures, torch_dtype,
transformers_version, ...) and pre-training-only ones (VideoMAE's decoder_*, norm_pix_loss) are
ignored. A field whose value the zoo model does not implement (another activation, dropout or drop
path inside the network, non-square images, a channel count other than 3, TimeSformer's space-only
or joint attention) raises `ConfigError` naming it, instead of building a model that would compute
something else than the checkpoint's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from vidlearn.errors import ConfigError
from vidlearn.models.registry import build_model

MODEL_TYPES = {"videomae": "videomae_base", "timesformer": "timesformer_base"}
# config field -> builder option, per model type (the option names are HF's)
_SHARED = ("num_frames", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "layer_norm_eps", "hidden_act")
_FIELDS = {
    "videomae": (*_SHARED, "tubelet_size", "qv_bias", "use_mean_pooling"),
    "timesformer": (*_SHARED, "qkv_bias", "attention_type"),
}
# fields that only act in training; the zoo models implement them as zero
_MUST_BE_ZERO = ("hidden_dropout_prob", "attention_probs_dropout_prob", "drop_path_rate")


def _square(config: Mapping[str, Any], field: str) -> int | None:
    value = config.get(field)
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or value[0] != value[1]:
            raise ConfigError(f"hf_config.{field}: only square sizes are supported, got {list(value)}")
        value = value[0]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"hf_config.{field}: expected a positive integer, got {value!r}")
    return value


def _labels(config: Mapping[str, Any]) -> tuple[int, dict[int, str] | None]:
    id2label = config.get("id2label")
    num_labels = config.get("num_labels")
    if id2label is not None:
        try:
            labels = {int(k): str(v) for k, v in dict(id2label).items()}
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"hf_config.id2label: expected a mapping of class index to name ({exc})") from exc
        if sorted(labels) != list(range(len(labels))):
            raise ConfigError(f"hf_config.id2label: class indices must be 0..{len(labels) - 1}")
        if num_labels is not None and num_labels != len(labels):
            raise ConfigError(f"hf_config.num_labels: {num_labels} disagrees with id2label's {len(labels)} labels")
        return len(labels), labels
    if num_labels is None:
        raise ConfigError("hf_config: neither id2label nor num_labels says how many classes the classifier has")
    return int(num_labels), None


def hf_model_options(config: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[int, str] | None]:
    """(zoo model name, builder options, id2label or None) for an HF `config.json` dict."""
    model_type = config.get("model_type")
    if model_type not in MODEL_TYPES:
        raise ConfigError(f"hf_config.model_type: {model_type!r} is not supported (supported: {', '.join(MODEL_TYPES)})")
    if config.get("num_channels", 3) != 3:
        raise ConfigError(f"hf_config.num_channels: the zoo models take RGB clips (3 channels), got {config['num_channels']!r}")
    for field in _MUST_BE_ZERO:
        if config.get(field, 0) not in (0, 0.0):
            raise ConfigError(f"hf_config.{field}: only 0 is supported (got {config[field]!r}); the zoo's dropout is the head's")
    options: dict[str, Any] = {}
    for field in ("image_size", "patch_size"):
        size = _square(config, field)
        if size is not None:
            options[field] = size
    config = dict(config)
    if model_type == "videomae" and "qkv_bias" in config and "qv_bias" not in config:
        config["qv_bias"] = config.pop("qkv_bias")  # the name before transformers 5
    for field in _FIELDS[model_type]:
        if field in config:
            options[field] = config[field]
    num_labels, id2label = _labels(config)
    options["num_classes"] = num_labels
    return MODEL_TYPES[model_type], options, id2label


def from_hf_config(config: Mapping[str, Any], *, dropout: float = 0.0) -> nn.Module:
    """The zoo model an HF `config.json` describes (with its sizes and number of labels), randomly
    initialised; its state dict has the HF checkpoint's keys, so `load_state_dict(..., strict=True)`
    takes the folder's weights. `model.id2label` holds the class names when the config has them."""
    if not isinstance(config, Mapping):
        raise ConfigError(f"hf_config: expected the config.json mapping, got {type(config).__name__}")
    name, options, id2label = hf_model_options(config)
    num_classes = options.pop("num_classes")
    try:
        model = build_model(name, num_classes=num_classes, dropout=dropout, **options)
    except ConfigError as exc:
        raise ConfigError(f"hf_config ({config.get('model_type')}): {exc}") from exc
    model.id2label = id2label
    return model
