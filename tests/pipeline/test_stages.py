"""The overlapping-stage runner: order kept, memory bounded, every failure and Ctrl-C stop all stages."""

import threading
import time

import numpy as np
import pytest

from unseen.engine.inpainter import Inpainter
from unseen.errors import UnseenError
from unseen.pipeline import QUEUE_FRAMES, run


def _frames(n: int):
    """Tiny frames whose first pixel holds their index."""
    for i in range(n):
        f = np.zeros((4, 6, 3), np.uint8)
        f[0, 0] = (i % 256, i // 256, 0)
        yield f


def _index(frame: np.ndarray) -> int:
    return int(frame[0, 0, 0]) + 256 * int(frame[0, 0, 1])


class Jittery(Inpainter):
    """Marks its output and sleeps a varying time, so stages run at different speeds."""

    def __init__(self, fail_at: int | None = None, interrupt_at: int | None = None) -> None:
        self.seen = 0
        self.fail_at, self.interrupt_at = fail_at, interrupt_at

    def step(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.seen == self.fail_at:
            raise UnseenError("engine failed")
        if self.seen == self.interrupt_at:
            raise KeyboardInterrupt
        self.seen += 1
        time.sleep(0.0005 * (self.seen % 3))
        out = frame.copy()
        out[1:] = 7
        return out


class Delayed(Jittery):
    """Returns frames in batches of three, like an engine with a delay of 2."""

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[np.ndarray] = []

    def push(self, frame: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
        self.pending.append(self.step(frame, mask))
        if len(self.pending) < 3:
            return []
        done, self.pending = self.pending, []
        return done

    def flush(self) -> list[np.ndarray]:
        done, self.pending = self.pending, []
        return done


def _mask(frame: np.ndarray) -> np.ndarray:
    m = np.zeros(frame.shape[:2], bool)
    m[2, 3] = _index(frame) % 2 == 0
    return m


@pytest.mark.parametrize("engine", [Jittery, Delayed])
def test_every_frame_arrives_once_in_order(engine):
    got: list[np.ndarray] = []
    ticks: list[int] = []
    counts = run(_frames(200), _mask, engine(), got.append, ticks.append)
    assert [_index(f) for f in got] == list(range(200))
    assert all((f[1:] == 7).all() for f in got)  # every frame went through the inpainter
    assert (counts.frames, counts.written, counts.holes) == (200, 200, 100)
    assert sum(ticks) == 200
    assert counts.first_output_s is not None and counts.first_output_s >= 0
    assert set(counts.busy_s) == {"decode", "masks", "prepare", "inpaint", "sink"} and counts.busy_s["inpaint"] > 0


def test_memory_stays_bounded_when_the_sink_is_slow():
    alive: list[int] = []
    read = [0]

    def frames():
        for f in _frames(60):
            read[0] += 1
            yield f

    def slow_sink(frame: np.ndarray) -> None:
        time.sleep(0.002)
        alive.append(read[0] - _index(frame))  # frames read but not yet written

    run(frames(), _mask, Jittery(), slow_sink)
    # at most: one queue per stage boundary, plus one frame held by each of the four stages
    assert max(alive) <= 3 * QUEUE_FRAMES + 4


def _stage_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("unseen-")]


def test_an_engine_error_stops_every_stage_and_is_raised():
    got: list[np.ndarray] = []
    with pytest.raises(UnseenError, match="engine failed"):
        run(_frames(10_000), _mask, Jittery(fail_at=20), got.append)
    assert len(got) <= 20
    assert _stage_threads() == []


def test_a_decode_error_is_raised_with_its_own_type():
    def broken():
        yield from _frames(5)
        raise UnseenError("cannot decode the video")

    got: list[np.ndarray] = []
    with pytest.raises(UnseenError, match="cannot decode"):
        run(broken(), _mask, Jittery(), got.append)
    assert _stage_threads() == []


def test_mask_and_sink_errors_stop_the_run():
    def bad_mask(frame: np.ndarray) -> np.ndarray:
        if _index(frame) == 7:
            raise ValueError("mask source broke")
        return _mask(frame)

    with pytest.raises(ValueError, match="mask source broke"):
        run(_frames(10_000), bad_mask, Jittery(), lambda f: None)

    def bad_sink(frame: np.ndarray) -> None:
        if _index(frame) == 3:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        run(_frames(10_000), _mask, Jittery(), bad_sink)
    assert _stage_threads() == []


def test_ctrl_c_in_the_engine_stops_every_stage():
    got: list[np.ndarray] = []
    with pytest.raises(KeyboardInterrupt):
        run(_frames(10_000), _mask, Jittery(interrupt_at=30), got.append)
    assert len(got) <= 30
    assert _stage_threads() == []


def test_remove_cli_output_is_unchanged_by_the_pipeline(tmp_path):
    """The memory method through `unseen remove` gives the same frames as a plain loop over the inpainter."""
    from tests.conftest import moving_square_clip, write_pngs
    from unseen.cli import main
    from unseen.engine.memory import MemoryInpainter
    from unseen.io.frames import open_frames
    from unseen.masks.hygiene import dilate

    frames, masks, _ = moving_square_clip(15, 48, 64)
    write_pngs(tmp_path / "f", frames)
    write_pngs(tmp_path / "m", masks)
    assert (
        main(["remove", str(tmp_path / "f"), "--masks", str(tmp_path / "m"), "--out", str(tmp_path / "o"), "--method", "memory", "-q"]) == 0
    )
    with open_frames(tmp_path / "o") as src:
        out = list(src)
    engine = MemoryInpainter()
    expected = [engine.step(f, dilate(m, 4)) for f, m in zip(frames, masks, strict=True)]
    assert len(out) == 15
    for o, e in zip(out, expected, strict=True):
        assert np.array_equal(o, e)


def test_the_engines_guide_runs_one_frame_ahead_in_the_mask_thread_with_identical_output():
    """The overlapped pipeline (guide of t + 1 beside the network of t) gives the same bytes as stepping."""
    import torch

    from unseen.datasets.synthetic import moving_object_scene
    from unseen.engine.online import EngineConfig, OnlineInpainter
    from unseen.masks.hygiene import dilate
    from unseen.model.config import get_preset
    from unseen.model.generator import InpaintGenerator

    torch.manual_seed(0)
    model = InpaintGenerator(get_preset("tiny")).eval()
    torch.nn.init.normal_(model.decoder.out.weight, std=0.05)
    scene = moving_object_scene(14, 96, 160, seed=2)
    frames, masks = list(scene.frames), list(dilate(scene.masks, 3))
    frames[9] = 255 - frames[9]  # a scene cut: the network's cache must start over at the same frame
    config = EngineConfig(work_width=160, work_height=96, bf16=False, trust_memory=0)
    stepper = OnlineInpainter(model, config)
    want = [stepper.step(f, m) for f, m in zip(frames, masks, strict=True)]

    engine = OnlineInpainter(model, config)
    threads: set[str] = set()
    prepare = engine.prepare

    def spy(frame, mask):
        threads.add(threading.current_thread().name)
        return prepare(frame, mask)

    engine.prepare = spy
    holes = iter(masks)
    got: list[np.ndarray] = []
    run(iter(frames), lambda _f: next(holes), engine, got.append)
    assert threads == {"unseen-masks"}
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert np.array_equal(a, b)
