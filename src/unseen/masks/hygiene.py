"""Mask hygiene: dilation with the protocol's 3x3 cross, minimum area, temporal hysteresis."""

from __future__ import annotations

import numpy as np

CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)


def dilate(masks: np.ndarray, iterations: int) -> np.ndarray:
    """Grow bool masks (..., H, W) with a 3x3 cross, `iterations` times (about one pixel each)."""
    import cv2

    if iterations <= 0:
        return masks
    flat = masks.reshape(-1, *masks.shape[-2:])
    out = np.stack([cv2.dilate(m.astype(np.uint8), CROSS, iterations=iterations) > 0 for m in flat])
    return out.reshape(masks.shape)
