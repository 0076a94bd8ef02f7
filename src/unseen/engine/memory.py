"""Background memories: the trivial last-seen memory (a baseline), the similarity-aligned memory the training
data still uses, and the `memory` method (the engine's classical guide, `unseen.engine.propagation`).

The similarity-aligned memory: every pixel keeps the last value seen while it was not masked.

For a static camera this is exact once the object has moved away. Global camera motion is
estimated from sparse optical flow outside the holes and the memory follows it: shifted by whole
pixels when the camera only pans (no resampling, so no blur builds up), resampled by a similarity
transform when it turns or zooms; unclear motion forgets it, and a scene cut resets it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unseen.engine.inpainter import Inpainter
from unseen.engine.propagation import GuideBuilder, GuideConfig
from unseen.engine.telea import telea_fill
from unseen.vision.motion import global_motion


@dataclass
class MemoryConfig:
    """Tuning of the background memory."""

    track_motion: bool = True  # follow the camera (global similarity by sparse optical flow)
    motion_width: int = 640  # estimate motion on frames downscaled to at most this width (sub-pixel bias grows with downscaling)
    min_shift: float = 0.5  # camera motion moving no pixel by this much (full-size pixels) waits for later frames
    cut_threshold: float = 60.0  # mean abs grey difference (0..255) that counts as a scene cut


class BackgroundMemory:
    """Per-pixel memory of the last unmasked value, following a similarity-moving camera."""

    def __init__(self, config: MemoryConfig | None = None) -> None:
        self.config = config or MemoryConfig()
        self.value: np.ndarray | None = None  # uint8 (H, W, 3)
        self.known: np.ndarray | None = None  # bool (H, W)
        self._prev_small: np.ndarray | None = None
        self._prev_hole: np.ndarray | None = None
        self._pending = np.eye(3)  # camera motion (full-size pixels) since the memory last moved, not applied yet
        self._scale = 1
        self.cut = False  # the last update saw a scene cut
        self.still_frames = 0  # consecutive frames without camera motion

    def reset(self) -> None:
        """Forget everything."""
        self.value = self.known = None
        self._prev_small = self._prev_hole = None
        self._pending = np.eye(3)
        self.still_frames = 0

    def _small_grey(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        h, w = frame.shape[:2]
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        self._scale = max(1, -(-w // self.config.motion_width))
        if self._scale == 1:
            return grey
        return cv2.resize(grey, (max(8, w // self._scale), max(8, h // self._scale)), interpolation=cv2.INTER_AREA)

    def _follow_camera(self, frame: np.ndarray, mask: np.ndarray) -> None:
        """Move the memory with the camera (shift or similarity warp); forget it on a cut or unclear motion.

        The holes (this frame's and the last one's) are left out of the estimate, so a moving object
        does not pass for camera motion.
        """
        import cv2

        small = self._small_grey(frame)
        hole = cv2.resize(mask.astype(np.uint8), small.shape[::-1], interpolation=cv2.INTER_AREA) > 0
        hole = cv2.dilate(hole.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        prev, prev_hole = self._prev_small, self._prev_hole
        self._prev_small, self._prev_hole = small, hole
        if prev is None or self.value is None or prev.shape != small.shape:
            return
        if float(np.mean(np.abs(small.astype(np.float32) - prev))) > self.config.cut_threshold:
            self.value = self.known = None
            self.cut = True
            self.still_frames = 0
            return
        if not self.config.track_motion:
            self.still_frames += 1
            return
        matrix = global_motion(prev, small, hole | prev_hole)
        if matrix is None:
            self.known[:] = False  # the camera's motion is unclear: start over
            self._pending = np.eye(3)
            self.still_frames = 0
            return
        step = np.vstack([matrix, (0.0, 0.0, 1.0)])
        step[:2, 2] *= self._scale  # to full-size pixels
        self._pending = step @ self._pending
        h, w = self.known.shape
        corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64).T
        if np.abs(self._pending[:2] @ corners - corners[:2]).max() < self.config.min_shift:
            self.still_frames += 1  # no pixel has moved by min_shift yet: keep the memory as it is
            return
        self.still_frames = 0
        turn = np.abs(self._pending[:2, :2] - np.eye(2)).max() * max(h, w)  # corner motion from rotation/zoom
        if turn < self.config.min_shift:
            self._shift()
        else:
            self._warp()

    def _shift(self) -> None:
        """Follow a panning camera: move the memory by whole pixels (no resampling, so no blur builds up)."""
        shift = self._pending[:2, 2]
        ix, iy = int(round(shift[0])), int(round(shift[1]))
        self._pending = np.eye(3)
        self._pending[:2, 2] = shift - (ix, iy)  # the sub-pixel remainder waits for later frames
        self.value = np.roll(self.value, (iy, ix), axis=(0, 1))
        self.known = np.roll(self.known, (iy, ix), axis=(0, 1))
        if iy > 0:
            self.known[:iy] = False
        elif iy < 0:
            self.known[iy:] = False
        if ix > 0:
            self.known[:, :ix] = False
        elif ix < 0:
            self.known[:, ix:] = False

    def _warp(self) -> None:
        """Follow a camera that turns or zooms: resample the memory by the accumulated similarity transform;
        pixels whose source left the frame are forgotten."""
        import cv2

        matrix = self._pending[:2].copy()
        self._pending = np.eye(3)
        h, w = self.known.shape
        self.value = cv2.warpAffine(self.value, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        known = cv2.warpAffine(self.known.astype(np.uint8), matrix, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
        self.known = cv2.erode(known, np.ones((3, 3), np.uint8)) > 0  # resampled edges are uncertain

    def update(self, frame: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add a frame (uint8 RGB, bool hole mask); return (memory image, bool map of holes it can fill)."""
        if self.value is not None and self.value.shape != frame.shape:
            self.reset()
        self.cut = False
        self._follow_camera(frame, mask)
        if self.value is None:
            self.value = frame.copy()
            self.known = np.zeros(frame.shape[:2], bool)
        seen = ~mask
        np.copyto(self.value, frame, where=seen[..., None])
        self.known |= seen
        return self.value, mask & self.known


