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
    """One clip: mean and worst IoU, the largest area ratio (mask / truth) of any frame, ms per frame; frames with
    the object in view but no mask (`lost`) and with a mask but no object in view (`stale`)."""

    clip: str
    frames: int
    mean_iou: float
    worst_iou: float
    worst_area_ratio: float
    ms_per_frame: float
    mode: str = ""
    lost: int = 0
    stale: int = 0


def bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (x, y, w, h) of a non-empty bool (H, W) mask."""
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def score_source(
    clip: str, source: MaskSource, frames: Sequence[np.ndarray], truths: Sequence[np.ndarray], masks: list[np.ndarray] | None = None
) -> TrackScore:
    """Run `source` over uint8 RGB frames and compare with bool truths (IoU and area over the frames where the truth
    is not empty; the others count as stale when the mask is not empty). The masks are appended to `masks` if given."""
    ious, ratios, spent, lost, stale = [], [], 0.0, 0, 0
    for frame, truth in zip(frames, truths, strict=True):
        start = time.perf_counter()
        mask = source(frame)
        spent += time.perf_counter() - start
        if masks is not None:
            masks.append(mask)
        if truth.any():
            ious.append(iou(mask, truth))
            ratios.append(mask.sum() / truth.sum())
            lost += not mask.any()
        else:
            stale += bool(mask.any())
    mode = getattr(source, "mode", "")
    ms = 1000 * spent / len(frames)
    return TrackScore(clip, len(frames), float(np.mean(ious)), float(np.min(ious)), float(np.max(ratios)), ms, mode, lost, stale)


def contact_sheet(
    path: Path, frames: Sequence[np.ndarray], masks: Sequence[np.ndarray], truths: Sequence[np.ndarray], count: int = 8
) -> Path:
    """Write a PNG of `count` evenly spaced frames (two rows), the mask outlined in green and the truth in magenta."""
    import cv2

    picks = np.linspace(0, len(frames) - 1, count).round().astype(int)
    tiles = []
    for i in picks:
        tile = frames[i].copy()
        for mask, colour in ((truths[i], (255, 0, 255)), (masks[i], (0, 255, 0))):
            contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(tile, contours, -1, colour, 2)
        cv2.putText(tile, str(i), (6, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 0), 2)
        tiles.append(tile)
    half = (len(tiles) + 1) // 2
    tiles += [np.zeros_like(tiles[0])] * (2 * half - len(tiles))
    sheet = np.vstack([np.hstack(tiles[:half]), np.hstack(tiles[half:])])
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return path


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


def evaluate(
    data: Path, make: Callable[[tuple[int, int, int, int]], MaskSource], limit: int = 0, sheets: Path | None = None, only: str = ""
) -> list[TrackScore]:
    """Score a box-started mask source (made by `make(box)`) on the val clips with truths under `data` (only those
    whose name contains `only`); with `sheets`, write a contact sheet per clip there."""
    val = data / "val"
    clips: list[tuple[str, list[np.ndarray], list[np.ndarray]]] = []
    for clip in sorted(p.name for p in (val / "Annotations").iterdir() if p.is_dir()):
        if only in clip:
            clips.append((clip, *load_annotated_clip(val, clip, limit)))
    coffee = val / "videos" / "04_coffee.mp4"
    if coffee.exists() and only in "04_coffee":
        clips.append(("04_coffee", *load_video_clip(coffee, blue_mug_truth, limit)))
    scores = []
    for clip, frames, truths in clips:
        source, masks = make(bbox(truths[0])), []
        try:
            scores.append(score_source(clip, source, frames, truths, masks))
        finally:
            source.close()
        if sheets is not None:
            contact_sheet(sheets / f"{clip}.png", frames, masks, truths)
    return scores


def format_table(scores: Sequence[TrackScore]) -> str:
    """Markdown table of scores."""
    lines = [
        "| clip | camera | frames | mean IoU | worst IoU | worst area / truth | lost frames | ms/frame | followed by |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in scores:
        camera = "static" if s.clip in STATIC_CAMERA else "moving"
        lines.append(
            f"| {s.clip} | {camera} | {s.frames} | {s.mean_iou:.3f} | {s.worst_iou:.3f} | {s.worst_area_ratio:.2f} | {s.lost} | {s.ms_per_frame:.0f} | {s.mode} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the box tracker's table for the val clips under DATA (e.g. ../shared/data)."""
    from unseen.masks.tracker import BoxTrackerSource

    parser = argparse.ArgumentParser(prog="python -m unseen.masks.trackeval")
    parser.add_argument("data", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="frames per clip (0: all)")
    parser.add_argument("--no-segmenters", action="store_true", help="never follow with the person/hand segmenters")
    parser.add_argument("--sheets", type=Path, help="folder for a contact sheet per clip (mask green, truth magenta)")
    parser.add_argument("--only", default="", help="only the clips whose name contains this")
    args = parser.parse_args(argv)

    def make(box: tuple[int, int, int, int]) -> BoxTrackerSource:
        return BoxTrackerSource(box, use_segmenters=not args.no_segmenters)

    scores = evaluate(args.data, make, args.limit, args.sheets, args.only)
    print(format_table(scores))


if __name__ == "__main__":
    main()
