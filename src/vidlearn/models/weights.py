"""The catalogue of published pretrained checkpoints for the zoo's reference architectures.

Each `WeightsEntry` (like torchvision's ``Weights``) names one published file set: where it is
downloaded from, its checksum where the publisher gives one (torchvision's file names carry the
first hex digits of the file's sha256; those are checked as a prefix), its classes, and the
preprocessing and clip sampling it was trained/evaluated with, as the reference documents them
(the source is quoted beside every entry). The data pipeline reads `WeightsEntry.preprocessing`.

    from vidlearn.models.weights import get_weights, list_weights
    entry = get_weights("r3d_18.kinetics400")
    entry.preprocessing.mean, entry.preprocessing.num_frames, len(entry.class_names)

Downloading is `vidlearn.models.download.fetch_weights`; loading `build_model(name, weights=...)`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from vidlearn.errors import ConfigError, listed

__all__ = [
    "ARCHITECTURES",
    "Preprocessing",
    "WeightsEntry",
    "WeightsFile",
    "get_weights",
    "kinetics400_classes",
    "list_weights",
    "weights_for",
]

# the reference architectures the catalogue covers (their vidlearn builders carry these names)
ARCHITECTURES = (
    "r3d_18", "mc3_18", "r2plus1d_18", "s3d", "mvit_v2_s", "swin3d_t",
    "x3d_xs", "x3d_s", "x3d_m", "slow_r50", "slowfast_r50", "videomae_base", "timesformer_base",
)  # fmt: skip


@dataclass(frozen=True)
class Preprocessing:
    """How a checkpoint's clips were made: float RGB in [0, 1], normalised by `mean`/`std`;
    `num_frames` frames taken every `frame_stride` source frames, or at `fps` frames per second;
    frames resized so the short side is `short_side` (or to exactly `resize` = (H, W) where the
    reference does that) and centre-cropped to `crop_size` x `crop_size`."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    num_frames: int
    crop_size: int
    short_side: int
    fps: float | None = None
    frame_stride: int | None = None
    resize: tuple[int, int] | None = None


@dataclass(frozen=True)
class WeightsFile:
    """One file of an entry: its URL, the name it is stored under, and its sha256 (the full
    digest, or a published prefix) and size in bytes where known."""

    url: str
    filename: str
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class WeightsEntry:
    """One published checkpoint of a reference architecture."""

    name: str
    architecture: str
    files: tuple[WeightsFile, ...]
    num_classes: int
    dataset: str
    preprocessing: Preprocessing
    source: str  # where the URL, checksum and preprocessing come from
    size_mb: float | None = None  # as the publisher lists it (approximate)
    top1: float | None = None  # published accuracy (%), for information
    classes: str = "kinetics400"

    @property
    def url(self) -> str:
        """The URL of the weights file (the last file of a folder entry)."""
        return self.files[-1].url

    @property
    def is_folder(self) -> bool:
        """True when the entry is several files kept together (a Hugging Face model folder)."""
        return len(self.files) > 1

    @property
    def class_names(self) -> tuple[str, ...]:
        """The class names, in the checkpoint's output order."""
        if self.classes == "kinetics400":
            return kinetics400_classes()
        raise ConfigError(f"weights {self.name}: unknown class list {self.classes!r}")  # pragma: no cover


@lru_cache(maxsize=1)
def kinetics400_classes() -> tuple[str, ...]:
    """The 400 Kinetics-400 class names in the published checkpoints' order (alphabetical),
    from torchvision's ``_KINETICS400_CATEGORIES`` (shipped as kinetics400_classes.txt)."""
    text = (Path(__file__).with_name("kinetics400_classes.txt")).read_text(encoding="utf-8")
    return tuple(line for line in (raw.strip() for raw in text.splitlines()) if line and not line.startswith("#"))


# ---- the catalogue ------------------------------------------------------------------------

_TV = "https://download.pytorch.org/models"
_PTV = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics"
# torchvision/transforms/_presets.py VideoClassification defaults (the video ResNets and S3D use them)
_TV_KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
_TV_KINETICS_STD = (0.22803, 0.22145, 0.216989)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_HALF_MEAN = (0.45, 0.45, 0.45)
_HALF_STD = (0.225, 0.225, 0.225)


def _tv(arch: str, file: str, sha_prefix: str, pre: Preprocessing, size_mb: float, top1: float, source: str) -> WeightsEntry:
    return WeightsEntry(
        f"{arch}.kinetics400", arch, (WeightsFile(f"{_TV}/{file}", file, sha_prefix),), 400, "Kinetics-400", pre,
        source, size_mb, top1,
    )  # fmt: skip


def _ptv(arch: str, file: str, pre: Preprocessing, top1: float, source: str) -> WeightsEntry:
    # PyTorchVideo publishes no checksum or size for its model-zoo files
    return WeightsEntry(f"{arch}.kinetics400", arch, (WeightsFile(f"{_PTV}/{file}", file),), 400, "Kinetics-400", pre, source, None, top1)