def memory_fill(memory: BackgroundMemory, frame: np.ndarray, mask: np.ndarray, radius: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Classical online fill: memory where it has seen the background, Telea elsewhere.

    Returns (filled uint8 RGB frame, bool map of the hole pixels that came from memory).
    """
    value, from_memory = memory.update(frame, mask)
    out = frame.copy()
    out[from_memory] = value[from_memory]
    rest = mask & ~from_memory
    if rest.any():
        out = telea_fill(out, rest, radius)
    return out, from_memory


class LastSeenMemory:
    """The trivial memory: each pixel keeps its last unmasked value; no motion model."""

    def __init__(self) -> None:
        self.value: np.ndarray | None = None  # uint8 (H, W, 3)
        self.known: np.ndarray | None = None  # bool (H, W)

    def reset(self) -> None:
        """Forget everything."""
        self.value = self.known = None

    def fill(self, frame: np.ndarray, mask: np.ndarray, radius: int = 3) -> np.ndarray:
        """Add a frame (uint8 RGB (H, W, 3), bool hole (H, W)); return it filled: last seen values, Telea elsewhere."""
        if self.value is None or self.value.shape != frame.shape:
            self.value = frame.copy()
            self.known = np.zeros(mask.shape, bool)
        seen = ~mask
        np.copyto(self.value, frame, where=seen[..., None])
        self.known |= seen
        out = frame.copy()
        from_memory = mask & self.known
        out[from_memory] = self.value[from_memory]
        rest = mask & ~from_memory
        return telea_fill(out, rest, radius) if rest.any() else out


class LastSeenInpainter(Inpainter):
    """Trivial baseline: last unmasked value per pixel, Telea where never seen."""

    name = "lastseen"

    def __init__(self) -> None:
        self.memory = LastSeenMemory()

    def step(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.memory.fill(frame, mask)

    def reset(self) -> None:
        self.memory.reset()


class MemoryInpainter(Inpainter):
    """The engine's classical fill without the network: still-camera memory, flow-guided propagation, Telea."""

    name = "memory"

    def __init__(self, config: GuideConfig | None = None) -> None:
        self.memory = GuideBuilder(config)

    def step(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.memory.step(frame, mask)[0]

    def reset(self) -> None:
        self.memory.reset()
