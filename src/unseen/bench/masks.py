"""Speed of the built-in mask sources (person, hand, face) per frame, as rows for `unseen bench speed`.

`mask_speed_rows(frames)` times each source over the given frames (640x480 is the reference size) in one run;
`python -m unseen.bench.masks [VIDEO]` prints them (a generated 640x480 clip when no video is given: no hands or
faces are in view there, so the hand row is the palm detector searching every frame).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from unseen.bench.speed import SpeedRow


def mask_speed_rows(frames: Sequence[np.ndarray], classes: Sequence[str] = ("person", "hand", "face"), warmup: int = 5) -> list[SpeedRow]:
    """Per-frame time of each built-in mask source over uint8 RGB frames (H, W, 3); the first `warmup` frames are not timed."""
    from unseen.bench.rss import peak_rss_mb, reset_peak
    from unseen.masks.builtin import builtin_mask_source

    rows = []
    h, w = frames[0].shape[:2]
    for name in classes:
        source = builtin_mask_source(name)
        reset_peak()
        times, covered = [], 0
        try:
            for i, frame in enumerate(frames):
                start = time.perf_counter()
                mask = source(frame)
                if i >= warmup:
                    times.append(time.perf_counter() - start)
                    covered += bool(mask.any())
        finally:
            source.close()
        t = np.array(times) * 1000
        note = f"{w}x{h}; a {name} in {covered}/{len(t)} frames"
        rows.append(
            SpeedRow(
                f"mask source: {name}",
                len(t),
                1000 / t.mean(),
                float(np.percentile(t, 50)),
                float(np.percentile(t, 95)),
                peak_rss_mb(),
                note,
            )
        )
    return rows


def bench_frames(video: str | Path | None, count: int, back_and_forth: bool = False) -> list[np.ndarray]:
    """`count` uint8 RGB frames at 640x480: a video's first ones (with `back_and_forth`, the whole video played
    forward and back until `count`: no jump that would restart the trackers), or a generated clip without one."""
    import cv2

    if video is None:
        from unseen.datasets.synthetic import moving_object_scene

        return list(moving_object_scene(count, 480, 640, seed=0).frames)
    from unseen.io.frames import open_frames

    frames = []
    with open_frames(video) as source:
        for frame in source:
            frames.append(cv2.resize(frame, (640, 480), interpolation=cv2.INTER_AREA))
            if len(frames) >= count and not back_and_forth:
                break
    if back_and_forth:
        cycle = frames + frames[-2:0:-1]
        frames = (cycle * (count // len(cycle) + 1))[:count]
    return frames


def main(argv: Sequence[str] | None = None) -> None:
    """Print the rows for a video (or a generated clip) at 640x480."""
    parser = argparse.ArgumentParser(prog="python -m unseen.bench.masks")
    parser.add_argument("video", nargs="?", help="a video or frame folder (resized to 640x480)")
    parser.add_argument("--frames", type=int, default=100)
    args = parser.parse_args(argv)
    frames = bench_frames(args.video, args.frames)
    for row in mask_speed_rows(frames):
        print(f"{row.name:24s} {row.p50_ms:7.1f} ms p50 {row.p95_ms:7.1f} ms p95 {row.fps:7.1f} fps  ({row.note})")


if __name__ == "__main__":
    main()
