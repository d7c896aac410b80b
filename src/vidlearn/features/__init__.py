"""Classical video features: colour, shape and motion descriptors with stable named columns.

Every family maps frames ``(T, H, W, 3) uint8 RGB`` to a 1-D float32 vector; ``.columns`` names each
value as ``"<family>.<descriptor>.<pool>"`` (e.g. ``color.hsv_h03.mean``, ``motion.hof_o00.pyr2_1``)
and depends only on the parameters, so vectors of any video line up in one table.

>>> from vidlearn.features import extract, build_extractors
>>> row = extract(frames, ["color", "shape", "motion"])      # {column: value}
"""

from __future__ import annotations

from vidlearn.features.base import FeatureExtractor, PooledExtractor, check_frames, orientation_histogram
from vidlearn.features.color import ColorFeatures
from vidlearn.features.motion import FLOW_METHODS, MotionFeatures, optical_flow
from vidlearn.features.pooling import TemporalPooling
from vidlearn.features.registry import (
    CLASSICAL_KINDS,
    available_kinds,
    build_extractors,
    columns_for,
    extract,
    extract_vector,
    register_extractor,
)
from vidlearn.features.shape import ShapeFeatures

__all__ = [
    "CLASSICAL_KINDS",
    "FLOW_METHODS",
    "ColorFeatures",
    "FeatureExtractor",
    "MotionFeatures",
    "PooledExtractor",
    "ShapeFeatures",
    "TemporalPooling",
    "available_kinds",
    "build_extractors",
    "check_frames",
    "columns_for",
    "extract",
    "extract_vector",
    "optical_flow",
    "orientation_histogram",
    "register_extractor",
]
