"""`unseen batch` on local worker processes: outputs, resume, bad rows, a killed worker."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from tests.batch.conftest import WriterKiller, decode, long_clip
from unseen.cli import main
from unseen.pipeline.removal import RemoveOptions, run_remove


def _summary(out: Path) -> list[dict]:
    with (out / "summary.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _batch(lib: Path, *extra: str) -> int:
    args = ["batch", str(lib / "in"), "--out", str(lib / "out"), "--masks", str(lib / "masks" / "{stem}"), "--method", "telea"]
    return main([*args, "--workers", "2", "--crf", "0", "-q", *extra])  # lossless: x264 at crf 18 is not bit-reproducible


def test_folder_batch_equals_single_runs_and_leaves_no_partials(library: Path, capsys):
    assert _batch(library) == 0
    assert "3 written, 0 already done, 0 failed; 36 frames" in capsys.readouterr().out
    lines = _summary(library / "out")
    assert sorted(Path(r["output"]).name for r in lines) == ["c0.mp4", "c1.mp4", "c2.mp4"]
    assert {(r["status"], r["frames"], r["attempts"], r["error"]) for r in lines} == {("ok", "12", "1", "")}
    for k in range(3):
        single = library / f"single{k}.mp4"
        run_remove(
            RemoveOptions(
                str(library / "in" / f"c{k}.mp4"),
                str(single),
                masks=str(library / "masks" / f"c{k}"),
                method="telea",
                crf=0,
                progress=False,
            )
        )
        batch, alone = decode(library / "out" / f"c{k}.mp4"), decode(single)
        assert batch.shape == (12, 64, 96, 3)
        assert np.array_equal(batch, alone)
    assert sorted(p.name for p in (library / "out").iterdir()) == ["c0.mp4", "c1.mp4", "c2.mp4", "summary.csv"]


def test_resume_skips_finished_redoes_missing_stale_and_forced(library: Path, capsys):
    out = library / "out"
    assert _batch(library) == 0
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.mp4")}
    (out / "c1.mp4").unlink()  # as if the batch had been interrupted while c1 was being written by a killed worker:
    (out / ".c1.mp4.partial-deadbeef.mp4").write_bytes(b"half a video")
    capsys.readouterr()
    assert _batch(library) == 0
    assert "1 written, 2 already done, 0 failed; 12 frames" in capsys.readouterr().out
    assert (out / "c0.mp4").stat().st_mtime_ns == mtimes["c0.mp4"]
    assert (out / "c2.mp4").stat().st_mtime_ns == mtimes["c2.mp4"]
    assert not list(out.glob(".*partial*"))
    assert sorted(Path(r["output"]).name for r in _summary(out)) == ["c0.mp4", "c1.mp4", "c1.mp4", "c2.mp4"]
    # an input newer than its output is redone; --force redoes everything
    later = (out / "c2.mp4").stat().st_mtime + 10
    os.utime(library / "in" / "c2.mp4", (later, later))
    assert _batch(library) == 0
    assert "1 written, 2 already done" in capsys.readouterr().out
    assert _batch(library, "--force") == 0
    assert "3 written, 0 already done" in capsys.readouterr().out
    assert [r["status"] for r in _summary(out)].count("ok") == 8


def test_bad_rows_fail_alone_and_the_exit_code_says_so(library: Path, capsys):
    (library / "masks" / "short").mkdir()
    (library / "masks" / "c0" / "00000.png").rename(library / "masks" / "short" / "00000.png")
    manifest = library / "rows.csv"
    manifest.write_text(
        "input,output,masks,at,method\n"
        "in/c1.mp4,,masks/{stem},,telea\n"
        "in/missing.mp4,,masks/c1,,telea\n"
        "in/c0.mp4,bad-masks.mp4,masks/c0,,telea\n"
        "in/c2.mp4,c2-bad-at.mp4,masks/c2,soon,telea\n"
        "in/c2.mp4,c2-memory.mkv,masks/{stem},,memory\n"
    )
    code = main(["batch", str(manifest), "--out", str(library / "out"), "--workers", "2", "-q"])
    assert code == 1
    captured = capsys.readouterr()
    assert "2 written, 0 already done, 3 failed" in captured.out
    by_out = {Path(r["output"]).name: r for r in _summary(library / "out")}
    assert by_out["c1.mp4"]["status"] == "ok" and by_out["c2-memory.mkv"]["status"] == "ok"
    assert by_out["c2-memory.mkv"]["frames"] == "12"
    assert "no such video" in by_out["missing.mp4"]["error"]
    assert "11 masks but the input has 12 frames" in by_out["bad-masks.mp4"]["error"]
    assert "at: expected a whole number, got 'soon'" in by_out["c2-bad-at.mp4"]["error"]
    assert sorted(p.name for p in (library / "out").iterdir()) == ["c1.mp4", "c2-memory.mkv", "summary.csv"]
    assert decode(library / "out" / "c2-memory.mkv").shape == (12, 64, 96, 3)


def test_a_killed_worker_video_is_redone_whole(tmp_path: Path, capsys):
    video, masks = long_clip(tmp_path / "in")
    killer = WriterKiller(tmp_path / "out", "long.mp4")
    killer.start()
    code = main(
        ["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--masks", str(masks), "--method", "telea", "--crf", "0", "-q"]
    )
    killer.join(timeout=1)
    assert killer.killed is not None, "the worker finished before it could be killed"
    assert code == 0
    (line,) = _summary(tmp_path / "out")
    assert (line["status"], line["frames"], line["attempts"]) == ("ok", "160", "2")
    single = tmp_path / "single.mp4"
    run_remove(RemoveOptions(str(video), str(single), masks=str(masks), method="telea", crf=0, progress=False))
    assert np.array_equal(decode(tmp_path / "out" / "long.mp4"), decode(single))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["long.mp4", "summary.csv"]


def test_a_worker_over_its_memory_limit_is_replaced_after_its_video(library: Path):
    assert _batch(library, "--workers", "1", "--max-rss-mb", "1") == 0
    workers = [r["worker"] for r in _summary(library / "out")]
    assert len(set(workers)) == 3  # a fresh process for every video
    assert all(float(r["worker_rss_mb"]) > 1 for r in _summary(library / "out"))
    assert _batch(library, "--workers", "1", "--force") == 0
    assert len({r["worker"] for r in _summary(library / "out")[3:]}) == 1  # one process ran all three


def test_missing_folder_and_bad_options_are_user_errors(library: Path, capsys):
    assert main(["batch", str(library / "nowhere"), "--out", str(library / "out")]) == 2
    assert "no such folder or manifest" in capsys.readouterr().err
    assert main(["batch", str(library / "in"), "--out", str(library / "out"), "--threads", "0"]) == 2
    assert "--threads must be 1 or more" in capsys.readouterr().err
    assert not (library / "out").exists()
