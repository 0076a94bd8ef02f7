"""Interactive selection without weights: a box on one frame, segmented (GrabCut) and followed frame to frame.

Per frame: Lucas-Kanade flow of feature points inside the last mask gives the object's motion (a
similarity transform, robust to outliers); the warped mask is the prediction, and only a narrow band
around it may change. Where a background memory has seen the background (a static camera), pixels that
match it are background; elsewhere GrabCut decides. Three guards keep the mask from bleeding into the scene:
a pixel outside the prediction joins only if the object's colour model (learned from confident pixels
only: the mask's eroded core against a ring outside it) says it looks like the object; the area may not
leave [1/cap, cap] times a reference that changes only with the motion's scale (and a slow drift); and
when a frame fails a guard the last good mask, moved by the motion, is kept.

The object is declared lost (an empty mask) when its predicted box lies mostly outside the frame (it left)
or when the segmentation fails the guards several frames in a row (it vanished, or the evidence collapsed).
While lost, the frame is searched every few frames for the object's appearance (a template kept from a
confident frame, `masks/reacquire.py`); a confident, unambiguous match is segmented again under the same guards.

When the box holds a person or a hand (the bundled segmenters find one that fills the box), the
segmenter's mask of that person or hand is followed instead, within the same guards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from unseen.errors import UnseenError
from unseen.masks.reacquire import Appearance, AppearanceConfig
from unseen.masks.source import MaskSource
from unseen.vision.motion import global_motion, is_translation, motion_explains


def parse_box(text: str, width: int, height: int) -> tuple[int, int, int, int]:
    """Parse 'x,y,w,h' (pixels of the input frame); a box reaching past the frame's edge is cut to the frame (an
    object at the edge), one that keeps less than 4x4 pixels inside it is refused."""
    try:
        x, y, w, h = (int(round(float(v))) for v in text.split(","))
    except ValueError:
        raise UnseenError(f"--box {text!r}: expected four numbers x,y,w,h (pixels)") from None
    if w < 4 or h < 4:
        raise UnseenError(f"--box {text!r}: the box must be at least 4x4 pixels")
    x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + w), min(height, y + h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        raise UnseenError(f"--box {text!r}: the box lies outside the {width}x{height} frame")
    return x0, y0, x1 - x0, y1 - y0


@dataclass
class TrackerConfig:
    """Tuning of the box tracker."""

    grabcut_iters: int = 2
    margin: int = 16  # pixels around the predicted mask that GrabCut may claim
    bg_match: float = 18.0  # mean abs RGB difference to the remembered background below which a pixel is background
    bg_exact: float = 6.0  # ... the closer match needed inside the predicted object (object pixels can resemble it)
    noise_rate: float = 0.1  # how fast the background's per-pixel noise follows each frame's change
    noise_factor: float = 3.0  # inside the prediction, a pixel differs from the background by this many times its noise
    fg_differ: float = 60.0  # ... above which (near the object) it is foreground
    max_area_change: float = 1.8  # a re-segmentation changing area by more than this factor is rejected
    max_points: int = 120
    flow_margin: int = 64  # pixels around the object in which its motion is measured
    subtract_coverage: float = 0.6  # share of the object's surroundings with a known background for plain subtraction
    band: float = 0.08  # the band that may change each frame, as a share of sqrt(area), clamped to [min_band, margin] px
    min_band: int = 4
    max_growth: float = 1.3  # the area may not exceed x times its reference (initial area x motion scale^2, drifting)
    max_shrink: float = 3.0  # ... nor fall below 1/x of it (shrinking cannot bleed, so this guard is looser)
    max_scale_step: float = 0.02  # the motion's scale counts at most this much per frame (deforming objects jitter it)
    locate_gain: float = 0.7  # the appearance moves the prediction to where it matches this much better (RMS), nearby
    scale_agreement: float = 0.7  # the motion's scale counts only when this share of the points agree on the motion
    drift: float = 0.02  # rate at which the reference area follows the accepted areas
    size_evidence: float = 0.04  # the base area follows the motion's scale once it has changed the area by this share ...
    size_window: int = 15  # ... within this many frames processed; less is jitter (a still object's scale wanders by
    # 10% a minute; 30 frames still let it through when a busy live server processes only every third frame)
    colour_bins: int = 16  # per RGB channel, for the object/surroundings colour model
    colour_rate: float = 0.1  # how fast the colour model learns from each accepted frame
    min_piece: float = 0.25  # a separate piece of the mask must hold this share of the largest piece's overlap with the prediction
    drop_below: float = 0.2  # a predicted pixel whose object probability (by colour) is below this leaves the mask
    colour_contrast: float = 0.6  # colours this distinct (object minus surroundings, mean probability) place the object ...
    min_flow_points: int = 12  # ... when the flow's motion rests on fewer agreeing points than this (a textureless object)
    class_fill: float = 0.4  # a person/hand silhouette must cover this share of the box ...
    class_inside: float = 0.7  # ... and lie this much inside the box (grown by 20%) to be followed by its segmenter
    class_span: float = 0.85  # ... or span this share of the box's width or height ...
    class_whole: float = 0.95  # ... and lie this much inside it
    reference_cap: float = 1.2  # the reference area may drift at most this far above the area the motion explains
    lost_share: float = 0.25  # the object is lost when less of its predicted box than this lies inside the frame ...
    lost_after: int = 8  # ... or when this many frames in a row find less than `collapse` of the area expected
    collapse: float = 1 / 3
    still: float = 6.0  # grey change between frames under which a pixel is learnt as background while the object is lost
    left_behind: float = 6.0  # colour mode, still camera: a piece of the mask apart from its largest piece whose mean
    # grey change between frames is under this while the largest piece's is over it is scene the object left behind,
    # and leaves the mask (0: off)
    remember_every: int = 5  # confident frames between updates of the appearance template
    search_every: int = 3  # frames between appearance searches while the object is lost
    appearance: AppearanceConfig = field(default_factory=AppearanceConfig)


GRABCUT_PIXELS = 8_000  # GrabCut runs on at most this many pixels (a 90x90 window); larger windows are scaled down
# (davis-dog at 480x270: 30-55 ms per GrabCut on its 140x210 window, on a busy machine; the live page then fell to a
# few frames per second and the tracker lost the dog between them)


def _grabcut(frame: np.ndarray, init: np.ndarray, iters: int) -> np.ndarray:
    """GrabCut with an initial label map (cv2.GC_*); returns bool foreground.

    GrabCut seeds its colour clusters from OpenCV's random generator: it is seeded here, so that a clip gives
    the same masks in every run (on a hard clip, different seeds can lose the object or keep it).
    """
    import cv2

    cv2.setRNGSeed(0)
    labels = init.copy()
    if not ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).any() or not ((labels == cv2.GC_BGD) | (labels == cv2.GC_PR_BGD)).any():
        return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    h, w = labels.shape
    scale = min(1.0, (GRABCUT_PIXELS / (h * w)) ** 0.5)
    if scale < 1.0:  # a large object: GrabCut on a smaller copy (its cost grows with the pixels), seeds kept exact
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        labels = cv2.resize(labels, size, interpolation=cv2.INTER_NEAREST)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), labels, None, bgd, fgd, iters, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return (init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)
    fg = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    if scale < 1.0:
        fg = cv2.resize(_u8(fg) * np.uint8(255), (w, h), interpolation=cv2.INTER_LINEAR) >= 128
        fg = (fg | (init == cv2.GC_FGD)) & (init != cv2.GC_BGD)
    return fg


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill regions enclosed by the mask (an object's interior that happens to look like the background)."""
    import cv2

    m = mask.astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(m, contours, -1, 1, thickness=cv2.FILLED)
    return m > 0


