"""Pipelines: source -> mask source -> inpainter -> sink.

- `assembly`: `MaskSpec`, `build_masks`, `load_inpainter`: the one place mask sources and inpainters are built.
- `stages`: `run`, decode / masks / inpainter / sink overlapped in threads with bounded queues.
- `removal`: `RemoveOptions`, `run_remove`: the `unseen remove` job, input file to output file, atomically.
- `demo`: the built-in demo.
"""

from unseen.pipeline.assembly import MaskSpec, build_masks, check_at, load_inpainter
from unseen.pipeline.stages import QUEUE_FRAMES, RunCounts, run

__all__ = ["QUEUE_FRAMES", "MaskSpec", "RunCounts", "build_masks", "check_at", "load_inpainter", "run"]
