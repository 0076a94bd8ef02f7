"""Inputs that used to give a wrong result with exit 0 and no word: each now errors, warns or is handled right."""

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import moving_square_clip, textured_background, write_pngs, write_video
from unseen.cli import main
from unseen.eval.metrics import psnr
from unseen.io.frames import open_frames


def _err(capsys) -> str:
    return capsys.readouterr().err


def _read(path: Path) -> list[np.ndarray]:
    with open_frames(path) as src:
        return list(src)


def _remove(inp, masks, out, *extra) -> list[str]:
    return ["remove", str(inp), "--masks", str(masks), "--out", str(out), "--method", "telea", "-q", *extra]


def _noise_video(path: Path, n: int, h: int = 64, w: int = 96, **options: str) -> Path:
    """Hard-to-compress frames, so the file is long enough to cut in the middle."""
    frames = np.random.default_rng(0).integers(0, 255, (n, h, w, 3), dtype=np.uint8)
    return write_video(path, frames, container_options=options)


def test_truncated_faststart_mp4_is_an_error_unless_allowed(tmp_path: Path, capsys):
    whole = _noise_video(tmp_path / "whole.mp4", 100, movflags="+faststart")
    data = whole.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # the index is at the front
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 4 // 10])
    with open_frames(cut) as src:
        assert src.info.frame_count == 100
        decoded = len(list(src))
    assert 10 < decoded < 60
    logo = np.zeros((64, 96), bool)
    logo[4:12, 4:20] = True
    write_pngs(tmp_path, logo[None], ["logo.png"])
    out = tmp_path / "out.mp4"
    assert main(_remove(cut, tmp_path / "logo.png", out)) == 2
    line = _err(capsys).strip().splitlines()[-1]
    assert line.startswith("unseen: error:") and f"only {decoded} of the 100 frames" in line and "--allow-short" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.mp4", "logo.png", "whole.mp4"]
    assert main(_remove(cut, tmp_path / "logo.png", out, "--allow-short")) == 0
    assert f"warning: {cut}: only {decoded} of the 100 frames" in _err(capsys)
    assert len(_read(out)) == decoded
    # the mask preview reads the same way
    assert main(["masks", str(cut), "--masks", str(tmp_path / "logo.png"), "--out", str(tmp_path / "p.mp4"), "-q"]) == 2
    assert not (tmp_path / "p.mp4").exists()


def test_whole_frame_holes_pass_through_unchanged_with_one_warning_per_range(tmp_path: Path, capsys):
    frames, masks, _ = moving_square_clip(12, 64, 96)
    masks = masks.copy()
    masks[2:5] = True  # all-255 masks
    masks[8, :60] = True  # ~85% of the frame (after dilation a little more)
    masks[8, :, :70] = True
    write_pngs(tmp_path / "f", frames)
    write_pngs(tmp_path / "m", masks)
    for method, delay in (("telea", "0"), ("model", "0"), ("model", "2")):
        out = tmp_path / f"out_{method}{delay}"
        argv = ["remove", str(tmp_path / "f"), "--masks", str(tmp_path / "m"), "--out", str(out), "--method", method, "-q"]
        argv += ["--delay", delay] if delay != "0" else []
        assert main(argv) == 0
        warnings = [line for line in _err(capsys).splitlines() if "warning:" in line]
        assert len(warnings) == 2, warnings
        assert "frames 2-4:" in warnings[0] and "more than 80% of the frame" in warnings[0] and "passed through unchanged" in warnings[0]
        assert "frame 8:" in warnings[1]
        result = _read(out)
        for i in (2, 3, 4, 8):
            assert np.array_equal(result[i], frames[i])
        assert not np.array_equal(result[1], frames[1])  # ordinary frames are still filled
        assert (result[6][masks[6]] == (255, 0, 0)).all(axis=-1).mean() < 0.05
    from unseen.pipeline.removal import MAX_HOLE_SHARE

    assert f"more than {MAX_HOLE_SHARE:.0%} of it" in " ".join(capsys_help(capsys, ["remove", "--help"]).split())


