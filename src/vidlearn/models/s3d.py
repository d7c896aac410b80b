"""Family "3d": S3D, the separable 3D Inception network (Xie et al. 2018, "Rethinking Spatiotemporal
Feature Learning: Speed-Accuracy Trade-offs in Video Classification", arXiv:1712.04851).

Every 3D convolution of an Inception-v1 is split into a 1xkxk spatial conv and a kx1x1 temporal conv
(each with BatchNorm eps=1e-3 and ReLU). Module and parameter names are torchvision 0.28's
`models/video/s3d.py` (`features.0.0.0.weight`, ..., `classifier.1.weight`), so a torchvision
Kinetics-400 checkpoint loads with `load_state_dict(strict=True)`.

The reference pools the last feature map with AvgPool3d((2, 7, 7), stride 1), applies a 1x1x1
Conv3d classifier at every pooled position and averages the logits. A 1x1x1 conv is a linear map, so
the mean of its outputs equals the conv of the mean: `forward_features` returns that mean (B, 1024)
and the classifier (`classifier`, alias `head`) is applied to it. At the native 16x224x224 clip the
pooled map is 1x1x1 and the two orders are the same operations; a replacement `nn.Linear` head works
on the same features. Where the reference's fixed pooling kernels do not fit a smaller clip (they need
at least 14 frames of 224x224, torchvision's `min_size`), kernels are clipped to the map, so small
training clips work too; wherever the reference runs, the result is the reference's.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn
from torch.nn import functional as F

from vidlearn.models.base import VideoClassifier, check_dropout
from vidlearn.models.registry import register_model

_BatchNorm = partial(nn.BatchNorm3d, eps=0.001, momentum=0.001)
_Triple = tuple[int, int, int]


class ConvBNReLU(nn.Sequential):
    """Conv3d (no bias) -> BatchNorm3d -> ReLU (torchvision's Conv3dNormActivation; indices 0, 1, 2)."""

    def __init__(self, c_in: int, c_out: int, kernel: _Triple | int = 1, stride: _Triple | int = 1, padding: _Triple | int = 0) -> None:
        super().__init__(nn.Conv3d(c_in, c_out, kernel, stride, padding, bias=False), _BatchNorm(c_out), nn.ReLU(inplace=True))


class SeparableConv(nn.Sequential):
    """A kxkxk convolution factorised: 1xkxk spatial, then kx1x1 temporal (each conv-BN-ReLU)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(
            ConvBNReLU(c_in, c_out, (1, kernel, kernel), (1, stride, stride), (0, padding, padding)),
            ConvBNReLU(c_out, c_out, (kernel, 1, 1), (stride, 1, 1), (padding, 0, 0)),
        )


class SepInception(nn.Module):
    """Inception block with separable 3x3x3 branches: 1x1x1 | 1x1x1 -> sep3 | 1x1x1 -> sep3 | maxpool -> 1x1x1."""

    def __init__(self, c_in: int, b0: int, b1_mid: int, b1: int, b2_mid: int, b2: int, b3: int) -> None:
        super().__init__()
        self.branch0 = ConvBNReLU(c_in, b0)
        self.branch1 = nn.Sequential(ConvBNReLU(c_in, b1_mid), SeparableConv(b1_mid, b1, 3, 1, 1))
        self.branch2 = nn.Sequential(ConvBNReLU(c_in, b2_mid), SeparableConv(b2_mid, b2, 3, 1, 1))
        self.branch3 = nn.Sequential(nn.MaxPool3d(3, stride=1, padding=1), ConvBNReLU(c_in, b3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)), 1)


def _fit(kernel: _Triple, x: torch.Tensor) -> _Triple:
    t, h, w = (int(s) for s in x.shape[-3:])  # plain ints: constant kernels in an exported graph
    return min(kernel[0], t), min(kernel[1], h), min(kernel[2], w)


class FittedMaxPool3d(nn.MaxPool3d):
    """MaxPool3d whose kernel shrinks to a (padded) map smaller than it, instead of failing; the
    plain MaxPool3d wherever that one runs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, p = self.kernel_size, self.padding
        sizes = tuple(int(s) + 2 * q for s, q in zip(x.shape[-3:], p))
        if all(s >= kk for s, kk in zip(sizes, k)):
            return super().forward(x)
        kernel = tuple(min(kk, s) for kk, s in zip(k, sizes))
        return F.max_pool3d(x, kernel, self.stride, p, self.dilation, self.ceil_mode)


class PointwiseConvHead(nn.Sequential):
    """torchvision's S3D classifier, Dropout -> 1x1x1 Conv3d (`classifier.0`, `classifier.1`), applied
    to pooled features (B, D) -> (B, num_classes)."""

    def __init__(self, in_features: int, num_classes: int, dropout: float) -> None:
        super().__init__(nn.Dropout(p=dropout), nn.Conv3d(in_features, num_classes, kernel_size=1, stride=1, bias=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x[:, :, None, None, None]).flatten(1)


class S3D(VideoClassifier):
    """torchvision-compatible S3D; the classifier is `classifier` (alias `head`)."""

    head_prefix = "classifier"  # the classifier's state-dict prefix in torchvision's S3D

    def __init__(self, num_classes: int = 400, dropout: float = 0.2) -> None:
        super().__init__()
        pool_s = partial(FittedMaxPool3d, kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.features = nn.Sequential(
            SeparableConv(3, 64, 7, 2, 3),
            pool_s(),
            ConvBNReLU(64, 64),
            SeparableConv(64, 192, 3, 1, 1),
            pool_s(),
            SepInception(192, 64, 96, 128, 16, 32, 32),
            SepInception(256, 128, 128, 192, 32, 96, 64),
            FittedMaxPool3d(kernel_size=(3, 3, 3), stride=(2, 2, 2), padding=(1, 1, 1)),
            SepInception(480, 192, 96, 208, 16, 48, 64),
            SepInception(512, 160, 112, 224, 24, 64, 64),
            SepInception(512, 128, 128, 256, 24, 64, 64),
            SepInception(512, 112, 144, 288, 32, 64, 64),
            SepInception(528, 256, 160, 320, 32, 128, 128),
            FittedMaxPool3d(kernel_size=(2, 2, 2), stride=(2, 2, 2), padding=(0, 0, 0)),
            SepInception(832, 256, 160, 320, 32, 128, 128),
            SepInception(832, 384, 192, 384, 48, 128, 128),
        )
        self.pool_kernel: _Triple = (2, 7, 7)  # torchvision's AvgPool3d((2, 7, 7), stride=1)
        self.num_features = 1024
        self.classifier = PointwiseConvHead(self.num_features, num_classes, check_dropout(dropout))

    @property
    def head(self) -> nn.Module:
        """The classifier (torchvision's `classifier`); assigning `model.head = ...` replaces it."""
        return self.classifier

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__("classifier" if name == "head" else name, value)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5 or x.shape[1] != 3:
            raise ValueError(f"S3D takes clips (B, 3, T, H, W), got shape {tuple(x.shape)}")
        x = self.features(x)
        x = F.avg_pool3d(x, _fit(self.pool_kernel, x), stride=1)
        return x.mean(dim=(2, 3, 4))


@register_model(family="3d", native_clip=(16, 224, 224))
def s3d(*, num_classes: int, dropout: float = 0.2) -> nn.Module:
    """S3D: separable 3D Inception (8.3 M params at 400 classes), torchvision-compatible."""
    return S3D(num_classes, dropout=dropout)
