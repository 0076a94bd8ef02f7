"""Interactive selection without weights: a box on one frame, segmented (GrabCut) and followed frame to frame.

Per frame: Lucas-Kanade flow of feature points inside the last mask gives the object's motion (a
similarity transform, robust to outliers); the warped mask is the prediction, and only a narrow band
around it may change. Where a background memory has seen the background (a static camera), pixels that
match it are background; elsewhere GrabCut decides. Three guards keep the mask from bleeding into the scene:
a pixel outside the prediction joins only if the object's colour model (learned from confident pixels
only: the mask's eroded core against a ring outside it) says it looks like the object; the area may not
leave [1/cap, cap] times a reference that changes only with the motion's scale (and a slow drift); and
when a frame fails a guard the last good mask, moved by the motion, is kept.

When the box holds a person or a hand (the bundled segmenters find one that fills the box), the
segmenter's mask of that person or hand is followed instead, within the same guards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unseen.errors import UnseenError
from unseen.masks.source import MaskSource
from unseen.vision.motion import global_motion, is_translation


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
    band: float = 0.08  # the band that may change each frame, as a share of sqrt(area), clamped to [min_band, margin] px
    min_band: int = 4
    max_growth: float = 1.3  # the area may not exceed x times its reference (initial area x motion scale^2, drifting)
    max_shrink: float = 3.0  # ... nor fall below 1/x of it (shrinking cannot bleed, so this guard is looser)
    max_scale_step: float = 0.05  # the motion's scale counts at most this much per frame
    drift: float = 0.02  # rate at which the reference area follows the accepted areas
    colour_bins: int = 16  # per RGB channel, for the object/surroundings colour model
    colour_rate: float = 0.1  # how fast the colour model learns from each accepted frame
    min_piece: float = 0.25  # a separate piece of the mask must hold this share of the largest piece's overlap with the prediction
    drop_below: float = 0.2  # a predicted pixel whose object probability (by colour) is below this leaves the mask
    class_fill: float = 0.4  # a person/hand silhouette must cover this share of the box ...
    class_inside: float = 0.7  # ... and lie this much inside the box (grown by 20%) to be followed by its segmenter


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


def _clean(mask: np.ndarray, seed: np.ndarray, min_share: float = 0.0) -> np.ndarray:
    """Close small gaps, fill enclosed holes, keep the connected components that overlap `seed` (and, with
    `min_share`, hold at least that share of the largest one's overlap: a stray piece left on the background goes)."""
    import cv2

    m = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    m = _fill_holes(m).astype(np.uint8)
    n, labels = cv2.connectedComponents(m)
    if n <= 2:
        return m > 0
    overlap = np.bincount(labels[seed & (m > 0)], minlength=n)
    overlap[0] = 0
    if overlap.max() == 0:
        return m > 0
    return (overlap >= max(1, min_share * overlap.max()))[labels]


class ColourModel:
    """Colour histograms of the object and of its surroundings, learned from confident pixels only."""

    def __init__(self, bins: int = 16) -> None:
        self.bins = bins
        self.fg: np.ndarray | None = None
        self.bg: np.ndarray | None = None

    def _index(self, pixels: np.ndarray) -> np.ndarray:
        q = (pixels.astype(np.int32) * self.bins) >> 8
        return (q[:, 0] * self.bins + q[:, 1]) * self.bins + q[:, 2]

    def _histogram(self, pixels: np.ndarray) -> np.ndarray:
        hist = np.bincount(self._index(pixels), minlength=self.bins**3).astype(np.float32) + 0.5  # a little prior
        return hist / hist.sum()

    def learn(self, frame: np.ndarray, inside: np.ndarray, outside: np.ndarray, rate: float = 1.0) -> None:
        """Blend in the colours of frame (H, W, 3) under bool masks `inside` (sure object) and `outside` (sure surroundings)."""
        if inside.sum() < 20 or outside.sum() < 20:
            return
        fg, bg = self._histogram(frame[inside]), self._histogram(frame[outside])
        if self.fg is None or self.bg is None:
            self.fg, self.bg = fg, bg
        else:
            self.fg = (1 - rate) * self.fg + rate * fg
            self.bg = (1 - rate) * self.bg + rate * bg

    def object_probability(self, pixels: np.ndarray) -> np.ndarray:
        """P(object | colour) for uint8 RGB pixels (N, 3), equal priors; 0.5 everywhere before learning."""
        if self.fg is None or self.bg is None:
            return np.full(len(pixels), 0.5, np.float32)
        idx = self._index(pixels)
        f, b = self.fg[idx], self.bg[idx]
        return f / (f + b)


class ClassFollower:
    """The bundled person or hand segmenter, giving one bool (H, W) silhouette per person blob or hand."""

    def __init__(self, kind: str, source: MaskSource) -> None:
        self.kind, self.source = kind, source
        self.tag = ""  # the followed silhouette's tag (a hand's side)

    def silhouettes(self, frame: np.ndarray) -> list[tuple[np.ndarray, str]]:
        """Separate silhouettes on this frame, each with a tag that names it across frames (a hand's side, or '')."""
        import cv2

        if self.kind == "hand":
            masks = self.source.hand_masks(frame)
            return list(zip(masks, self.source.sides, strict=True))
        mask = self.source.raw(frame)
        n, labels = cv2.connectedComponents(mask.astype(np.uint8))
        return [(labels == k, "") for k in range(1, n)]

    def close(self) -> None:
        self.source.close()


def box_fit(silhouette: np.ndarray, box: tuple[int, int, int, int]) -> tuple[float, float]:
    """(share of the box the silhouette covers, share of the silhouette inside the box grown by 20%)."""
    x, y, w, h = box
    h_img, w_img = silhouette.shape
    area = max(1, int(silhouette.sum()))
    covered = silhouette[y : y + h, x : x + w].sum() / max(1, w * h)
    gx, gy = w // 10, h // 10
    inside = silhouette[max(0, y - gy) : min(h_img, y + h + gy), max(0, x - gx) : min(w_img, x + w + gx)].sum() / area
    return float(covered), float(inside)


def find_class(frame: np.ndarray, box: tuple[int, int, int, int], config: TrackerConfig) -> tuple[ClassFollower, np.ndarray] | None:
    """If a person or a hand fills the box, its follower and its silhouette on this frame; else None."""
    from unseen.errors import UnseenError

    for kind in ("person", "hand"):
        try:
            if kind == "person":
                from unseen.masks.person import PersonMaskSource

                follower = ClassFollower(kind, PersonMaskSource())
            else:
                from unseen.masks.hands import HandMaskSource

                follower = ClassFollower(kind, HandMaskSource())
        except UnseenError:  # mediapipe missing: plain tracking
            return None
        best, best_fill = None, 0.0
        for sil, tag in follower.silhouettes(frame):
            fill, inside = box_fit(sil, box)
            if fill >= config.class_fill and inside >= config.class_inside and fill > best_fill:
                best, best_fill = (sil, tag), fill
        if best is not None:
            follower.tag = best[1]
            return follower, best[0]
        follower.close()
    return None


class BoxTrackerSource(MaskSource):
    """Mask source from a box on frame `start`: empty before it, the tracked object from it on.

    `use_segmenters`: follow a person or a hand with the bundled segmenters when one fills the box (loading
    them costs ~0.5-2 s on the first frame, so it is off unless asked; `unseen remove/masks --box` ask).
    `mode` says how the object is followed: "colour" (GrabCut / background), "person" or "hand".
    """

    def __init__(
        self, box: tuple[int, int, int, int], start: int = 0, config: TrackerConfig | None = None, use_segmenters: bool = False
    ) -> None:
        self.box = box
        self.start = start
        self.config = config or TrackerConfig()
        self.use_segmenters = use_segmenters
        self.index = 0
        self.follower: ClassFollower | None = None
        self._forget()

    def _forget(self) -> None:
        if self.follower is not None:
            self.follower.close()
        self.follower = None
        self.mode = ""
        self.mask: np.ndarray | None = None
        self.prev_grey: np.ndarray | None = None
        self.bg: np.ndarray | None = None  # remembered background (float32 RGB)
        self.bg_known: np.ndarray | None = None
        self.colours = ColourModel(self.config.colour_bins)
        self.reference = 0.0  # the area the mask should have, following the motion's scale
        self.centre: np.ndarray | None = None  # centroid of the last accepted mask (x, y)
        self.speed = 0.0  # how far it moved between the last two accepted masks (px)
        self.step: np.ndarray | None = None  # ... and in which direction (x, y)

    def reset(self, box: tuple[int, int, int, int] | None = None) -> None:
        """Start over, optionally with a new box, on the next frame."""
        if box is not None:
            self.box = box
        self.start, self.index = 0, 0
        self._forget()

    def close(self) -> None:
        if self.follower is not None:
            self.follower.close()
            self.follower = None

    def _initial(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        if self.use_segmenters:
            found = find_class(frame, self.box, self.config)
            if found is not None:
                self.follower, sil = found
                self.mode = self.follower.kind
                return sil
        self.mode = "colour"
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

        # only pixels well away from the mask are learnt as background: if the mask lags a fast object by a
        # few pixels, the object's own pixels must not become 'background' (the mask could never catch up)
        guard = 2 * self.config.margin + 1
        outside = ~(cv2.dilate(fg.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (guard, guard))) > 0)
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
            self.reference = float(self.mask.sum())
            self._learn_colours(frame, self.mask)
        else:
            self._follow_camera(grey)
            self.mask = self._track(frame, grey)
        self.prev_grey = grey
        self._update_background(frame, self.mask)
        return self.mask.copy()

    def _band(self, area: float) -> int:
        """Pixels the mask's edge may move past the prediction in one frame."""
        return int(np.clip(round(self.config.band * np.sqrt(max(area, 1.0))), self.config.min_band, self.config.margin))

    def _learn_colours(self, frame: np.ndarray, mask: np.ndarray, rate: float = 1.0) -> None:
        """Object colours from the mask's eroded core, surroundings' from a ring just outside it."""
        import cv2

        r = self._band(mask.sum())
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        m = mask.astype(np.uint8)
        core = cv2.erode(m, kernel) > 0
        near = cv2.dilate(m, kernel) > 0
        ring = (cv2.dilate(m, kernel, iterations=4) > 0) & ~near
        if core.sum() < 20:
            core = mask
        self.colours.learn(frame, core, ring, rate)

    def _track(self, frame: np.ndarray, grey: np.ndarray) -> np.ndarray:
        import cv2

        cfg = self.config
        h, w = grey.shape
        matrix = self._motion(grey)
        prev = self.mask.astype(np.uint8)
        if matrix is None and self.step is not None:  # the flow found nothing: assume the last step repeats
            matrix = np.array([[1.0, 0.0, self.step[0]], [0.0, 1.0, self.step[1]]])
        pred = cv2.warpAffine(prev, matrix, (w, h), flags=cv2.INTER_NEAREST) > 0 if matrix is not None else prev > 0
        if not pred.any():
            pred = prev > 0
        if matrix is not None:  # the reference area follows the object's scale: evidence from motion
            step = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
            self.reference *= float(np.clip(step, 1 - cfg.max_scale_step, 1 + cfg.max_scale_step)) ** 2
        r = self._band(pred.sum())
        # an object moving faster than the flow followed (textureless, or frames dropped by a busy live server)
        # gets a band as wide as its last step, up to the margin
        r = int(min(cfg.margin, max(r, round(1.5 * self.speed) + 2)))
        if self.follower is not None:
            fg = self._segment_class(frame, pred, r)
        else:
            fg = self._segment_colour(frame, grey, pred, r)
        area, ref = float(fg.sum()), max(1.0, self.reference)
        if area == 0 or area > cfg.max_growth * ref or area < ref / cfg.max_shrink:
            return pred  # unsure: keep the last good mask, moved with the object
        self.reference = (1 - cfg.drift) * self.reference + cfg.drift * area
        self._learn_colours(frame, fg, cfg.colour_rate)
        ys, xs = np.nonzero(fg)
        centre = np.array([xs.mean(), ys.mean()])
        if self.centre is not None:
            self.step = centre - self.centre
            self.speed = float(np.linalg.norm(self.step))
        self.centre = centre
        return fg

    def _segment_class(self, frame: np.ndarray, pred: np.ndarray, r: int) -> np.ndarray:
        """The person's or hand's silhouettes that overlap the prediction, within reach of it."""
        import cv2

        reach = cv2.dilate(pred.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (6 * r + 1, 6 * r + 1))) > 0
        fg = np.zeros_like(pred)
        found = self.follower.silhouettes(frame)
        for sil, _ in found:
            if (sil & pred).sum() > 0.2 * min(sil.sum(), pred.sum()):
                fg |= sil & reach
        if not fg.any() and self.follower.tag:
            # lost and found again away from where it was kept (a fast hand): the one hand of the same side
            same = [sil for sil, tag in found if tag == self.follower.tag]
            if len(same) == 1:
                fg = same[0]
        return fg

    def _segment_colour(self, frame: np.ndarray, grey: np.ndarray, pred: np.ndarray, r: int) -> np.ndarray:
        """GrabCut or background subtraction in a band of `r` px around the prediction, vetoed by the colour model."""
        import cv2

        cfg = self.config
        h, w = grey.shape
        core = cv2.erode(pred.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0
        if self.bg is not None:
            # a remembered background is evidence of its own: where it is known around the object, the mask may
            # move by the full margin (a fast or textureless object the flow missed, frames dropped by a busy
            # live server); the colour veto and the area guard still apply
            wide = cv2.dilate(pred.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * cfg.margin + 1,) * 2)) > 0
            if self.bg_known[wide].mean() > cfg.subtract_coverage:
                r = cfg.margin
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        ring = cv2.dilate(pred.astype(np.uint8), kernel) > 0
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
        # a pixel the prediction did not hold joins only if it looks like the object (another moving thing
        # touching it, a hand or an arm, differs from the background too but not in the object's colours)
        new = fg & ~pred
        if new.any():
            fg[new] = self.colours.object_probability(frame[new]) > 0.5
        # and a pixel it held leaves when its colour is clearly the surroundings' (an object walking off
        # a background that was never seen: the prediction would stay on the uncovered background)
        held = fg & pred
        if held.any():
            fg[held] = self.colours.object_probability(frame[held]) > cfg.drop_below
        return _clean(fg, pred, cfg.min_piece)