def capsys_help(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit):
        main(argv)
    return capsys.readouterr().out


def test_at_beyond_the_input_is_an_error(tmp_path: Path, capsys):
    frames, _, _ = moving_square_clip(12, 64, 96)
    write_video(tmp_path / "in.mp4", frames)
    base = ["remove", str(tmp_path / "in.mp4"), "--box", "2,18,16,16", "--out", str(tmp_path / "o.mp4"), "--method", "telea", "-q"]
    for extra, message in [
        (["--at", "500"], "--at 500: the input has 12 frames (0..11)"),
        (["--at", "12"], "--at 12: the input has 12 frames (0..11)"),
        (["--at", "-1"], "--at -1: a frame index is 0 or more"),
    ]:
        assert main(base + extra) == 2
        assert message in _err(capsys)
    m = np.zeros((1, 64, 96), bool)
    write_pngs(tmp_path, m, ["m.png"])
    assert main(_remove(tmp_path / "in.mp4", tmp_path / "m.png", tmp_path / "o.mp4", "--at", "3")) == 2
    assert "needs --box" in _err(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "m.png"]
    assert main(base + ["--at", "11"]) == 0


def _packets(path: Path) -> list[bytes]:
    import av

    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


def test_all_empty_masks_copy_the_streams_without_re_encoding(tmp_path: Path, capsys):
    frames, masks, _ = moving_square_clip(12, 64, 96)
    write_video(tmp_path / "in.mp4", frames, audio=True)
    write_video(tmp_path / "in.mkv", frames, audio=True)
    write_pngs(tmp_path / "empty", np.zeros_like(masks))
    for src, ext in [("in.mp4", ".mp4"), ("in.mp4", ".mkv"), ("in.mp4", ".mov"), ("in.mkv", ".mp4")]:
        out = tmp_path / f"out_{src}{ext}"
        assert main(_remove(tmp_path / src, tmp_path / "empty", out)) == 0
        assert "copied without re-encoding" in _err(capsys)
        assert _packets(out) == _packets(tmp_path / src)  # the same compressed bytes, frame for frame
        with open_frames(out) as copy:
            assert copy.info.has_audio
    # frames from a folder cannot be copied into a video: say it is a re-encode
    write_pngs(tmp_path / "f", frames)
    assert main(_remove(tmp_path / "f", tmp_path / "empty", tmp_path / "f.mp4")) == 0
    assert "re-encoded (H.264, crf 18), not a bit-exact copy" in _err(capsys)
    assert main(_remove(tmp_path / "f", tmp_path / "empty", tmp_path / "fo")) == 0
    assert "the output frames are the input frames, unchanged" in _err(capsys)
    assert all(np.array_equal(a, b) for a, b in zip(_read(tmp_path / "fo"), frames, strict=True))
    assert [p.name for p in tmp_path.iterdir() if ".partial-" in p.name or ".copy" in p.name] == []


def _rotated_video(path: Path, raw: np.ndarray, rotation: float) -> Path:
    """A clip stored sideways with a display matrix, like a phone's portrait video."""
    return write_video(path, raw, stream_options={"crf": "12"}, rotation=rotation)


@pytest.mark.parametrize("rotation,turns", [(-90, 3), (90, 1), (180, 2)])
def test_rotated_input_is_processed_and_written_upright(tmp_path: Path, capsys, rotation: float, turns: int):
    upright = np.stack([textured_background(96, 64, seed=i) for i in range(6)])  # portrait 64x96 (w x h)
    upright[:, :20, :20] = (255, 0, 0)  # a red square at the top left, as the viewer sees it
    raw = np.stack([np.rot90(f, -turns) for f in upright])  # how the camera stored it
    src = _rotated_video(tmp_path / "phone.mp4", raw, rotation)
    with open_frames(src) as s:
        assert (s.info.width, s.info.height) == (64, 96)
        assert psnr(next(iter(s)), upright[0]) > 25  # the wrong way round: about 10
    hole = np.zeros((96, 64), bool)
    hole[40:60, 20:40] = True  # upright coordinates
    write_pngs(tmp_path, hole[None], ["m.png"])
    assert main(_remove(src, tmp_path / "m.png", tmp_path / "o.mp4")) == 0
    assert "display rotation" in _err(capsys)
    out = _read(tmp_path / "o.mp4")
    assert out[0].shape == (96, 64, 3)
    keep = ~np.pad(hole, 6)[6:-6, 6:-6]
    assert psnr(out[0][keep], upright[0][keep]) > 22  # two generations of H.264 on saturated red
    assert (out[0][:16, :16] == 255).all(axis=-1).mean() == 0 and out[0][:16, :16, 0].mean() > 200  # red, top left


