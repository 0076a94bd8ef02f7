"""Region of interest: a window around the holes, stable over time so the model's cache stays aligned."""

from __future__ import annotations

import numpy as np


class RoiTracker:
    """Keeps a box (x0, y0, x1, y1) covering the holes plus a margin, sized in multiples of `unit`.

    The box only moves when the holes leave it (or it became much larger than needed); `moved`
    tells the caller to drop state tied to the old box.
    """

    def __init__(self, unit: int, margin: int, grow: int | None = None, slack: float = 2.5) -> None:
        self.unit, self.margin, self.slack = unit, margin, slack
        self.grow = margin if grow is None else grow
        self.box: tuple[int, int, int, int] | None = None
        self.moved = False

    def reset(self) -> None:
        """Forget the current box."""
        self.box, self.moved = None, False

    def _fit(self, lo: int, hi: int, limit: int) -> tuple[int, int]:
        """An interval of a multiple of `unit` covering [lo, hi), kept inside [0, limit)."""
        size = -(-(hi - lo) // self.unit) * self.unit
        if size >= limit:
            return 0, limit
        start = max(0, min(limit - size, (lo + hi - size) // 2))
        return start, start + size

    def update(self, mask: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
        """Box for this frame's mask (bool (H, W) at working resolution)."""
        ys, xs = np.nonzero(mask)
        m = self.margin
        need = (max(0, xs.min() - m), max(0, ys.min() - m), min(width, xs.max() + 1 + m), min(height, ys.max() + 1 + m))
        if self.box is not None:
            bx0, by0, bx1, by1 = self.box
            inside = bx0 <= need[0] and by0 <= need[1] and bx1 >= need[2] and by1 >= need[3]
            need_area = (need[2] - need[0]) * (need[3] - need[1])
            if inside and (bx1 - bx0) * (by1 - by0) <= self.slack * max(1, need_area) + self.unit**2:
                self.moved = False
                return self.box
        # a new box, with extra room so a moving object stays inside for a while
        grow = self.grow
        x0, x1 = self._fit(max(0, need[0] - grow), min(width, need[2] + grow), width)
        y0, y1 = self._fit(max(0, need[1] - grow), min(height, need[3] + grow), height)
        self.moved = self.box is not None and self.box != (x0, y0, x1, y1)
        self.box = (x0, y0, x1, y1)
        return self.box
