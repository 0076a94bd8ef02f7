"""`unseen remove`: source -> mask source -> inpainter -> sink, online, one frame at a time."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from unseen.engine.inpainter import Inpainter
from unseen.errors import UnseenError
from unseen.io.frames import FrameSource, open_frames
from unseen.io.writers import FrameWriter, VideoWriter, check_output_path, open_writer
from unseen.masks.source import MaskSource
from unseen.pipeline.assembly import MaskSpec, build_masks, load_inpainter

MAX_HOLE_SHARE = 0.8  # frames whose hole covers more than this share are passed through unchanged


@dataclass
class RemoveOptions:
    """Arguments of `unseen remove`."""

    input: str
    out: str
    masks: str | None = None
    box: str | None = None
    at: int = 0
    method: str = "model"
    weights: str = "small"
    dilate: int | None = None
    overwrite: bool = False
    progress: bool = True
    fps: float | None = None
    crf: int = 18
    delay: int = 0  # frames of added delay the model may batch over (0: none)
    backend: str = "auto"  # how the model runs: auto (fastest that passes a self-check), eager, compile, onnx, openvino
    threads: int = 0  # intra-op threads of the model (0: one)
    remove: str | None = None  # COCO class names, with `detector`
    detector: str | None = None  # RTMDet-Ins or YOLO-seg .onnx
    detector_kind: str = "auto"
    score: float = 0.3
    min_area: int = 0  # drop hole components smaller than this (pixels)
    hold: int = 0  # temporal hysteresis: keep a pixel in the hole this many frames after it was last detected
    allow_short: bool = False  # accept a truncated input (fewer frames decoded than its index lists), with a warning


@dataclass
class RemoveReport:
    """What a run did."""

    out: Path
    frames: int
    seconds: float
    hole_frames: int

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def inputs_of(opts: RemoveOptions) -> tuple[str | None, ...]:
    """The files a run reads (input, masks, detector): an output may never be or hold one of them."""
    return (opts.input, opts.masks, opts.detector)


def check_complete(source: FrameSource, allow_short: bool) -> None:
    """A file that ended before the frames it lists (truncated): an error, or a warning with --allow-short."""
    short = source.shortfall()
    if short is None:
        return
    decoded, expected = short
    what = f"{source.info.path or 'the input'}: only {decoded} of the {expected} frames the file lists could be decoded (truncated or damaged file)"
    if not allow_short:
        raise UnseenError(f"{what}; nothing was written. Pass --allow-short to accept the {decoded} frames")
    print(f"unseen: warning: {what}; writing those {decoded} frames (--allow-short)", file=sys.stderr)


def mask_spec(opts: RemoveOptions) -> MaskSpec:
    """The mask part of the options."""
    return MaskSpec(
        masks=opts.masks,
        box=opts.box or None,
        at=opts.at,
        classes=opts.remove,
        detector=opts.detector,
        detector_kind=opts.detector_kind,
        score=opts.score,
        dilate=opts.dilate,
        min_area=opts.min_area,
        hold=opts.hold or None,  # 0: the default for the kind (3 with classes)
    )


def build_mask_source(opts: RemoveOptions, source: FrameSource) -> MaskSource:
    """Mask files, a box to track, or classes (bundled segmenters or a detector); cleaned and dilated as asked."""
    return build_masks(mask_spec(opts), source.info)


def process(
    source: FrameSource,
    masks: MaskSource,
    inpainter: Inpainter,
    writer: FrameWriter,
    progress: bool = True,
    max_hole: float = MAX_HOLE_SHARE,
) -> tuple[int, int]:
    """Run the online loop (decode, masks, inpainter and writer overlap in threads); returns (frames written, frames
    that had a hole). Each frame keeps its input time; frames whose hole covers more than `max_hole` of the frame
    (0..1) are passed through unchanged, with one warning per run of such frames."""
    from tqdm import tqdm

    from unseen.pipeline import run

    total = source.info.frame_count or None
    with tqdm(total=total, unit="frame", disable=not progress, dynamic_ncols=True, file=sys.stderr) as bar:
        counts = run(source, masks, inpainter, writer.write_at, bar.update, timestamps=lambda: source.last_time, max_hole=max_hole)
    for first, last in counts.passed:
        frames = f"frame {first}" if first == last else f"frames {first}-{last}"
        print(
            f"unseen: warning: {frames}: the hole covers more than {max_hole:.0%} of the frame, too little to fill from; "
            "passed through unchanged (inverted masks? white or non-zero = remove)",
            file=sys.stderr,
        )
    return writer.count, counts.holes


def run_remove(opts: RemoveOptions) -> RemoveReport:
    """Remove the masked object from a video; writes `opts.out` atomically and prints one summary line."""
    if opts.crf < 0 or opts.crf > 51:
        raise UnseenError("--crf must be between 0 and 51")
    if not 0 <= opts.delay <= 16:
        raise UnseenError("--delay must be between 0 and 16 frames")
    with open_frames(opts.input, opts.fps) as source:
        check_output_path(opts.out, opts.overwrite, inputs_of(opts), source.info.names)
        inpainter = load_inpainter(  # masks not from files are tracked or segmented: they may miss the object's edge
            opts.method, opts.weights, delay=opts.delay, backend=opts.backend, threads=opts.threads, masks_lag=opts.masks is None
        )
        masks = build_mask_source(opts, source)
        try:
            start = time.perf_counter()
            with open_writer(opts.out, source.info, opts.overwrite, opts.crf, source.info.names, inputs_of(opts)) as writer:
                count, holes = process(source, masks, inpainter, writer, opts.progress)
                if count == 0:
                    raise UnseenError(f"{opts.input}: no frames could be read")
                if opts.box and count <= opts.at:
                    raise UnseenError(f"--at {opts.at}: the input has only {count} frames (0..{count - 1})")
                check_complete(source, opts.allow_short)
                copied = holes == 0 and _copy_input_streams(source, writer)
                out = writer.commit()
            seconds = time.perf_counter() - start
        finally:
            masks.close()
    if holes == 0:
        if copied:
            how = "the output holds the input's own streams, copied without re-encoding"
        elif isinstance(writer, VideoWriter):
            how = f"the output is the input re-encoded (H.264, crf {opts.crf}), not a bit-exact copy"
        else:
            how = "the output frames are the input frames, unchanged"
        print(f"unseen: note: every mask was empty; {how}", file=sys.stderr)
    report = RemoveReport(out, count, seconds, holes)
    print(f"wrote {out}: {count} frames in {seconds:.1f} s ({report.fps:.1f} fps), method {opts.method}")
    return report


def _copy_input_streams(source: FrameSource, writer: FrameWriter) -> bool:
    """Nothing was removed: put the input video's own packets into a video output (True if that worked)."""
    path = source.info.path
    if not isinstance(writer, VideoWriter) or path is None or not path.is_file():
        return False
    return writer.copy_streams_from(path)
