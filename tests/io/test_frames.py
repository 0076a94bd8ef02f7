from pathlib import Path

import numpy as np
import pytest

from tests.conftest import moving_square_clip, write_pngs, write_video
from unseen.errors import UnseenError
from unseen.eval.metrics import psnr
from unseen.io.frames import natural_key, open_frames
from unseen.io.writers import open_writer


def test_natural_sort_orders_numbers_by_value():
    names = ["f10.png", "f2.png", "f1.png"]
    assert sorted(names, key=natural_key) == ["f1.png", "f2.png", "f10.png"]


def test_folder_source_reads_in_natural_order(tmp_path: Path):
    frames, _, _ = moving_square_clip(3, 32, 48)
    write_pngs(tmp_path, frames, ["f10.png", "f2.png", "f1.png"])
    with open_frames(tmp_path) as src:
        assert src.info.names == ["f1.png", "f2.png", "f10.png"]
        got = list(src)
    assert np.array_equal(got[0], frames[2]) and np.array_equal(got[2], frames[0])


def test_video_round_trip_keeps_count_size_fps_and_audio(tmp_path: Path):
    frames, _, _ = moving_square_clip(10, 64, 96)
    src_path = write_video(tmp_path / "in.mp4", frames, fps=30, audio=True)
    with open_frames(src_path) as src:
        info = src.info
        assert (info.width, info.height, info.frame_count) == (96, 64, 10)
        assert info.fps == pytest.approx(30, abs=0.01) and info.has_audio
        decoded_in = list(src)
        with open_writer(tmp_path / "out.mp4", info) as w:
            for f in decoded_in:
                w.write(f)
            w.commit()
    with open_frames(tmp_path / "out.mp4") as out:
        assert (out.info.width, out.info.height) == (96, 64)
        assert out.info.fps == pytest.approx(30, abs=0.01)
        assert out.info.has_audio
        decoded = list(out)
    assert len(decoded) == 10
    assert psnr(decoded[5], decoded_in[5]) > 32  # one generation of H.264 at crf 18


@pytest.mark.parametrize("ext,codec", [(".mkv", "libx264"), (".h264", "libx264"), (".avi", "mpeg4")])
def test_other_containers_and_raw_streams(tmp_path: Path, ext: str, codec: str):
    frames, _, _ = moving_square_clip(8, 48, 64)
    path = write_video(tmp_path / f"in{ext}", frames, codec=codec)
    with open_frames(path) as src:
        assert src.info.frame_count == 8
        assert len(list(src)) == 8


def test_png_writer_names_like_input_and_is_lossless(tmp_path: Path):
    frames, _, _ = moving_square_clip(3, 32, 48)
    write_pngs(tmp_path / "in", frames, ["a.jpg.png", "b.png", "c.png"])
    with open_frames(tmp_path / "in") as src, open_writer(tmp_path / "out", src.info, names=src.info.names) as w:
        for f in src:
            w.write(f)
        w.commit()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.jpg.png", "b.png", "c.png"]
    with open_frames(tmp_path / "out") as back:
        assert all(np.array_equal(a, b) for a, b in zip(back, frames, strict=True))


def test_writer_leaves_nothing_when_aborted(tmp_path: Path):
    frames, _, _ = moving_square_clip(3, 32, 48)
    with open_frames(write_video(tmp_path / "in.mp4", frames)) as src:
        with pytest.raises(KeyboardInterrupt), open_writer(tmp_path / "out.mp4", src.info) as w:
            w.write(frames[0])
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]


def test_missing_and_corrupt_inputs_raise_clear_errors(tmp_path: Path):
    with pytest.raises(UnseenError, match="no such file"):
        open_frames(tmp_path / "nope.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(UnseenError, match="cannot open|no video|corrupt|decode"):
        with open_frames(bad) as src:
            list(src)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UnseenError, match="no image frames"):
        open_frames(empty)
    (empty / "clip.mp4").write_bytes(b"")
    with pytest.raises(UnseenError, match=r"it holds videos \(clip.mp4\): give one of them as the input"):
        open_frames(empty)


def test_absurd_frame_size_is_refused(tmp_path: Path):
    write_pngs(tmp_path, np.zeros((1, 4, 4, 3), np.uint8))
    with pytest.raises(UnseenError, match="outside the supported range"):
        open_frames(tmp_path)


def test_repeated_frame_stems_never_overwrite_each_other(tmp_path: Path, capsys):
    frames, _, _ = moving_square_clip(4, 32, 48)
    write_pngs(tmp_path / "in", frames[:2], ["a.png", "b.png"])
    import cv2

    for i, name in enumerate(["a.jpg", "b.jpg"]):  # the same stems as JPEGs, and one of another size
        image = frames[2 + i] if i == 0 else cv2.resize(frames[3], (24, 16))
        cv2.imwrite(str(tmp_path / "in" / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    with open_frames(tmp_path / "in") as src, open_writer(tmp_path / "out", src.info, names=src.info.names) as w:
        for f in src:
            w.write(f)
        w.commit()
    err = capsys.readouterr().err
    assert "numbering the output frames" in err and "b.jpg is 24x16, the first frame 48x32" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{i:05d}.png" for i in range(4)]


def test_video_writer_keeps_times_and_survives_times_going_back(tmp_path: Path):
    import av

    from unseen.io.frames import SourceInfo

    frames, _, _ = moving_square_clip(8, 32, 48)
    times = [10.0, 10.04, 10.2, 10.24, 0.0, 0.04, 0.08, 0.5]  # starts late, a gap, then a splice back to 0
    with open_writer(tmp_path / "o.mp4", SourceInfo(48, 32, 25.0, 8)) as w:
        for f, t in zip(frames, times, strict=True):
            w.write_at(f, t)
        w.commit()
    with av.open(str(tmp_path / "o.mp4")) as c:
        got = [round(f.time, 3) for f in c.decode(c.streams.video[0])]
    assert got == [0.0, 0.04, 0.2, 0.24, 0.28, 0.32, 0.36, 0.78]


def test_a_video_changing_size_midway_is_resized_with_a_note(tmp_path: Path, capsys):
    big, _, _ = moving_square_clip(3, 64, 96)
    small, _, _ = moving_square_clip(3, 32, 48)
    write_video(tmp_path / "a.h264", big)
    write_video(tmp_path / "b.h264", small)
    (tmp_path / "ab.h264").write_bytes((tmp_path / "a.h264").read_bytes() + (tmp_path / "b.h264").read_bytes())
    with open_frames(tmp_path / "ab.h264") as src:
        assert [f.shape for f in src] == [(64, 96, 3)] * 6
    assert "frame 3 is 48x32, the first 96x64" in capsys.readouterr().err
