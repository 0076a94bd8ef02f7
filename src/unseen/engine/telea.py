"""OpenCV's per-frame inpainting (Telea 2004), the simplest baseline."""

from __future__ import annotations

import numpy as np

from unseen.engine.inpainter import Inpainter


def telea_fill(frame: np.ndarray, mask: np.ndarray, radius: int = 3) -> np.ndarray:
    """Fill the hole of one uint8 RGB frame (H, W, 3) with OpenCV's Telea method; mask bool (H, W)."""
    import cv2

    if not mask.any():
        return frame.copy()
    return cv2.inpaint(np.ascontiguousarray(frame), mask.astype(np.uint8), radius, cv2.INPAINT_TELEA)


def rim_telea_fill(frame: np.ndarray, mask: np.ndarray, radius: int = 3, band: int = 16) -> np.ndarray:
    """Telea at full resolution within `band` px of the hole's rim, and at half resolution deeper inside.

    Deep inside a large hole Telea only carries the rim's colours inward as a smooth blend: computed at half
    resolution it costs a quarter, and its wider averaging scored better, not worse (the engine's classical
    guide on the val protocol: +0.1 to +0.4 dB on most clips, -0.04 at worst). The pixels near the rim, where
    detail continues into the hole, are filled at full resolution afterwards, around the coarse interior.
    Holes with no pixel deeper than `band` (thin strokes, small objects) get plain Telea.
    """
    import cv2

    if not mask.any():
        return frame.copy()
    h, w = mask.shape
    inner = cv2.distanceTransform(mask.view(np.uint8), cv2.DIST_L2, 3) > band
    if not inner.any() or min(h, w) < 4:
        return telea_fill(frame, mask, radius)
    size = (w // 2, h // 2)
    coarse = cv2.resize(np.ascontiguousarray(frame), size, interpolation=cv2.INTER_AREA)
    known = cv2.resize((~mask).view(np.uint8) * 255, size, interpolation=cv2.INTER_AREA) == 255
    coarse = cv2.resize(telea_fill(coarse, ~known, radius), (w, h), interpolation=cv2.INTER_LINEAR)
    out = frame.copy()
    out[inner] = coarse[inner]
    return telea_fill(out, mask & ~inner, radius)


class TeleaInpainter(Inpainter):
    """Per-frame Telea inpainting; no temporal state."""

    name = "telea"

    def __init__(self, radius: int = 3) -> None:
        self.radius = radius

    def step(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return telea_fill(frame, mask, self.radius)
