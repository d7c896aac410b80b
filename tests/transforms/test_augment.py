"""Training augmentation: consistent across the frames of a clip, seeded, off by default;
speed change in the sampler; mixup/cutmix with soft targets in the training step; the preview."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from typer.testing import CliRunner

from vidlearn.cli import app
from vidlearn.config import ExperimentConfig, TransformConfig
from vidlearn.data.sampling import RandomClipSampler, build_train_sampler
from vidlearn.errors import ConfigError
from vidlearn.transforms import (
    RANDAUGMENT_OPS,
    ColorJitter,
    Compose,
    MixupCutmix,
    Normalize,
    RandAugment,
    RandomCrop,
    RandomErasing,
    RandomGaussianBlur,
    RandomGrayscale,
    RandomHorizontalFlip,
    RandomResizedCrop,
    ShortSideResize,
    affine,
    build_transform,
    gaussian_blur,
    shift_hue,
    soft_target_cross_entropy,
)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_clip(t: int = 4, h: int = 40, w: int = 52, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (t, 3, h, w), generator=gen(seed), dtype=torch.uint8)


def scene_clip(t: int = 4, h: int = 40, w: int = 48) -> torch.Tensor:
    """Smooth colour gradients (values ~40..210) with a bright square moving right: every op
    visibly changes it, and the frames differ."""
    ys = torch.linspace(0, 1, h).view(h, 1)
    xs = torch.linspace(0, 1, w).view(1, w)
    base = torch.stack([40 + 120 * xs * ys.new_ones(h, 1), 60 + 100 * ys * xs.new_ones(1, w), 90 + 60 * xs * ys])
    clip = base.expand(t, 3, h, w).clone()
    for i in range(t):
        clip[i, :, 10:20, 5 + 4 * i : 15 + 4 * i] = torch.tensor([210.0, 200.0, 60.0]).view(3, 1, 1)
    return clip.round().to(torch.uint8)


CFG = TransformConfig(crop_size=32)

# every augmentation of build_transform, switched on (probability 1 where it has one)
AUGMENTATIONS = {
    "hue": {"hue": 0.3},
    "color_jitter+hue": {"color_jitter": 0.4, "hue": 0.1},
    "grayscale": {"grayscale_p": 1.0},
    "blur": {"blur_p": 1.0, "blur_sigma": (1.0, 2.0)},
    "erase_mean": {"erase_p": 1.0},
    "erase_random": {"erase_p": 1.0, "erase_fill": "random"},
    "randaugment": {"randaugment_n": 3, "randaugment_m": 12},
    "everything": {
        "color_jitter": 0.3, "hue": 0.05, "grayscale_p": 0.5, "blur_p": 0.5, "erase_p": 0.5,
        "randaugment_n": 2, "randaugment_m": 9,
    },
}  # fmt: skip


def _legacy_train_transform(cfg: TransformConfig) -> Compose:
    """build_transform(train=True) as it was before the augmentations were added."""
    steps = []
    if cfg.random_resized_crop:
        steps.append(RandomResizedCrop(cfg.crop_size, scale=cfg.scale))
    else:
        steps += [ShortSideResize(round(cfg.crop_size * 8 / 7)), RandomCrop(cfg.crop_size)]
    if cfg.hflip:
        steps.append(RandomHorizontalFlip(0.5))
    if cfg.color_jitter > 0:
        steps.append(ColorJitter(cfg.color_jitter))
    return Compose([*steps, Normalize(cfg.mean, cfg.std)])


# ---- off by default ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "update", [{}, {"color_jitter": 0.4}, {"random_resized_crop": False, "hflip": False}, {"color_jitter": 1.0, "scale": (0.2, 1.0)}]
)
def test_default_config_keeps_the_transform_unchanged(update):
    cfg = CFG.model_copy(update=update)
    new, old = build_transform(cfg, train=True), _legacy_train_transform(cfg)
    assert repr(new) == repr(old)
    clip = random_clip()
    for seed in range(3):
        g_new, g_old = gen(seed), gen(seed)
        assert torch.equal(new(clip, g_new), old(clip, g_old))
        assert torch.equal(g_new.get_state(), g_old.get_state())  # no extra random draws either


def test_every_new_augmentation_is_off_by_default():
    t = TransformConfig()
    assert t.hue == 0 and t.grayscale_p == 0 and t.blur_p == 0 and t.erase_p == 0
    assert t.randaugment_n == 0 and t.mixup_alpha == 0 and t.cutmix_alpha == 0 and tuple(t.speed) == (1.0, 1.0)
    steps = [type(s).__name__ for s in build_transform(t, train=True).transforms]
    assert steps == ["RandomResizedCrop", "RandomHorizontalFlip", "Normalize"]
    cfg = ExperimentConfig()
    assert build_train_sampler(cfg.sampling, cfg.decode, cfg.transform).speed is None


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_evaluation_transform_ignores_the_augmentations(name):
    cfg = CFG.model_copy(update=AUGMENTATIONS[name])
    clip = random_clip()
    assert torch.equal(build_transform(cfg, train=False)(clip, gen(0)), build_transform(CFG, train=False)(clip, None))


# ---- consistent across frames, seeded ---------------------------------------------------------


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_augmentation_is_the_same_for_every_frame(name):
    """Reversing the frames of the input reverses the output: nothing is drawn per frame, and
    clip statistics do not depend on the frame order. Identical frames stay identical."""
    cfg = CFG.model_copy(update=AUGMENTATIONS[name])
    tf = build_transform(cfg, train=True)
    clip = scene_clip()
    for seed in range(4):
        out = tf(clip, gen(seed))
        rev = tf(clip.flip(0), gen(seed))
        torch.testing.assert_close(rev, out.flip(1), atol=1e-4, rtol=0)
    still = clip[:1].expand(5, -1, -1, -1)
    out = tf(still, gen(1))
    assert all(torch.allclose(out[:, t], out[:, 0], atol=1e-4) for t in range(5))


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_augmentation_changes_the_clip_and_is_reproducible(name):
    cfg = CFG.model_copy(update=AUGMENTATIONS[name])
    tf, base = build_transform(cfg, train=True), build_transform(CFG, train=True)
    clip = scene_clip()
    # same seed: the same crop and flip are drawn first, so any difference is the augmentation
    assert not torch.allclose(tf(clip, gen(3)), base(clip, gen(3)), atol=1e-3)
    assert torch.equal(tf(clip, gen(3)), tf(clip, gen(3)))
    outs = [tf(clip, gen(s)) for s in range(6)]
    assert any(not torch.equal(outs[0], o) for o in outs[1:])


@pytest.mark.parametrize("op", RANDAUGMENT_OPS)
def test_every_randaugment_op_changes_all_frames_alike(op):
    ra = RandAugment(1, 12, ops=(op,), fill=(115.0, 115.0, 115.0))
    clip = scene_clip().float()
    out = ra(clip, gen(0))
    assert out.shape == clip.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 255
    assert not torch.allclose(out, clip, atol=0.5), f"{op} did nothing at magnitude 12"
    torch.testing.assert_close(ra(clip.flip(0), gen(0)), out.flip(0), atol=1e-4, rtol=0)


@pytest.mark.parametrize("n", [0, 1, 2, 4])
def test_randaugment_applies_exactly_n_distinct_ops(n, monkeypatch):
    ra = RandAugment(n, 9)
    applied: list[str] = []
    real = RandAugment.apply_op

    def counting(self, frames, op, value, generator=None):
        applied.append(op)
        return real(self, frames, op, value, generator)

    monkeypatch.setattr(RandAugment, "apply_op", counting)
    for seed in range(5):
        applied.clear()
        ra(scene_clip(), gen(seed))
        assert len(applied) == n and len(set(applied)) == n
        assert [op for op, _ in ra.plan(gen(seed))] == applied


def test_randaugment_magnitude_by_hand():
    """m=30 brightness is a factor 1 +- 0.9; m=15 posterize keeps 6 bits; m=0 rotate is identity."""
    clip = scene_clip().float()
    ra = RandAugment(1, 30, ops=("brightness",))
    (op, value), = ra.plan(gen(5))
    assert op == "brightness" and abs(value) == pytest.approx(0.9)
    torch.testing.assert_close(ra(clip, gen(5)), (clip * (1 + value)).clamp(0, 255))
    post = RandAugment(1, 15, ops=("posterize",))(clip, gen(0))
    assert torch.equal(post, torch.floor(clip / 4) * 4)
    torch.testing.assert_close(RandAugment(1, 0, ops=("rotate",))(clip, gen(0)), clip, atol=1e-3, rtol=0)


def test_config_builds_randaugment_with_the_chosen_ops():
    cfg = CFG.model_copy(update={"randaugment_n": 2, "randaugment_m": 5, "randaugment_ops": ("rotate", "blur", "grayscale")})
    (ra,) = [s for s in build_transform(cfg, train=True).transforms if isinstance(s, RandAugment)]
    assert (ra.n, ra.m, ra.ops) == (2, 5, ("rotate", "blur", "grayscale"))
    for seed in range(5):
        assert {op for op, _ in ra.plan(gen(seed))} <= {"rotate", "blur", "grayscale"}


# ---- single augmentations ---------------------------------------------------------------------


def test_grayscale_probability():
    clip = scene_clip()
    grey = RandomGrayscale(1.0)(clip, gen(0))
    assert torch.allclose(grey[:, 0], grey[:, 1]) and torch.allclose(grey[:, 1], grey[:, 2])
    expected = 0.299 * clip[:, 0].float() + 0.587 * clip[:, 1].float() + 0.114 * clip[:, 2].float()
    torch.testing.assert_close(grey[:, 0], expected)
    assert RandomGrayscale(0.0)(clip, gen(0)) is clip
    hits = sum(bool(torch.allclose(RandomGrayscale(0.5)(clip, gen(s))[:, 0].float(), RandomGrayscale(0.5)(clip, gen(s))[:, 2].float())) for s in range(40))
    assert 8 < hits < 32


def test_gaussian_blur_is_a_normalised_separable_gaussian():
    clip = scene_clip().float()
    sigma = 1.3
    out = gaussian_blur(clip, sigma)
    r = math.ceil(3 * sigma)
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / sigma) ** 2)
    k2 = torch.outer(k, k) / k.sum() ** 2
    direct = F.conv2d(clip.reshape(-1, 1, *clip.shape[-2:]), k2.view(1, 1, *k2.shape)).reshape(4, 3, 40 - 2 * r, 48 - 2 * r)
    torch.testing.assert_close(out[..., r:-r, r:-r], direct, atol=1e-3, rtol=0)
    flat = torch.full((2, 3, 9, 9), 77.0)
    torch.testing.assert_close(gaussian_blur(flat, 2.0), flat)  # constant in, constant out (borders too)
    assert out.std() < clip.std()
    blurred = RandomGaussianBlur(1.0, sigma=(0.5, 1.5))(clip, gen(0))
    assert not torch.equal(blurred, clip) and RandomGaussianBlur(0.0)(clip, gen(0)) is clip


def _erased_mask(out: torch.Tensor) -> torch.Tensor:
    """Pixels that are exactly 0 in all channels after normalisation (the mean colour)."""
    return (out == 0).all(dim=0)  # (T, H, W)


def test_random_erasing_paints_the_same_box_in_every_frame():
    cfg = CFG.model_copy(update={"erase_p": 1.0, "erase_scale": (0.1, 0.2), "hflip": False})
    out = build_transform(cfg, train=True)(scene_clip(), gen(2))
    mask = _erased_mask(out)
    area = mask[0].float().mean().item()
    assert 0.08 < area < 0.22
    assert all(torch.equal(mask[t], mask[0]) for t in range(mask.shape[0]))
    rows, cols = mask[0].nonzero(as_tuple=True)
    assert mask[0, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()  # a rectangle


def test_random_erasing_noise_and_per_frame_option():
    still = scene_clip()[:1].expand(6, -1, -1, -1)
    noisy = RandomErasing(1.0, fill="random")(still, gen(1))
    assert all(torch.equal(noisy[t], noisy[0]) for t in range(6))  # the same noise through time
    assert not torch.equal(noisy[0], still[0].float())
    per_frame = RandomErasing(1.0, per_frame=True)(still, gen(1))
    assert any(not torch.equal(per_frame[t], per_frame[0]) for t in range(1, 6))  # a new box per frame
    assert RandomErasing(0.0)(still, gen(1)) is still


def test_hue_turns_colours_around_the_wheel():
    red = torch.zeros(2, 3, 4, 4)
    red[:, 0] = 255
    torch.testing.assert_close(shift_hue(red, 1 / 3), torch.stack([red[:, 2], red[:, 0], red[:, 1]], 1), atol=1e-3, rtol=0)
    torch.testing.assert_close(shift_hue(red, -1 / 3), torch.stack([red[:, 1], red[:, 2], red[:, 0]], 1), atol=1e-3, rtol=0)
    clip = scene_clip().float()
    torch.testing.assert_close(shift_hue(shift_hue(clip, 0.2), -0.2), clip, atol=0.05, rtol=0)
    grey = torch.full((1, 3, 4, 4), 100.0)
    torch.testing.assert_close(shift_hue(grey, 0.3), grey, atol=1e-3, rtol=0)  # greys have no hue
    assert repr(ColorJitter(0.2)) == "ColorJitter(0.2)"


def test_affine_rotates_and_translates_about_the_centre():
    x = torch.zeros(1, 3, 5, 5)
    x[..., 0, 2] = 255.0  # a dot at the top centre
    torch.testing.assert_close(affine(x, angle=90), torch.rot90(x, 1, dims=(-2, -1)), atol=1e-3, rtol=0)  # counter-clockwise
    moved = affine(x, translate=(1.0, 2.0), fill=9.0)
    assert moved[0, 0, 2, 3] == pytest.approx(255.0, abs=1e-3)  # right 1, down 2
    assert moved[0, 0, 0, 0] == pytest.approx(9.0, abs=1e-3)  # uncovered: the fill


# ---- speed change -----------------------------------------------------------------------------


def test_fixed_speed_spans_the_expected_seconds():
    fps, n, stride = 8.0, 8, 2
    for speed in (0.8, 1.25):
        sampler = RandomClipSampler(n, fps, stride, speed=(speed, speed))
        for seed in range(5):
            times = sampler(10.0, np.random.default_rng(seed))
            np.testing.assert_allclose(np.diff(times), speed * stride / fps)
            assert times[-1] - times[0] == pytest.approx((n - 1) * speed * stride / fps)
            assert times[0] >= 0 and times[-1] <= 10.0 - 0.5 / fps


def test_random_speed_is_drawn_per_clip_in_the_range():
    fps, n = 10.0, 6
    sampler = RandomClipSampler(n, fps, speed=(0.8, 1.25))
    speeds = []
    for seed in range(60):
        times = sampler(20.0, np.random.default_rng(seed), start=1.0)
        spacing = np.diff(times)
        np.testing.assert_allclose(spacing, spacing[0])  # one speed for the whole clip
        s = spacing[0] * fps
        expected = sampler.draw_speed(np.random.default_rng(seed))  # the sampler's first draw
        assert s == pytest.approx(expected)
        assert 0.8 - 1e-9 <= s <= 1.25 + 1e-9 and times[0] >= 1.0
        speeds.append(s)
    assert min(speeds) < 0.9 and max(speeds) > 1.15
    assert 15 < sum(s > 1 for s in speeds) < 45  # log-uniform: as often faster as slower


def test_speed_never_runs_past_the_end_and_jitter_still_works():
    fps, n = 8.0, 8
    fits = (n - 1) / fps + 1 / fps  # just long enough at normal speed
    times = RandomClipSampler(n, fps, speed=(1.5, 1.5))(fits, np.random.default_rng(0))
    assert len(np.unique(times)) == n and times[-1] <= fits - 0.5 / fps + 1e-9
    jittered = RandomClipSampler(n, fps, jitter=True, speed=(0.8, 1.25))(5.0, np.random.default_rng(3), start=0.5)
    assert np.all(np.diff(jittered) >= 0) and jittered[0] >= 0.5 and jittered[-1] <= 5.5


def test_speed_from_the_config():
    cfg = ExperimentConfig().override(["transform.speed=[1.25, 1.25]", "sampling.num_frames=4", "decode.fps=8"])
    sampler = build_train_sampler(cfg.sampling, cfg.decode, cfg.transform)
    assert sampler.speed == (1.25, 1.25)
    times = sampler(30.0, np.random.default_rng(0))
    assert times[-1] - times[0] == pytest.approx(3 * 1.25 / 8)
    with pytest.raises(ConfigError, match="transform.speed"):
        seg = cfg.override(["sampling.train=segments"])
        build_train_sampler(seg.sampling, seg.decode, seg.transform)


@pytest.mark.parametrize(
    "field, value",
    [("speed", "[1.3, 1.2]"), ("speed", "[0, 1]"), ("erase_scale", "[0.1, 1.0]"), ("blur_sigma", "[0, 1]"),
     ("randaugment_m", "31"), ("randaugment_ops", "[rotate, spin]"), ("grayscale_p", "1.5"), ("mixup_alpha", "-1")],
)  # fmt: skip
def test_bad_augmentation_settings_are_clear_config_errors(field, value):
    with pytest.raises(ConfigError, match=field):
        ExperimentConfig().override([f"transform.{field}={value}"])
    with pytest.raises(ConfigError, match="randaugment_n"):
        ExperimentConfig().override(["transform.randaugment_n=3", "transform.randaugment_ops=[rotate, blur]"])


def test_augmentation_settings_round_trip_through_yaml(tmp_path):
    cfg = ExperimentConfig().override(
        ["transform.speed=[0.8, 1.25]", "transform.randaugment_n=2", "transform.randaugment_ops=[rotate, erase, blur]",
         "transform.erase_fill=random", "transform.mixup_alpha=0.2", "transform.cutmix_alpha=1.0"]
    )  # fmt: skip
    cfg.save(tmp_path / "c.yaml")
    assert ExperimentConfig.load(tmp_path / "c.yaml") == cfg


# ---- mixup / cutmix ---------------------------------------------------------------------------


def test_mixup_soft_targets_and_inputs():
    mixer = MixupCutmix(mixup_alpha=0.4, label_smoothing=0.1)
    x = torch.randn(4, 3, 2, 8, 8)
    y = torch.tensor([0, 1, 2, 1])
    p = mixer.draw(4, 8, 8, np.random.default_rng(0))
    assert p.mode == "mixup" and 0 <= p.lam <= 1 and sorted(p.perm.tolist()) == [0, 1, 2, 3]
    torch.testing.assert_close(mixer.mix_inputs(x, p), p.lam * x + (1 - p.lam) * x[p.perm])
    soft = mixer.soft_targets(y, p, 3)
    torch.testing.assert_close(soft.sum(1), torch.ones(4))
    smooth = F.one_hot(y, 3).float() * 0.9 + 0.1 / 3
    torch.testing.assert_close(soft, p.lam * smooth + (1 - p.lam) * smooth[p.perm])


def test_cutmix_pastes_one_box_through_time_and_weights_targets_by_area():
    mixer = MixupCutmix(cutmix_alpha=1.0)
    x = torch.arange(4, dtype=torch.float32).view(4, 1, 1, 1, 1).expand(4, 3, 5, 16, 20).clone()
    y = torch.tensor([0, 1, 2, 3])
    for seed in range(5):
        p = mixer.draw(4, 16, 20, np.random.default_rng(seed))
        assert p.mode == "cutmix"
        mixed = mixer.mix_inputs(x, p)
        from_partner = mixed != x  # where sample i shows its partner
        for i in range(4):
            if p.perm[i] == i:
                continue
            frames = from_partner[i, 0]
            assert all(torch.equal(frames[t], frames[0]) for t in range(5))  # the same box in every frame
            assert frames[0].float().mean().item() == pytest.approx(1 - p.lam)
        soft = mixer.soft_targets(y, p, 4)
        torch.testing.assert_close(soft.sum(1), torch.ones(4))
        onehot = F.one_hot(y, 4).float()
        torch.testing.assert_close(soft, p.lam * onehot + (1 - p.lam) * onehot[p.perm])


def test_mix_prob_and_switch():
    both = MixupCutmix(mixup_alpha=0.2, cutmix_alpha=1.0, switch_prob=0.5)
    modes = {both.draw(4, 8, 8, np.random.default_rng(s)).mode for s in range(30)}
    assert modes == {"mixup", "cutmix"}
    never = MixupCutmix(mixup_alpha=0.2, prob=0.0)
    p = never.draw(4, 8, 8, np.random.default_rng(0))
    assert p.mode == "none" and p.lam == 1.0
    assert torch.equal(never.soft_targets(torch.tensor([1, 0, 1, 0]), p, 2), F.one_hot(torch.tensor([1, 0, 1, 0]), 2).float())


def test_soft_target_cross_entropy_by_hand():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 1.0]])
    soft = torch.tensor([[0.7, 0.3, 0.0], [0.1, 0.1, 0.8]])
    logp = logits - torch.logsumexp(logits, 1, keepdim=True)
    expected = -(soft * logp).sum(1).mean()
    torch.testing.assert_close(soft_target_cross_entropy(logits, soft), expected)
    hard = torch.tensor([0, 2])
    torch.testing.assert_close(soft_target_cross_entropy(logits, F.one_hot(hard, 3).float()), F.cross_entropy(logits, hard))
    w = torch.tensor([1.0, 2.0, 0.5])
    torch.testing.assert_close(soft_target_cross_entropy(logits, soft, w), -(soft * logp * w).sum(1).mean())


def _tiny_module(update: dict, kind: str = "classification"):
    from vidlearn.training.module import VideoModule

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 2 * 4 * 4, 1 if kind == "regression" else 3))
    cfg = ExperimentConfig().override({"task.kind": kind, "task.classes": ["a", "b", "c"], **update})
    return VideoModule(model, cfg)


@pytest.mark.filterwarnings("ignore:You are trying to")
@pytest.mark.parametrize("mode", ["mixup", "cutmix"])
def test_training_step_loss_matches_a_hand_computation(mode):
    alpha = "transform.mixup_alpha" if mode == "mixup" else "transform.cutmix_alpha"
    module = _tiny_module({alpha: 0.8, "optim.label_smoothing": 0.1})
    x = torch.randn(3, 3, 2, 4, 4, generator=gen(1))
    y = torch.tensor([0, 2, 1])
    loss = module.training_step({"video": x, "target": y}, 5)

    # the mixing drawn for batch 5 of epoch 0 (lam, pairing, box); everything else by hand
    p = module.mixer.draw(3, 4, 4, module.mix_rng(5))
    assert p.mode == mode
    perm = p.perm
    if mode == "mixup":
        lam = p.lam
        mixed = lam * x + (1 - lam) * x[perm]
    else:
        top, left, h, w = p.box
        lam = 1 - h * w / 16
        assert p.lam == pytest.approx(lam)
        mixed = x.clone()
        mixed[..., top : top + h, left : left + w] = x[perm][..., top : top + h, left : left + w]
    target = torch.zeros(3, 3)
    for i in range(3):
        target[i] += lam * (0.9 * F.one_hot(y[i], 3) + 0.1 / 3)
        target[i] += (1 - lam) * (0.9 * F.one_hot(y[perm[i]], 3) + 0.1 / 3)
    torch.testing.assert_close(target.sum(1), torch.ones(3))
    logits = module.model(mixed)
    expected = -(target * torch.log_softmax(logits, 1)).sum(1).mean()
    torch.testing.assert_close(loss, expected)


@pytest.mark.filterwarnings("ignore:You are trying to")
def test_multilabel_mixing_mixes_the_label_sets_under_the_binary_cross_entropy():
    """Multi-label: the clips mix as for classification, the targets are lam x each clip's label
    set + (1 - lam) x its partner's (no smoothing), and the loss stays the binary cross-entropy."""
    module = _tiny_module({"transform.mixup_alpha": 0.8}, kind="multilabel")
    x = torch.randn(3, 3, 2, 4, 4, generator=gen(1))
    y = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    loss = module.training_step({"video": x, "target": y}, 2)
    p = module.mixer.draw(3, 4, 4, module.mix_rng(2))
    assert p.mode == "mixup" and 0 < p.lam < 1
    mixed_y = torch.stack([p.lam * y[i] + (1 - p.lam) * y[p.perm[i]] for i in range(3)])
    logits = module.model(p.lam * x + (1 - p.lam) * x[p.perm])
    torch.testing.assert_close(loss, F.binary_cross_entropy_with_logits(logits, mixed_y))
    assert not torch.equal(mixed_y, y)  # the batch really was mixed


