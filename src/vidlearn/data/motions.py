"""The demo clips' pictures, in numpy: one textured object moving one way over a textured background.

Drawing only -- no files (:mod:`vidlearn.data.synthetic` writes the dataset). A clip is a
:class:`ClipSpec` drawn from a seeded generator (:func:`draw_clip_spec`); :func:`render_clip` turns
it into frames, deterministically (the same spec gives the same bytes). Every clip shows one
textured, elongated blob (a striped bar) on a smooth, low-contrast textured background with
per-frame Gaussian noise. The object's size, shape, colour, orientation and position are drawn
from the same distributions for every class, so a single frame does not tell the classes apart;
only the way the object changes over time does:

========  ==================================================================================
class     motion (``v`` = the clip's ``target``, a speed in pixels per second)
========  ==================================================================================
right     translates to the right (+x) at ``v`` px/s, wrapping around the frame edges
left      translates to the left at ``v`` px/s
up        translates up (towards row 0) at ``v`` px/s                  (not in the defaults)
down      translates down at ``v`` px/s                                (not in the defaults)
rotate    spins in place (either direction); its tips move at ``v`` px/s
grow      scales up, each tip moving outward at ``v / 4`` px/s; after reaching the largest
          size it restarts from the smallest (a saw-tooth), so at a random instant its size is
          distributed like every other class's
blink     stays still and is shown / hidden as a square wave of ``v / (size / 4)`` Hz
          (50 % duty cycle, random phase)
========  ==================================================================================

``v`` is uniform in ``SPEED_RANGE`` (given for 64 x 64 frames; scaled with ``size``). The object
lives on a torus (it wraps around the edges), so its position is uniform at every instant.
A :class:`Palette` (one per group of the dataset) sets the background and the camera noise.
"""

from __future__ import annotations

import colorsys
import functools
from dataclasses import dataclass

import numpy as np

from vidlearn.errors import ConfigError

__all__ = [
    "MOTIONS",
    "SPEED_RANGE",
    "ClipSpec",
    "Palette",
    "check_kind",
    "clip_frame_count",
    "draw_clip_spec",
    "draw_palette",
    "group_palette",
    "make_video",
    "object_alpha",
    "render_clip",
]

MOTIONS: tuple[str, ...] = ("right", "left", "up", "down", "rotate", "grow", "blink")
# Speeds (target) in px/s for 64-pixel frames; scaled by size / 64.
SPEED_RANGE: tuple[float, float] = (12.0, 36.0)
# Object semi-major axis as a fraction of the frame size, and length / width ratio.
_SEMI_MAJOR = (0.15, 0.30)
_ASPECT = (2.0, 3.0)
_GROW_RATE = 0.25  # grow: tip speed = v * _GROW_RATE


@dataclass(frozen=True)
class Palette:
    """What a group ("subject") looks like: background colours, texture scale, noise level."""

    bg_grey: float  # mean background level, 0..255
    bg_tint: tuple[float, float, float]  # added to the grey, per channel
    bg_contrast: float  # amplitude of the smooth texture, grey levels
    bg_scale: float  # texture correlation length as a fraction of the frame size
    noise_std: float  # per-frame Gaussian noise, grey levels


@dataclass(frozen=True)
class ClipSpec:
    """Everything that determines one clip (rendering it is a pure function of this)."""

    kind: str
    size: int
    fps: float
    num_frames: int
    palette: Palette
    speed: float  # the target, px/s
    x0: float
    y0: float
    theta0: float  # radians, orientation of the major axis
    semi_major: float  # px, at t = 0
    aspect: float
    color_a: tuple[float, float, float]  # stripe colours, 0..255
    color_b: tuple[float, float, float]
    stripes: float  # stripe cycles along the major axis
    stripe_phase: float
    spin: float  # +1 / -1: direction of rotation
    blink_phase: float  # 0..1
    background_seed: int
    noise_seed: int

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps


def draw_palette(rng: np.random.Generator) -> Palette:
    """A random group palette."""
    return Palette(
        bg_grey=float(rng.uniform(70.0, 170.0)),
        bg_tint=tuple(float(x) for x in rng.uniform(-20.0, 20.0, 3)),  # type: ignore[arg-type]
        bg_contrast=float(rng.uniform(10.0, 20.0)),
        bg_scale=float(rng.uniform(0.05, 0.15)),
        noise_std=float(rng.uniform(4.0, 9.0)),
    )


def group_palette(seed: int, group: int) -> Palette:
    """The palette of group ``group`` of a dataset generated with ``seed``."""
    return draw_palette(np.random.default_rng([seed, 0x9A1E77E, group]))


def check_kind(kind: str) -> None:
    """Raise a ConfigError unless ``kind`` is one of :data:`MOTIONS`."""
    if kind not in MOTIONS:
        raise ConfigError(f"unknown motion class {kind!r}; choose from {', '.join(MOTIONS)}")


