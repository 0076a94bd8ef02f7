"""The remaining commands end to end: demo, models, headless live, bench smoke runs."""

import re

import numpy as np

from tests.conftest import write_video
from unseen.cli import main
from unseen.datasets.synthetic import moving_object_scene
from unseen.io.frames import open_frames


def test_demo_writes_side_by_side_and_reports_psnr(tmp_path, capsys):
    out = tmp_path / "demo.mp4"
    assert main(["demo", "--method", "memory", "--frames", "12", "--out", str(out), "-q"]) == 0
    line = capsys.readouterr().out
    psnr = float(re.search(r"PSNR ([0-9.]+) dB", line).group(1))
    assert 20 < psnr < 100
    with open_frames(out) as video:
        assert (video.info.width, video.info.height, video.info.frame_count) == (3 * 480, 288, 12)
    assert main(["demo", "--method", "memory", "--frames", "12", "--out", str(out), "-q"]) == 2  # exists


def test_models_lists_presets_with_counts(capsys):
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in text.splitlines()[1:]}
    assert set(rows) == {"tiny", "small", "base"}
    assert float(rows["tiny"][1].rstrip("M")) < 0.2 and 1.0 <= float(rows["small"][1].rstrip("M")) <= 4.0


def test_headless_live_file_to_file(tmp_path, capsys):
    scene = moving_object_scene(20, 96, 128, seed=2)
    write_video(tmp_path / "in.mp4", scene.frames)
    ys, xs = np.nonzero(scene.masks[0])
    box = f"{xs.min() - 4},{ys.min() - 4},{xs.max() - xs.min() + 9},{ys.max() - ys.min() + 9}"
    args = ["live", "--source", str(tmp_path / "in.mp4"), "--out", str(tmp_path / "out.mp4"), "--box", box, "--method", "memory", "-q"]
    assert main(args) == 0
    assert "20 frames" in capsys.readouterr().out
    with open_frames(tmp_path / "out.mp4") as out:
        assert out.info.frame_count == 20
    assert main(["live", "--source", str(tmp_path / "in.mp4"), "-q"]) == 2  # --out missing: a clear error
    assert main(["live", "--source", "/dev/video99", "--out", str(tmp_path / "x.mp4"), "--box", "1,1,8,8"]) == 2


def test_bench_speed_smoke(capsys):
    from unseen.bench.speed import run_speed_bench

    rows = run_speed_bench(frames=6, warmup=2, naive_frames=2, backends=("eager",), hd_frames=2, startup=False)
    names = [r.name for r in rows]
    assert names[:3] == ["telea", "memory", "model, naive (full frame, clip recomputed)"] and len(rows) == 13
    assert "engine, eager, network every frame" in names
    assert "engine, eager, network every frame, overlapped stages (unseen remove)" in names
    assert names[-3:] == ["mask source: person", "mask source: hand", "mask source: face"]
    assert all(r.fps > 0 and r.p95_ms >= r.p50_ms > 0 for r in rows)
    assert "| engine, eager |" in capsys.readouterr().out