@pytest.mark.filterwarnings("ignore:You are trying to")
def test_feature_rows_are_mixed_by_mixup_and_cutmix_is_refused_for_them():
    """A feature-sequence model (B, T, F rows): mixup mixes the rows and the targets; cutmix, a
    box of the frames, has no meaning there and is refused in one line naming the field."""
    from vidlearn.training.module import VideoModule

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 5, 3))
    cfg = ExperimentConfig().override({"model.name": "feature_rnn", "task.classes": ["a", "b", "c"], "transform.mixup_alpha": 0.8})
    module = VideoModule(model, cfg)
    x = torch.randn(3, 4, 5, generator=gen(2))
    y = torch.tensor([0, 2, 1])
    loss = module.training_step({"video": x, "target": y}, 1)
    p = module.mixer.draw(3, 4, 5, module.mix_rng(1))
    assert p.mode == "mixup"
    target = torch.stack([p.lam * F.one_hot(y[i], 3) + (1 - p.lam) * F.one_hot(y[p.perm[i]], 3) for i in range(3)]).float()
    logits = model(p.lam * x + (1 - p.lam) * x[p.perm])
    torch.testing.assert_close(loss, -(target * torch.log_softmax(logits, 1)).sum(1).mean())
    with pytest.raises(ConfigError, match="transform.cutmix_alpha: cutmix pastes a box of the frames, and feature_rnn reads"):
        VideoModule(model, cfg.override({"transform.cutmix_alpha": 1.0}))


