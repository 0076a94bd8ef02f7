"""Faces from the bundled short-range face detector (faces within ~2 m of a webcam): an ellipse over each head."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from unseen.masks.bundled import FACE_MODEL, VideoClock, model_path, mp_image, quiet_native_logs, vision_api
from unseen.masks.source import MaskSource


@dataclass
class FaceConfig:
    """Detection threshold and how far the ellipse reaches beyond the detector's box (eyes to mouth)."""

    min_score: float = 0.5  # low: a missed face (a privacy leak) costs more than a false one
    widen: float = 1.1  # ellipse width / box width (cheeks and ears)
    heighten: float = 1.45  # ellipse height / box height (forehead, hair line, chin)
    lift: float = 0.1  # centre moved up by this share of the box height (the box sits low on the head)
    hold_missing: int = 3  # frames the last faces are kept when the detector loses them


class FaceMaskSource(MaskSource):
    """Every detected face as a filled ellipse: bool (H, W) per frame."""

    def __init__(self, config: FaceConfig | None = None, fps: float = 30.0) -> None:
        self.config = config or FaceConfig()
        tasks = vision_api()
        vision = tasks.vision
        options = vision.FaceDetectorOptions(
            base_options=tasks.BaseOptions(model_asset_path=str(model_path(FACE_MODEL))),
            running_mode=vision.RunningMode.VIDEO,
            min_detection_confidence=self.config.min_score,
        )
        with quiet_native_logs():
            self.task = vision.FaceDetector.create_from_options(options)
        self.clock = VideoClock(fps)
        self.started = False  # the graph's first run writes notes to stderr
        self.last: list[tuple[float, float, float, float]] = []
        self.missing = 0

    def boxes(self, frame: np.ndarray) -> list[tuple[float, float, float, float]]:
        """Face boxes (x, y, w, h) in frame pixels; the last ones for a few frames if the detector drops them."""
        with quiet_native_logs() if not self.started else contextlib.nullcontext():
            result = self.task.detect_for_video(mp_image(frame), self.clock.tick())
        self.started = True
        found = [(d.bounding_box.origin_x, d.bounding_box.origin_y, d.bounding_box.width, d.bounding_box.height) for d in result.detections]
        if found:
            self.last, self.missing = [tuple(map(float, b)) for b in found], 0
        else:
            self.missing += 1
            if self.missing > self.config.hold_missing:
                self.last = []
        return list(self.last)

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        import cv2

        cfg = self.config
        canvas = np.zeros(frame.shape[:2], np.uint8)
        for x, y, w, h in self.boxes(frame):
            centre = (int(round(x + w / 2)), int(round(y + h / 2 - cfg.lift * h)))
            axes = (max(1, int(round(w * cfg.widen / 2))), max(1, int(round(h * cfg.heighten / 2))))
            cv2.ellipse(canvas, centre, axes, 0, 0, 360, 1, -1)
        return canvas > 0

    def close(self) -> None:
        if self.task is not None:
            self.task.close()
            self.task = None
