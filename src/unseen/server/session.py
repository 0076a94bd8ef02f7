"""One live client's state: its mask source and its online engine, plus the result region to send back.

A frame goes through two stages, which the server runs in two worker threads so that the mask and the
engine's classical guide of frame t + 1 (`front`) overlap the network of frame t (`back`):

    front: control messages, mask source, dilation, the engine's `prepare` (its memory; frames in order)
    back:  the engine's `push_prepared` (network, cache, composite), the region to send (frames in order)

The two halves of the engine touch disjoint state (its memory / its network cache). Anything that resets the
engine (a control message from the page, a new frame size, a failed step) takes `engine_lock`, which the back
stage holds while it steps, so a "clear" can never empty the network's cache while the network is stepping it.
Control messages are queued by the event loop (`request`) and applied in order by the next front stage. A
change of selection also resets the engine: its background memory holds the newly selected object as
background (it was not a hole until now).
"""

from __future__ import annotations

import logging
import threading
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

RECENT_FRAMES = 8  # frames kept for a box drawn on an older frame (2-3 frames behind with two in flight; 22 MB at 1280x720)


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
    stage_ms: float = 0.0  # the longer of the two stages (the pipeline's pace when frames overlap)


def hole_region(mask: np.ndarray, pad: int = 2) -> tuple[int, int, int, int] | None:
    """Bounding box (x, y, w, h) of the hole, padded, or None when the mask is empty."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return None
    h, w = mask.shape
    x0, y0 = max(0, xs.min() - pad), max(0, ys.min() - pad)
    x1, y1 = min(w, xs.max() + 1 + pad), min(h, ys.max() + 1 + pad)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


@dataclass
class Prepared:
    """A frame between the two stages."""

    frame_id: int
    start: float
    inpainter: Inpainter | None  # the engine that prepared it (None: nothing to run)
    prepared: object = None
    region: tuple[int, int, int, int] | None = None
    mask: np.ndarray | None = None
    state: str = "idle"
    applied: int = 0
    error: str | None = None
    front_ms: float = 0.0


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
        self.failed = False  # the back stage failed: the next front stage drops the selection and the engine
        self.requests: deque[dict] = deque()  # appended by the event loop, consumed by the front stage
        # the last frames the front stage saw, by id: a box drawn on the page belongs to the frame on screen, which
        # is a round trip older than the frame the box reaches; the tracker starts there and catches up
        self.recent: deque[tuple[int, np.ndarray]] = deque(maxlen=RECENT_FRAMES)
        self.engine_lock = threading.Lock()  # held by the back stage while it steps, and by anything resetting

    def request(self, control: dict) -> None:
        """Queue a parsed control message; it applies before the next frame is processed (any thread)."""
        self.requests.append(control)

    def _drop_source(self) -> None:
        if self.source is not None:
            self.source.close()
        self.source, self.boxed, self.state = None, False, "idle"

    def _apply(self, control: dict, frame: np.ndarray) -> str | None:
        """One control message, in the front stage, with the engine idle; returns a problem to report, if any."""
        height, width = frame.shape[:2]
        self._drop_source()
        if self.inpainter is not None:
            self.inpainter.reset()
        self.applied += 1
        past = [(fid, seen) for fid, seen in self.recent if control.get("frame") is not None and fid >= control["frame"]]
        if past and past[0][0] != control["frame"]:
            past = []  # that frame is no longer held (or never was): the control applies to this one
        if control["type"] == "point":  # a click: box the hand or person under it, on the frame it was made on
            from unseen.masks.point import box_around

            x, y = control["at"]
            found = self.masks.at_point(past[0][1] if past else frame, x, y) if x < width and y < height else None
            if found is None:
                return "no hand or person under the click: drag a box around the object"
            control = {"type": "select", "box": list(box_around(found)), "class": True}
        if control["type"] == "select":  # a click's box is followed with the segmenter that found it
            box, segmenters = check_box(control["box"], width, height), control.get("class", False)
            self.source = self.masks.for_box(box, width, height, segmenters)
            self.boxed, self.state = True, "removing"
            try:
                for _, seen in past:  # follow the object from the frame the box was drawn on to now
                    self.source(seen)
            except Exception:  # the box as drawn, on the frame it reaches, rather than no selection at all
                log.exception("live: following the box from frame %d failed; it starts on the current frame", past[0][0])
                self.source.close()
                self.source = self.masks.for_box(box, width, height, segmenters)
        elif control["type"] == "detect":
            self.source = self.masks.for_classes(control["classes"], width, height)
            self.state = "removing"
        return None

    def process(self, frame_id: int, frame: np.ndarray) -> Result:
        """Both stages of one uint8 RGB (H, W, 3) frame, one after the other."""
        return self.back(self.front(frame_id, frame))

    def front(self, frame_id: int, frame: np.ndarray) -> Prepared:
        """Stage one (frames in order; may overlap `back` of the frame before): apply queued control messages, make
        the mask and the engine's guide. Errors other than protocol errors drop the selection and are reported."""
        start = time.perf_counter()
        h, w = frame.shape[:2]
        error = None
        if self.failed or self.size != (w, h) or self.requests:
            with self.engine_lock:  # the engine is idle from here on: it may be reset
                if self.failed:
                    self._drop_source()
                    self.inpainter, self.failed = None, False  # a fresh engine next time: nothing of the failed state survives
                if self.size != (w, h):  # a new stream size: start over (a box means nothing at another size)
                    self.recent.clear()
                    if self.boxed:
                        self._drop_source()
                        error = f"the video size changed to {w}x{h}: draw the box again"
                    if self.inpainter is not None:
                        self.inpainter.reset()
                    self.size = (w, h)
                while self.requests:
                    error = self._apply(self.requests.popleft(), frame) or error
        item = Prepared(frame_id, start, None, state=self.state, applied=self.applied, error=error)
        self.recent.append((frame_id, frame))
        if self.source is None:
            return self._timed(item)
        try:
            mask = dilate(self.source(frame), self.dilation)
            item.region = hole_region(mask)
            self.state = item.state = "lost" if item.region is None else "removing"
            if self.inpainter is None:  # made at once, hole or not: with nothing to remove in view (a person not
                # in the picture yet) the engine learns the background, and fills exactly where it has seen it
                self.inpainter = self.make_inpainter()
            item.inpainter, item.mask = self.inpainter, mask
            item.prepared = self.inpainter.prepare(frame, mask)  # a lost object: the engine keeps learning the background
        except ProtocolError:
            raise
        except Exception:
            self._fail(item)
            item.inpainter = None
        return self._timed(item)

    def back(self, item: Prepared) -> Result:
        """Stage two (frames in order, after their `front`): the engine's network and the region to send back."""
        start = time.perf_counter()
        if item.inpainter is None:
            return self._result(item, start)
        with self.engine_lock:
            if self.failed or item.inpainter is not self.inpainter:  # prepared by an engine that has failed since
                item.region, item.state = None, "idle"
                return self._result(item, start)
            try:
                (out,) = item.inpainter.push_prepared(item.prepared)
            except Exception:
                self._fail(item)
                return self._result(item, start)
        if item.region is None:
            return self._result(item, start)
        x, y, rw, rh = item.region
        return self._result(item, start, out[y : y + rh, x : x + rw], item.mask[y : y + rh, x : x + rw])

    def _fail(self, item: Prepared) -> None:
        """A stage failed on this frame (call inside `except`): report it; the next front stage drops the selection
        and the engine."""
        log.exception("live: frame %d failed; the selection is dropped", item.frame_id)
        self.failed = True
        item.region, item.state = None, "idle"
        item.error = "the server failed on this video: the selection was dropped, draw it again"

    @staticmethod
    def _timed(item: Prepared) -> Prepared:
        item.front_ms = (time.perf_counter() - item.start) * 1000
        return item

    @staticmethod
    def _result(item: Prepared, start: float, patch=None, mask=None) -> Result:
        back_ms = (time.perf_counter() - start) * 1000
        region = item.region if patch is not None else None
        ms, stage_ms = item.front_ms + back_ms, max(item.front_ms, back_ms)
        return Result(item.frame_id, region, patch, mask, ms, item.state, item.applied, item.error, stage_ms)

    def close(self) -> None:
        """Release the mask source and the engine (call when no frame is being processed)."""
        self._drop_source()
        self.inpainter = None
        self.requests.clear()
        self.recent.clear()