@pytest.mark.filterwarnings("ignore:You are trying to")
def test_no_mixing_by_default_and_never_for_regression():
    x = torch.randn(3, 3, 2, 4, 4, generator=gen(1))
    plain = _tiny_module({"optim.label_smoothing": 0.1})
    assert plain.mixer is None
    y = torch.tensor([0, 2, 1])
    torch.testing.assert_close(
        plain.training_step({"video": x, "target": y}, 0), F.cross_entropy(plain.model(x), y, label_smoothing=0.1)
    )
    reg = _tiny_module({"transform.mixup_alpha": 1.0, "transform.cutmix_alpha": 1.0}, kind="regression")
    assert reg.mixer is None
    t = torch.tensor([0.5, -1.0, 2.0])
    torch.testing.assert_close(reg.training_step({"video": x, "target": t}, 0), F.mse_loss(reg.model(x).reshape(-1), t))


# ---- the preview, through the real data path --------------------------------------------------


@pytest.fixture(scope="module")
def demo_manifest(tmp_path_factory):
    from vidlearn.data.synthetic import generate_demo_dataset

    out = tmp_path_factory.mktemp("augdemo")
    return generate_demo_dataset(out, classes=["left", "right"], videos_per_class=2, num_groups=2, size=32, duration=1.0)


