"""Generated scenes with known truth: a textured object moving over a static textured background."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Scene:
    """frames (T, H, W, 3) uint8 RGB, masks (T, H, W) bool object silhouettes, background (H, W, 3)."""

    frames: np.ndarray
    masks: np.ndarray
    background: np.ndarray


def textured_image(h: int, w: int, rng: np.random.Generator, cells: int = 12) -> np.ndarray:
    """Smooth colour noise plus fine grain: a background with structure at several scales, uint8 RGB."""
    import cv2

    coarse = rng.integers(0, 256, (max(2, h // cells), max(2, w // cells), 3), dtype=np.uint8)
    image = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def object_path(t: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Centres (T, 2) as (x, y): moves with changing speed, pauses, reverses, stays in the frame."""
    pos = np.array([w * 0.3, h * 0.5])
    vel = np.array([w * 0.006, h * 0.002])
    out = []
    pause = 0
    for _ in range(t):
        if pause > 0:
            pause -= 1
        else:
            if rng.random() < 0.02:
                pause = int(rng.integers(10, 30))  # the object stops for a while
            vel = vel * rng.uniform(0.9, 1.12) + rng.normal(0, 0.15, 2)
            speed = np.linalg.norm(vel)
            if speed > w * 0.012:
                vel *= w * 0.012 / speed
            pos = pos + vel
            for d, lim in ((0, w), (1, h)):
                lo, hi = lim * 0.2, lim * 0.8
                if pos[d] < lo or pos[d] > hi:
                    vel[d] = -vel[d]
                    pos[d] = np.clip(pos[d], lo, hi)
        out.append(pos.copy())
    return np.array(out)


def moving_object_scene(t: int, h: int, w: int, seed: int = 0, area: float = 0.08) -> Scene:
    """A scene whose object covers about `area` of the frame (ellipse with its own texture, slowly turning)."""
    import cv2

    rng = np.random.default_rng(seed)
    background = textured_image(h, w, rng, cells=10)
    tex = textured_image(h, w, rng, cells=4)
    tex = (tex.astype(np.int16) // 2 + np.array([110, 20, 40])).clip(0, 255).astype(np.uint8)  # reddish
    a = np.sqrt(area * h * w / np.pi * 1.5)
    b = area * h * w / np.pi / a
    frames, masks = [], []
    for i, (cx, cy) in enumerate(object_path(t, h, w, rng)):
        m = np.zeros((h, w), np.uint8)
        cv2.ellipse(m, (int(cx), int(cy)), (int(a), int(b)), 20 * np.sin(i / 25), 0, 360, 1, -1)
        mask = m > 0
        frame = background.copy()
        shift = np.roll(tex, (int(cy - h / 2), int(cx - w / 2)), axis=(0, 1))  # texture moves with the object
        frame[mask] = shift[mask]
        frames.append(frame)
        masks.append(mask)
    return Scene(np.stack(frames), np.stack(masks), background)
