"""Shared fixtures: synthetic videos, frame folders and masks made by the tests themselves."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def textured_background(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth but textured uint8 RGB image."""
    rng = np.random.default_rng(seed)
    import cv2

    small = rng.integers(0, 255, (max(2, h // 8), max(2, w // 8), 3), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def moving_square_clip(t: int, h: int, w: int, size: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames (T,H,W,3), masks (T,H,W) bool, background): a red square moving right over a static background."""
    bg = textured_background(h, w, seed)
    frames, masks = [], []
    for i in range(t):
        m = np.zeros((h, w), bool)
        x = 2 + i * 3
        m[h // 3 : h // 3 + size, x : x + size] = True
        f = bg.copy()
        f[m] = (255, 0, 0)
        frames.append(f)
        masks.append(m)
    return np.stack(frames), np.stack(masks), bg


def write_video(
    path: Path,
    frames: np.ndarray,
    fps: float = 25.0,
    audio: bool = False,
    codec: str = "libx264",
    container_options: dict[str, str] | None = None,
    stream_options: dict[str, str] | None = None,
    rotation: float | None = None,
) -> Path:
    """Write uint8 RGB frames to a video file (optionally with a sine audio track, muxer and encoder options, and a
    display-matrix rotation like a phone's portrait video)."""
    import av

    with av.open(str(path), "w", options=container_options or {}) as c:
        s = c.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        s.width, s.height = frames.shape[2], frames.shape[1]
        s.pix_fmt = "yuv420p"
        if stream_options:
            s.options = stream_options
        if rotation is not None:
            s.set_display_rotation(rotation)
        a = None
        if audio:
            a = c.add_stream("aac", rate=44100)
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")
            vf.pts = i
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
        if a is not None:
            n = int(44100 * len(frames) / fps)
            samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / 44100)).astype(np.float32)[None]
            for start in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(samples[:, start : start + 1024], format="fltp", layout="mono")
                af.sample_rate = 44100
                af.pts = start
                for p in a.encode(af):
                    c.mux(p)
            for p in a.encode(None):
                c.mux(p)
    return path


def write_pngs(folder: Path, images: np.ndarray, names: list[str] | None = None, rgb: bool = True) -> Path:
    """Write images (uint8 RGB or bool masks) as PNGs."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        name = names[i] if names else f"{i:05d}.png"
        if im.dtype == bool:
            im = im.astype(np.uint8) * 255
        elif rgb:
            im = cv2.cvtColor(im, cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(folder / name), im)
    return folder


@pytest.fixture
def clip():
    """A 12-frame 64x96 clip with a moving square, its masks and the true background."""
    return moving_square_clip(12, 64, 96)


@pytest.fixture
def shared_data() -> Path:
    """The shared real-video data set; skips when it is not beside the project."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present on this machine")
    return SHARED_DATA
