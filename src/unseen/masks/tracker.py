"""Interactive selection without weights: a box on one frame, segmented (GrabCut) and followed frame to frame.

Per frame: Lucas-Kanade flow of feature points inside the last mask gives the object's motion (a
similarity transform, robust to outliers); the warped mask seeds a GrabCut around it; where a
background memory has seen the background (a static camera), pixels that match it are certain
background and pixels that differ strongly are certain foreground. A result that changes area
implausibly falls back to the warped mask, so a bad frame never loses the object.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unseen.engine.motion import global_motion, is_translation
from unseen.errors import UnseenError
from unseen.masks.source import MaskSource


def parse_box(text: str, width: int, height: int) -> tuple[int, int, int, int]:
    """Parse 'x,y,w,h' (pixels of the input frame) and check it lies inside a width x height frame."""
    try:
        x, y, w, h = (int(round(float(v))) for v in text.split(","))
    except ValueError:
        raise UnseenError(f"--box {text!r}: expected four numbers x,y,w,h (pixels)") from None
    if w < 4 or h < 4:
        raise UnseenError(f"--box {text!r}: the box must be at least 4x4 pixels")
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise UnseenError(f"--box {text!r}: the box leaves the {width}x{height} frame")
    return x, y, w, h


@dataclass
class TrackerConfig:
    """Tuning of the box tracker."""

    grabcut_iters: int = 2
    margin: int = 16  # pixels around the predicted mask that GrabCut may claim
    bg_match: float = 18.0  # mean abs RGB difference to the remembered background below which a pixel is background
    bg_exact: float = 6.0  # ... the closer match needed inside the predicted object (object pixels can resemble it)
    fg_differ: float = 60.0  # ... above which (near the object) it is foreground
    max_area_change: float = 1.8  # a re-segmentation changing area by more than this factor is rejected
    max_points: int = 120
    flow_margin: int = 64  # pixels around the object in which its motion is measured
    subtract_coverage: float = 0.6  # share of the object's surroundings with a known background for plain subtraction


def _grabcut(frame: np.ndarray, init: np.ndarray, iters: int) -> np.ndarray:
    """GrabCut with an initial label map (cv2.GC_*); returns bool foreground."""
    import cv2

    labels = init.copy()
    if not ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).any() or not ((labels == cv2.GC_BGD) | (labels == cv2.GC_PR_BGD)).any():
        return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), labels, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return (init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)
    return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill regions enclosed by the mask (an object's interior that happens to look like the background)."""
    import cv2

    m = mask.astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(m, contours, -1, 1, thickness=cv2.FILLED)
    return m > 0


