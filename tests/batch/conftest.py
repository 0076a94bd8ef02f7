"""A small library of generated clips with mask folders, and a helper that kills the process writing an output."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import moving_square_clip, write_pngs, write_video


def decode(path: Path) -> np.ndarray:
    """All frames of a video or frame folder as (T, H, W, 3) uint8 RGB."""
    from unseen.io.frames import open_frames

    with open_frames(path) as src:
        return np.stack(list(src))


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """tmp/in/c0.mp4, c1.mp4, c2.mp4 (12 frames, 64x96, a red square each) and tmp/masks/c0/, c1/, c2/."""
    for k in range(3):
        frames, masks, _ = moving_square_clip(12, 64, 96, seed=k)
        (tmp_path / "in").mkdir(exist_ok=True)
        write_video(tmp_path / "in" / f"c{k}.mp4", frames)
        write_pngs(tmp_path / "masks" / f"c{k}", masks)
    return tmp_path


def long_clip(folder: Path, name: str = "long", frames: int = 160) -> tuple[Path, Path]:
    """FOLDER/NAME.mp4, a 240x320 clip with a 60-px square (a second or two of Telea), and its masks beside FOLDER."""
    video, masks, _ = moving_square_clip(frames, 240, 320, size=60, seed=7)
    folder.mkdir(parents=True, exist_ok=True)
    return write_video(folder / f"{name}.mp4", video), write_pngs(folder.parent / f"{name}-masks", masks)


def _writer_pid(partial: Path) -> int | None:
    """The process (not this one) that has `partial` open, from /proc."""
    target = str(partial)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) == target:
                    return int(proc.name)
        except OSError:
            continue
    return None


class WriterKiller(threading.Thread):
    """Watches `out_dir` for NAME's temporary output; SIGKILLs the process writing it, once, mid-video."""

    def __init__(self, out_dir: Path, name: str, timeout: float = 120.0) -> None:
        super().__init__(daemon=True)
        self.out_dir, self.name, self.timeout = out_dir, name, timeout
        self.killed: int | None = None
        self.partial: Path | None = None

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and self.killed is None:
            for partial in self.out_dir.glob(f".{self.name}.partial-*") if self.out_dir.is_dir() else []:
                pid = _writer_pid(partial)
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    self.killed, self.partial = pid, partial
                    return
            time.sleep(0.005)
