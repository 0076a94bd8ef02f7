"""Overlapping stages for offline runs: decode, masks, the inpainter and the sink each in their own thread.

    frames ──► [decode thread] ─q─► [mask thread] ─q─► inpainter (calling thread) ─q─► [sink thread]

The inpainter runs in the calling thread: torch's thread settings belong to the thread that made them, and
Ctrl-C (KeyboardInterrupt) arrives there. The queues are small and bounded, so a long video never piles up in
memory; frames stay in order because every stage is one thread reading one FIFO queue. An error in any stage,
or Ctrl-C, stops every stage and is raised in the caller; the sink is then left uncommitted (callers use atomic
writers that discard their partial output).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from unseen.engine.inpainter import Inpainter
from unseen.masks.source import MaskSource

QUEUE_FRAMES = 4  # frames waiting between two stages: enough to smooth jitter, small enough to bound memory
_POLL_S = 0.1  # how often a blocked stage checks for a stop


@dataclass
class RunCounts:
    """What a run did."""

    frames: int = 0  # frames read
    written: int = 0  # frames given to the sink
    holes: int = 0  # frames whose mask had a hole
    first_output_s: float | None = None  # seconds from the call to the first frame reaching the sink
    busy_s: dict[str, float] = field(default_factory=dict)  # seconds each stage spent working (decode, masks, inpaint, sink)
    passed: list[list[int]] = field(default_factory=list)  # [first, last] index of each run of frames passed through


class _End:
    """Marks the end of a queue's stream."""


class _Stop(Exception):
    """Raised inside a stage when another stage asked everyone to stop."""


class _Stage:
    """A bounded queue whose put/get give up when the run is stopping."""

    def __init__(self, stop: threading.Event, size: int) -> None:
        self.stop = stop
        self.queue: queue.Queue = queue.Queue(maxsize=size)

    def put(self, item: object) -> None:
        while True:
            if self.stop.is_set():
                raise _Stop
            try:
                self.queue.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def get(self) -> object:
        while True:
            if self.stop.is_set():
                raise _Stop
            try:
                return self.queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue

    def items(self) -> Iterator:
        """Items until the end marker."""
        while not isinstance(item := self.get(), _End):
            yield item


def _worker(
    name: str, body: Callable[[], None], out: _Stage | None, errors: list[BaseException], stop: threading.Event
) -> threading.Thread:
    """A daemon thread running `body`, then ending `out`; a failure is recorded and stops every stage."""

    def main() -> None:
        try:
            body()
            if out is not None:
                out.put(_End())
        except _Stop:
            pass
        except BaseException as exc:  # noqa: BLE001 - any failure must reach the caller
            errors.append(exc)
            stop.set()

    thread = threading.Thread(target=main, name=f"unseen-{name}", daemon=True)
    thread.start()
    return thread


