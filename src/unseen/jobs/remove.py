"""`unseen remove`: source -> mask source -> inpainter -> sink, online, one frame at a time."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

from unseen.engine.inpainter import Inpainter
from unseen.engine.registry import make_inpainter
from unseen.errors import UnseenError
from unseen.io.frames import FrameSource, open_frames
from unseen.io.masks import MaskFiles
from unseen.io.writers import FrameWriter, check_output_path, open_writer
from unseen.masks.builtin import builtin_classes, builtin_mask_source, parse_builtin
from unseen.masks.source import CleanMaskSource, DilatedMaskSource, IteratorMaskSource, MaskSource

DEFAULT_DILATE = 4


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
    backend: str = "eager"  # how the model runs: eager, compile or onnx
    threads: int = 0  # torch / ONNX Runtime threads (0: the library's choice)
    remove: str | None = None  # COCO class names, with `detector`
    detector: str | None = None  # RTMDet-Ins or YOLO-seg .onnx
    detector_kind: str = "auto"
    score: float = 0.3
    min_area: int = 0  # drop hole components smaller than this (pixels)
    hold: int = 0  # temporal hysteresis: keep a pixel in the hole this many frames after it was last detected


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


def build_mask_source(opts: RemoveOptions, source: FrameSource) -> MaskSource:
    """Mask files, a box to track, or a detector with class names; cleaned and dilated as asked."""
    chosen = [bool(opts.masks), bool(opts.box), bool(opts.remove or opts.detector)]
    if sum(chosen) != 1:
        raise UnseenError(
            "give exactly one of --masks (mask files), --box (x,y,w,h of the object) or --remove CLASSES --detector MODEL.onnx"
        )
    hold = opts.hold
    if opts.masks:
        files = MaskFiles(opts.masks, source.info)
        inner: MaskSource = IteratorMaskSource(iter(files), on_close=files.close)
        dil = DEFAULT_DILATE if opts.dilate is None else opts.dilate
    elif opts.box:
        from unseen.masks.tracker import BoxTrackerSource, parse_box

        inner = BoxTrackerSource(parse_box(opts.box, source.info.width, source.info.height), start=opts.at, use_segmenters=True)
        dil = 2 if opts.dilate is None else opts.dilate
    elif opts.remove and not opts.detector and parse_builtin(opts.remove):
        inner = builtin_mask_source(opts.remove)  # person / hand / face from the bundled models
        dil = DEFAULT_DILATE if opts.dilate is None else opts.dilate
    else:
        from unseen.masks.detectors import DetectorMaskSource, class_ids, load_segmenter

        if not (opts.remove and opts.detector):
            raise UnseenError(
                f"--remove {opts.remove or ''}: only {', '.join(builtin_classes())} work without --detector MODEL.onnx (RTMDet-Ins or YOLO-seg; see docs/MASKS.md); --detector needs --remove"
            )
        inner = DetectorMaskSource(load_segmenter(opts.detector, opts.detector_kind, opts.score), class_ids(opts.remove))
        dil = DEFAULT_DILATE if opts.dilate is None else opts.dilate
        hold = 3 if hold == 0 else hold
    if dil < 0 or opts.min_area < 0 or hold < 0:
        raise UnseenError("--dilate, --min-area and --hold must be 0 or more")
    if opts.min_area or hold:
        inner = CleanMaskSource(inner, opts.min_area, hold)
    return DilatedMaskSource(inner, dil) if dil else inner


def process(source: FrameSource, masks: MaskSource, inpainter: Inpainter, writer: FrameWriter, progress: bool = True) -> tuple[int, int]:
    """Run the online loop; returns (frames written, frames that had a hole)."""
    from tqdm import tqdm

    holes = 0
    total = source.info.frame_count or None
    with tqdm(total=total, unit="frame", disable=not progress, dynamic_ncols=True, file=sys.stderr) as bar:
        for frame in source:
            mask = masks(frame)
            holes += bool(mask.any())
            for out in inpainter.push(frame, mask):
                writer.write(out)
            bar.update(1)
        for out in inpainter.flush():
            writer.write(out)
    return writer.count, holes


def run_remove(opts: RemoveOptions) -> RemoveReport:
    """Remove the masked object from a video; writes `opts.out` atomically and prints one summary line."""
    check_output_path(opts.out, opts.overwrite)
    if opts.crf < 0 or opts.crf > 51:
        raise UnseenError("--crf must be between 0 and 51")
    if not 0 <= opts.delay <= 16:
        raise UnseenError("--delay must be between 0 and 16 frames")
    inpainter = make_inpainter(opts.method, opts.weights, opts.delay, opts.backend, opts.threads)
    with open_frames(opts.input, opts.fps) as source:
        masks = build_mask_source(opts, source)
        try:
            start = time.perf_counter()
            with open_writer(opts.out, source.info, opts.overwrite, opts.crf, source.info.names) as writer:
                count, holes = process(source, masks, inpainter, writer, opts.progress)
                if count == 0:
                    raise UnseenError(f"{opts.input}: no frames could be read")
                out = writer.commit()
            seconds = time.perf_counter() - start
        finally:
            masks.close()
    if holes == 0:
        print("unseen: note: every mask was empty; the output is a copy of the input", file=sys.stderr)
    report = RemoveReport(out, count, seconds, holes)
    print(f"wrote {out}: {count} frames in {seconds:.1f} s ({report.fps:.1f} fps), method {opts.method}")
    return report
