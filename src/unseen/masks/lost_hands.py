"""Hands the landmark model loses while they move fast (motion blur), found again by motion and colour.

A fast hand smears into a blur that the palm detector does not recognise, often for 3-5 frames (a signer
dropping both hands), and the hand stays in the output. While the detector sees a hand, a colour model of it
(a 2-D histogram on the chroma channels Cr, Cb, against the pixels around it) is learnt. When a hand it was
following is missing, each following frame is searched near where the hand was heading (a window that grows
with its last speed and the frames missed) for pixels that both changed since the last frame and have the
hand's colour; the largest such blob of a plausible size becomes that hand's mask. The search lasts a few
frames only: it bridges the blur until the detector finds the hand again, and never starts a hand by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CHROMA = [1, 2]  # the Cr and Cb channels of a YCrCb image


@dataclass
class LostHandConfig:
    """Search for hands the detector lost (pixel figures at the frame's resolution)."""

    search: bool = True  # False: only hold the last mask for `hold` frames
    frames: int = 6  # frames a lost hand is searched for before it is dropped
    hold: int = 2  # frames its last mask (detected or found) is kept when the search finds nothing
    motion: float = 12.0  # grey-level change between consecutive frames that counts as motion
    colour: float = 0.6  # p(hand | colour) a searched pixel needs
    bins: int = 32  # histogram bins per chroma channel
    learn: float = 0.3  # weight of each new frame in the colour model
    min_share: float = 0.15  # a blob smaller than this share of the hand's last area is not the hand
    max_share: float = 3.0  # ... nor one larger than this multiple (a blurred hand is larger, not 5x)
    min_changed: float = 0.5  # share of a blob's pixels that must have changed (a blur moves all over)
    grow: int = 6  # px added around a found blob (the blur's faint edge)


@dataclass(eq=False)
class _Track:
    """A hand being followed: its last mask, where it was and how fast it moved."""

    mask: np.ndarray
    side: str
    area: float
    centre: np.ndarray
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))
    missing: int = 0  # frames since the detector last saw it
    unseen: int = 0  # frames since the detector or the search last found it


def _ycrcb(rgb: np.ndarray) -> np.ndarray:
    """uint8 (h, w, 3): an RGB image (or a window of one) in Y, Cr, Cb; the colour model reads channels 1 and 2."""
    import cv2

    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)


def _centre(mask: np.ndarray) -> np.ndarray:
    """(x, y) mean of a non-empty bool (H, W) mask: exact integer sums of its rows and columns inside its bounding
    box (15x faster than np.nonzero over a full frame, same value)."""
    import cv2

    x, y, w, h = cv2.boundingRect(mask.view(np.uint8))
    sub = mask[y : y + h, x : x + w]
    n = int(np.count_nonzero(sub))
    sx = int(sub.sum(axis=0) @ np.arange(x, x + w))
    sy = int(sub.sum(axis=1) @ np.arange(y, y + h))
    return np.array([sx / n, sy / n], np.float32)


