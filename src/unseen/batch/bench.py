"""Videos per hour for a validation set with 1, 2, ... local workers, measured in one run.

    python -m unseen.batch.bench ../shared/data/val --workers 1,2 --out bench-batch

Rows: every video of DATA/videos (masked by a fixed centred square one third of the frame's height, or by
NAME.mask_square.png beside it when there is one) and every clip of DATA/JPEGImages with its DATA/Annotations.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from unseen.batch.manifest import list_folder
from unseen.batch.runner import BatchConfig, BatchReport, run_batch
from unseen.errors import UnseenError


def square_mask(width: int, height: int) -> np.ndarray:
    """A centred square hole, side one third of the height: bool (H, W)."""
    mask = np.zeros((height, width), bool)
    side = height // 3
    top, left = (height - side) // 2, (width - side) // 2
    mask[top : top + side, left : left + side] = True
    return mask


def write_val_manifest(data: Path, work: Path) -> Path:
    """A JSONL manifest for the videos and annotated frame folders of a validation set; returns its path."""
    import cv2

    from unseen.io.frames import open_frames

    work.mkdir(parents=True, exist_ok=True)
    rows = []
    if (data / "videos").is_dir():
        for video in list_folder(data / "videos"):
            fixed = video.with_name(f"{video.stem}.mask_square.png")
            if not fixed.exists():
                with open_frames(video) as source:
                    info = source.info
                fixed = work / f"{video.stem}.square.png"
                cv2.imwrite(str(fixed), square_mask(info.width, info.height).astype(np.uint8) * 255)
            rows.append({"input": str(video), "output": f"{video.stem}.mp4", "masks": str(fixed)})
    if (data / "JPEGImages").is_dir():
        for clip in list_folder(data / "JPEGImages"):
            annotations = data / "Annotations" / clip.name
            if annotations.is_dir():
                rows.append({"input": str(clip), "output": f"{clip.name}.mp4", "masks": str(annotations)})
    if not rows:
        raise UnseenError(f"{data}: no videos/ or JPEGImages/ with Annotations/ to benchmark")
    manifest = work / "rows.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def bench_batch(data: str, workers: list[int], out: str, method: str = "model", progress: bool = True) -> list[tuple[int, BatchReport]]:
    """Run the same manifest once per worker count, in order (outputs redone each time); returns (workers, report) pairs."""
    manifest = write_val_manifest(Path(data), Path(out))
    reports = []
    for i, n in enumerate(workers):
        config = BatchConfig(
            inputs=str(manifest), out=str(Path(out) / f"run{i + 1}-workers-{n}"), options={"method": method}, workers=n, threads=1,
            force=True, progress=progress,
        )  # fmt: skip
        reports.append((n, run_batch(config)))
    return reports


def table(reports: list[tuple[int, BatchReport]], method: str) -> str:
    """The results as a Markdown table, with speed-ups against the first row."""
    lines = [
        "| workers (1 torch thread each) | method | videos | frames | wall s | videos/hour | frames/s | x first row | cores used | peak worker RSS MB | failed |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = reports[0][1].seconds
    for n, r in reports:
        rss = max((x.worker_rss_mb for x in r.results), default=0.0)
        cores = sum(x.cpu_seconds for x in r.results) / r.seconds
        lines.append(
            f"| {n} | {method} | {r.count('ok')} | {r.frames} | {r.seconds:.0f} | {r.videos_per_hour:.0f} | {r.frames / r.seconds:.1f} "
            f"| {base / r.seconds:.2f} | {cores:.2f} | {rss:.0f} | {r.count('failed')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line: print the table."""
    parser = argparse.ArgumentParser(prog="python -m unseen.batch.bench", description=__doc__.splitlines()[0])
    parser.add_argument("data", help="validation set: videos/ and JPEGImages/ + Annotations/")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare (default 1,2)")
    parser.add_argument("--method", default="model", help="inpainter (default model)")
    parser.add_argument("--out", default="bench-batch", help="working folder for masks, manifest and outputs")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        counts = [int(w) for w in args.workers.split(",") if w.strip()]
        start = time.perf_counter()
        reports = bench_batch(args.data, counts, args.out, args.method, not args.quiet)
    except (UnseenError, ValueError) as exc:
        print(f"unseen: error: {exc}", file=sys.stderr)
        return 2
    print(table(reports, args.method))
    print(f"({time.perf_counter() - start:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
