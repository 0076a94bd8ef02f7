"""Large frames: the box tracker follows a scaled copy, and its masks come back at the frame's size."""

import cv2
import numpy as np

from unseen.datasets.synthetic import moving_object_scene
from unseen.io.frames import SourceInfo
from unseen.masks.source import ScaledMaskSource, fit_pixels
from unseen.pipeline import MaskSpec, build_masks
from unseen.pipeline.assembly import TRACK_PIXELS


def test_fit_pixels_scales_down_only():
    assert fit_pixels(640, 360, TRACK_PIXELS) == (640, 360)
    w, h = fit_pixels(1920, 1080, TRACK_PIXELS)
    assert abs(w / h - 16 / 9) < 0.01 and w * h <= TRACK_PIXELS * 1.01 and w < 1920


def test_a_box_on_hd_frames_is_tracked_at_the_smaller_size():
    scene = moving_object_scene(12, 240, 320, seed=1)
    size = (1280, 960)  # 16x the scene's pixels: above TRACK_PIXELS
    frames = [cv2.resize(f, size, interpolation=cv2.INTER_LINEAR) for f in scene.frames]
    truths = [cv2.resize(m.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0 for m in scene.masks]
    ys, xs = np.nonzero(truths[0])
    box = (int(xs.min()) - 16, int(ys.min()) - 16, int(xs.max() - xs.min()) + 33, int(ys.max() - ys.min()) + 33)
    seen: list[tuple[int, int]] = []

    source = build_masks(
        MaskSpec(box=box, dilate=0, box_segmenters=False), SourceInfo(width=size[0], height=size[1], fps=25.0, frame_count=12)
    )
    scaled = source
    while not isinstance(scaled, ScaledMaskSource):
        scaled = scaled.inner
    scaled.inner = _Spy(scaled.inner, seen)
    ious = []
    for frame, truth in zip(frames, truths, strict=True):
        mask = source(frame)
        assert mask.shape == truth.shape and mask.dtype == bool
        ious.append((mask & truth).sum() / (mask | truth).sum())
    assert set(seen) == {scaled.size} and scaled.size[0] * scaled.size[1] <= TRACK_PIXELS * 1.01
    assert min(ious) > 0.75, ious


class _Spy:
    """Records the frame sizes a source is called with."""

    def __init__(self, inner, seen: list) -> None:
        self.inner, self.seen = inner, seen

    def __call__(self, frame):
        self.seen.append((frame.shape[1], frame.shape[0]))
        return self.inner(frame)

    def close(self) -> None:
        self.inner.close()


def test_frames_already_small_pass_straight_through():
    calls = []
    source = ScaledMaskSource(lambda f: calls.append(f) or np.zeros(f.shape[:2], bool), (64, 48))
    frame = np.zeros((48, 64, 3), np.uint8)
    assert source(frame).shape == (48, 64) and calls[0] is frame
