"""The CLI's help, usage and argument errors: every option explained, one-line errors, exit code 2."""

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import moving_square_clip, write_video
from unseen.cli import build_parser, main
from unseen.io.frames import open_frames


def _help(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    return " ".join(capsys.readouterr().out.split())


def test_every_option_of_every_command_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    missing = [
        f"{name} {'/'.join(action.option_strings) or action.dest}"
        for name, command in sub.choices.items()
        for action in command._actions
        if not action.help
    ]
    assert missing == []


def test_help_names_mov_and_shows_that_mask_sources_exclude_each_other(capsys):
    for command in ("remove", "masks"):
        text = _help(capsys, [command])
        assert "[--masks MASKS | --box BOX | --remove REMOVE]" in text
        assert "(mp4, mkv, mov, avi, webm, h264, h265)" in text and ".mp4/.mkv/.mov" in text


def test_argument_errors_are_one_line_with_exit_2(capsys):
    cases = [
        (["remove", "in.mp4", "--out", "o", "--masks", "m", "--box", "1,2,3,4"], "argument --box: not allowed with argument --masks"),
        (["remove", "in.mp4"], "required: --out"),
        (["nonsense"], "invalid choice"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("unseen: error:") and message in err[0], err


def test_eval_on_a_missing_folder_says_so(tmp_path: Path, capsys):
    assert main(["eval", str(tmp_path / "missing"), "--out", str(tmp_path / "o"), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'missing'}: no such folder" in err and "training" not in err


def test_box_with_a_negative_coordinate_parses_in_both_forms(tmp_path: Path, capsys):
    frames, _, _ = moving_square_clip(4, 64, 96)
    write_video(tmp_path / "in.mp4", frames)
    base = ["remove", str(tmp_path / "in.mp4"), "--out", str(tmp_path / "o"), "--method", "telea", "-q"]
    for box in (["--box", "-10,-10,50,50"], ["--box=-10,-10,50,50"]):  # cut to the frame, with a note
        assert main(base + box + ["--overwrite"]) == 0
        assert "--box -10,-10,50,50 reaches past the 96x64 frame; using 0,0,40,40" in capsys.readouterr().err
    assert main(base + ["--box", "-60,-10,50,50", "--overwrite"]) == 2
    assert "--box '-60,-10,50,50': the box lies outside the 96x64 frame" in capsys.readouterr().err
    assert main(base + ["--box", "2,18,16,16", "--overwrite"]) == 0
    assert len(list((tmp_path / "o").iterdir())) == 4
    assert np.all([p.suffix == ".png" for p in (tmp_path / "o").iterdir()])


def test_fps_and_image_named_outputs_are_checked(tmp_path: Path, capsys):
    from tests.conftest import write_pngs

    frames, masks, _ = moving_square_clip(4, 64, 96)
    write_video(tmp_path / "in.mp4", frames)
    write_pngs(tmp_path / "f", frames)
    write_pngs(tmp_path / "m", masks)
    base = ["remove", "--masks", str(tmp_path / "m"), "--method", "telea", "-q"]
    cases = [
        ([str(tmp_path / "in.mp4"), "--out", str(tmp_path / "o.mp4"), "--fps", "50"], "--fps sets the frame rate of a folder of frames"),
        ([str(tmp_path / "f"), "--out", str(tmp_path / "o.mp4"), "--fps", "0"], "--fps 0.0: a frame rate must be between 0.5 and 1000"),
        ([str(tmp_path / "f"), "--out", str(tmp_path / "o.mp4"), "--fps", "nan"], "--fps nan"),
        ([str(tmp_path / "f"), "--out", str(tmp_path / "result.png")], "writing .png is not supported"),
        ([str(tmp_path / "f"), "--out", str(tmp_path / "result.avi")], "writing .avi is not supported"),
    ]
    for argv, message in cases:
        assert main(base + argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("unseen: error:") and message in err[-1], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "in.mp4", "m"]
    assert main(base + [str(tmp_path / "f"), "--out", str(tmp_path / "o.mp4"), "--fps", "12.5"]) == 0
    with open_frames(tmp_path / "o.mp4") as out:
        assert out.info.fps == pytest.approx(12.5)


def test_numbers_out_of_range_are_one_line_errors(tmp_path: Path, capsys):
    cases = [
        (["models", "--width", "0"], "--width 0 --height 288: each must be between 8 and 8192"),
        (["models", "--height", "-5", "--width", "10"], "--width 10 --height -5"),
        (["eval", str(tmp_path), "--width", "0", "-q"], "--width 0 --height 240"),
        (["bench", "speed", "--frames", "0"], "--frames, --naive-frames and --hd-frames must be 1 or more"),
        (["bench", "live", "--clients", "a"], "--clients 'a': expected client counts like 1,2,4"),
        (["bench", "live", "--clients", "0"], "--clients must be 1 or more each"),
        (["bench", "live", "--seconds", "-1"], "--seconds more than 0"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("unseen: error:") and message in err[0], (argv, err)


def test_a_score_out_of_range_and_a_video_path_ending_in_a_slash_are_refused(tmp_path: Path, capsys):
    frames, masks, _ = moving_square_clip(3, 64, 96)
    write_video(tmp_path / "in.mp4", frames)
    base = ["remove", str(tmp_path / "in.mp4"), "--method", "telea", "-q"]
    assert main(base + ["--remove", "person", "--score", "5", "--out", str(tmp_path / "a.mp4")]) == 2
    assert "--score 5.0: a detector score threshold lies between 0 and 1" in capsys.readouterr().err
    assert main(base + ["--box", "2,18,16,16", "--out", str(tmp_path / "b.mp4") + "/"]) == 2
    assert "ends with a slash (a folder) but names a video file" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]
