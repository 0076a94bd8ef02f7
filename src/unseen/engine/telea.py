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


class TeleaInpainter(Inpainter):
    """Per-frame Telea inpainting; no temporal state."""

    name = "telea"

    def __init__(self, radius: int = 3) -> None:
        self.radius = radius

    def step(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return telea_fill(frame, mask, self.radius)