def clip_frame_count(fps: float, duration: float) -> int:
    """The number of frames of a clip of ``duration`` seconds at ``fps`` (at least 1); a
    ConfigError for a non-positive or non-finite rate or duration."""
    if not (fps > 0 and np.isfinite(fps)):
        raise ConfigError(f"fps must be a positive number, got {fps!r}")
    if not (duration > 0 and np.isfinite(duration)):
        raise ConfigError(f"duration must be a positive number of seconds, got {duration!r}")
    return max(1, int(round(duration * fps)))


def draw_clip_spec(
    kind: str,
    *,
    size: int = 64,
    fps: float = 25.0,
    duration: float = 2.0,
    rng: np.random.Generator,
    palette: Palette | None = None,
) -> ClipSpec:
    """Draw the parameters of one clip of motion ``kind``.

    The appearance parameters are drawn first and identically for every kind (same number of
    draws from ``rng``), so two kinds given equal generators differ only in their motion."""
    check_kind(kind)
    if int(size) < 16:
        raise ConfigError(f"size must be at least 16 pixels, got {size!r}")
    size = int(size)
    n = clip_frame_count(fps, duration)
    if palette is None:
        palette = draw_palette(rng)
    a = float(rng.uniform(*_SEMI_MAJOR)) * size
    aspect = float(rng.uniform(*_ASPECT))
    hue = float(rng.uniform(0.0, 1.0))
    sat = float(rng.uniform(0.55, 0.95))
    val = float(rng.uniform(0.75, 1.0))
    color_a = tuple(255.0 * c for c in colorsys.hsv_to_rgb(hue, sat, val))
    color_b = tuple(255.0 * c for c in colorsys.hsv_to_rgb((hue + 0.5) % 1.0, sat, val * 0.45))
    x0, y0 = (float(v) for v in rng.uniform(0.0, size, 2))
    theta0 = float(rng.uniform(0.0, np.pi))
    stripes = float(rng.uniform(2.0, 3.5))
    stripe_phase = float(rng.uniform(0.0, 2 * np.pi))
    speed = float(rng.uniform(*SPEED_RANGE)) * size / 64.0
    spin = 1.0 if rng.random() < 0.5 else -1.0
    blink_phase = float(rng.random())
    bg_seed, noise_seed = (int(s) for s in rng.integers(0, 2**63 - 1, 2))
    return ClipSpec(
        kind=kind, size=size, fps=float(fps), num_frames=n, palette=palette, speed=speed,
        x0=x0, y0=y0, theta0=theta0, semi_major=a, aspect=aspect,
        color_a=color_a, color_b=color_b, stripes=stripes, stripe_phase=stripe_phase,  # type: ignore[arg-type]
        spin=spin, blink_phase=blink_phase, background_seed=bg_seed, noise_seed=noise_seed,
    )


def _background(spec: ClipSpec) -> np.ndarray:
    """Smooth, periodic (wraps like the object) low-pass noise texture, (S, S, 3) float32."""
    s = spec.size
    pal = spec.palette
    rng = np.random.default_rng(spec.background_seed)
    noise = rng.standard_normal((3, s, s))
    f = np.fft.fftfreq(s)
    k2 = f[:, None] ** 2 + f[None, :] ** 2
    sigma = pal.bg_scale  # correlation length as a fraction of the frame
    spectrum = np.exp(-2.0 * (np.pi * sigma * s) ** 2 * k2)
    smooth = np.fft.ifft2(np.fft.fft2(noise) * spectrum).real
    smooth /= smooth.std(axis=(1, 2), keepdims=True) + 1e-12
    # a luminance texture shared by the channels plus a weaker, opposite-signed colour texture
    lum, chroma = smooth[0], smooth[1]
    tint = np.asarray(pal.bg_tint)[None, None, :]
    colour = np.array([1.0, 0.0, -1.0])[None, None, :] * chroma[..., None] + np.array([0.0, 1.0, 0.0]) * smooth[2][..., None]
    bg = pal.bg_grey + tint + pal.bg_contrast * (lum[..., None] + 0.3 * colour)
    return bg.astype(np.float32)


def _trajectory(spec: ClipSpec) -> tuple[np.ndarray, ...]:
    """Per-frame centre x, y, orientation, semi-major axis and visibility."""
    t = np.arange(spec.num_frames, dtype=np.float64) / spec.fps
    v = spec.speed
    n = spec.num_frames
    cx = np.full(n, spec.x0)
    cy = np.full(n, spec.y0)
    theta = np.full(n, spec.theta0)
    a = np.full(n, spec.semi_major)
    visible = np.ones(n)
    k = spec.kind
    if k == "right":
        cx = spec.x0 + v * t
    elif k == "left":
        cx = spec.x0 - v * t
    elif k == "down":
        cy = spec.y0 + v * t
    elif k == "up":
        cy = spec.y0 - v * t
    elif k == "rotate":
        theta = spec.theta0 + spec.spin * (v / spec.semi_major) * t
    elif k == "grow":
        lo, hi = (_SEMI_MAJOR[0] * spec.size, _SEMI_MAJOR[1] * spec.size)
        a = lo + np.mod(spec.semi_major - lo + _GROW_RATE * v * t, hi - lo)
    elif k == "blink":
        freq = v / (spec.size / 4.0)
        visible = (np.mod(freq * t + spec.blink_phase, 1.0) < 0.5).astype(np.float64)
    return np.mod(cx, spec.size), np.mod(cy, spec.size), theta, a, visible


