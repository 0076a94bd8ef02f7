"""Mask sources: `frame -> mask`, stateful across frames; used by the CLI, the engine and the live server."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from unseen.errors import UnseenError
from unseen.masks.hygiene import dilate


class MaskSource:
    """Produces the hole mask for each frame in turn: bool (H, W), True = hole."""

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        """Release files or models."""


class IteratorMaskSource(MaskSource):
    """Masks from an iterator (mask files), one per frame, in order."""

    def __init__(self, masks: Iterator[np.ndarray], on_close=None) -> None:
        self.masks = iter(masks)
        self.on_close = on_close

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        try:
            return next(self.masks)
        except StopIteration:
            raise UnseenError("ran out of masks before the end of the video (more frames than the header said?)") from None

    def close(self) -> None:
        if self.on_close:
            self.on_close()


class DilatedMaskSource(MaskSource):
    """Wraps a source and grows its holes by `iterations` pixels (3x3 cross)."""

    def __init__(self, inner: MaskSource, iterations: int) -> None:
        self.inner, self.iterations = inner, iterations

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        return dilate(self.inner(frame), self.iterations)

    def close(self) -> None:
        self.inner.close()


class CleanMaskSource(MaskSource):
    """Mask hygiene around another source: minimum area, then temporal hysteresis."""

    def __init__(self, inner: MaskSource, min_area: int = 0, hold: int = 0) -> None:
        from unseen.masks.hygiene import Hysteresis

        self.inner, self.min_area = inner, min_area
        self.hysteresis = Hysteresis(hold) if hold > 0 else None

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        from unseen.masks.hygiene import remove_small

        mask = remove_small(self.inner(frame), self.min_area)
        return self.hysteresis(mask) if self.hysteresis is not None else mask

    def close(self) -> None:
        self.inner.close()


class ScaledMaskSource(MaskSource):
    """Runs another source on frames scaled to (width, height) and scales its masks back to each frame's size
    (a tracker's per-pixel work falls with the square of the scale; its masks are smooth at the object's scale)."""

    def __init__(self, inner: MaskSource, size: tuple[int, int]) -> None:
        self.inner, self.size = inner, size

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        h, w = frame.shape[:2]
        if (w, h) == self.size:
            return self.inner(frame)
        mask = self.inner(cv2.resize(frame, self.size, interpolation=cv2.INTER_AREA))
        return cv2.resize(mask.view(np.uint8) * np.uint8(255), (w, h), interpolation=cv2.INTER_LINEAR) >= 128

    def close(self) -> None:
        self.inner.close()


def fit_pixels(width: int, height: int, pixels: int) -> tuple[int, int]:
    """(width, height) scaled down to at most `pixels` pixels, keeping the aspect; unchanged if already small enough."""
    scale = min(1.0, (pixels / (width * height)) ** 0.5)
    return max(1, round(width * scale)), max(1, round(height * scale))
