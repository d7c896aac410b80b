"""Clip transforms: uint8 (T, C, H, W) -> float (C, T, H, W), one random draw per clip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidlearn.config import TransformConfig
from vidlearn.transforms import (
    CenterCrop,
    ColorJitter,
    Normalize,
    RandomHorizontalFlip,
    RandomResizedCrop,
    ShortSideResize,
    ThreeCrop,
    build_transform,
    frames_to_tensor,
)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_clip(t: int = 4, h: int = 72, w: int = 96, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (t, 3, h, w), generator=gen(seed), dtype=torch.uint8)


def half_bright_clip(t: int = 5, h: int = 40, w: int = 60) -> torch.Tensor:
    """Every frame: bright left half, dark right half, with a little colour."""
    clip = torch.zeros(t, 3, h, w, dtype=torch.uint8)
    clip[..., : w // 2] = 200
    clip[:, 0, :, : w // 2] = 250
    return clip


def column_index_clip(h: int, w: int) -> torch.Tensor:
    """Pixel value = column (landscape) or row (portrait) index, so crops reveal their position."""
    idx = torch.arange(max(h, w), dtype=torch.float32)
    plane = idx[None, :w].expand(h, w) if w >= h else idx[:h, None].expand(h, w)
    return plane.expand(2, 3, h, w).clone()


CFG = TransformConfig(crop_size=32)


@pytest.mark.parametrize("random_resized_crop", [True, False])
def test_train_transform_shape_and_dtype(random_resized_crop):
    cfg = CFG.model_copy(update={"random_resized_crop": random_resized_crop, "color_jitter": 0.4})
    out = build_transform(cfg, train=True)(random_clip(), gen(0))
    assert out.shape == (3, 4, 32, 32) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_eval_transform_is_deterministic_and_centred():
    tf = build_transform(CFG, train=False)
    clip = random_clip()
    out = tf(clip, None)
    assert out.shape == (3, 4, 32, 32) and out.dtype == torch.float32
    torch.testing.assert_close(out, tf(clip, gen(123)))
    # the centre of a landscape frame is kept: columns 32..63 of 96 (64x192 halves to 32x96 first)
    plain = TransformConfig(crop_size=32, mean=(0, 0, 0), std=(1, 1, 1))
    cols = build_transform(plain, train=False)(column_index_clip(32, 96), None) * 255
    assert (cols[0, 0, 0, 0].item(), cols[0, 0, 0, -1].item()) == pytest.approx((32, 63), abs=1e-3)
    halved = build_transform(plain, train=False)(column_index_clip(64, 192), None) * 255
    assert (halved[0, 0, 0, 0].item(), halved[0, 0, 0, -1].item()) == pytest.approx((64.5, 126.5), abs=0.6)


def test_train_transform_is_reproducible_with_a_seeded_generator():
    cfg = CFG.model_copy(update={"color_jitter": 0.3})
    tf = build_transform(cfg, train=True)
    clip = random_clip()
    torch.testing.assert_close(tf(clip, gen(7)), tf(clip, gen(7)))
    outs = [tf(clip, gen(s)) for s in range(4)]
    assert any(not torch.equal(outs[0], o) for o in outs[1:])


def test_every_frame_gets_the_same_crop_flip_and_jitter():
    cfg = CFG.model_copy(update={"color_jitter": 0.5, "scale": (0.3, 1.0)})
    tf = build_transform(cfg, train=True)
    clip = half_bright_clip()
    orientations = set()
    for seed in range(12):
        out = tf(clip, gen(seed))  # (C, T, H, W)
        for t in range(1, out.shape[1]):
            torch.testing.assert_close(out[:, t], out[:, 0])
        left, right = out[:, 0, :, :4].mean(), out[:, 0, :, -4:].mean()
        orientations.add(bool(left > right))
    assert orientations == {True, False}, "hflip should flip some clips and not others"


def test_horizontal_flip_mirrors_every_frame():
    clip = half_bright_clip()
    flipped = RandomHorizontalFlip(p=1.0)(clip, gen(0))
    assert (flipped[..., -1] == 200).all() or (flipped[:, 0, :, -1] == 250).all()
    assert (flipped[..., 0] == 0).all()
    assert torch.equal(RandomHorizontalFlip(p=0.0)(clip, gen(0)), clip)


def test_normalize_scales_standardises_and_moves_channels_first():
    clip = torch.zeros(2, 3, 4, 5, dtype=torch.uint8)
    clip[:, 0] = 255
    clip[:, 1] = 0
    clip[:, 2] = 51
    out = Normalize(mean=(0.5, 0.0, 0.2), std=(0.5, 0.25, 0.1))(clip)
    assert out.shape == (3, 2, 4, 5) and out.dtype == torch.float32
    torch.testing.assert_close(out[0], torch.full((2, 4, 5), 1.0))
    torch.testing.assert_close(out[1], torch.zeros(2, 4, 5))
    torch.testing.assert_close(out[2], torch.zeros(2, 4, 5), atol=1e-5, rtol=0)


def test_three_crop_positions_landscape_and_portrait():
    crops = ThreeCrop(40)(column_index_clip(40, 120))
    assert crops.shape == (3, 2, 3, 40, 40)
    assert [c[0, 0, 0, 0].item() for c in crops] == [0.0, 40.0, 80.0]  # left, centre, right
    tall = ThreeCrop(40)(column_index_clip(100, 40))
    assert [c[0, 0, 0, 0].item() for c in tall] == [0.0, 30.0, 60.0]  # top, centre, bottom


def test_eval_three_crops_shape():
    out = build_transform(CFG, train=False, crops=3)(random_clip(w=120), None)
    assert out.shape == (3, 3, 4, 32, 32)
    centre = build_transform(CFG, train=False)(random_clip(w=120), None)
    torch.testing.assert_close(out[1], centre)
    with pytest.raises(ValueError, match="evaluation"):
        build_transform(CFG, train=True, crops=3)


@pytest.mark.parametrize("train", [True, False])
def test_small_inputs_are_upscaled(train):
    cfg = TransformConfig(crop_size=64, random_resized_crop=False)
    out = build_transform(cfg, train=train)(random_clip(h=12, w=20), gen(0))
    assert out.shape == (3, 4, 64, 64)
    assert build_transform(cfg, train=False, crops=3)(random_clip(h=12, w=20), None).shape == (3, 3, 4, 64, 64)
    assert CenterCrop(64)(random_clip(h=80, w=30)).shape[-2:] == (64, 64)
    assert RandomResizedCrop(64)(random_clip(h=8, w=8), gen(0)).shape[-2:] == (64, 64)


def test_short_side_resize_keeps_aspect_ratio():
    assert ShortSideResize(32)(random_clip(h=64, w=128)).shape == (4, 3, 32, 64)
    assert ShortSideResize(32)(random_clip(h=90, w=60)).shape == (4, 3, 48, 32)


def test_color_jitter_changes_values_but_not_between_frames():
    clip = random_clip(t=3).clone()
    clip[1:] = clip[0]
    out = ColorJitter(0.8)(clip, gen(3))
    assert not torch.allclose(out, clip.float())
    torch.testing.assert_close(out[1], out[0])
    assert out.min() >= 0 and out.max() <= 255
    assert torch.equal(ColorJitter(0.0)(clip, gen(3)), clip)


def test_frames_to_tensor_from_decoder_layout():
    frames = np.zeros((2, 6, 8, 3), dtype=np.uint8)
    frames[..., 1] = 7
    t = frames_to_tensor(frames)
    assert t.shape == (2, 3, 6, 8) and t.dtype == torch.uint8 and (t[:, 1] == 7).all()


def test_wrong_input_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(T, C, H, W\)"):
        build_transform(CFG, train=False)(torch.zeros(3, 8, 8, dtype=torch.uint8), None)