def object_alpha(spec: ClipSpec) -> np.ndarray:
    """The object's coverage of each pixel, (T, S, S) float32 in [0, 1] (anti-aliased edge):
    ground truth for tests of motion."""
    yi, xi, alpha, _ = _object_window(spec)
    out = np.zeros((spec.num_frames, spec.size, spec.size), dtype=np.float32)
    out[np.arange(spec.num_frames)[:, None, None], yi[:, :, None], xi[:, None, :]] = alpha
    return out


def _object_window(spec: ClipSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The object drawn in a square window around its centre in each frame (cheaper than the
    whole frame): row indices (T, W), column indices (T, W), coverage and stripe pattern (T, W, W)."""
    s = spec.size
    cx, cy, theta, a, visible = _trajectory(spec)
    b = a / spec.aspect
    radius = int(np.ceil(a.max())) + 2
    width = min(2 * radius + 1, s)
    half = s / 2.0
    offsets = np.arange(width) - (width // 2)
    xi = np.mod(np.floor(cx).astype(np.int64)[:, None] + offsets[None, :], s)  # (T, W)
    yi = np.mod(np.floor(cy).astype(np.int64)[:, None] + offsets[None, :], s)
    # offsets of the pixel centres from the object's centre, on the torus
    dx = (np.mod(xi + 0.5 - cx[:, None] + half, s) - half).astype(np.float32)[:, None, :]
    dy = (np.mod(yi + 0.5 - cy[:, None] + half, s) - half).astype(np.float32)[:, :, None]
    cos = np.cos(theta).astype(np.float32)[:, None, None]
    sin = np.sin(theta).astype(np.float32)[:, None, None]
    a3 = a.astype(np.float32)[:, None, None]
    b3 = b.astype(np.float32)[:, None, None]
    u = dx * cos + dy * sin  # along the major axis
    w = dy * cos - dx * sin
    r = np.sqrt((u / a3) ** 2 + (w / b3) ** 2)
    # signed distance to the edge ~ (1 - r) * local radius; a one-pixel soft edge
    alpha = np.clip((1.0 - r) * np.minimum(a3, b3 * 1.5) + 0.5, 0.0, 1.0)
    alpha *= visible.astype(np.float32)[:, None, None]
    stripes = 0.5 + 0.5 * np.sin(np.float32(np.pi * spec.stripes) * (u / a3) + np.float32(spec.stripe_phase))
    return yi, xi, alpha, stripes


@functools.cache
def _normal_table() -> np.ndarray:
    # 65536 standard-normal samples: indexing them with random 16-bit numbers is ~4x faster than
    # drawing normals, and per-pixel camera noise needs no better.
    table = np.random.default_rng(0x5EED).standard_normal(1 << 16).astype(np.float32)
    table.setflags(write=False)
    return table


def _gaussian_noise(seed: int, shape: tuple[int, ...], std: float) -> np.ndarray:
    n = int(np.prod(shape))
    idx = np.frombuffer(np.random.default_rng(seed).bytes(2 * n), dtype="<u2")
    return (_normal_table()[idx] * np.float32(std)).reshape(shape)


def render_clip(spec: ClipSpec, *, noise: bool = True) -> np.ndarray:
    """Render a clip: (T, S, S, 3) uint8 RGB. Deterministic: the same spec gives the same bytes."""
    n = spec.num_frames
    bg = _background(spec)
    frames = np.repeat(bg[None], n, axis=0)
    yi, xi, alpha, stripes = _object_window(spec)
    ca = np.asarray(spec.color_a, dtype=np.float32)
    cb = np.asarray(spec.color_b, dtype=np.float32)
    obj = cb + (ca - cb) * stripes[..., None]  # (T, W, W, 3)
    al = alpha[..., None]
    index = (np.arange(n)[:, None, None], yi[:, :, None], xi[:, None, :])
    frames[index] = frames[index] * (1.0 - al) + obj * al
    if noise and spec.palette.noise_std > 0:
        frames += _gaussian_noise(spec.noise_seed, frames.shape, spec.palette.noise_std)
    np.rint(frames, out=frames)
    np.clip(frames, 0, 255, out=frames)
    return frames.astype(np.uint8)


def make_video(
    kind: str,
    *,
    size: int = 64,
    fps: float = 25.0,
    duration: float = 2.0,
    rng: np.random.Generator,
    palette: Palette | None = None,
) -> tuple[np.ndarray, float]:
    """One clip of motion ``kind`` in memory: ((T, size, size, 3) uint8 RGB frames, target speed px/s)."""
    spec = draw_clip_spec(kind, size=size, fps=fps, duration=duration, rng=rng, palette=palette)
    return render_clip(spec), spec.speed
