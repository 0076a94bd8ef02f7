"""Finding a lost object again by its appearance.

`Appearance` keeps a picture of the object from a confident frame: its colours inside its silhouette (a
template). `Appearance.search` looks for that template over the whole frame at a few scales, on a copy of the
frame shrunk so that the template holds a few hundred pixels (a few ms per search), and accepts only a close
and unambiguous match: the colours under the silhouette must match (masked RMS difference), and no other place
of the frame may match nearly as well (with a lookalike in view the match is ambiguous, and the object stays
lost rather than jumping to the lookalike).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class AppearanceConfig:
    """Tuning of the appearance search."""

    template_pixels: int = 400  # the search runs at a scale where the template's silhouette holds about this many pixels
    scales: tuple[float, ...] = (0.85, 1.0, 1.18)  # object sizes tried, relative to the remembered one
    max_rms: float = 28.0  # largest RMS colour difference (0-255 per channel) under the silhouette of an accepted match
    distinct: float = 1.3  # the best match elsewhere in the frame must differ at least this many times more
    min_visible: float = 0.5  # an object coming back in is matched once this share of it is inside the frame


@dataclass
class Match:
    """Where the remembered object was found: its silhouette placed there (bool (H, W), clipped to the frame), its
    scale and RMS colour difference, the whole silhouette's centroid (x, y) and box size (w, h) in frame pixels (they
    may reach past the frame's edge) and the share of it inside the frame."""

    mask: np.ndarray
    scale: float
    rms: float
    centre: np.ndarray
    size: np.ndarray
    visible: float