class HandColour:
    """Colour model of the hands against their surroundings on the (Cr, Cb) plane."""

    def __init__(self, bins: int = 32, learn: float = 0.3) -> None:
        self.bins, self.learn = bins, learn
        self.hand: np.ndarray | None = None  # float32 (bins, bins) normalised histograms
        self.around: np.ndarray | None = None

    def _hist(self, ycrcb: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import cv2

        hist = cv2.calcHist([ycrcb], CHROMA, mask.view(np.uint8), [self.bins, self.bins], [0, 256, 0, 256])
        return (hist / max(1.0, float(hist.sum()))).astype(np.float32)

    def update(self, ycrcb: np.ndarray, hands: np.ndarray, around: np.ndarray) -> None:
        """Learn from a uint8 (H, W, 3) YCrCb image, the hands' pixels and the pixels around them (bool (H, W))."""
        if hands.sum() < 20 or around.sum() < 20:
            return
        h, a = self._hist(ycrcb, hands), self._hist(ycrcb, around)
        if self.hand is None or self.around is None:
            self.hand, self.around = h, a
        else:
            self.hand = (1 - self.learn) * self.hand + self.learn * h
            self.around = (1 - self.learn) * self.around + self.learn * a

    @property
    def ready(self) -> bool:
        return self.hand is not None

    def probability(self, ycrcb: np.ndarray) -> np.ndarray:
        """float32 (H, W): p(hand | colour), equal priors."""
        import cv2

        assert self.hand is not None and self.around is not None
        ratio = self.hand / (self.hand + self.around + 1e-6)
        return cv2.calcBackProject([ycrcb], CHROMA, ratio, [0, 256, 0, 256], 1)


class LostHands:
    """Follows the hands a detector reports and bridges the frames where it loses them (motion blur).

    `update(frame, masks, sides)` takes this frame's detected hand masks and returns the masks to use: the
    detected ones plus, for each hand followed until recently and now missing, its motion-and-colour blob
    (or its last mask for a couple of frames), with their sides.
    """

    def __init__(self, config: LostHandConfig | None = None) -> None:
        self.config = config or LostHandConfig()
        self.colour = HandColour(self.config.bins, self.config.learn)
        self.tracks: list[_Track] = []
        self._grey: np.ndarray | None = None

    def reset(self) -> None:
        """Forget every hand (a new video)."""
        self.colour = HandColour(self.config.bins, self.config.learn)
        self.tracks, self._grey = [], None

    def update(self, frame: np.ndarray, masks: list[np.ndarray], sides: list[str]) -> tuple[list[np.ndarray], list[str]]:
        """uint8 RGB (H, W, 3) + detected bool (H, W) masks and their sides -> masks and sides to use."""
        import cv2

        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if self._grey is not None and self._grey.shape != grey.shape:
            self.reset()
        masks = [m for m in masks if m.any()]
        if masks:  # learn the hands' colour against a band around them (on their bounding box only)
            union = np.logical_or.reduce(masks)
            size = int(np.sqrt(cv2.countNonZero(union.view(np.uint8)) / len(masks)))
            bx, by, bw, bh = cv2.boundingRect(union.view(np.uint8))
            h, w = union.shape
            x0, y0 = max(0, bx - size - 1), max(0, by - size - 1)
            x1, y1 = min(w, bx + bw - 1 + size + 2), min(h, by + bh - 1 + size + 2)
            inside = union[y0:y1, x0:x1].astype(np.uint8)
            near = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 3) <= size  # within a hand's size of them
            core = cv2.erode(inside, np.ones((5, 5), np.uint8)) > 0
            self.colour.update(_ycrcb(frame[y0:y1, x0:x1]), core, near & ~inside.astype(bool))
        matched = self._match(masks, sides)
        out_masks, out_sides = list(masks), list(sides[: len(masks)])
        prev_grey, self._grey = self._grey, grey
        kept: list[_Track] = []
        for track in self.tracks:
            if id(track) in matched:
                kept.append(track)
                continue
            track.missing += 1
            if track.missing > self.config.frames:
                continue
            searching = self.config.search and prev_grey is not None
            blob = self._search(track, grey, prev_grey, frame, out_masks) if searching else None
            if blob is not None:
                track.unseen = 0
                centre = _centre(blob)
                track.velocity = centre - track.centre
                track.centre, track.mask = centre, blob
            else:
                track.unseen += 1
                if track.unseen > self.config.hold:
                    continue
            kept.append(track)
            out_masks.append(track.mask)
            out_sides.append(track.side)
        self.tracks = kept
        return out_masks, out_sides

    def _match(self, masks: list[np.ndarray], sides: list[str]) -> set[int]:
        """Pair detected masks with tracks (nearest centre within two hand sizes); unpaired masks start tracks."""
        import cv2

        matched: list[_Track] = []
        free = list(self.tracks)
        for mask, side in zip(masks, sides, strict=False):
            centre, area = _centre(mask), float(cv2.countNonZero(mask.view(np.uint8)))
            best, best_d = None, 2.0 * np.sqrt(area)
            for track in free:
                d = float(np.linalg.norm(track.centre - centre))
                if d < best_d:
                    best, best_d = track, d
            if best is None:
                best = _Track(mask, side, area, centre)
                self.tracks.append(best)
            else:
                free.remove(best)
                best.velocity = centre - best.centre
                best.mask, best.side, best.area, best.centre = mask, side, area, centre
                best.missing = best.unseen = 0
            matched.append(best)
        return {id(t) for t in matched}

    def _search(
        self, track: _Track, grey: np.ndarray, prev_grey: np.ndarray, frame: np.ndarray, taken: list[np.ndarray]
    ) -> np.ndarray | None:
        """The hand's blob near where it was heading: moving pixels of its colour, of a plausible size."""
        import cv2

        c = self.config
        if not self.colour.ready:
            return None
        h, w = grey.shape
        size = float(np.sqrt(track.area))
        speed = float(np.linalg.norm(track.velocity))
        reach = size * (0.5 + 0.5 * track.missing) + 1.5 * speed * track.missing
        predicted = track.centre + track.velocity * track.missing
        ys, xs = np.nonzero(track.mask)
        x0 = int(max(0, min(xs.min(), predicted[0] - size) - reach))
        x1 = int(min(w, max(xs.max(), predicted[0] + size) + reach + 1))
        y0 = int(max(0, min(ys.min(), predicted[1] - size) - reach))
        y1 = int(min(h, max(ys.max(), predicted[1] + size) + reach + 1))
        if x1 - x0 < 4 or y1 - y0 < 4:
            return None
        changed = cv2.absdiff(grey[y0:y1, x0:x1], prev_grey[y0:y1, x0:x1]) > c.motion
        moving = cv2.dilate(changed.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        skin = self.colour.probability(_ycrcb(frame[y0:y1, x0:x1])) > c.colour
        candidate = moving & skin
        for other in taken:
            candidate &= ~other[y0:y1, x0:x1]
        candidate = cv2.morphologyEx(candidate.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8))
        n, labels, stats, centroids = cv2.connectedComponentsWithStats(candidate, connectivity=8)
        if n <= 1:
            return None
        # a blurred hand: a blob of plausible size, most of it changing (a face or an arm that only shifts a
        # little changes at its edges), within reach of where the hand was heading; the nearest one
        target = predicted - np.array([x0, y0], np.float32)
        ref_area = max([track.area, *(t.area for t in self.tracks)])  # a partly seen hand: its pair's size
        best, best_d = None, reach + size
        for i in range(1, n):
            area = stats[i, cv2.CC_STAT_AREA]
            if not c.min_share * track.area <= area <= c.max_share * ref_area:
                continue
            inside = labels == i
            if changed[inside].mean() < c.min_changed:
                continue
            d = float(np.linalg.norm(centroids[i] - target))
            if d < best_d:
                best, best_d = i, d
        if best is None:
            return None
        blob = np.zeros((h, w), np.uint8)
        blob[y0:y1, x0:x1] = labels == best
        if c.grow > 0:
            blob = cv2.dilate(blob, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * c.grow + 1,) * 2))
        return blob > 0