def _u8(mask: np.ndarray) -> np.ndarray:
    """A mask as 0/1 uint8 for OpenCV: a view of a bool mask (no copy), else a copy."""
    return mask.view(np.uint8) if mask.dtype == bool else (mask != 0).astype(np.uint8)


def _bounds(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the True pixels of a bool (H, W) mask, or None when it has none."""
    import cv2

    x, y, w, h = cv2.boundingRect(_u8(mask))
    return None if w == 0 else (x, y, x + w, y + h)


def _around(box: tuple[int, int, int, int], reach: int, shape: tuple[int, ...]) -> tuple[slice, slice]:
    """The (rows, cols) slices of a box (x0, y0, x1, y1) grown by `reach` px on every side, clipped to an image of `shape`."""
    x0, y0, x1, y1 = box
    return slice(max(0, y0 - reach), min(shape[0], y1 + reach)), slice(max(0, x0 - reach), min(shape[1], x1 + reach))


def _dilate(mask: np.ndarray, kernel: np.ndarray, iterations: int = 1) -> np.ndarray:
    """cv2.dilate of a bool (H, W) mask by a centred kernel, as bool: the same result as over the whole image, computed
    only in the mask's box grown by the kernel's reach (nothing beyond it can change)."""
    import cv2

    out = np.zeros(mask.shape, bool)
    box = _bounds(mask)
    if box is None:
        return out
    win = _around(box, max(kernel.shape) // 2 * iterations, mask.shape)
    out[win] = cv2.dilate(_u8(mask[win]), kernel, iterations=iterations) > 0
    return out


def _mean_abs_diff(frame: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Mean over the channels of |frame - background| (uint8 or float32 RGB (H, W, 3) against float32), float32 (H, W).

    Bit for bit what np.abs(frame.astype(np.float32) - background).mean(axis=2) gives (each difference, then
    (c0 + c1) + c2, then / 3, each step rounded to float32; tests/masks/test_tracker_windows.py checks it), at a
    twentieth of the cost.
    """
    import cv2

    total = cv2.transform(cv2.absdiff(frame.astype(np.float32, copy=False), background), np.ones((1, 3)))
    return total.reshape(frame.shape[:2]) / np.float32(3)


def visible_share(centre: np.ndarray, size: np.ndarray, width: int, height: int) -> float:
    """Share of a box of `size` (w, h) around `centre` (x, y), pixels, that lies inside a width x height frame."""
    bw, bh = max(1.0, float(size[0])), max(1.0, float(size[1]))
    x0, y0 = centre[0] - bw / 2, centre[1] - bh / 2
    inside_w = max(0.0, min(x0 + bw, width) - max(x0, 0.0))
    inside_h = max(0.0, min(y0 + bh, height) - max(y0, 0.0))
    return float(inside_w * inside_h / (bw * bh))


def _extent(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centroid (x, y), bounding-box size (w, h) and the box's centre relative to the centroid, of a non-empty bool mask."""
    bx0, by0, bx1, by1 = _bounds(mask)
    ys, xs = np.nonzero(mask[by0:by1, bx0:bx1])
    xs, ys = xs + bx0, ys + by0
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    centroid = np.array([xs.mean(), ys.mean()])
    return centroid, np.array([x1 - x0, y1 - y0], np.float64), np.array([(x0 + x1) / 2, (y0 + y1) / 2]) - centroid


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


class SizeEvidence:
    """Which part of the motion's per-frame scale is a change of size: the product of the scales is passed on once it
    has moved the area by `share` within `window` frames, and dropped as jitter when a window ends short of that (a
    still object's similarity fit wanders by about 0.2% a frame, with a bias, which compounded shrinks a mug held
    for a minute by a tenth; an object coming closer passes `share` in a few frames). The tracker then applies it only
    as far as the mask's own area agrees: with every fourth frame the jitter (0.8% a frame, a -0.1% bias) still passed
    `share` every few windows, mostly shrinking."""

    def __init__(self, share: float = 0.04, window: int = 15) -> None:
        self.limit, self.window = float(np.log1p(share)), window
        self.pending, self.frames = 0.0, 0  # log of the product of the area scales not passed on yet

    def update(self, area_scale: float) -> float:
        """The area scale of one frame -> the factor to apply to the object's base area now (1.0 most frames)."""
        self.pending += float(np.log(area_scale))
        self.frames += 1
        if abs(self.pending) >= self.limit:
            factor = float(np.exp(self.pending))
            self.pending, self.frames = 0.0, 0
            return factor
        if self.frames >= self.window:
            self.pending, self.frames = 0.0, 0
        return 1.0


class ColourModel:
    """Colour histograms of the object and of its surroundings, learned from confident pixels only."""

    def __init__(self, bins: int = 16) -> None:
        self.bins = bins
        self.prior = 1e-4  # share added to every bin of both histograms
        self.fg: np.ndarray | None = None
        self.bg: np.ndarray | None = None

    def _index(self, pixels: np.ndarray) -> np.ndarray:
        q = (pixels.astype(np.int32) * self.bins) >> 8
        return (q[:, 0] * self.bins + q[:, 1]) * self.bins + q[:, 2]

    def _histogram(self, pixels: np.ndarray) -> np.ndarray:
        hist = np.bincount(self._index(pixels), minlength=self.bins**3).astype(np.float32)
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
        # the same small prior on both sides: a colour neither has shown is even (0.5), not the object's because
        # the object's histogram holds fewer pixels
        idx = self._index(pixels)
        f, b = self.fg[idx] + self.prior, self.bg[idx] + self.prior
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


def box_fit(silhouette: np.ndarray, box: tuple[int, int, int, int]) -> tuple[float, float, float]:
    """(share of the box the silhouette covers, share of the silhouette inside the box grown by 20%, the larger
    share of the box's width or height that the silhouette spans)."""
    x, y, w, h = box
    h_img, w_img = silhouette.shape
    area = max(1, int(silhouette.sum()))
    covered = silhouette[y : y + h, x : x + w].sum() / max(1, w * h)
    gx, gy = w // 10, h // 10
    inside = silhouette[max(0, y - gy) : min(h_img, y + h + gy), max(0, x - gx) : min(w_img, x + w + gx)].sum() / area
    ys, xs = np.nonzero(silhouette[y : y + h, x : x + w])
    span = max((xs.max() - xs.min() + 1) / w, (ys.max() - ys.min() + 1) / h) if len(ys) else 0.0
    return float(covered), float(inside), float(span)


def class_follower(kind: str) -> ClassFollower:
    """The bundled segmenter of "person" or "hand" as a follower (UnseenError when its runtime is missing)."""
    if kind == "person":
        from unseen.masks.person import PersonMaskSource

        return ClassFollower(kind, PersonMaskSource())
    from unseen.masks.hands import HandMaskSource

    return ClassFollower(kind, HandMaskSource())


def find_class(frame: np.ndarray, box: tuple[int, int, int, int], config: TrackerConfig) -> tuple[ClassFollower, np.ndarray] | None:
    """If a person or a hand fills the box, its follower and its silhouette on this frame; else None."""
    from unseen.errors import UnseenError

    for kind in ("person", "hand"):
        try:
            follower = class_follower(kind)
        except UnseenError:  # mediapipe missing: plain tracking
            return None
        best, best_fill = None, 0.0
        for sil, tag in follower.silhouettes(frame):
            fill, inside, span = box_fit(sil, box)
            # the box was drawn around this person or hand: it fills the box, or lies in it from edge to edge
            # (a box around a person and what they hold or cast: the person is what the tracker can follow)
            fits = fill >= config.class_fill or (span >= config.class_span and inside >= config.class_whole)
            if fits and inside >= config.class_inside and fill > best_fill:
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
        if len(box) != 4 or min(box[2], box[3]) < 4:
            raise UnseenError(f"box {tuple(box)}: expected (x, y, w, h) with w and h at least 4 px")
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
        self.prev_frame: np.ndarray | None = None
        self.bg: np.ndarray | None = None  # remembered background (float32 RGB)
        self.bg_known: np.ndarray | None = None
        self.bg_noise: np.ndarray | None = None  # mean change of each background pixel between frames (0-255)
        self.colours = ColourModel(self.config.colour_bins)
        self.reference = 0.0  # the area the whole object should have, following the motion's scale (and drifting)
        self.base = 0.0  # the first area times the lasting part of the motion's scale^2: the reference stays near it
        self.size_evidence = SizeEvidence(self.config.size_evidence, self.config.size_window)  # what of that scale counts
        self.centre: np.ndarray | None = None  # the object's centroid (x, y), moved with it beyond the frame's edge
        self.size: np.ndarray | None = None  # (w, h) of that box when last seen whole, scaled with the motion
        self.offset = np.zeros(2)  # the box's centre relative to the centroid
        self.speed = 0.0  # how far it moved between the last two accepted frames (px)
        self.step: np.ndarray | None = None  # ... and in which direction (x, y)
        self.lost = False  # the object left the frame or vanished: the mask is empty until it is found again
        self.rejects = 0  # frames in a row whose segmentation failed a guard
        self.lost_for = 0  # frames since it was lost
        self.last_seen: np.ndarray | None = None  # the last mask before it was lost (its background stays unlearnt)
        self.appearance = Appearance(self.config.appearance)
        self.confident = 0  # confident frames in a row (a template is proposed and confirmed every `remember_every`)
        self.contrast = 0.0  # mean P(object | colour) on the object's core minus on its surroundings, last learnt
        self.flow_points = 0  # points that agreed on the last motion the flow measured
        self.flow_share = 0.0  # ... as a share of the points it followed
        self.camera_still = False  # no camera motion between the previous frame and this one (set by _follow_camera)

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
        box = _bounds(self.mask)
        if box is None:
            return None
        # work in a window around the object (corners, pyramids and flow cost follow the area scanned); the
        # margin covers the largest motion the 4-level pyramid follows
        m = self.config.flow_margin
        y0, x0 = max(0, box[1] - m), max(0, box[0] - m)
        y1, x1 = box[3] + m, box[2] + m
        before, after = self.prev_grey[y0:y1, x0:x1], grey[y0:y1, x0:x1]
        pts = cv2.goodFeaturesToTrack(before, self.config.max_points, 0.01, 3, mask=self.mask[y0:y1, x0:x1].astype(np.uint8))
        if pts is None or len(pts) < 4:
            return None
        nxt, status, _ = cv2.calcOpticalFlowPyrLK(before, after, pts, None, winSize=(21, 21), maxLevel=3)
        back, status_b, _ = cv2.calcOpticalFlowPyrLK(after, before, nxt, None, winSize=(21, 21), maxLevel=3)
        ok = (status[:, 0] == 1) & (status_b[:, 0] == 1) & (np.linalg.norm((back - pts)[:, 0], axis=1) < 1.0)
        if self.bg is not None and self.prev_frame is not None:
            # points on pixels that matched the remembered background are background the mask holds, not the
            # object: on a still camera they would pin the mask to the scene while the object walks on
            xs, ys = (pts[:, 0] + (x0, y0)).round().astype(int).T
            xs, ys = xs.clip(0, grey.shape[1] - 1), ys.clip(0, grey.shape[0] - 1)
            diff = np.abs(self.prev_frame[ys, xs].astype(np.float32) - self.bg[ys, xs]).mean(axis=1)
            scene = self.bg_known[ys, xs] & (diff < self.config.bg_match)
            if (ok & ~scene).sum() >= 4:
                ok &= ~scene
        if ok.sum() < 4:
            return None
        matrix, inliers = cv2.estimateAffinePartial2D(pts[ok], nxt[ok], method=cv2.RANSAC, ransacReprojThreshold=2.0)
        if matrix is None:
            return None
        self.flow_points = int(inliers.sum())
        self.flow_share = self.flow_points / max(1, int(ok.sum()))
        # from window coordinates back to the frame's: x' = A (x - o) + t + o
        offset = np.array([x0, y0], np.float64)
        matrix[:, 2] += offset - matrix[:, :2] @ offset
        return matrix

    def _follow_camera(self, grey: np.ndarray) -> None:
        """Warp the remembered background with the camera; forget it when the camera motion is unclear."""
        import cv2

        self.camera_still = False
        if self.bg is None:
            return
        outside = _dilate(self.mask, np.ones((15, 15), np.uint8))
        matrix = global_motion(self.prev_grey, grey, outside)
        if matrix is None:
            self.bg_known[:] = False
            return
        if (np.abs(matrix[:, 2]).max() < 0.25 and is_translation(matrix, 1e-3)) or not motion_explains(self.prev_grey, grey, matrix):
            self.camera_still = True  # a static camera (or one whose "motion" is something big moving in front of it)
            return
        h, w = grey.shape
        self.bg = cv2.warpAffine(self.bg, matrix, (w, h), flags=cv2.INTER_LINEAR)
        self.bg_known = cv2.warpAffine(self.bg_known.astype(np.uint8), matrix, (w, h), flags=cv2.INTER_NEAREST, borderValue=0) > 0
        self.bg_known = cv2.erode(self.bg_known.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0

    def _update_background(self, frame: np.ndarray, grey: np.ndarray, fg: np.ndarray) -> None:
        import cv2

        # only pixels well away from the mask are learnt as background: if the mask lags a fast object by a
        # few pixels, the object's own pixels must not become 'background' (the mask could never catch up)
        cfg = self.config
        guard = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * cfg.margin + 1,) * 2)
        outside = ~_dilate(fg, guard)
        if self.lost and self.prev_grey is not None and self.last_seen is not None:
            # with no mask, only still pixels away from where the object was last seen (it may come back,
            # and a background learnt while it is away is the evidence that finds its silhouette)
            outside &= cv2.absdiff(grey, self.prev_grey) < cfg.still
            outside &= ~_dilate(self.last_seen, guard)
        if self.bg is None:
            self.bg = frame.astype(np.float32)
            self.bg_known = outside.copy()
            self.bg_noise = np.zeros(frame.shape[:2], np.float32)
            return
        # how much each known pixel of the scene changes from frame to frame (compression, leaves in the wind),
        # each change clipped so that something passing by does not count as noise for long
        again = outside & self.bg_known
        pixels = frame.astype(np.float32)
        change = np.minimum(_mean_abs_diff(pixels, self.bg), cfg.bg_match)
        # (the same float32 steps as updating only those pixels, computed for all and copied where they apply)
        updated = self.bg_noise + np.float32(cfg.noise_rate) * (change - self.bg_noise)
        self.bg_noise = cv2.copyTo(updated, again.view(np.uint8), self.bg_noise)
        self.bg = cv2.copyTo(pixels, outside.view(np.uint8), self.bg)
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
            self.reference = self.base = float(self.mask.sum())
            self.centre, self.size, self.offset = _extent(self.mask)
            self._learn_colours(frame, self.mask)
            self.appearance.remember(frame, self.mask)
        else:
            self._follow_camera(grey)
            self.mask = self._reacquire(frame, grey) if self.lost else self._track(frame, grey)
        self._update_background(frame, grey, self.mask)
        self.prev_grey, self.prev_frame = grey, frame
        return self.mask.copy()

    def _lose(self) -> np.ndarray:
        """Declare the object lost: an empty mask from now on until the appearance search finds it."""
        self.lost, self.lost_for, self.rejects = True, 0, 0
        self.last_seen = self.mask.copy()
        self.step, self.speed = None, 0.0
        return np.zeros_like(self.mask)

    def _reacquire(self, frame: np.ndarray, grey: np.ndarray) -> np.ndarray:
        """While lost: every few frames, look for the object's appearance; segment a match under the usual guards."""
        cfg = self.config
        self.lost_for += 1
        empty = np.zeros(grey.shape, bool)
        if self.lost_for % cfg.search_every:
            return empty
        match = self.appearance.search(frame)
        if match is None:
            return empty
        pred = match.mask
        r = self._band(pred.sum())
        fg = self._segment_class(frame, pred, r) if self.follower is not None else self._segment_colour(frame, grey, pred, r)
        whole = self.appearance.area * match.scale**2
        expected, area = whole * match.visible, float(fg.sum())
        if not expected / cfg.max_shrink <= area <= cfg.max_growth * expected:
            return empty
        if (fg & pred).sum() < 0.5 * (fg | pred).sum():
            return empty
        self.lost, self.rejects, self.confident = False, 0, 0
        self.reference = self.base = whole
        self.size_evidence = SizeEvidence(self.config.size_evidence, self.config.size_window)
        if match.visible > 0.99:
            self.centre, self.size, self.offset = _extent(fg)
        else:  # coming back in: where the whole of it is, part of it still outside the frame
            self.centre, self.size, self.offset = match.centre, match.size, np.zeros(2)
        self.step, self.speed = None, 0.0
        return fg

    def _band(self, area: float) -> int:
        """Pixels the mask's edge may move past the prediction in one frame."""
        return int(np.clip(round(self.config.band * np.sqrt(max(area, 1.0))), self.config.min_band, self.config.margin))

    def _learn_colours(self, frame: np.ndarray, mask: np.ndarray, rate: float = 1.0) -> None:
        """Object colours from the mask's eroded core, surroundings' from a ring just outside it."""
        import cv2

        box = _bounds(mask)
        if box is None:  # nothing to learn from
            return
        r = self._band(mask.sum())
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        # all of it happens within 4 r of the mask: there, and only there (the same pixels in the same order)
        win = _around(box, 4 * r, mask.shape)
        mask, frame = mask[win], frame[win]
        m = mask.view(np.uint8)
        core = cv2.erode(m, kernel) > 0
        near = cv2.dilate(m, kernel) > 0
        ring = (cv2.dilate(m, kernel, iterations=4) > 0) & ~near
        if core.sum() < 20:
            core = mask
        self.colours.learn(frame, core, ring, rate)
        if core.any() and ring.any():  # how well the colours tell the object from its surroundings
            inside = self.colours.object_probability(frame[core][::4]).mean()
            self.contrast = float(inside - self.colours.object_probability(frame[ring][::4]).mean())

    def _colour_shift(self, frame: np.ndarray, pred: np.ndarray) -> np.ndarray | None:
        """Translation (x, y) that moves the prediction onto the object's colours (mean shift over the pixels more
        the object's colour than the surroundings', within the margin), or None when its colours do not set it apart."""
        import cv2

        cfg = self.config
        if self.contrast < cfg.colour_contrast:
            return None
        h, w = pred.shape
        x0, y0, x1, y1 = _bounds(pred)
        m = cfg.margin + int(round(self.speed))
        wx0, wy0, wx1, wy1 = max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)
        p = self.colours.object_probability(frame[wy0:wy1, wx0:wx1].reshape(-1, 3)).reshape(wy1 - wy0, wx1 - wx0)
        weights = (np.clip(2 * p - 1, 0, 1) * 255).astype(np.uint8)
        window = (int(x0 - wx0), int(y0 - wy0), int(x1 - x0), int(y1 - y0))
        _, (nx, ny, _, _) = cv2.meanShift(weights, window, (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 10, 0.5))
        return np.array([nx - window[0], ny - window[1]], np.float64)

    def _track(self, frame: np.ndarray, grey: np.ndarray) -> np.ndarray:
        import cv2

        cfg = self.config
        h, w = grey.shape
        self.flow_points = 0
        matrix = self._motion(grey)
        if matrix is not None and self.flow_points < cfg.min_flow_points:
            # a few points (a textureless object's edge) say where it went, not how it turned or scaled
            moved = matrix[:, :2] @ self.centre + matrix[:, 2]
            matrix = np.array([[1.0, 0.0, moved[0] - self.centre[0]], [0.0, 1.0, moved[1] - self.centre[1]]])
        prev = self.mask.astype(np.uint8)
        if matrix is None and self.step is not None:  # the flow found nothing: assume the last step repeats
            matrix = np.array([[1.0, 0.0, self.step[0]], [0.0, 1.0, self.step[1]]])
        pred = cv2.warpAffine(prev, matrix, (w, h), flags=cv2.INTER_NEAREST) > 0 if matrix is not None else prev > 0
        if self.flow_points < cfg.min_flow_points and pred.any():
            # little texture to follow: where distinct colours place the object, they correct the prediction
            shift = self._colour_shift(frame, pred)
            if shift is not None and np.abs(shift).max() >= 1:
                matrix = np.eye(2, 3) if matrix is None else matrix.copy()
                matrix[:, 2] += shift
                pred = cv2.warpAffine(prev, matrix, (w, h), flags=cv2.INTER_NEAREST) > 0
        if matrix is not None and self.appearance.known:
            # the object's remembered appearance, searched near where the flow put it, says where it is when it
            # matches clearly better there (the points followed a lookalike passing, or the scene behind)
            moved = matrix[:, :2] @ self.centre + matrix[:, 2]
            found = self.appearance.locate(frame, moved, cfg.margin)
            if found is not None and found[1] < min(cfg.locate_gain * found[2], 2 * cfg.appearance.max_rms):
                matrix = matrix.copy()
                matrix[:, 2] += found[0] - moved
                pred = cv2.warpAffine(prev, matrix, (w, h), flags=cv2.INTER_NEAREST) > 0
        centre = self.centre
        if matrix is not None:  # the reference area follows the object's scale: evidence from motion
            scale = float(np.clip(np.sqrt(abs(np.linalg.det(matrix[:, :2]))), 1 - cfg.max_scale_step, 1 + cfg.max_scale_step))
            if self.flow_share < cfg.scale_agreement:
                scale = 1.0  # points moving several ways (a walking body, a lookalike passing): no evidence of size
            self.reference *= scale**2
            factor = self.size_evidence.update(scale**2)
            if factor != 1.0:  # the motion says the size changed: as far as the mask's own area agrees
                seen = self.base * visible_share(self.centre + self.offset, self.size, w, h)
                factor = float(np.clip(prev.sum() / max(1.0, seen), min(factor, 1.0), max(factor, 1.0)))
            self.base *= factor
            self.size = self.size * scale
            centre = matrix[:, :2] @ self.centre + matrix[:, 2]
        # the object's box, moved with it: mostly outside the frame means it left
        share = visible_share(centre + self.offset, self.size, w, h)
        if share < cfg.lost_share or not pred.any():
            return self._lose()
        r = self._band(pred.sum())
        # an object moving faster than the flow followed (textureless, or frames dropped by a busy live server)
        # gets a band as wide as its last step, up to the margin
        r = int(min(cfg.margin, max(r, round(1.5 * self.speed) + 2)))
        if self.follower is not None:
            fg = self._segment_class(frame, pred, r)
        else:
            fg = self._drop_left_behind(grey, self._segment_colour(frame, grey, pred, r))
        area, expected = float(fg.sum()), max(1.0, self.reference * share)  # part of it may be outside
        # when too little of it is found several frames in a row (it vanished, or the evidence collapsed), it is lost
        self.rejects = self.rejects + 1 if area < cfg.collapse * expected else 0
        if self.rejects >= cfg.lost_after:
            return self._lose()
        if area == 0 or area > cfg.max_growth * expected or area < expected / cfg.max_shrink:
            # unsure: keep the last good mask, moved with the object
            self._moved(centre)
            self._unsure()
            return pred
        self._learn_colours(frame, fg, cfg.colour_rate)
        if share < 0.99:  # partly outside: the mask shows only part of it, the motion says where it is
            self._moved(centre)
            self._unsure()
            return fg
        self.reference = (1 - cfg.drift) * self.reference + cfg.drift * area
        self.reference = min(self.reference, cfg.reference_cap * self.base)
        found, self.size, self.offset = _extent(fg)
        self._moved(found)
        if abs(np.log(area / max(1.0, self.reference))) < np.log(1.25):
            # a template is proposed every `remember_every` confident frames in a row, and used only when
            # as many more confident frames have followed it
            self.confident += 1
            if self.confident % cfg.remember_every == 0:
                self.appearance.confirm()
                self.appearance.propose(frame, fg)
        else:
            self._unsure()
        return fg

    def _drop_left_behind(self, grey: np.ndarray, fg: np.ndarray) -> np.ndarray:
        """Still camera: the pieces of the mask apart from its largest one that did not change since the last frame
        (mean grey change under `left_behind`) while the largest one did are the scene the object left behind (a
        part of the background it uncovered, where the prediction stood): without evidence from motion they leave."""
        import cv2

        limit = self.config.left_behind
        if not self.camera_still or limit <= 0 or self.prev_grey is None or not fg.any():
            return fg
        box = _bounds(fg)
        x0, y0, x1, y1 = box
        count, labels = cv2.connectedComponents(fg[y0:y1, x0:x1].view(np.uint8))
        if count <= 2:
            return fg
        change = cv2.absdiff(grey[y0:y1, x0:x1], self.prev_grey[y0:y1, x0:x1]).astype(np.float64)
        flat = labels.ravel()
        area = np.bincount(flat, minlength=count).astype(np.float64)
        mean = np.bincount(flat, weights=change.ravel(), minlength=count) / np.maximum(area, 1)
        area[0] = 0
        largest = int(np.argmax(area))
        if mean[largest] <= limit:
            return fg  # the object itself is still: nothing tells its pieces from the scene
        left = mean < limit
        left[0] = left[largest] = False
        if not left.any():
            return fg
        out = fg.copy()
        out[y0:y1, x0:x1] &= ~left[labels]
        return out

    def _unsure(self) -> None:
        """A frame that was not confident: the streak of confident frames starts over, the candidate template goes."""
        self.confident = 0
        self.appearance.drop()

    def _moved(self, centre: np.ndarray) -> None:
        """The object's centre on this frame: its last step and speed follow."""
        self.step = centre - self.centre
        self.speed = float(np.linalg.norm(self.step))
        self.centre = centre

    def _segment_class(self, frame: np.ndarray, pred: np.ndarray, r: int) -> np.ndarray:
        """The person's or hand's silhouettes that overlap the prediction, within reach of it."""
        import cv2

        reach = _dilate(pred, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (6 * r + 1, 6 * r + 1)))
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
        out = np.zeros(grey.shape, bool)
        box = _bounds(pred)
        if box is None:
            return out
        # nothing reaches further than the margin from the prediction (the band is at most the margin), and the
        # clean-up's closing 4 px more: all of it is worked out in that window, to the same pixels
        win = _around(box, max(r, cfg.margin) + 4, pred.shape)
        pred, frame = pred[win], frame[win]
        oy, ox = win[0].start, win[1].start
        p8 = pred.view(np.uint8)
        core = cv2.erode(p8, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0
        known = None if self.bg is None else self.bg_known[win]
        if known is not None and self.flow_points < cfg.min_flow_points:
            # a remembered background is evidence of its own: where it is known around the object, the mask may
            # move by the full margin when the flow could not place it (a fast or textureless object the flow
            # missed, frames dropped by a busy live server); the colour veto and the area guard still apply.
            # When the flow placed it, the band stays narrow: a lookalike walking past differs from the
            # background too, and would be taken in
            wide = cv2.dilate(p8, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * cfg.margin + 1,) * 2)) > 0
            if known[wide].mean() > cfg.subtract_coverage:
                r = cfg.margin
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        ring = cv2.dilate(p8, kernel) > 0
        labels = np.full(pred.shape, cv2.GC_BGD, np.uint8)
        labels[ring] = cv2.GC_PR_BGD
        labels[pred] = cv2.GC_PR_FGD
        x0, y0, x1, y1 = _bounds(ring)
        if known is not None:
            # the difference to the remembered background, only where it is used (inside the ring's box)
            diff = np.full(pred.shape, 255.0, np.float32)
            diff[y0:y1, x0:x1] = _mean_abs_diff(frame[y0:y1, x0:x1], self.bg[oy + y0 : oy + y1, ox + x0 : ox + x1])
            labels[ring & known & (diff < cfg.bg_match)] = cv2.GC_BGD
            labels[ring & known & (diff > cfg.fg_differ)] = cv2.GC_FGD
        labels[core & (labels != cv2.GC_BGD)] = cv2.GC_FGD
        fg = np.zeros(pred.shape, bool)
        if known is not None and known[ring].mean() > cfg.subtract_coverage:
            # a still camera has shown the background around the object: the difference is the object
            # inside the flow's prediction a pixel is background only if it matches the remembered one closely;
            # where the background was never seen, the prediction stands
            exact = np.clip(cfg.noise_factor * self.bg_noise[win], cfg.bg_exact, cfg.bg_match)  # above the scene's own noise
            differs = (diff > cfg.bg_match) | (pred & (diff > exact))
            fg[ring] = np.where(known[ring], differs[ring], pred[ring])
            fg[core] = True
            fg = cv2.morphologyEx(fg.view(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
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
        out[win] = _clean(fg, pred, cfg.min_piece)
        return out