def _clean(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Close small gaps, fill enclosed holes, keep the connected components that overlap `seed`."""
    import cv2

    m = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    m = _fill_holes(m).astype(np.uint8)
    n, labels = cv2.connectedComponents(m)
    if n <= 2:
        return m > 0
    keep = np.unique(labels[seed & (m > 0)])
    keep = keep[keep > 0]
    if len(keep) == 0:
        return m > 0
    return np.isin(labels, keep)


class BoxTrackerSource(MaskSource):
    """Mask source from a box on frame `start`: empty before it, the tracked object from it on."""

    def __init__(self, box: tuple[int, int, int, int], start: int = 0, config: TrackerConfig | None = None) -> None:
        self.box = box
        self.start = start
        self.config = config or TrackerConfig()
        self.index = 0
        self.mask: np.ndarray | None = None
        self.prev_grey: np.ndarray | None = None
        self.bg: np.ndarray | None = None  # remembered background (float32 RGB)
        self.bg_known: np.ndarray | None = None

    def reset(self, box: tuple[int, int, int, int] | None = None) -> None:
        """Start over, optionally with a new box, on the next frame."""
        if box is not None:
            self.box = box
        self.start, self.index = 0, 0
        self.mask = self.prev_grey = self.bg = self.bg_known = None

    def _initial(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        x, y, w, h = self.box
        labels = np.full(frame.shape[:2], cv2.GC_BGD, np.uint8)
        labels[y : y + h, x : x + w] = cv2.GC_PR_FGD
        # the box's border pixels are most likely background
        b = max(1, min(w, h) // 12)
        labels[y : y + h, x : x + b] = labels[y : y + h, x + w - b : x + w] = cv2.GC_PR_BGD
        labels[y : y + b, x : x + w] = labels[y + h - b : y + h, x : x + w] = cv2.GC_PR_BGD
        mx, my = max(0, x - w // 2), max(0, y - h // 2)
        roi = (slice(my, min(frame.shape[0], y + h + h // 2)), slice(mx, min(frame.shape[1], x + w + w // 2)))
        fg = np.zeros(frame.shape[:2], bool)
        fg[roi] = _grabcut(frame[roi], labels[roi], 5)
        if fg.sum() < 0.1 * w * h:  # GrabCut found too little: take the box's inner ellipse
            fg[:] = False
            cv2.ellipse(fg.view(np.uint8), (x + w // 2, y + h // 2), (max(1, w // 2 - b), max(1, h // 2 - b)), 0, 0, 360, 1, -1)
        return _clean(fg, fg)

    def _motion(self, grey: np.ndarray) -> np.ndarray | None:
        """2x3 similarity transform of the object from the last frame to this one (None if unknown)."""
        import cv2

        assert self.prev_grey is not None and self.mask is not None
        ys, xs = np.nonzero(self.mask)
        if len(ys) == 0:
            return None
        # work in a window around the object (corners, pyramids and flow cost follow the area scanned); the
        # margin covers the largest motion the 4-level pyramid follows
        m = self.config.flow_margin
        y0, x0 = max(0, ys.min() - m), max(0, xs.min() - m)
        y1, x1 = ys.max() + 1 + m, xs.max() + 1 + m
        before, after = self.prev_grey[y0:y1, x0:x1], grey[y0:y1, x0:x1]
        pts = cv2.goodFeaturesToTrack(before, self.config.max_points, 0.01, 3, mask=self.mask[y0:y1, x0:x1].astype(np.uint8))
        if pts is None or len(pts) < 4:
            return None
        nxt, status, _ = cv2.calcOpticalFlowPyrLK(before, after, pts, None, winSize=(21, 21), maxLevel=3)
        back, status_b, _ = cv2.calcOpticalFlowPyrLK(after, before, nxt, None, winSize=(21, 21), maxLevel=3)
        ok = (status[:, 0] == 1) & (status_b[:, 0] == 1) & (np.linalg.norm((back - pts)[:, 0], axis=1) < 1.0)
        if ok.sum() < 4:
            return None
        matrix, _ = cv2.estimateAffinePartial2D(pts[ok], nxt[ok], method=cv2.RANSAC, ransacReprojThreshold=2.0)
        if matrix is None:
            return None
        # from window coordinates back to the frame's: x' = A (x - o) + t + o
        offset = np.array([x0, y0], np.float64)
        matrix[:, 2] += offset - matrix[:, :2] @ offset
        return matrix

    def _follow_camera(self, grey: np.ndarray) -> None:
        """Warp the remembered background with the camera; forget it when the camera motion is unclear."""
        import cv2

        if self.bg is None:
            return
        outside = cv2.dilate(self.mask.astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
        matrix = global_motion(self.prev_grey, grey, outside)
        if matrix is None:
            self.bg_known[:] = False
            return
        if np.abs(matrix[:, 2]).max() < 0.25 and is_translation(matrix, 1e-3):
            return  # a static camera
        h, w = grey.shape
        self.bg = cv2.warpAffine(self.bg, matrix, (w, h), flags=cv2.INTER_LINEAR)
        self.bg_known = cv2.warpAffine(self.bg_known.astype(np.uint8), matrix, (w, h), flags=cv2.INTER_NEAREST, borderValue=0) > 0
        self.bg_known = cv2.erode(self.bg_known.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0

    def _update_background(self, frame: np.ndarray, fg: np.ndarray) -> None:
        import cv2

        outside = ~(cv2.dilate(fg.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)  # a 1-px guard band
        if self.bg is None:
            self.bg = frame.astype(np.float32)
            self.bg_known = outside.copy()
            return
        np.copyto(self.bg, frame, where=outside[..., None])
        self.bg_known |= outside

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        index = self.index
        self.index += 1
        if index < self.start:
            return np.zeros(frame.shape[:2], bool)
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if self.mask is None:
            self.mask = self._initial(frame)
        else:
            self._follow_camera(grey)
            self.mask = self._track(frame, grey)
        self.prev_grey = grey
        self._update_background(frame, self.mask)
        return self.mask.copy()

    def _track(self, frame: np.ndarray, grey: np.ndarray) -> np.ndarray:
        import cv2

        cfg = self.config
        h, w = grey.shape
        matrix = self._motion(grey)
        prev = self.mask.astype(np.uint8)
        pred = cv2.warpAffine(prev, matrix, (w, h), flags=cv2.INTER_NEAREST) > 0 if matrix is not None else prev > 0
        if not pred.any():
            pred = prev > 0
        ring = cv2.dilate(pred.astype(np.uint8), np.ones((2 * cfg.margin + 1,) * 2, np.uint8)) > 0
        core = cv2.erode(pred.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        labels = np.full((h, w), cv2.GC_BGD, np.uint8)
        labels[ring] = cv2.GC_PR_BGD
        labels[pred] = cv2.GC_PR_FGD
        ys, xs = np.nonzero(ring)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        if self.bg is not None:
            # the difference to the remembered background, only where it is used (inside the ring's box)
            diff = np.full((h, w), 255.0, np.float32)
            diff[y0:y1, x0:x1] = np.abs(frame[y0:y1, x0:x1].astype(np.float32) - self.bg[y0:y1, x0:x1]).mean(axis=2)
            known = self.bg_known
            labels[ring & known & (diff < cfg.bg_match)] = cv2.GC_BGD
            labels[ring & known & (diff > cfg.fg_differ)] = cv2.GC_FGD
        labels[core & (labels != cv2.GC_BGD)] = cv2.GC_FGD
        fg = np.zeros((h, w), bool)
        if self.bg is not None and self.bg_known[ring].mean() > cfg.subtract_coverage:
            # a still camera has shown the background around the object: the difference is the object
            # inside the flow's prediction a pixel is background only if it matches the remembered one closely;
            # where the background was never seen, the prediction stands
            differs = (diff > cfg.bg_match) | (pred & (diff > cfg.bg_exact))
            fg[ring] = np.where(self.bg_known[ring], differs[ring], pred[ring])
            fg[core] = True
            fg = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
        else:
            fg[y0:y1, x0:x1] = _grabcut(frame[y0:y1, x0:x1], labels[y0:y1, x0:x1], cfg.grabcut_iters)
        fg = _clean(fg, pred)
        area, ref = fg.sum(), max(1, pred.sum())
        if area == 0 or area > cfg.max_area_change * ref or area < ref / cfg.max_area_change:
            return pred
        return fg
