"""The model zoo. Every model maps float clips (B, 3, T, H, W) to (B, num_classes), has
`forward_features(x) -> (B, num_features)` and a replaceable classifier `model.head`; the one
exception to the input shape is `feature_rnn`, which takes feature sequences (B, T, in_features).

    from vidlearn.models import build_model, list_models, model_info
    list_models("3d")                       # names in a family; also globs ("r2plus1d*") and substrings
    model = build_model("r2plus1d_tiny", num_classes=5, dropout=0.2)
    model_info("r2plus1d_tiny", clip=(8, 64, 64))  # {'name', 'family', 'params', 'macs', 'clip'}

Families: "frame" (2D CNN per frame + temporal pooling), "recurrent" (CNN + LSTM/GRU, RNN over
features), "3d" (C3D, R3D/MC3/R(2+1)D, X3D), "transformer" (divided space-time video ViT).
"""

from __future__ import annotations

# importing the family modules registers their models
from vidlearn.models import (  # noqa: F401
    c3d,
    frame,
    mvit,  # torchvision architectures: mvit, s3d, swin3d (and resnet3d)
    recurrent,
    resnet3d,
    resnet_ptv,  # PyTorchVideo architectures: resnet_ptv, slowfast, x3d
    s3d,
    slowfast,
    swin3d,
    timesformer,  # transformers architectures: timesformer, videomae
    transformer,
    videomae,
    x3d,
)
from vidlearn.models.base import VideoClassifier, make_head, reset_head
from vidlearn.models.checkpoint_files import (
    Checkpoint,
    open_checkpoint,
    read_checkpoint,
)
from vidlearn.models.checkpoints import LoadReport, load_pretrained
from vidlearn.models.download import (
    DownloadError,
    fetch_weights,
    find_weights,
    resolve_weights,
    weights_dir,
    weights_path,
)
from vidlearn.models.efficientnet_lite import (
    EFFNET_LITE0_MEAN,
    EFFNET_LITE0_STD,
    EfficientNetLite0,
    efficientnet_lite0_weights_path,
    load_efficientnet_lite0_weights,
)
from vidlearn.models.hf_config import from_hf_config
from vidlearn.models.pretrained import build_model
from vidlearn.models.recurrent import FeatureRNN
from vidlearn.models.registry import (
    FAMILIES,
    count_macs,
    example_input,
    list_models,
    model_family,
    model_info,
    model_options,
    native_clip,
    register_model,
    takes_feature_sequences,
)
from vidlearn.models.torchvision_compat import (
    load_torchvision_checkpoint,
    torchvision_state_dict,
)
from vidlearn.models.weights import (
    Preprocessing,
    WeightsEntry,
    get_weights,
    list_weights,
    weights_for,
)

__all__ = [
    "EFFNET_LITE0_MEAN",
    "EFFNET_LITE0_STD",
    "FAMILIES",
    "EfficientNetLite0",
    "FeatureRNN",
    "VideoClassifier",
    "build_model",
    "count_macs",
    "efficientnet_lite0_weights_path",
    "example_input",
    "from_hf_config",
    "list_models",
    "load_efficientnet_lite0_weights",
    "load_torchvision_checkpoint",
    "make_head",
    "model_family",
    "model_info",
    "model_options",
    "native_clip",
    "register_model",
    "reset_head",
    "takes_feature_sequences",
    "torchvision_state_dict",
    "Checkpoint",
    "DownloadError",
    "LoadReport",
    "Preprocessing",
    "WeightsEntry",
    "fetch_weights",
    "find_weights",
    "get_weights",
    "list_weights",
    "load_pretrained",
    "open_checkpoint",
    "read_checkpoint",
    "resolve_weights",
    "weights_dir",
    "weights_for",
    "weights_path",
]