def run(
    frames: Iterable[np.ndarray],
    masks: Callable[[np.ndarray], np.ndarray],
    inpainter: Inpainter,
    sink: Callable[[np.ndarray], object],
    progress: Callable[[int], object] | None = None,
    queue_frames: int = QUEUE_FRAMES,
    timestamps: Callable[[], object] | None = None,
    max_hole: float = 1.0,
) -> RunCounts:
    """Read uint8 RGB (H, W, 3) frames, get each one's bool (H, W) hole from `masks(frame)`, inpaint online, and
    give the results to `sink` in input order; `progress(1)` is called per frame inpainted. Returns the counts.

    With `timestamps`, it is called right after each frame is read (e.g. the source's time of that frame) and
    the sink gets `sink(frame, time)`. Frames whose hole covers more than `max_hole` (0..1) of the frame are
    passed through unchanged (nothing to fill from); `RunCounts.passed` lists their runs."""
    start = time.perf_counter()
    stop = threading.Event()
    errors: list[BaseException] = []
    decoded, masked, finished = _Stage(stop, queue_frames), _Stage(stop, queue_frames), _Stage(stop, queue_frames)
    counts = RunCounts()

    busy = counts.busy_s = dict.fromkeys(("decode", "masks", "inpaint", "sink"), 0.0)

    def decode() -> None:
        source = iter(frames)
        while True:
            t = time.perf_counter()
            frame = next(source, None)
            stamp = timestamps() if timestamps is not None and frame is not None else None
            busy["decode"] += time.perf_counter() - t
            if frame is None:
                return
            decoded.put((frame, stamp))

    def mask() -> None:
        for frame, stamp in decoded.items():
            t = time.perf_counter()
            hole = masks(frame)
            busy["masks"] += time.perf_counter() - t
            masked.put((frame, hole, stamp))

    def write() -> None:
        for out, stamp in finished.items():
            t = time.perf_counter()
            if timestamps is None:
                sink(out)
            else:
                sink(out, stamp)
            busy["sink"] += time.perf_counter() - t
            if counts.first_output_s is None:
                counts.first_output_s = time.perf_counter() - start
            counts.written += 1

    threads = [_worker("decode", decode, decoded, errors, stop), _worker("masks", mask, masked, errors, stop)]
    writer = _worker("sink", write, None, errors, stop)
    try:
        try:
            stamps: deque = deque()  # input times of the frames inside the inpainter, oldest first
            for frame, hole, stamp in masked.items():
                index = counts.frames
                counts.frames += 1
                counts.holes += bool(hole.any())
                t = time.perf_counter()
                if hole.mean() > max_hole:  # nothing to fill from: finish what waits, then the frame as it is
                    done = [*inpainter.flush(), frame]
                    if counts.passed and counts.passed[-1][1] == index - 1:
                        counts.passed[-1][1] = index
                    else:
                        counts.passed.append([index, index])
                else:
                    done = inpainter.push(frame, hole)
                busy["inpaint"] += time.perf_counter() - t
                stamps.append(stamp)
                for out in done:
                    finished.put((out, stamps.popleft()))
                if progress is not None:
                    progress(1)
            t = time.perf_counter()
            done = inpainter.flush()
            busy["inpaint"] += time.perf_counter() - t
            for out in done:
                finished.put((out, stamps.popleft()))
            finished.put(_End())
        except _Stop:
            pass  # another stage failed: its error is in `errors`
        except BaseException:
            stop.set()
            raise
        writer.join()
    finally:
        stop.set()  # on success every stage has ended already; otherwise this releases them
        for thread in [*threads, writer]:
            thread.join(timeout=5.0)
    if errors:
        raise errors[0]
    return counts


# -- assembly: the one place where mask sources and inpainters are built -----------------------------------------

DILATE_FILES = 4  # holes from mask files or segmenters grow by this (annotations miss soft edges, blur, shadow)
DILATE_BOX = 2  # the box tracker already adds a margin
HOLD_CLASSES = 3  # segmenters flicker: a pixel stays in the hole this many frames after its last detection


@dataclass
class MaskSpec:
    """Where the holes come from: exactly one of mask files, a box to track, or class names; then hygiene.

    `dilate` and `hold` left at None take the defaults for the kind (files/classes: dilate 4; box: 2;
    classes: hold 3). Used by the CLI, the live server and the Python API alike.
    """

    masks: str | None = None  # folder of PNGs, one PNG for every frame, or a mask video
    box: tuple[int, int, int, int] | str | None = None  # (x, y, w, h) of the object on frame `at`, input pixels
    at: int = 0
    classes: str | list[str] | None = None  # "person", "hand", "face" (bundled), or COCO names with `detector`
    detector: str | None = None  # RTMDet-Ins / YOLO-seg .onnx for COCO classes
    detector_kind: str = "auto"
    score: float = 0.3
    dilate: int | None = None
    min_area: int = 0  # drop hole components smaller than this many pixels
    hold: int | None = None

    def class_names(self) -> str | None:
        """The classes as one comma-separated string (or None)."""
        if self.classes is None or isinstance(self.classes, str):
            return self.classes or None
        return ",".join(self.classes) or None