def _hf(arch: str, repo: str, pre: Preprocessing, top1: float, source: str) -> WeightsEntry:
    base = f"https://huggingface.co/{repo}/resolve/main"
    files = (WeightsFile(f"{base}/config.json", "config.json"), WeightsFile(f"{base}/pytorch_model.bin", "pytorch_model.bin"))
    return WeightsEntry(f"{arch}.kinetics400", arch, files, 400, "Kinetics-400", pre, source, None, top1)


_TV_RESNET_DOC = (
    "torchvision/models/video/resnet.py {W}.KINETICS400_V1: transforms=partial(VideoClassification, crop_size=(112, 112), "
    "resize_size=(128, 171)) (default mean/std of transforms/_presets.py); _docs: frame_rate=15, clip_len=16"
)
_TV_RESNET_PRE = Preprocessing(_TV_KINETICS_MEAN, _TV_KINETICS_STD, num_frames=16, crop_size=112, short_side=128, fps=15.0, resize=(128, 171))

_ENTRIES: tuple[WeightsEntry, ...] = (
    # torchvision/models/video/resnet.py R3D_18_Weights.KINETICS400_V1: acc@1 63.2, _file_size 127.359
    _tv("r3d_18", "r3d_18-b3b3357e.pth", "b3b3357e", _TV_RESNET_PRE, 127.359, 63.2, _TV_RESNET_DOC.format(W="R3D_18_Weights")),
    # torchvision/models/video/resnet.py MC3_18_Weights.KINETICS400_V1: acc@1 63.96, _file_size 44.672
    _tv("mc3_18", "mc3_18-a90a0ba3.pth", "a90a0ba3", _TV_RESNET_PRE, 44.672, 63.96, _TV_RESNET_DOC.format(W="MC3_18_Weights")),
    # torchvision/models/video/resnet.py R2Plus1D_18_Weights.KINETICS400_V1: acc@1 67.463, _file_size 120.318
    _tv("r2plus1d_18", "r2plus1d_18-91a641e6.pth", "91a641e6", _TV_RESNET_PRE, 120.318, 67.463,
        _TV_RESNET_DOC.format(W="R2Plus1D_18_Weights")),  # fmt: skip
    # torchvision/models/video/s3d.py S3D_Weights.KINETICS400_V1: crop_size=(224, 224), resize_size=(256, 256)
    # (a fixed 256x256 resize), default mean/std; _docs: frame_rate=15, clip_len=128 (clip-level accuracy)
    _tv("s3d", "s3d-d76dad2f.pth", "d76dad2f",
        Preprocessing(_TV_KINETICS_MEAN, _TV_KINETICS_STD, num_frames=128, crop_size=224, short_side=256, fps=15.0, resize=(256, 256)),
        31.972, 68.368, "torchvision/models/video/s3d.py S3D_Weights.KINETICS400_V1"),  # fmt: skip
    # torchvision/models/video/mvit.py MViT_V2_S_Weights.KINETICS400_V1: crop 224, resize_size=(256,) (short side),
    # mean/std 0.45/0.225; _docs: frame_rate=7.5, clip_len=16
    _tv("mvit_v2_s", "mvit_v2_s-ae3be167.pth", "ae3be167",
        Preprocessing(_HALF_MEAN, _HALF_STD, num_frames=16, crop_size=224, short_side=256, fps=7.5),
        131.884, 80.757, "torchvision/models/video/mvit.py MViT_V2_S_Weights.KINETICS400_V1"),  # fmt: skip
    # torchvision/models/video/swin_transformer.py Swin3D_T_Weights.KINETICS400_V1: crop 224, resize_size=(256,),
    # ImageNet mean/std; _docs: frame_rate=15, clip_len=32
    _tv("swin3d_t", "swin3d_t-7615ae03.pth", "7615ae03",
        Preprocessing(_IMAGENET_MEAN, _IMAGENET_STD, num_frames=32, crop_size=224, short_side=256, fps=15.0),
        121.543, 77.715, "torchvision/models/video/swin_transformer.py Swin3D_T_Weights.KINETICS400_V1"),  # fmt: skip
    # pytorchvideo/models/hub/x3d.py checkpoint_paths; transforms from the hub page
    # (github.com/pytorch/hub facebookresearch_pytorchvideo_x3d.md model_transform_params, 30 fps source):
    # x3d_xs side 182 crop 182, 4 frames x rate 12; x3d_s 182/182, 13 x 6; x3d_m 256/256, 16 x 5; mean 0.45, std 0.225.
    # top-1 from docs/source/model_zoo.md (Kinetics-400 table).
    _ptv("x3d_xs", "X3D_XS.pyth", Preprocessing(_HALF_MEAN, _HALF_STD, num_frames=4, crop_size=182, short_side=182, frame_stride=12),
         69.12, "pytorchvideo hub x3d_xs: models/hub/x3d.py + pytorch/hub facebookresearch_pytorchvideo_x3d.md"),  # fmt: skip
    _ptv("x3d_s", "X3D_S.pyth", Preprocessing(_HALF_MEAN, _HALF_STD, num_frames=13, crop_size=182, short_side=182, frame_stride=6),
         73.33, "pytorchvideo hub x3d_s: models/hub/x3d.py + pytorch/hub facebookresearch_pytorchvideo_x3d.md"),  # fmt: skip
    _ptv("x3d_m", "X3D_M.pyth", Preprocessing(_HALF_MEAN, _HALF_STD, num_frames=16, crop_size=256, short_side=256, frame_stride=5),
         75.94, "pytorchvideo hub x3d_m: models/hub/x3d.py + pytorch/hub facebookresearch_pytorchvideo_x3d.md"),  # fmt: skip
    # pytorchvideo/models/hub/resnet.py checkpoint_paths["slow_r50"]; pytorch/hub facebookresearch_pytorchvideo_resnet.md:
    # side_size 256, crop 256, num_frames 8, sampling_rate 8, mean 0.45, std 0.225 (8x8 setting)
    _ptv("slow_r50", "SLOW_8x8_R50.pyth", Preprocessing(_HALF_MEAN, _HALF_STD, num_frames=8, crop_size=256, short_side=256, frame_stride=8),
         74.58, "pytorchvideo hub slow_r50: models/hub/resnet.py + pytorch/hub facebookresearch_pytorchvideo_resnet.md"),  # fmt: skip
    # pytorchvideo/models/hub/slowfast.py checkpoint_paths["slowfast_r50"]; website/docs/tutorial_torchhub_inference.md:
    # side 256, crop 256, num_frames 32 (the fast pathway; slow = 8 of them, alpha 4), sampling_rate 2, mean 0.45, std 0.225
    _ptv("slowfast_r50", "SLOWFAST_8x8_R50.pyth",
         Preprocessing(_HALF_MEAN, _HALF_STD, num_frames=32, crop_size=256, short_side=256, frame_stride=2),
         76.94, "pytorchvideo hub slowfast_r50: models/hub/slowfast.py + website/docs/tutorial_torchhub_inference.md"),  # fmt: skip
    # huggingface.co/MCG-NJU/videomae-base-finetuned-kinetics (VideoMAE paper, arXiv 2203.12602, Kinetics-400 fine-tuning
    # 16 frames x stride 4 at 224): VideoMAEImageProcessor shortest_edge 224, crop 224, ImageNet mean/std; top-1 80.9 (model card)
    _hf("videomae_base", "MCG-NJU/videomae-base-finetuned-kinetics",
        Preprocessing(_IMAGENET_MEAN, _IMAGENET_STD, num_frames=16, crop_size=224, short_side=224, frame_stride=4),
        80.9, "huggingface.co/MCG-NJU/videomae-base-finetuned-kinetics (model card; VideoMAE paper 16x4)"),  # fmt: skip
    # huggingface.co/facebook/timesformer-base-finetuned-k400 (TimeSformer paper, arXiv 2102.05095: 8 frames sampled at
    # a rate of 1/32, 224x224): image processor mean/std 0.45/0.225, shortest_edge 224, crop 224; top-1 78.0 (paper, 1x3 views)
    _hf("timesformer_base", "facebook/timesformer-base-finetuned-k400",
        Preprocessing(_HALF_MEAN, _HALF_STD, num_frames=8, crop_size=224, short_side=224, frame_stride=32),
        78.0, "huggingface.co/facebook/timesformer-base-finetuned-k400 (model card; TimeSformer paper 8x32)"),  # fmt: skip
)
_BY_NAME = {e.name: e for e in _ENTRIES}


def list_weights(architecture: str | None = None) -> list[WeightsEntry]:
    """The catalogue's entries (for one architecture when given), in catalogue order."""
    return [e for e in _ENTRIES if architecture is None or e.architecture == architecture]


def get_weights(name: str) -> WeightsEntry:
    """The entry called `name` (e.g. "r3d_18.kinetics400"); an architecture name gives its
    default entry. A typo raises ConfigError with the close names."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    if list_weights(name):
        return list_weights(name)[0]
    close = difflib.get_close_matches(name, [*_BY_NAME, *ARCHITECTURES], n=4, cutoff=0.5)
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    raise ConfigError(f"unknown weights {name!r}{hint} (available: {listed(list(_BY_NAME), 5)}; `vidlearn weights list` shows all)")


def weights_for(architecture: str) -> WeightsEntry:
    """The default (first) catalogue entry of an architecture; ConfigError when it has none."""
    entries = list_weights(architecture)
    if not entries:
        raise ConfigError(f"no published weights in the catalogue for {architecture!r} (those with weights: {', '.join(ARCHITECTURES)})")
    return entries[0]


def is_weights_name(name: str) -> bool:
    """True when `name` is a catalogue entry name (e.g. "r3d_18.kinetics400")."""
    return name in _BY_NAME