@pytest.fixture(scope="module")
def preview_config(tmp_path_factory):
    cfg = ExperimentConfig().override(
        ["decode.fps=8", "decode.short_side=32", "sampling.num_frames=5", "transform.crop_size=24",
         "transform.color_jitter=0.3", "transform.erase_p=1.0", "transform.speed=[0.8, 1.25]", "transform.randaugment_n=2"]
    )  # fmt: skip
    path = tmp_path_factory.mktemp("augcfg") / "cfg.yaml"
    cfg.save(path)
    return path


def test_augment_preview_writes_a_before_after_grid(demo_manifest, preview_config, tmp_path):
    out = tmp_path / "grid.png"
    res = CliRunner().invoke(app, ["augment-preview", str(demo_manifest), "--config", str(preview_config), "--out", str(out), "--clips", "3"])
    assert res.exit_code == 0, res.output
    assert "3 clip(s)" in res.output
    assert "applied: " in res.output and "random resized crop (scale 0.5-1)" in res.output and "random erasing p=1" in res.output and "RandAugment n=2" in res.output
    im = np.asarray(Image.open(out).convert("RGB"))
    pad, size, label_w, rows, cols = 2, 24, 90, 6, 5  # 3 clips x (before, after), 5 frames
    grid_h = rows * (size + pad) + pad
    assert im.shape[1:] == (label_w + cols * (size + pad) + pad, 3)
    assert im.shape[0] > grid_h + 10 and (im[grid_h:] < 100).any(), "what was applied is written under the grid"
    cells = [[im[pad + r * (size + pad) :][:size, label_w + pad + c * (size + pad) :][:, :size] for c in range(cols)] for r in range(rows)]
    for r in range(0, rows, 2):  # after differs from before (erasing is always on)
        assert any(not np.array_equal(cells[r][c], cells[r + 1][c]) for c in range(cols))
    # the erased box (mean colour 0.45 -> 115) is in the same place in every frame of an "after" row
    box = [np.all(np.abs(cells[1][c].astype(int) - 115) <= 1, axis=-1) for c in range(cols)]
    assert box[0].sum() > 5 and all(np.array_equal(b, box[0]) for b in box)