def test_variable_frame_rate_keeps_each_frame_time(tmp_path: Path):
    import av

    frames, masks, _ = moving_square_clip(20, 64, 96)
    path = tmp_path / "vfr.mp4"
    times_ms = np.cumsum([0] + [40 if i % 2 == 0 else 120 for i in range(19)])
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        s.time_base = s.codec_context.time_base = Fraction(1, 1000)
        for f, t in zip(frames, times_ms, strict=True):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts, vf.time_base = int(t), Fraction(1, 1000)
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    write_pngs(tmp_path / "m", masks)
    for extra in ([], ["--method", "model", "--delay", "2"]):
        out = tmp_path / f"out{len(extra)}.mkv"
        assert main(_remove(path, tmp_path / "m", out) + extra) == 0
        with av.open(str(out)) as c:
            got = [round(f.time * 1000) for f in c.decode(c.streams.video[0])]
        assert got == [int(t) for t in times_ms]


def test_alpha_channel_is_noted(tmp_path: Path, capsys):
    import cv2

    frames, masks, _ = moving_square_clip(3, 64, 96)
    (tmp_path / "f").mkdir()
    for i, f in enumerate(frames):
        rgba = np.concatenate([cv2.cvtColor(f, cv2.COLOR_RGB2BGR), np.full((64, 96, 1), 128, np.uint8)], axis=2)
        cv2.imwrite(str(tmp_path / "f" / f"{i:05d}.png"), rgba)
    write_pngs(tmp_path / "m", masks)
    assert main(_remove(tmp_path / "f", tmp_path / "m", tmp_path / "o")) == 0
    notes = [line for line in _err(capsys).splitlines() if "alpha channel" in line]
    assert len(notes) == 1 and "ignored, the output has none" in notes[0]


def test_truncated_mkv_without_an_index_is_caught_by_its_duration(tmp_path: Path):
    whole = _noise_video(tmp_path / "whole.mkv", 100)
    data = whole.read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: len(data) * 4 // 10])
    for name, short in (("whole.mkv", False), ("cut.mkv", True)):
        with open_frames(tmp_path / name) as src:
            n = len(list(src))
            assert (src.shortfall() == (n, 100)) if short else (src.shortfall() is None and n == 100)


def test_a_short_truncated_mkv_is_caught_too(tmp_path: Path):
    # under a second of video lost: with no other stream in the file its duration is the video's own
    whole = _noise_video(tmp_path / "whole.mkv", 20)
    data = whole.read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: len(data) // 2])
    with open_frames(whole) as src:
        assert len(list(src)) == 20 and src.shortfall() is None
    with open_frames(tmp_path / "cut.mkv") as src:
        n = len(list(src))
        assert n < 16 and src.shortfall() is not None and src.shortfall()[0] == n


def test_complete_real_files_are_not_called_short(shared_data: Path):
    # a decoder dropping a frame or two (box, pillow, bgs-video02) and a sparse AVI whose index lists 444 slots for
    # 68 frames spread over its whole 29.6 s (tree) are complete files
    for name in ("tree.avi", "bgs-video02.avi", "box.mp4", "cotracker-pillow.mp4"):
        path = shared_data / "train" / "videos" / name
        if not path.exists():
            pytest.skip(f"{path} is not present")
        with open_frames(path) as src:
            list(src)
            assert src.shortfall() is None, name