class Appearance:
    """The object's template (colours and silhouette) from a confident frame, and the search for it."""

    def __init__(self, config: AppearanceConfig | None = None) -> None:
        self.config = config or AppearanceConfig()
        self.patch: np.ndarray | None = None  # float32 RGB (h, w, 3): the frame inside the object's bounding box
        self.silhouette: np.ndarray | None = None  # bool (h, w): the object inside that box
        self.pending: tuple[np.ndarray, np.ndarray] | None = None  # (frame, mask) of a candidate template
        # what the searches derive from the template alone, kept until the template changes: the silhouette's
        # centroid (x, y) and, per template size (w, h), the template, its (eroded) silhouette and that as weights
        self._centroid: tuple[float, float] | None = None
        self._sized: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @property
    def known(self) -> bool:
        """True once a template has been remembered."""
        return self.patch is not None

    @property
    def area(self) -> float:
        """Pixels of the remembered silhouette (0 before one is remembered)."""
        return 0.0 if self.silhouette is None else float(self.silhouette.sum())

    def remember(self, frame: np.ndarray, mask: np.ndarray) -> None:
        """Keep the object under bool mask (H, W) of uint8 RGB frame (H, W, 3) as the template."""
        ys, xs = np.nonzero(mask)
        if len(ys) < 16:
            return
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        self.patch = frame[y0:y1, x0:x1].astype(np.float32)
        self.silhouette = mask[y0:y1, x0:x1].copy()
        self._centroid, self._sized = None, {}

    def _template(self, tw: int, th: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The template resized to tw x th: float32 RGB, its silhouette (uint8, eroded by a pixel unless tiny: its
        edge holds background) and that silhouette as float32 weights for the three channels."""
        import cv2

        key = (tw, th)
        if key not in self._sized:
            template = cv2.resize(self.patch, (tw, th), interpolation=cv2.INTER_AREA)
            sil = cv2.resize(self.silhouette.astype(np.uint8), (tw, th), interpolation=cv2.INTER_NEAREST)
            if min(tw, th) >= 8:
                sil = cv2.erode(sil, np.ones((3, 3), np.uint8))
            self._sized[key] = (template, sil, np.repeat(sil[..., None], 3, axis=2).astype(np.float32))
        return self._sized[key]

    def _silhouette_centroid(self) -> tuple[float, float]:
        """Mean x and mean y of the remembered silhouette's pixels (in its box)."""
        if self._centroid is None:
            sy, sx = np.nonzero(self.silhouette)
            self._centroid = (sx.mean(), sy.mean())
        return self._centroid

    def propose(self, frame: np.ndarray, mask: np.ndarray) -> None:
        """Keep the object under `mask` as a candidate template, used once `confirm` is called (after more
        confident frames: a frame where the object just vanished can look confident, and its template would
        be the background)."""
        self.pending = (frame, mask)

    def confirm(self) -> None:
        """The candidate template (if any) becomes the template."""
        if self.pending is not None:
            self.remember(*self.pending)
        self.pending = None

    def drop(self) -> None:
        """Forget the candidate template."""
        self.pending = None

    def locate(self, frame: np.ndarray, centre: np.ndarray, radius: int) -> tuple[np.ndarray, float, float] | None:
        """Where the object's centroid (x, y) is in uint8 RGB frame (H, W, 3), searching `radius` px around
        `centre` at the remembered size, with the masked RMS colour difference there and at `centre` itself;
        None if out of reach."""
        import cv2

        if self.patch is None or self.silhouette is None:
            return None
        h, w = frame.shape[:2]
        shrink = float(min(1.0, np.sqrt(self.config.template_pixels / max(1.0, self.area))))
        mx, my = self._silhouette_centroid()
        ph, pw = self.silhouette.shape
        x0, y0 = round(centre[0] - mx) - radius, round(centre[1] - my) - radius
        x1, y1 = x0 + pw + 2 * radius, y0 + ph + 2 * radius
        if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
            return None
        window = cv2.resize(frame[y0:y1, x0:x1], None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA).astype(np.float32)
        tw, th = max(3, round(pw * shrink)), max(3, round(ph * shrink))
        if tw >= window.shape[1] or th >= window.shape[0]:
            return None
        template, sil, weights = self._template(tw, th)
        if sil.sum() < 6:
            return None
        sq = cv2.matchTemplate(window, template, cv2.TM_SQDIFF, mask=weights)
        by, bx = np.unravel_index(int(np.argmin(sq)), sq.shape)
        rms = np.sqrt(np.maximum(sq, 0) / (3 * sil.sum()))
        at = min(rms.shape[0] - 1, round(radius * shrink)), min(rms.shape[1] - 1, round(radius * shrink))
        found = np.array([x0 + bx / shrink + mx, y0 + by / shrink + my])
        return found, float(rms[by, bx]), float(rms[at])

    def search(self, frame: np.ndarray) -> Match | None:
        """The remembered object in uint8 RGB frame (H, W, 3), or None without a confident, unambiguous match.

        An object half out of the frame is found too (coming back in): the frame is padded and only the
        silhouette's pixels inside the frame count, if they are at least `min_visible` of it.
        """
        import cv2

        if self.patch is None or self.silhouette is None:
            return None
        cfg = self.config
        h, w = frame.shape[:2]
        shrink = float(min(1.0, np.sqrt(cfg.template_pixels / max(1.0, self.area))))
        small = cv2.resize(frame, (max(1, round(w * shrink)), max(1, round(h * shrink))), interpolation=cv2.INTER_AREA)
        ph, pw = self.silhouette.shape
        px, py = round(pw * shrink * max(cfg.scales) / 2), round(ph * shrink * max(cfg.scales) / 2)
        padded = cv2.copyMakeBorder(small.astype(np.float32), py, py, px, px, cv2.BORDER_CONSTANT, value=0)
        inside = cv2.copyMakeBorder(np.ones(small.shape[:2], np.float32), py, py, px, px, cv2.BORDER_CONSTANT, value=0)
        outside3 = np.repeat((1 - inside)[..., None], 3, axis=2)
        maps = []  # (scale, template size (w, h), RMS map, visible share map)
        for scale in cfg.scales:
            k = shrink * scale
            tw, th = max(3, round(pw * k)), max(3, round(ph * k))
            if tw >= padded.shape[1] or th >= padded.shape[0]:
                continue
            template, sil, weights = self._template(tw, th)  # the silhouette's edge (background) left out
            count = float(sil.sum())
            if count < 6:
                continue
            # squared differences over the silhouette's pixels inside the frame: all of them, minus those
            # that fall on the padding (where the frame is 0 they add the template's own square)
            sq = cv2.matchTemplate(padded, template, cv2.TM_SQDIFF, mask=weights)
            sq -= cv2.matchTemplate(outside3, template * template * weights, cv2.TM_CCORR)
            seen = cv2.matchTemplate(inside, sil.astype(np.float32), cv2.TM_CCORR)
            rms = np.sqrt(np.maximum(sq, 0) / (3 * np.maximum(seen, 1)))
            visible = seen / count
            rms[visible < cfg.min_visible] = np.inf
            maps.append((scale, (tw, th), rms, visible))
        if not maps:
            return None
        scale, (tw, th), rms, visible = min(maps, key=lambda m: float(m[2].min()))
        best = float(rms.min())
        if not np.isfinite(best):
            return None
        by, bx = np.unravel_index(int(np.argmin(rms)), rms.shape)
        cx, cy = bx + tw / 2, by + th / 2  # the match's centre, in the padded shrunk frame
        runner_up = np.inf
        for _, (mw, mh), other, _ in maps:  # the best match whose centre lies half an object or more away
            yy, xx = np.mgrid[: other.shape[0], : other.shape[1]]
            far = (np.abs(xx + mw / 2 - cx) > 0.5 * tw) | (np.abs(yy + mh / 2 - cy) > 0.5 * th)
            if far.any():
                runner_up = min(runner_up, float(other[far].min()))
        if best > cfg.max_rms or runner_up < cfg.distinct * best:
            return None
        # the silhouette at full resolution, placed at the match (clipped to the frame)
        fw, fh = max(1, round(pw * scale)), max(1, round(ph * scale))
        sil = cv2.resize(self.silhouette.astype(np.uint8), (fw, fh), interpolation=cv2.INTER_NEAREST) > 0
        x0, y0 = round((bx - px) / shrink), round((by - py) / shrink)
        mask = np.zeros((h, w), bool)
        ys, xs = slice(max(0, y0), min(h, y0 + fh)), slice(max(0, x0), min(w, x0 + fw))
        if ys.start >= ys.stop or xs.start >= xs.stop:
            return None
        mask[ys, xs] = sil[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]
        sy, sx = np.nonzero(sil)
        centre = np.array([x0 + sx.mean(), y0 + sy.mean()])
        return Match(mask, scale, best, centre, np.array([fw, fh], np.float64), float(visible[by, bx]))
