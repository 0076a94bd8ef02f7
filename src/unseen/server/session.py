"""One live client's state: its mask source and its online engine, plus the result region to send back.

Only the worker thread touches the state: control messages from the page are queued (`request`) and
applied in order at the start of the next `process`, so a "clear" can never empty the engine's cache
while the network is stepping it. A change of selection also resets the engine: its background
memory holds the newly selected object as background (it was not a hole until now).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from unseen.engine.inpainter import Inpainter
from unseen.masks.hygiene import dilate
from unseen.masks.source import MaskSource
from unseen.server.masks import MaskFactory
from unseen.server.protocol import ProtocolError, check_box

log = logging.getLogger("unseen.live")


@dataclass
class Result:
    """What goes back to the client for one frame."""

    frame_id: int
    box: tuple[int, int, int, int] | None  # x, y, w, h of the region; None when there is nothing to remove
    patch: np.ndarray | None  # uint8 RGB (h, w, 3): the frame with the hole filled, inside the region
    mask: np.ndarray | None  # bool (h, w): the hole inside the region
    ms: float  # server time for this frame
    state: str = "idle"  # idle | removing | lost
    applied: int = 0  # control messages applied before this frame
    error: str | None = None  # a problem that dropped the selection (the connection stays up)


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
    """Per-client pipeline: selection -> mask source -> engine; returns only the inpainted region."""

    def __init__(self, make_inpainter: Callable[[], Inpainter], masks: MaskFactory | None = None, dilation: int = 3) -> None:
        self.make_inpainter = make_inpainter
        self.masks = masks or MaskFactory()
        self.dilation = dilation
        self.inpainter: Inpainter | None = None
        self.source: MaskSource | None = None
        self.boxed = False  # the source follows a drawn box (meaningless at another frame size)
        self.size: tuple[int, int] | None = None  # (width, height) of the last frame
        self.state = "idle"
        self.applied = 0
        self.requests: deque[dict] = deque()  # appended by the event loop, consumed by the worker

    def request(self, control: dict) -> None:
        """Queue a parsed control message; it applies before the next frame is processed (any thread)."""
        self.requests.append(control)

    def _drop_source(self) -> None:
        if self.source is not None:
            self.source.close()
        self.source, self.boxed, self.state = None, False, "idle"

    def _apply(self, control: dict, width: int, height: int) -> None:
        """One control message, in the worker, between frames."""
        self._drop_source()
        if self.inpainter is not None:
            self.inpainter.reset()
        if control["type"] == "select":
            self.source = self.masks.for_box(check_box(control["box"], width, height), width, height)
            self.boxed, self.state = True, "removing"
        elif control["type"] == "detect":
            self.source = self.masks.for_classes(control["classes"], width, height)
            self.state = "removing"
        self.applied += 1

    def process(self, frame_id: int, frame: np.ndarray) -> Result:
        """Apply queued control messages, then run one uint8 RGB (H, W, 3) frame; the result holds the region
        around the hole, or nothing. Errors other than protocol errors drop the selection and are reported."""
        start = time.perf_counter()
        h, w = frame.shape[:2]
        error = None
        if self.size != (w, h):  # a new stream size: start over (a box means nothing at another size)
            if self.boxed:
                self._drop_source()
                error = f"the video size changed to {w}x{h}: draw the box again"
            if self.inpainter is not None:
                self.inpainter.reset()
            self.size = (w, h)
        while self.requests:
            self._apply(self.requests.popleft(), w, h)
        if self.source is None:
            return self._result(frame_id, start, error=error)
        try:
            mask = dilate(self.source(frame), self.dilation)
            region = hole_region(mask)
            if region is None:
                self.state = "lost"
                if self.inpainter is not None:
                    self.inpainter.step(frame, mask)  # the engine keeps learning the background
                return self._result(frame_id, start)
            self.state = "removing"
            if self.inpainter is None:
                self.inpainter = self.make_inpainter()
            out = self.inpainter.step(frame, mask)
        except ProtocolError:
            raise
        except Exception:
            log.exception("live: frame %d failed; the selection is dropped", frame_id)
            self._drop_source()
            self.inpainter = None  # a fresh engine next time: nothing of the failed state survives
            return self._result(frame_id, start, error="the server failed on this video: the selection was dropped, draw it again")
        x, y, rw, rh = region
        return self._result(frame_id, start, region, out[y : y + rh, x : x + rw], mask[y : y + rh, x : x + rw])

    def _result(self, frame_id: int, start: float, region=None, patch=None, mask=None, error: str | None = None) -> Result:
        ms = (time.perf_counter() - start) * 1000
        return Result(frame_id, region, patch, mask, ms, self.state, self.applied, error)

    def close(self) -> None:
        """Release the mask source and the engine (call when no frame is being processed)."""
        self._drop_source()
        self.inpainter = None
        self.requests.clear()
