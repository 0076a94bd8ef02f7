"""`unseen bench speed` pieces: busy-loop load, ROI-change notes, real clips, the printed table (no timing asserts)."""

import os

import numpy as np

from tests.conftest import moving_square_clip
from unseen.bench.speed import (
    REAL_CLIP,
    BusyLoad,
    SpeedRow,
    _ping_pong,
    _roi_note,
    load_real_clip,
    measure,
    measure_pipeline,
    print_table,
    run_speed_bench,
)
from unseen.engine.telea import TeleaInpainter


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_busy_load_starts_and_stops_its_processes():
    with BusyLoad(2) as load:
        pids = [p.pid for p in load.started]
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
        assert os.getpid() not in pids
    assert not any(_alive(pid) for pid in pids)


def test_roi_note_counts_size_changes_and_their_cost():
    sizes = [(96, 96), (96, 96), (144, 96), (144, 96), (144, 96), (96, 96)]
    times = np.array([0.010, 0.010, 0.050, 0.010, 0.010, 0.030])
    note = _roi_note(sizes, times)
    assert note == "ROI: 2 sizes, 2 changes; frame after a change p50 40.0 ms vs 10.0 ms"
    assert _roi_note([(96, 96)] * 3, times[:3]) == ""


def test_ping_pong_plays_forward_and_back_without_a_cut():
    frames = np.arange(4)[:, None, None, None] * np.ones((4, 2, 2, 3), np.uint8)
    masks = np.zeros((4, 2, 2), bool)
    f, m = _ping_pong(frames, masks, 9)
    assert [int(x[0, 0, 0]) for x in f] == [0, 1, 2, 3, 2, 1, 0, 1, 2]
    assert m.shape == (9, 2, 2)


def test_measure_times_every_frame_after_warmup():
    frames, masks, _ = moving_square_clip(10, 48, 64)
    row = measure("telea", TeleaInpainter, frames, masks, warmup=3)
    assert row.frames == 7 and row.fps > 0 and row.p50_ms <= row.p95_ms


def test_the_pipeline_row_counts_the_intervals_between_finished_frames():
    frames, masks, _ = moving_square_clip(10, 48, 64)
    row = measure_pipeline("telea, overlapped", TeleaInpainter, frames, masks, warmup=3)
    assert row.frames == 6 and row.fps > 0 and row.p50_ms <= row.p95_ms  # 7 frames after the warm-up: 6 intervals


def test_rows_selects_a_subset_of_the_bench(capsys):
    rows = run_speed_bench(frames=3, warmup=1, backends=("eager",), rows=("telea", "memory"))
    assert [r.name for r in rows] == ["telea", "memory"]
    assert "start-up" not in capsys.readouterr().out


def test_table_shows_loaded_fps_and_ratio(capsys):
    rows = [SpeedRow("telea", 10, 100.0, 10.0, 12.0, 50.0, "", 80.0), SpeedRow("engine", 10, 50.0, 20.0, 25.0, 60.0, "bf16", 45.0)]
    print_table(rows, load=1)
    out = capsys.readouterr().out
    assert "| engine | 10 | 50.0 | 20.0 | 25.0 | 60 | - | 0.50 | 45.0 | 0.90 | bf16 |" in out
    assert "fps, 1 busy" in out


def test_real_clip_has_a_mask_on_every_frame(shared_data):
    frames, masks = load_real_clip(shared_data, REAL_CLIP)
    assert frames.ndim == 4 and frames.shape[-1] == 3 and frames.dtype == np.uint8
    assert masks.shape == frames.shape[:3] and masks.dtype == bool
    cover = masks.mean(axis=(1, 2))
    assert (cover > 0.005).all() and (cover < 0.6).all()
