"""The classical guide, online: a still camera's exact memory, a moving camera's flow-guided propagation.

`GuideBuilder` sees frames and hole masks one at a time (only frames <= t) and returns the classical fill
of each frame (the guide the network refines) and a per-pixel confidence in it:

- **Still camera** (decided from background motion only, with hysteresis): every pixel keeps its last
  trustworthy unmasked value. Nothing is ever shifted, resampled or cleared while the camera is still.
- **Moving camera**: dense optical flow (OpenCV DIS) from frame t back to t-1 around the holes; inside the
  holes grown by `grow` px the flow is unknown (and polluted near them), so it is replaced by a homography:
  the one fitted to the flow in a ring around, or the whole background's (tracked corner points), whichever
  better carries the last frame onto the seen pixels next to the holes (the ring may lie on a nearer object);
  last frame's filled result is warped along it, and its confidence decays per warp. Background the camera saw
  earlier lands in the hole with the parallax of its surroundings. Only background is carried: a seen pixel
  near the holes whose colour the background flow does not explain (a person moving on their own) enters the
  carried frame with no confidence.
- Where confidence is too low: Telea.

Trust (no ghosts from imperfect masks): an unmasked pixel enters the memory when it agrees with what the
memory holds there, or when it is stable in time (same value as in the last frame) and away from the hole's
rim, where masks miss the object; a stable new value replaces a contradicted one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unseen.engine.telea import rim_telea_fill, telea_fill


@dataclass
class GuideConfig:
    """Tuning of the classical guide (pixel distances in full-resolution pixels, colours in 0..255)."""

    still_tolerance: float = 0.6  # background points moving less than this (px) since the anchor count as still
    leave_still: float = 0.05  # still -> moving when fewer of the image's cells than this are still
    enter_still: float = 0.5  # moving -> still when at least this fraction is still ...
    enter_frames: int = 2  # ... on this many consecutive frames
    leave_frames: int = 2  # still -> moving only after this many consecutive frames below `leave_still`
    track_margin: int = 12  # background points this close to a hole are left out (the tracker's window sees it)
    motion_width: int = 640  # camera-motion estimate on frames downscaled to at most this width
    cut_threshold: float = 25.0  # mean abs grey change (0..255) of a 16-px-wide thumbnail, holes left out, that counts
    # as a scene cut: camera motion and people moving barely change it (val clips at most 20, a car-mounted camera),
    # a cut between shots 31-90, a looped clip jumping back 28
    colour_tolerance: float = 16.0  # mean abs RGB difference under which two observations agree
    rim: int = 6  # unmasked pixels closer than this to the hole are where masks miss the object (a rim, a limb):
    # there, a value that travels with the hole and contradicts the memory is not trusted ...
    settle_frames: int = 10  # ... unless it stays unchanged this many frames (the scene did change)
    doubt: float = 0.6  # confidence of such a value where the memory knew nothing
    settle_changes: int = 0  # still camera, masks that lag or miss the object (trackers, segmenters, the live
    # page): a pixel that changed and contradicts the memory waits this many unchanged frames before it replaces
    # the memory (3 there; 0: off, for exact masks, where such a change is the scene's own)
    flow_width: int = 480  # optical flow on the region around the holes, on frames downscaled to at most this width ...
    flow_scale: float = 1.0  # ... and then by this factor
    flow_preset: str = "medium"  # DIS preset: ultrafast, fast, medium
    grow: int = 25  # the flow inside the holes grown by this is replaced by a homography (the ring's or the camera's)
    ring: int = 30  # width of the ring the homography is fitted to
    camera_model: bool = True  # also try the whole background's homography (tracked points) to complete the flow;
    # per frame, the model that better reproduces the seen pixels around the holes wins
    camera_threshold: float = 1.0  # RANSAC reprojection threshold (px) of that homography
    camera_band: int = 10  # the seen pixels this close to the holes judge the models (5-15 measured alike)
    min_flow: float = 0.25  # around the holes, flow under this (px) everywhere is no motion: nothing is warped
    interpolation: str = "linear"  # resampling of the warped fill: linear, cubic, lanczos (cubic measured worse)
    decay: float = 0.98  # confidence kept per warp
    movers: bool = True  # only background is carried into the holes: a seen pixel near them (in the grown region)
    # that does not move with the background enters with no confidence, so it is not stamped into the hole later.
    # Moving with the background: its colour is the one the completed (background) flow carried there ...
    mover_colour: float = 32.0  # ... within this mean abs RGB difference (twice the agreement tolerance: texture
    # and sub-pixel misalignment of the background stay under it; a limb or a head does not), judged where the
    # flow carried a pixel seen in the last frame
    min_agreement: float = 0.85  # fraction of the pixels around the holes the warp must reproduce
    min_confidence: float = 0.5  # hole pixels with less confidence than this get Telea
    telea_radius: int = 3
    rim_fill: int = 0  # never-seen pixels deeper than this (px) inside the hole: Telea at half resolution, the rim at
    # full (`telea.rim_telea_fill`: +0.1 to +0.4 dB for this guide on val; `guide_config` and the `memory` method use
    # 16); 0: Telea at full resolution everywhere, the guide the v1 weights were trained on


def guide_config(masks_lag: bool = False, rim_fill: int = 16) -> GuideConfig:
    """The guide's settings for exact masks (files, the evaluation) or for masks that may lag or miss the
    object's edge (trackers, segmenters, the live page): then a changed rim pixel waits 3 frames to settle.
    `rim_fill`: see GuideConfig (a network gets the guide its weights were trained on: `ModelConfig.guide_rim`)."""
    return GuideConfig(settle_changes=3 if masks_lag else 0, rim_fill=rim_fill)


def _disk(radius: int) -> np.ndarray:
    import cv2

    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """bool (H, W): pixels within `radius` px (Euclidean) of `mask`."""
    import cv2

    if radius <= 0 or not mask.any():
        return mask.copy()
    if radius <= 4:
        return cv2.dilate(mask.astype(np.uint8), _disk(radius)) > 0
    return _distance(mask) <= radius


def _distance(mask: np.ndarray) -> np.ndarray:
    """float32 (H, W): distance in px to the nearest pixel of `mask` (0 inside)."""
    import cv2

    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 3)


_MEAN = np.full((1, 3), 1 / 3, np.float32)


def _colour_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean absolute RGB difference per pixel, float32 (H, W)."""
    import cv2

    return cv2.transform(cv2.absdiff(a, b), _MEAN)