def test_augment_preview_gif(demo_manifest, preview_config, tmp_path):
    out = tmp_path / "anim.gif"
    res = CliRunner().invoke(app, ["augment-preview", str(demo_manifest), "--config", str(preview_config), "--out", str(out), "--gif", "--clips", "2"])
    assert res.exit_code == 0, res.output
    im = Image.open(out)
    assert im.format == "GIF" and im.n_frames == 5  # one GIF frame per clip frame
    assert im.size[0] == 90 + 2 * (24 + 2) + 2 and im.size[1] > 2 * (24 + 2) + 2  # rows: clips; columns: before | after; the caption


def test_augment_preview_shows_the_same_moment_before_and_after(demo_manifest, tmp_path):
    """Before and after are the same decoded frames: with the whole frame kept (crop = frame) and
    only erasing on, the two rows are equal outside the erased box, frame by frame, even with a
    speed change (it moves the seconds of both); and the picture names what was applied."""
    from vidlearn.clips.preview import augment_preview

    cfg = ExperimentConfig().override(
        ["decode.fps=8", "decode.short_side=32", "sampling.num_frames=5", "transform.crop_size=32",
         "transform.scale=[1.0, 1.0]", "transform.hflip=false", "transform.erase_p=1.0", "transform.speed=[0.8, 1.25]"]
    )  # fmt: skip
    res = augment_preview(demo_manifest, cfg, tmp_path / "same.png", clips=2)
    assert res.applied == ["speed 0.8-1.25x (the frames' seconds)", "random resized crop (scale 1-1)", "random erasing p=1"]
    im = np.asarray(Image.open(res.path).convert("RGB")).astype(int)
    pad, size, label_w = 2, 32, 90
    cell = lambda r, c: im[pad + r * (size + pad) :][:size, label_w + pad + c * (size + pad) :][:, :size]  # noqa: E731
    for clip in range(2):
        for c in range(5):
            before, after = cell(2 * clip, c), cell(2 * clip + 1, c)
            differs = np.abs(before - after).max(axis=-1) > 3
            assert 0 < differs.mean() < 0.5, "after is before with one box erased"
            ys, xs = np.nonzero(differs)
            outside = np.ones_like(differs)
            outside[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] = False
            assert np.abs(before - after).max(axis=-1)[outside].max() <= 3, "before and after are not the same moment"


def test_augment_preview_errors_are_one_line(demo_manifest, tmp_path):
    res = CliRunner().invoke(app, ["augment-preview", str(demo_manifest), "--out", str(tmp_path / "x.png"), "--gif"])
    assert res.exit_code == 2 and "error:" in res.output and ".gif" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["augment-preview", str(tmp_path / "missing"), "--out", str(tmp_path / "x.png")])
    assert res.exit_code == 2 and "missing" in res.output and "Traceback" not in res.output
