"""One live client's state: its mask source and its online engine, plus the result region to send back."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from unseen.engine.inpainter import Inpainter
from unseen.masks.hygiene import dilate
from unseen.masks.source import MaskSource
from unseen.masks.tracker import BoxTrackerSource
from unseen.server.protocol import ProtocolError


@dataclass
class Result:
    """What goes back to the client for one frame."""

    frame_id: int
    box: tuple[int, int, int, int] | None  # x, y, w, h of the region; None when there is nothing to remove
    patch: np.ndarray | None
    mask: np.ndarray | None
    ms: float


def hole_region(mask: np.ndarray, pad: int = 2) -> tuple[int, int, int, int] | None:
    """Bounding box (x, y, w, h) of the hole, padded, or None when the mask is empty."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return None
    h, w = mask.shape
    x0, y0 = max(0, xs.min() - pad), max(0, ys.min() - pad)
    x1, y1 = min(w, xs.max() + 1 + pad), min(h, ys.max() + 1 + pad)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


class LiveSession:
    """Per-client pipeline: box selection -> tracker masks -> engine; returns only the inpainted region."""

    def __init__(self, make_inpainter: Callable[[], Inpainter], dilation: int = 3, segmenter=None) -> None:
        self.make_inpainter = make_inpainter
        self.dilation = dilation
        self.segmenter = segmenter  # a shared ONNX segmenter, when the server has one
        self.inpainter: Inpainter | None = None
        self.tracker: MaskSource | None = None
        self.size: tuple[int, int] | None = None
        self.pending_box: tuple[int, int, int, int] | None = None

    def select(self, box: list[int]) -> None:
        """Start removing the object in this box (applies from the next frame)."""
        x, y, w, h = box
        if w < 4 or h < 4 or x < 0 or y < 0:
            raise ProtocolError("box must be at least 4x4 pixels inside the frame")
        self.pending_box = (x, y, w, h)

    def detect(self, classes: list[str]) -> None:
        """Remove every instance of these COCO classes (needs a server-side detector)."""
        from unseen.errors import UnseenError
        from unseen.masks.detectors import DetectorMaskSource, class_ids
        from unseen.masks.source import CleanMaskSource

        if self.segmenter is None:
            raise ProtocolError("this server has no detector (start it with --detector MODEL.onnx)")
        try:
            ids = class_ids(",".join(classes))
        except UnseenError as exc:
            raise ProtocolError(str(exc)) from None
        self.pending_box = None
        self.tracker = CleanMaskSource(DetectorMaskSource(self.segmenter, ids), min_area=32, hold=3)

    def reset(self) -> None:
        """Stop removing; forget all state."""
        self.tracker = None
        self.pending_box = None
        if self.inpainter is not None:
            self.inpainter.reset()

    def process(self, frame_id: int, frame: np.ndarray) -> Result:
        """Run one frame; the result holds the region around the hole, or nothing."""
        start = time.perf_counter()
        h, w = frame.shape[:2]
        if self.size != (w, h):  # a new stream size: start over (a box means nothing at another size)
            self.size = (w, h)
            if isinstance(self.tracker, BoxTrackerSource):
                self.tracker = None
            if self.inpainter is not None:
                self.inpainter.reset()
        if self.pending_box is not None:
            x, y, bw, bh = self.pending_box
            x, y = min(x, w - 4), min(y, h - 4)
            self.tracker = BoxTrackerSource((x, y, min(bw, w - x), min(bh, h - y)))
            self.pending_box = None
        if self.tracker is None:
            return Result(frame_id, None, None, None, (time.perf_counter() - start) * 1000)
        mask = dilate(self.tracker(frame), self.dilation)
        if self.inpainter is None:
            self.inpainter = self.make_inpainter()
        out = self.inpainter.step(frame, mask)
        region = hole_region(mask)
        if region is None:
            return Result(frame_id, None, None, None, (time.perf_counter() - start) * 1000)
        x, y, rw, rh = region
        return Result(frame_id, region, out[y : y + rh, x : x + rw], mask[y : y + rh, x : x + rw], (time.perf_counter() - start) * 1000)