def _bbox(mask: np.ndarray, margin: int) -> tuple[int, int, int, int] | None:
    ys = np.flatnonzero(mask.any(axis=1))
    if ys.size == 0:
        return None
    xs = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return max(0, xs[0] - margin), max(0, ys[0] - margin), min(w, xs[-1] + 1 + margin), min(h, ys[-1] + 1 + margin)


class GuideBuilder:
    """Online classical guide: `step(frame, hole)` -> (guide uint8 RGB (H, W, 3), confidence float32 (H, W)).

    The guide is the frame outside the hole and the classical fill inside; the confidence is in [0, 1] inside
    the hole (1: the background seen there with a still camera; < 1: carried by flow, decaying per warp;
    0: Telea) and 0 outside it, the layout of the network's "seen" guide channel. Any frame size; a new size
    or a scene cut starts over. Reads only the frames given so far.
    """

    def __init__(self, config: GuideConfig | None = None) -> None:
        self.config = config or GuideConfig()
        self._dis = None
        self.reset()

    def reset(self) -> None:
        """Forget everything (a new video)."""
        self.value: np.ndarray | None = None  # uint8 (H, W, 3): memory (still) / last filled frame (moving)
        self.conf: np.ndarray | None = None  # float32 (H, W): confidence in `value`
        self.still = True  # camera state (hysteresis)
        self.still_frames = 0  # consecutive frames decided still
        self.cut = False  # the last step saw a scene cut
        self._prev: np.ndarray | None = None  # last frame, uint8 RGB
        self._prev_hole: np.ndarray | None = None
        self._prev_grey: np.ndarray | None = None  # last frame, grey at motion scale
        self._prev_thumb: tuple[np.ndarray, np.ndarray] | None = None  # last frame's thumbnail (see _thumbnail)
        self._prev_small_hole: np.ndarray | None = None  # last hole at motion scale
        self._stable: np.ndarray | None = None  # uint8 (H, W): consecutive frames unmasked and unchanged
        self._rejected: np.ndarray | None = None  # bool (H, W): unmasked values the memory did not take last frame
        self._changed: np.ndarray | None = None  # ... of those, the ones held back only because they changed at the rim
        self._anchor: tuple[np.ndarray, np.ndarray] | None = None  # (grey, feature points) when stillness began
        self._enter = 0
        self._leave = 0
        self._camera: np.ndarray | None = None  # 3x3: this frame -> the last one, the background's homography (px)
        self._judged: np.ndarray | None = None  # bool (H, W): pixels near the holes the completed flow carried from a
        # pixel seen in the last frame (the movers rule compares them with what it carried)
        self.carried = False  # moving camera: the last step's completed flow carried the last frame faithfully onto
        # this one around the holes (or nothing moved there)

    # -- camera state ------------------------------------------------------------------------------
    def _motion_grey(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        import cv2

        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        w = frame.shape[1]
        if w <= self.config.motion_width:
            return grey, 1.0
        s = self.config.motion_width / w
        return cv2.resize(grey, (self.config.motion_width, max(8, round(frame.shape[0] * s))), interpolation=cv2.INTER_AREA), s

    def _decide_still(self, grey: np.ndarray, scale: float, exclude: np.ndarray) -> None:
        """Update `still` from the background's motion against the anchor (still) or the last frame (moving)."""
        from unseen.vision.motion import background_points, camera_homography, still_fraction, track_points

        c = self.config
        from_prev = not (self.still and self._anchor is not None)
        ref, pts = (self._prev_grey, background_points(self._prev_grey, exclude)) if from_prev else self._anchor
        tracks = track_points(ref, grey, pts, exclude)
        fraction = still_fraction(tracks, grey.shape, c.still_tolerance * scale)
        self._camera = None
        if from_prev and c.camera_model:  # the background's own motion, a candidate for completing the holes' flow
            matrix = camera_homography(tracks, c.camera_threshold * scale)
            if matrix is not None:
                to_full = np.diag([scale, scale, 1.0])
                self._camera = np.linalg.inv(to_full) @ matrix @ to_full
        if self.still:
            if fraction is not None:  # too few points to tell: no vote either way
                self._leave = self._leave + 1 if fraction < c.leave_still else 0
            if self._leave < c.leave_frames:
                self.still_frames += 1
                return
            self.still, self._anchor, self._enter, self._leave, self.still_frames = False, None, 0, 0, 0
            return
        self._enter = self._enter + 1 if fraction is not None and fraction >= c.enter_still else 0
        if self._enter >= c.enter_frames:
            self.still, self.still_frames = True, 1
            self._anchor = (grey, background_points(grey, exclude))

    # -- one frame ----------------------------------------------------------------------------------
    def step(self, frame: np.ndarray, hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 RGB (H, W, 3) + bool hole (H, W) -> (guide uint8 RGB (H, W, 3), confidence float32 (H, W) in [0, 1])."""
        import cv2

        c = self.config
        hole = np.asarray(hole, bool)
        if self.value is not None and self.value.shape != frame.shape:
            self.reset()
        self.cut, self.carried = False, False
        grey, scale = self._motion_grey(frame)
        small_hole = hole if scale == 1.0 else cv2.resize(hole.astype(np.uint8), grey.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
        thumb = _thumbnail(grey, small_hole)
        if self._prev_thumb is not None and _thumb_change(self._prev_thumb, thumb) > c.cut_threshold:
            prev_still = self.still
            self.reset()
            self.cut, self.still = True, prev_still
        first = self.value is None
        if first:
            self.value = frame.copy()
            self.conf = np.zeros(hole.shape, np.float32)
            self._stable = np.zeros(hole.shape, np.uint8)
            if self.still:
                from unseen.vision.motion import background_points

                self._anchor = (grey, background_points(grey, _dilate(small_hole, max(4, round(c.track_margin * scale)))))
        else:
            self._decide_still(grey, scale, _dilate(small_hole | self._prev_small_hole, max(4, round(c.track_margin * scale))))

        if first or self.still:
            prior, prior_conf = self.value, self.conf
        else:
            prior, prior_conf = self._propagate(frame, hole)

        seen = ~hole
        diff = _colour_diff(frame, prior)
        agree = seen & (prior_conf > c.min_confidence) & (diff <= c.colour_tolerance)
        known = prior_conf > c.min_confidence
        if first:  # nothing to compare with: the rim is doubtful
            self._stable[:] = 0
            suspect = _dilate(hole, c.rim) & seen
        else:
            unchanged = seen & ~self._prev_hole & (_colour_diff(frame, self._prev) <= c.colour_tolerance)
            self._stable = np.where(unchanged, np.minimum(self._stable, 254) + 1, 0).astype(np.uint8)
            # the object's pixels that its mask missed travel with the hole: where they changed, the colour is the
            # one the last frame had at the same place relative to the hole (and once rejected, stays rejected
            # while unchanged); they must not replace what the memory knows, and what it did not know they fill
            # with doubt
            travels = ~unchanged & self._travels_with_hole(frame, hole)
            doubtful = (travels | (unchanged & self._rejected & ~self._changed)) & (self._stable < c.settle_frames)
            changed = np.zeros_like(doubtful)
            if c.settle_changes and self.still:  # a still camera: a new colour that contradicts the memory (an
                # object's edge the lagging mask missed, or the object on a frame the mask source missed: it moves
                # on; the background stays) waits a few unchanged frames
                changed = (~unchanged & known & ~agree) | (unchanged & self._changed)
                changed &= self._stable < c.settle_changes
            suspect = (_dilate(hole, c.rim) & doubtful) | changed
        if not first and not self.still:  # a moving camera: its warped prior is never exact, trust the frame more
            suspect &= known
        trusted = seen & ~(suspect & known & ~agree)
        self._rejected = seen & ~trusted
        self._changed = self._rejected & changed if not first else np.zeros_like(self._rejected)
        movers = None
        if not first and not self.still and c.movers and self._judged is not None:
            # only background may be carried into the holes: what moves on its own enters with no confidence
            movers = seen & self._judged & (diff > c.mover_colour)
        value = prior.copy() if prior is self.value else prior
        np.copyto(value, frame, where=trusted[..., None])
        fresh = np.where(suspect, np.where(agree, prior_conf, np.float32(c.doubt)), np.float32(1.0))
        conf = np.where(trusted, fresh, prior_conf).astype(np.float32)
        if movers is not None:
            conf[movers & trusted] = 0.0

        use = hole & (conf > c.min_confidence)
        out = frame.copy()
        out[use] = value[use]
        rest = hole & ~use
        if rest.any():
            out = rim_telea_fill(out, rest, c.telea_radius, c.rim_fill) if c.rim_fill > 0 else telea_fill(out, rest, c.telea_radius)
        confidence = np.where(use, conf, np.float32(0.0)).astype(np.float32)
        if not self.still:  # a moving camera carries its last filled frame forward
            value[hole] = out[hole]
            conf[rest] = 0.0
        self.value, self.conf = value, conf
        self._prev, self._prev_hole, self._prev_grey, self._prev_small_hole = frame, hole, grey, small_hole
        self._prev_thumb = thumb
        return out, confidence

    def _travels_with_hole(self, frame: np.ndarray, hole: np.ndarray) -> np.ndarray:
        """bool (H, W): unmasked pixels whose colour is the last frame's at the same place relative to the hole
        (the hole's centroid shift), i.e. that move with the masked object."""
        prev_hole = self._prev_hole
        if not hole.any() or not prev_hole.any():
            return np.zeros(hole.shape, bool)
        ys, xs = np.nonzero(hole)
        pys, pxs = np.nonzero(prev_hole)
        dx, dy = int(round(xs.mean() - pxs.mean())), int(round(ys.mean() - pys.mean()))
        shifted = np.roll(self._prev, (dy, dx), axis=(0, 1))
        valid = ~np.roll(prev_hole, (dy, dx), axis=(0, 1))
        valid[: max(0, dy)] = valid[min(0, dy) or valid.shape[0] :] = False  # rows that wrapped around
        valid[:, : max(0, dx)] = valid[:, min(0, dx) or valid.shape[1] :] = False
        return valid & ~hole & (_colour_diff(frame, shifted) <= self.config.colour_tolerance)

    # -- moving camera: flow-guided propagation ----------------------------------------------------
    def _propagate(self, frame: np.ndarray, hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Last filled frame and its confidence warped into this frame along completed DIS flow."""
        import cv2

        c = self.config
        value = frame.copy()  # away from the holes the prior is the frame itself
        conf = np.ones(hole.shape, np.float32)
        both = hole | self._prev_hole
        box = _bbox(both, c.grow + c.ring + 4)
        self._judged = None
        if box is None:
            return value, conf
        x0, y0, x1, y1 = box
        flow = self._flow(frame[y0:y1, x0:x1], self._prev[y0:y1, x0:x1])
        self._interp = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}[c.interpolation]
        dist = _distance(both[y0:y1, x0:x1])
        region = dist <= c.grow
        ring = ~region & (dist <= c.grow + c.ring)
        self._complete(flow, region, ring, (dist > 0) & (dist <= c.camera_band), frame, (x0, y0))
        self._judged = np.zeros(hole.shape, bool)
        if np.abs(flow[region]).max(initial=0.0) < c.min_flow:  # the background did not move here: no resampling
            self._judged[y0:y1, x0:x1] = region & ~self._prev_hole[y0:y1, x0:x1]
            self.carried = True
            return self.value.copy(), self.conf.copy()
        gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
        map_x, map_y = gx + flow[..., 0], gy + flow[..., 1]
        from_hole = cv2.remap(
            self._prev_hole.view(np.uint8), map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=1
        )
        warped_value = cv2.remap(self.value, map_x, map_y, self._interp, borderMode=cv2.BORDER_REPLICATE)
        warped = cv2.remap(self.conf, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        # the completed flow must carry the last frame onto this one around the holes, or nothing it carries is trusted
        check = ~region & ~both[y0:y1, x0:x1] & (warped > c.min_confidence)
        if check.any():
            err = _colour_diff(frame[y0:y1, x0:x1], warped_value)[check]
            if np.mean(err <= c.colour_tolerance) < c.min_agreement:
                warped[:] = 0.0
                from_hole[:] = 1  # nothing it carried can judge
            else:
                self.carried = True
        self._judged[y0:y1, x0:x1] = region & (from_hole == 0)
        value[y0:y1, x0:x1] = warped_value
        conf[y0:y1, x0:x1] = warped * c.decay
        return value, conf

    def _flow(self, cur: np.ndarray, prev: np.ndarray) -> np.ndarray:
        """DIS flow (h, w, 2) float32 from `cur` to `prev` (uint8 RGB crops), in full-resolution pixels."""
        import cv2

        if self._dis is None:
            preset = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST}
            self._dis = cv2.DISOpticalFlow_create(preset.get(self.config.flow_preset, cv2.DISOPTICAL_FLOW_PRESET_MEDIUM))
        h, w = cur.shape[:2]
        a, b = cv2.cvtColor(cur, cv2.COLOR_RGB2GRAY), cv2.cvtColor(prev, cv2.COLOR_RGB2GRAY)
        s = min(1.0, self.config.flow_width / max(1, self._prev.shape[1])) * self.config.flow_scale
        if s < 1.0:
            size = (max(16, round(w * s)), max(16, round(h * s)))
            a, b = cv2.resize(a, size, interpolation=cv2.INTER_AREA), cv2.resize(b, size, interpolation=cv2.INTER_AREA)
        flow = self._dis.calc(a, b, None)
        if s < 1.0:
            flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
            flow[..., 0] *= w / a.shape[1]
            flow[..., 1] *= h / a.shape[0]
        return flow

    def _complete(
        self, flow: np.ndarray, region: np.ndarray, ring: np.ndarray, band: np.ndarray, frame: np.ndarray, origin: tuple[int, int]
    ) -> None:
        """Replace the flow inside `region` (in place; crop coordinates from `origin` (x0, y0) of the full frame) by
        the motion model that best carries the last filled frame onto this frame's seen pixels in `band`: a homography
        fitted to the flow on `ring` (or the ring's median motion) and the whole background's homography."""
        import cv2

        if not region.any():
            return
        x0, y0 = origin
        candidates = []
        ys, xs = np.nonzero(ring)
        if ys.size:
            step = max(1, ys.size // 1500)
            ys, xs = ys[::step], xs[::step]
            src = np.stack([xs, ys], 1).astype(np.float32)
            dst = src + flow[ys, xs]
            matrix = None
            if len(src) >= 8:
                matrix, inliers = cv2.findHomography(src, dst, cv2.RANSAC, 1.0)
                if matrix is not None and (inliers is None or inliers.mean() < 0.3):
                    matrix = None
            if matrix is None:  # no plane fits the surroundings: their median motion
                matrix = np.eye(3)
                matrix[:2, 2] = np.median(dst - src, axis=0)
            candidates.append(matrix)
        if self._camera is not None:
            shift = np.array([[1.0, 0.0, x0], [0.0, 1.0, y0], [0.0, 0.0, 1.0]])
            candidates.append(np.linalg.inv(shift) @ self._camera @ shift)
        if not candidates:
            return
        matrix = candidates[0] if len(candidates) == 1 else self._best_model(candidates, band, frame, origin)
        ry, rx = np.nonzero(region)
        pts = cv2.perspectiveTransform(np.stack([rx, ry], 1).astype(np.float32)[None], matrix)[0]
        flow[ry, rx, 0] = pts[:, 0] - rx
        flow[ry, rx, 1] = pts[:, 1] - ry

    def _best_model(self, candidates: list[np.ndarray], band: np.ndarray, frame: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
        """The 3x3 matrix (crop -> last frame's crop) under which the last filled frame best reproduces this frame's
        pixels in `band` (mean absolute colour difference, clipped so that a few moving pixels do not decide)."""
        import cv2

        ys, xs = np.nonzero(band)
        if ys.size < 16:
            return candidates[0]
        step = max(1, ys.size // 2000)
        ys, xs = ys[::step], xs[::step]
        pts = np.stack([xs, ys], 1).astype(np.float32)[None]
        x0, y0 = origin
        seen = frame[ys + y0, xs + x0][None]
        errors = []
        for matrix in candidates:
            q = cv2.perspectiveTransform(pts, matrix) + np.array([x0, y0], np.float32)
            warped = cv2.remap(self.value, q, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            errors.append(float(np.minimum(_colour_diff(seen, warped), 3 * self.config.colour_tolerance).mean()))
        return candidates[int(np.argmin(errors))]


def _thumbnail(grey: np.ndarray, hole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 16-px-wide mean of the grey frame over its unmasked pixels, and each cell's unmasked share.

    The frame is first shrunk by a whole factor in uint8 (OpenCV's fast integer-area path; the last
    few rows and columns that do not fill a block are dropped), so a frame costs a fraction of a
    millisecond; the means differ from the exact ones by under a grey level.
    """
    import cv2

    h, w = grey.shape
    size = (16, max(4, round(16 * h / w)))
    valid = ~np.asarray(hole, bool)
    k = max(1, min(h, w) // 96)
    if k > 1:
        mid = (w // k, h // k)
        crop = np.s_[: mid[1] * k, : mid[0] * k]
        total = cv2.resize((grey * valid)[crop], mid, interpolation=cv2.INTER_AREA).astype(np.float32)
        share = cv2.resize(valid.view(np.uint8)[crop] * np.uint8(255), mid, interpolation=cv2.INTER_AREA)
        share = share.astype(np.float32) * np.float32(1 / 255)
        total = cv2.resize(total, size, interpolation=cv2.INTER_AREA)
    else:
        share = valid.astype(np.float32)
        total = cv2.resize(grey.astype(np.float32) * share, size, interpolation=cv2.INTER_AREA)
    share = cv2.resize(share, size, interpolation=cv2.INTER_AREA)
    return total / np.maximum(share, np.float32(1e-3)), share


def _thumb_change(before: tuple[np.ndarray, np.ndarray], after: tuple[np.ndarray, np.ndarray]) -> float:
    """Mean absolute change between two thumbnails over the cells mostly unmasked in both (0 if too few)."""
    if before[0].shape != after[0].shape:
        return 0.0
    both = (before[1] > 0.5) & (after[1] > 0.5)
    if both.mean() < 0.5:
        return 0.0
    return float(np.abs(after[0] - before[0])[both].mean())
