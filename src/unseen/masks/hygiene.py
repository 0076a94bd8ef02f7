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


def remove_small(mask: np.ndarray, min_area: int) -> np.ndarray:
    """Drop connected components smaller than `min_area` pixels."""
    import cv2

    if min_area <= 1 or not mask.any():
        return mask
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8))
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_area
    return keep[labels]


class Hysteresis:
    """Temporal hysteresis: a pixel joins the hole at once but leaves it only after `hold` frames without detection,
    so a detector that misses a frame or two does not make the object flash back."""

    def __init__(self, hold: int = 3) -> None:
        self.hold = hold
        self.since: np.ndarray | None = None  # frames since each pixel was last detected

    def __call__(self, mask: np.ndarray) -> np.ndarray:
        if self.since is None or self.since.shape != mask.shape:
            self.since = np.full(mask.shape, self.hold + 1, np.int32)
        self.since += 1
        self.since[mask] = 0
        return self.since <= self.hold


def fill_small_holes(mask: np.ndarray, max_area: int) -> np.ndarray:
    """Fill the gaps fully enclosed by a bool (H, W) mask that are smaller than `max_area` pixels."""
    import cv2

    if max_area <= 0 or not mask.any():
        return mask
    n, labels = cv2.connectedComponents((~mask).view(np.uint8), connectivity=4)  # without stats: 5x faster
    border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    enclosed = np.bincount(labels.ravel(), minlength=n) < max_area
    enclosed[border] = False  # a gap touching the frame's edge is not enclosed
    enclosed[0] = False  # label 0 is the mask itself
    return mask | enclosed[labels]
