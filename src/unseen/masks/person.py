"""People from the bundled selfie-segmentation model: a confidence map per frame, thresholded with hysteresis.

Good for people near the camera (a webcam, a streamer); it misses most small, far-away pedestrians.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from unseen.masks.bundled import PERSON_MODEL, VideoClock, model_path, mp_image, quiet_native_logs, vision_api
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
    """Selfie segmentation (MediaPipe, landscape 256x144 model): frame uint8 RGB (H, W, 3) -> confidence float32 (H, W) in [0, 1]."""

    def __init__(self, fps: float = 30.0) -> None:
        tasks = vision_api()
        vision = tasks.vision
        options = vision.ImageSegmenterOptions(
            base_options=tasks.BaseOptions(model_asset_path=str(model_path(PERSON_MODEL))),
            running_mode=vision.RunningMode.VIDEO,
            output_confidence_masks=True,
            output_category_mask=False,
        )
        with quiet_native_logs():
            self.task = vision.ImageSegmenter.create_from_options(options)
        self.clock = VideoClock(fps)
        self.started = False  # the graph's first run writes notes to stderr

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        with quiet_native_logs() if not self.started else contextlib.nullcontext():
            result = self.task.segment_for_video(mp_image(frame), self.clock.tick())
        self.started = True
        conf = result.confidence_masks[-1].numpy_view()
        return np.array(conf.reshape(frame.shape[:2]), np.float32)

    def close(self) -> None:
        """Free the MediaPipe graph."""
        if self.task is not None:
            self.task.close()
            self.task = None


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
    n, labels, stats, _ = cv2.connectedComponentsWithStats(maybe.astype(np.uint8))
    keep = np.zeros(n, bool)
    keep[np.unique(labels[sure])] = True
    keep[0] = False
    if min_area > 1:  # the kept parts are whole parts of `maybe`: their areas are these
        keep &= stats[:, cv2.CC_STAT_AREA] >= min_area
    return keep[labels]


class PersonMaskSource(MaskSource):
    """Every person the segmenter sees: bool (H, W) per frame, with hysteresis in space and time."""

    def __init__(self, config: PersonConfig | None = None, segmenter: PersonSegmenter | None = None) -> None:
        from unseen.masks.hygiene import Hysteresis

        self.config = config or PersonConfig()
        self.segmenter = segmenter or PersonSegmenter()
        self.previous: np.ndarray | None = None
        self.hold = Hysteresis(self.config.hold) if self.config.hold > 0 else None

    def raw(self, frame: np.ndarray) -> np.ndarray:
        """This frame's person mask before the temporal hold: bool (H, W)."""
        import cv2

        from unseen.masks.hygiene import fill_small_holes

        cfg = self.config
        conf = self.segmenter(frame)
        h, w = conf.shape
        # the model sees 256x144: thresholds and clean-up at about 320 px wide lose nothing and cost a quarter
        scale = min(1.0, cfg.work_width / w)
        if scale < 1.0:
            conf = cv2.resize(conf, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        if cfg.blur > 1:
            conf = cv2.blur(conf, (cfg.blur, cfg.blur))
        mask = hysteresis_mask(conf, cfg.high, cfg.low, self.previous, int(cfg.min_area * conf.size))
        mask = fill_small_holes(mask, int(cfg.max_hole * mask.size))
        self.previous = mask
        if scale < 1.0:
            mask = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
        return mask

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        mask = self.raw(frame)
        return self.hold(mask) if self.hold is not None else mask

    def close(self) -> None:
        self.segmenter.close()
