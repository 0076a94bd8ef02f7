"""Overlapping stages for offline runs: decode, masks, the inpainter and the sink each in their own thread.

    frames ──► [decode thread] ─q─► [mask thread: mask, then the inpainter's `prepare`] ─q─►
        inpainter's `push_prepared` (calling thread) ─q─► [sink thread]

The inpainter's network runs in the calling thread: torch's thread settings belong to the thread that made
them, and Ctrl-C (KeyboardInterrupt) arrives there. Its `prepare` (the engine's classical guide: flow, memory,
Telea) runs in the mask thread, so the guide of frame t + 1 is built on the other core while the network runs
frame t. The queues are small and bounded, so a long video never piles up in
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

    busy = counts.busy_s = dict.fromkeys(("decode", "masks", "prepare", "inpaint", "sink"), 0.0)

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
            t = time.perf_counter()
            passed = hole.mean() > max_hole  # nothing to fill from: the frame goes through as it is
            prepared = None if passed else inpainter.prepare(frame, hole)
            busy["prepare"] += time.perf_counter() - t
            masked.put((frame, hole, prepared, stamp))

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
            for frame, hole, prepared, stamp in masked.items():
                index = counts.frames
                counts.frames += 1
                counts.holes += bool(hole.any())
                t = time.perf_counter()
                if prepared is None:  # passed through: finish what waits, then the frame as it is
                    done = [*inpainter.flush(), frame]
                    if counts.passed and counts.passed[-1][1] == index - 1:
                        counts.passed[-1][1] = index
                    else:
                        counts.passed.append([index, index])
                else:
                    done = inpainter.push_prepared(prepared)
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