def build_masks(spec: MaskSpec, info) -> MaskSource:
    """The mask source for `spec` over a video described by `info` (`unseen.io.frames.SourceInfo`)."""
    from unseen.errors import UnseenError
    from unseen.masks.source import CleanMaskSource, DilatedMaskSource, IteratorMaskSource

    classes = spec.class_names()
    if sum([bool(spec.masks), spec.box is not None, bool(classes or spec.detector)]) != 1:
        raise UnseenError(
            "give exactly one of --masks (mask files), --box (x,y,w,h of the object) or --remove CLASSES (person, hand, face,"
            " or COCO classes with --detector MODEL.onnx)"
        )
    if spec.at and spec.box is None:
        raise UnseenError("--at is the frame --box refers to; it needs --box")
    hold = 0 if spec.hold is None else spec.hold
    dil = DILATE_FILES
    if spec.masks:
        from unseen.io.masks import MaskFiles

        files = MaskFiles(spec.masks, info)
        inner: MaskSource = IteratorMaskSource(iter(files), on_close=files.close)
    elif spec.box is not None:
        from unseen.masks.tracker import BoxTrackerSource, parse_box

        text = spec.box if isinstance(spec.box, str) else ",".join(str(v) for v in spec.box)
        check_at(spec.at, info.frame_count)
        inner = BoxTrackerSource(parse_box(text, info.width, info.height), start=spec.at, use_segmenters=True)
        dil = DILATE_BOX
    else:
        inner = _class_source(spec, classes)
        hold = HOLD_CLASSES if spec.hold is None else spec.hold
    dil = dil if spec.dilate is None else spec.dilate
    if dil < 0 or spec.min_area < 0 or hold < 0:
        raise UnseenError("--dilate, --min-area and --hold must be 0 or more")
    if spec.min_area or hold:
        inner = CleanMaskSource(inner, spec.min_area, hold)
    return DilatedMaskSource(inner, dil) if dil else inner


def check_at(at: int, frames: int) -> None:
    """Refuse a --box frame index outside the input (`frames`: the input's frame count, 0 when unknown)."""
    from unseen.errors import UnseenError

    if at < 0:
        raise UnseenError(f"--at {at}: a frame index is 0 or more")
    if frames and at >= frames:
        raise UnseenError(f"--at {at}: the input has {frames} frames (0..{frames - 1})")


def _class_source(spec: MaskSpec, classes: str | None) -> MaskSource:
    """Bundled segmenters for person/hand/face; an ONNX instance segmenter for COCO classes."""
    from unseen.errors import UnseenError

    if classes and not spec.detector:
        from unseen.masks.builtin import builtin_classes, builtin_mask_source, parse_builtin

        if parse_builtin(classes):
            return builtin_mask_source(classes)
        raise UnseenError(
            f"--remove {classes}: only {', '.join(builtin_classes())} work without --detector MODEL.onnx"
            " (RTMDet-Ins or YOLO-seg; see docs/MASKS.md)"
        )
    if not classes:
        raise UnseenError("--detector needs --remove CLASSES (COCO names, e.g. bottle,cup)")
    from unseen.masks.detectors import DetectorMaskSource, class_ids, load_segmenter

    return DetectorMaskSource(load_segmenter(spec.detector, spec.detector_kind, spec.score), class_ids(classes))


def load_inpainter(method: str = "model", weights: str = "small", engine=None) -> Inpainter:
    """The inpainter called `method` (model, memory, lastseen, telea): the only constructor of inpainters.

    `weights`: a preset name or a .safetensors path (model only); `engine`: an `unseen.engine.online.EngineConfig`
    (working size, backend, threads, delay, ...; model only; None: the defaults).
    """
    from unseen.engine.registry import make_inpainter

    return make_inpainter(method, weights, engine=engine)
