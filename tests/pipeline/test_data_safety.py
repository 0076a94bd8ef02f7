"""unseen never loses a user's data: --overwrite replaces only its own output, and no exit leaves a partial file."""

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import moving_square_clip, write_pngs, write_video
from unseen.cli import main

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` with a hash of its bytes (folders as '/')."""
    out = {}
    for p in sorted(root.rglob("*")):
        out[str(p.relative_to(root))] = "/" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _last_err(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    return lines[-1] if lines else ""


@pytest.fixture
def project(tmp_path: Path):
    """A user's folder: the input video, its masks folder and an unrelated file."""
    frames, masks, _ = moving_square_clip(8, 48, 64)
    proj = tmp_path / "proj"
    proj.mkdir()
    write_video(proj / "in.mp4", frames)
    write_pngs(proj / "masks", masks)
    (proj / "notes.txt").write_text("my notes")
    return proj


def _remove(inp, masks, out, *extra) -> list[str]:
    return ["remove", str(inp), "--masks", str(masks), "--out", str(out), "--method", "telea", "-q", *extra]


def test_overwrite_refuses_a_folder_holding_the_input_and_other_files(project: Path, capsys):
    before = _snapshot(project)
    assert main(_remove(project / "in.mp4", project / "masks", project, "--overwrite")) == 2
    line = _last_err(capsys)
    assert line.startswith("unseen: error:") and "in.mp4" in line and "never replaces its inputs" in line
    assert _snapshot(project) == before


def test_overwrite_refuses_the_input_itself_and_the_masks(project: Path, capsys):
    before = _snapshot(project)
    frames = project / "frames"
    write_pngs(frames, moving_square_clip(8, 48, 64)[0])
    before = _snapshot(project)
    cases = [
        _remove(project / "in.mp4", project / "masks", project / "in.mp4", "--overwrite"),  # input == output
        _remove(frames, project / "masks", frames, "--overwrite"),  # frame folder == output folder
        _remove(project / "in.mp4", project / "masks", project / "masks", "--overwrite"),  # masks == output
        ["masks", str(frames), "--masks", str(project / "masks"), "--out", str(project / "masks"), "--overwrite", "-q"],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        assert "never replaces its inputs" in _last_err(capsys)
    assert _snapshot(project) == before


def test_overwrite_refuses_folders_with_anything_but_unseen_frames(project: Path, capsys):
    out = project / "out"
    out.mkdir()
    (out / "00000.png").write_bytes(b"old frame")
    (out / "holiday.jpg").write_bytes(b"a photo")
    (out / "sub").mkdir()
    before = _snapshot(project)
    assert main(_remove(project / "in.mp4", project / "masks", out, "--overwrite")) == 2
    line = _last_err(capsys)
    assert "holiday.jpg" in line and "sub/" in line and "nothing was touched" in line
    # a file where a PNG folder would go, and a folder where a video file would go
    (project / "result").write_bytes(b"not a folder")
    (project / "clip.mp4").mkdir()
    before = _snapshot(project)
    assert main(_remove(project / "in.mp4", project / "masks", project / "result", "--overwrite")) == 2
    assert "is a file" in _last_err(capsys)
    assert main(_remove(project / "in.mp4", project / "masks", project / "clip.mp4", "--overwrite")) == 2
    assert "is a folder" in _last_err(capsys)
    # and a file at a video path that is not a video (notes saved under the wrong name)
    (project / "notes.mp4").write_text("my notes, not a video")
    before = _snapshot(project)
    assert main(_remove(project / "in.mp4", project / "masks", project / "notes.mp4", "--overwrite")) == 2
    assert "is not a video file" in _last_err(capsys)
    assert _snapshot(project) == before


def test_overwrite_replaces_unseen_own_outputs(project: Path, tmp_path: Path):
    frames, masks, _ = moving_square_clip(8, 48, 64)
    named = tmp_path / "named"
    write_pngs(named, frames, [f"shot_{i}.jpg" for i in range(8)])
    out = tmp_path / "out"
    argv = _remove(named, project / "masks", out)
    assert main(argv) == 0
    (out / ".DS_Store").write_bytes(b"Finder was here")
    assert main(argv + ["--overwrite"]) == 0  # a folder of frames named after the input: unseen's own
    assert sorted(p.name for p in out.iterdir()) == sorted(f"shot_{i}.png" for i in range(8))
    video = tmp_path / "o.mp4"
    assert main(_remove(project / "in.mp4", project / "masks", video, "--method", "lastseen")) == 0
    old = video.read_bytes()
    assert main(_remove(project / "in.mp4", project / "masks", video, "--overwrite")) == 0  # a video: replaced
    assert video.stat().st_size > 100 and video.read_bytes()[4:8] == b"ftyp" and video.read_bytes() != old
    assert [p.name for p in tmp_path.iterdir() if ".partial-" in p.name or ".replaced-" in p.name] == []


def _wait_for(predicate, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 130)])
@pytest.mark.parametrize("out_name", ["out.mp4", "frames_out"])
def test_kill_mid_write_leaves_no_partial_output(tmp_path: Path, sig, code, out_name):
    frames, _, _ = moving_square_clip(40, 240, 320)
    long = np.concatenate([frames] * 20)  # 800 frames: several seconds of writing
    write_video(tmp_path / "in.mp4", long)
    mask = np.zeros((240, 320), bool)
    mask[100:140, 100:160] = True
    write_pngs(tmp_path, mask[None], ["logo.png"])
    env = {**os.environ, "PYTHONPATH": SRC}
    argv = [sys.executable, "-m", "unseen", *_remove(tmp_path / "in.mp4", tmp_path / "logo.png", tmp_path / out_name)]
    # as from a terminal: a test run started in the background (`pytest &`) has SIGINT ignored, which a child inherits
    # (it would never see Ctrl-C); a handled SIGINT is reset to the default in the child when it starts
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        assert _wait_for(lambda: any(".partial-" in p.name for p in tmp_path.iterdir()), 60), "no partial output appeared"
        time.sleep(0.3)
        assert proc.poll() is None, "the run finished before it could be stopped"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "logo.png"]


def test_a_hard_link_to_the_input_is_the_input(project: Path, capsys):
    os.link(project / "in.mp4", project / "link.mp4")
    before = _snapshot(project)
    assert main(_remove(project / "in.mp4", project / "masks", project / "link.mp4", "--overwrite")) == 2
    assert "never replaces its inputs" in _last_err(capsys)
    assert _snapshot(project) == before


def test_a_full_disk_is_one_line_and_leaves_nothing(project: Path, monkeypatch, capsys):
    import errno

    import unseen.io.writers as writers

    calls = {"n": 0}
    original = writers.encode_rgb

    def disk_fills_up(container, stream, frame, pts):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        original(container, stream, frame, pts)

    monkeypatch.setattr(writers, "encode_rgb", disk_fills_up)
    before = _snapshot(project)
    assert main(_remove(project / "in.mp4", project / "masks", project / "out.mp4")) == 2
    assert _last_err(capsys) == "unseen: error: No space left on device"
    assert _snapshot(project) == before
