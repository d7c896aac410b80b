"""Family "recurrent": LRCN (per-frame 2D CNN -> LSTM/GRU -> head) and an RNN over feature sequences.

`feature_rnn` is the one registered model whose input is not a clip: it takes per-frame feature
vectors (B, T, F) (e.g. from `vidlearn.features`), with `F = in_features`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from vidlearn.models.base import VideoClassifier, make_head
from vidlearn.models.frame_encoders import (
    FreezableEncoderMixin,
    freeze_params,
    make_frame_encoder,
)
from vidlearn.models.registry import register_model

RNNS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
READOUTS = ("last", "mean")


class SequenceRNN(nn.Module):
    """(B, T, F) -> (B, D): an RNN/LSTM/GRU (batch first), read out at the last step or averaged over time.

    Bidirectional with readout "last" concatenates the forward direction's last step and the backward
    direction's first step (each has then seen the whole sequence); D = hidden * directions."""

    def __init__(
        self,
        in_features: int,
        *,
        rnn: str = "lstm",
        hidden: int = 256,
        num_layers: int = 1,
        bidirectional: bool = False,
        readout: str = "last",
        rnn_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if rnn not in RNNS:
            raise ValueError(f"rnn must be one of {tuple(RNNS)}, got {rnn!r}")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        if hidden < 1 or num_layers < 1 or in_features < 1:
            raise ValueError("in_features, hidden and num_layers must be >= 1")
        self.rnn = RNNS[rnn](
            in_features,
            hidden,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=rnn_dropout if num_layers > 1 else 0.0,
        )
        self.hidden = hidden
        self.bidirectional = bidirectional
        self.readout = readout
        self.num_features = hidden * (2 if bidirectional else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)  # (B, T, hidden * directions)
        if self.readout == "mean":
            return out.mean(dim=1)
        if self.bidirectional:
            return torch.cat([out[:, -1, : self.hidden], out[:, 0, self.hidden :]], dim=1)
        return out[:, -1]


class LRCN(FreezableEncoderMixin, VideoClassifier):
    """Long-term recurrent convolutional network: 2D encoder per frame -> RNN over time -> head."""

    def __init__(
        self,
        encoder: nn.Module,
        num_classes: int,
        *,
        dropout: float = 0.0,
        freeze_encoder: bool = False,
        **rnn_options: object,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.temporal = SequenceRNN(int(encoder.num_features), **rnn_options)  # type: ignore[arg-type]
        self.num_features = self.temporal.num_features
        self.head = make_head(self.num_features, num_classes, dropout)
        self.freeze_encoder = freeze_encoder
        if freeze_encoder:
            freeze_params(encoder)
            encoder.eval()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        _, c, t, h, w = x.shape
        frames = self.encoder(x.transpose(1, 2).reshape(-1, c, h, w))
        return self.temporal(frames.reshape(-1, t, frames.shape[-1]))


class FeatureRNN(VideoClassifier):
    """RNN/LSTM/GRU classifier over a sequence of per-frame feature vectors: (B, T, F) -> (B, num_classes).

    Inputs are standardised per feature first, ``(x - input_mean) / input_std``: buffers saved with
    the weights (and inside an ONNX export), set from the training data by
    :meth:`set_input_stats` (identity until then). Per-frame features mix scales (HOG values
    below 1, flow in pixels, EfficientNet activations), and an RNN trains badly on raw ones."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        *,
        rnn: str = "gru",
        hidden: int = 128,
        num_layers: int = 1,
        bidirectional: bool = False,
        readout: str = "last",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.register_buffer("input_mean", torch.zeros(in_features))
        self.register_buffer("input_std", torch.ones(in_features))
        self.temporal = SequenceRNN(
            in_features, rnn=rnn, hidden=hidden, num_layers=num_layers, bidirectional=bidirectional, readout=readout
        )
        self.num_features = self.temporal.num_features
        self.head = make_head(self.num_features, num_classes, dropout)

    def set_input_stats(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-feature mean and standard deviation of the training rows (a std below 1e-6, a
        constant feature, is taken as 1)."""
        mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
        std = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
        if mean.numel() != self.in_features or std.numel() != self.in_features:
            raise ValueError(f"input stats need {self.in_features} values, got {mean.numel()} and {std.numel()}")
        self.input_mean.copy_(mean)
        self.input_std.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.temporal((x - self.input_mean) / self.input_std)


@register_model(family="recurrent")
def lrcn_small(
    *,
    num_classes: int,
    dropout: float = 0.0,
    rnn: str = "lstm",
    hidden: int = 256,
    num_layers: int = 1,
    bidirectional: bool = False,
    readout: str = "last",
    width: int = 32,
) -> nn.Module:
    """Small from-scratch frame CNN -> LSTM/GRU (uni- or bidirectional) -> last/mean hidden -> head."""
    return LRCN(
        make_frame_encoder("small", width=width),
        num_classes,
        dropout=dropout,
        rnn=rnn,
        hidden=hidden,
        num_layers=num_layers,
        bidirectional=bidirectional,
        readout=readout,
    )


@register_model(family="recurrent")
def lrcn_effnet_lite0(
    *,
    num_classes: int,
    dropout: float = 0.2,
    rnn: str = "lstm",
    hidden: int = 256,
    num_layers: int = 1,
    bidirectional: bool = False,
    readout: str = "last",
    pretrained: bool | str | Path = False,
    freeze: bool = False,
) -> nn.Module:
    """EfficientNet-Lite0 per frame (ImageNet weights with pretrained=True) -> LSTM/GRU -> head."""
    return LRCN(
        make_frame_encoder("effnet_lite0", pretrained=pretrained),
        num_classes,
        dropout=dropout,
        freeze_encoder=freeze,
        rnn=rnn,
        hidden=hidden,
        num_layers=num_layers,
        bidirectional=bidirectional,
        readout=readout,
    )


@register_model(family="recurrent")
def feature_rnn(
    *,
    num_classes: int,
    in_features: int,
    dropout: float = 0.0,
    rnn: str = "gru",
    hidden: int = 128,
    num_layers: int = 1,
    bidirectional: bool = False,
    readout: str = "last",
) -> nn.Module:
    """RNN/LSTM/GRU over per-frame feature vectors. Input (B, T, in_features), not a clip."""
    return FeatureRNN(
        in_features,
        num_classes,
        rnn=rnn,
        hidden=hidden,
        num_layers=num_layers,
        bidirectional=bidirectional,
        readout=readout,
        dropout=dropout,
    )
