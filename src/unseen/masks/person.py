"""People from the bundled selfie-segmentation model: a confidence map per frame, thresholded with hysteresis.

Good for people near the camera (a webcam, a streamer); it misses most small, far-away pedestrians.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from unseen.masks.bundled import PERSON_MODEL, model_path, quiet_native_logs
from unseen.masks.source import MaskSource


@dataclass
class PersonConfig:
    """Thresholds and clean-up of the person mask."""

    high: float = 0.6  # confidence at which a pixel is a person on its own
    low: float = 0.3  # ... at which it is one if it touches a sure pixel, or was one last frame
    blur: int = 3  # odd box size smoothing the confidence before thresholding (0 = none), at the working size
    work_width: int = 320  # thresholds and clean-up run at this width (the model's own output is 256 wide)
    min_area: float = 0.002  # components smaller than this share of the frame are dropped
    max_hole: float = 0.002  # enclosed gaps smaller than this share of the frame are filled
    hold: int = 1  # frames a pixel stays after the person left it (covers a missed frame and motion blur)


class PersonSegmenter:
    """Selfie segmentation (MediaPipe's landscape model, 256x144): frame uint8 RGB (H, W, 3) -> confidence float32
    in [0, 1] at `size` (width, height; default the frame's).

    The model runs in the LiteRT interpreter (XNNPACK, one thread) on the frame stretched to 256x144 in [0, 1],
    which is what MediaPipe's ImageSegmenter feeds it (confidence within 0.006 of it, measured on asl-hungry):
    without MediaPipe's graph thread and its up-scaling of the confidence to the full frame it is about twice as
    fast (2.4 ms per call with the other core busy).
    """

    def __init__(self) -> None:
        from unseen.errors import UnseenError

        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise UnseenError("person masks need the LiteRT runtime: pip install ai-edge-litert") from None
        with quiet_native_logs():
            self.interpreter = Interpreter(model_path=str(model_path(PERSON_MODEL)), num_threads=1)
            self.interpreter.allocate_tensors()
        source, target = self.interpreter.get_input_details()[0], self.interpreter.get_output_details()[0]
        _, self.height, self.width, _ = (int(v) for v in source["shape"])
        self.input, self.output = source["index"], target["index"]
        self.started = False  # the first invoke writes a note to stderr

    def __call__(self, frame: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        import cv2

        small = cv2.resize(frame, (self.width, self.height), interpolation=cv2.INTER_LINEAR)  # as MediaPipe
        self.interpreter.set_tensor(self.input, (small.astype(np.float32) * np.float32(1 / 255))[None])
        with quiet_native_logs() if not self.started else contextlib.nullcontext():
            self.interpreter.invoke()
        self.started = True
        conf = self.interpreter.get_tensor(self.output)[0, :, :, 0]
        width, height = size or (frame.shape[1], frame.shape[0])
        return cv2.resize(conf, (width, height), interpolation=cv2.INTER_LINEAR)

    def close(self) -> None:
        """Free the interpreter."""
        self.interpreter = None


def hysteresis_mask(conf: np.ndarray, high: float, low: float, previous: np.ndarray | None = None, min_area: int = 0) -> np.ndarray:
    """Bool (H, W): pixels above `high`, plus pixels above `low` connected to one of them or inside `previous`;
    connected parts smaller than `min_area` pixels are dropped (one labelling does both)."""
    import cv2

    sure = conf >= high
    maybe = conf >= low
    if previous is not None and previous.shape == conf.shape:
        sure |= maybe & previous
    if not maybe.any():
        return sure if min_area <= 1 else np.zeros_like(sure)
    n, labels = cv2.connectedComponents(maybe.view(np.uint8))  # without stats: 5x faster; areas by bincount
    keep = np.zeros(n, bool)
    keep[labels[sure]] = True
    keep[0] = False
    if min_area > 1:  # the kept parts are whole parts of `maybe`: their areas are these
        keep &= np.bincount(labels.ravel(), minlength=n) >= min_area
    return keep[labels]


class PersonMaskSource(MaskSource):
    """Every person the segmenter sees: bool (H, W) per frame, with hysteresis in space and time."""

    def __init__(self, config: PersonConfig | None = None, segmenter: PersonSegmenter | None = None) -> None:
        from unseen.masks.hygiene import Hysteresis

        self.config = config or PersonConfig()
        self.segmenter = segmenter or PersonSegmenter()
        self.previous: np.ndarray | None = None
        self.hold = Hysteresis(self.config.hold) if self.config.hold > 0 else None

    def _small(self, frame: np.ndarray) -> np.ndarray:
        """This frame's person mask at the working size (about `work_width` wide), before the temporal hold."""
        import cv2

        from unseen.masks.hygiene import fill_small_holes

        cfg = self.config
        h, w = frame.shape[:2]
        # the model sees 256x144: thresholds, clean-up and the hold at about 320 px wide lose nothing and cost a quarter
        scale = min(1.0, cfg.work_width / w)
        conf = self.segmenter(frame, (round(w * scale), round(h * scale)))
        if cfg.blur > 1:
            conf = cv2.blur(conf, (cfg.blur, cfg.blur))
        mask = hysteresis_mask(conf, cfg.high, cfg.low, self.previous, int(cfg.min_area * conf.size))
        mask = fill_small_holes(mask, int(cfg.max_hole * mask.size))
        self.previous = mask
        return mask

    @staticmethod
    def _full(mask: np.ndarray, frame: np.ndarray) -> np.ndarray:
        import cv2

        h, w = frame.shape[:2]
        if mask.shape == (h, w):
            return mask
        return cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5

    def raw(self, frame: np.ndarray) -> np.ndarray:
        """This frame's person mask before the temporal hold: bool (H, W)."""
        return self._full(self._small(frame), frame)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        mask = self._small(frame)
        return self._full(self.hold(mask) if self.hold is not None else mask, frame)

    def close(self) -> None:
        self.segmenter.close()
