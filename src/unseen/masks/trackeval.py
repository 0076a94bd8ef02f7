"""How well a box-started mask source follows an object: per-frame IoU and area ratio against true masks.

`python -m unseen.masks.trackeval DATA` measures the box tracker on every val clip with annotations (the box is
the bounding box of the truth on frame 0) and on the tripod clip 04_coffee (the blue mug; its truth is keyed from
its colour, see `blue_mug_truth`), and prints the table in docs/MASKS.md.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unseen.masks.source import MaskSource


@dataclass
class TrackScore:
    """One clip: mean and worst IoU, the largest area ratio (mask / truth) of any frame, ms per frame."""

    clip: str
    frames: int
    mean_iou: float
    worst_iou: float
    worst_area_ratio: float
    ms_per_frame: float
    mode: str = ""


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (x, y, w, h) of a non-empty bool (H, W) mask."""
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def score_source(clip: str, source: MaskSource, frames: Sequence[np.ndarray], truths: Sequence[np.ndarray]) -> TrackScore:
    """Run `source` over uint8 RGB frames and compare with bool truths (frames where the truth is empty are skipped)."""
    ious, ratios, spent = [], [], 0.0
    for frame, truth in zip(frames, truths, strict=True):
        start = time.perf_counter()
        mask = source(frame)
        spent += time.perf_counter() - start
        if truth.any():
            ious.append(iou(mask, truth))
            ratios.append(mask.sum() / truth.sum())
    mode = getattr(source, "mode", "")
    return TrackScore(clip, len(frames), float(np.mean(ious)), float(np.min(ious)), float(np.max(ratios)), 1000 * spent / len(frames), mode)


def blue_mug_truth(frame: np.ndarray) -> np.ndarray:
    """The saturated blue mug of 04_coffee, keyed by hue: bool (H, W) of the largest blue region, holes filled."""
    import cv2

    hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
    h, s, v = (hsv[..., k].astype(np.int32) for k in range(3))
    m = ((h > 95) & (h < 125) & (s > 90) & (v > 50)).astype(np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m)
    if n < 2:
        return np.zeros(frame.shape[:2], bool)
    m = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(m, contours, -1, 1, thickness=cv2.FILLED)
    return m > 0


def load_annotated_clip(root: Path, clip: str, limit: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames and truths of a DAVIS-layout clip; with several objects, the one largest on frame 0 is the truth."""
    from unseen.io.frames import list_images, read_image_rgb

    images = list_images(root / "JPEGImages" / clip)
    if limit:
        images = images[:limit]
    frames = [read_image_rgb(p) for p in images]
    labels = []
    for p in images:
        ann = read_image_rgb(root / "Annotations" / clip / (p.stem + ".png"))[..., 0]
        labels.append(ann)
    values, counts = np.unique(labels[0][labels[0] > 0], return_counts=True)
    target = values[np.argmax(counts)]
    return frames, [lab == target for lab in labels]


def load_video_clip(path: Path, truth: Callable[[np.ndarray], np.ndarray], limit: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames of a video and truths computed from each frame by `truth`."""
    from unseen.io.frames import open_frames

    frames = []
    with open_frames(path) as source:
        for frame in source:
            frames.append(frame)
            if limit and len(frames) >= limit:
                break
    return frames, [truth(f) for f in frames]


STATIC_CAMERA = {"e2fgvi-schoolgirls", "04_coffee"}


def evaluate(data: Path, make: Callable[[tuple[int, int, int, int]], MaskSource], limit: int = 0) -> list[TrackScore]:
    """Score a box-started mask source (made by `make(box)`) on the val clips with truths under `data`."""
    val = data / "val"
    clips: list[tuple[str, list[np.ndarray], list[np.ndarray]]] = []
    for clip in sorted(p.name for p in (val / "Annotations").iterdir() if p.is_dir()):
        clips.append((clip, *load_annotated_clip(val, clip, limit)))
    coffee = val / "videos" / "04_coffee.mp4"
    if coffee.exists():
        clips.append(("04_coffee", *load_video_clip(coffee, blue_mug_truth, limit)))
    scores = []
    for clip, frames, truths in clips:
        source = make(bbox(truths[0]))
        try:
            scores.append(score_source(clip, source, frames, truths))
        finally:
            source.close()
    return scores


def format_table(scores: Sequence[TrackScore]) -> str:
    """Markdown table of scores."""
    lines = [
        "| clip | camera | frames | mean IoU | worst IoU | worst area / truth | ms/frame | followed by |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for s in scores:
        camera = "static" if s.clip in STATIC_CAMERA else "moving"
        lines.append(
            f"| {s.clip} | {camera} | {s.frames} | {s.mean_iou:.3f} | {s.worst_iou:.3f} | {s.worst_area_ratio:.2f} | {s.ms_per_frame:.0f} | {s.mode} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the box tracker's table for the val clips under DATA (e.g. ../shared/data)."""
    from unseen.masks.tracker import BoxTrackerSource

    parser = argparse.ArgumentParser(prog="python -m unseen.masks.trackeval")
    parser.add_argument("data", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="frames per clip (0: all)")
    parser.add_argument("--no-segmenters", action="store_true", help="never follow with the person/hand segmenters")
    args = parser.parse_args(argv)
    scores = evaluate(args.data, lambda box: BoxTrackerSource(box, use_segmenters=not args.no_segmenters), args.limit)
    print(format_table(scores))


if __name__ == "__main__":
    main()
