"""What a click on the live page points at: the hand or person under it, found by the bundled models."""

from __future__ import annotations

import numpy as np


def silhouette_at(frame: np.ndarray, x: int, y: int, reach: int = 4) -> np.ndarray | None:
    """The bool (H, W) silhouette of the hand, else the person, within `reach` px of pixel (x, y) of a uint8 RGB
    frame; None when neither is there (or the bundled models cannot run)."""
    from unseen.errors import UnseenError
    from unseen.masks.tracker import class_follower

    h, w = frame.shape[:2]
    near = (slice(max(0, y - reach), min(h, y + reach + 1)), slice(max(0, x - reach), min(w, x + reach + 1)))
    for kind in ("hand", "person"):  # a hand lies over the person it belongs to: the smaller thing pointed at wins
        try:
            follower = class_follower(kind)
        except UnseenError:  # the bundled runtimes are missing
            return None
        try:
            for silhouette, _ in follower.silhouettes(frame):
                if silhouette[near].any():
                    return silhouette
        finally:
            follower.close()
    return None


def box_around(silhouette: np.ndarray, pad: float = 0.05) -> tuple[int, int, int, int]:
    """The silhouette's bounding box (x, y, w, h) grown by `pad` of its size on each side, inside the frame."""
    ys, xs = np.nonzero(silhouette)
    h, w = silhouette.shape
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    gx, gy = round(pad * (x1 - x0)), round(pad * (y1 - y0))
    x0, y0, x1, y1 = max(0, x0 - gx), max(0, y0 - gy), min(w, x1 + gx), min(h, y1 + gy)
    return x0, y0, max(4, x1 - x0), max(4, y1 - y0)
