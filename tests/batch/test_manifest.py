"""Rows from folders and manifests: paths, placeholders, types, and the errors a user can make."""

from __future__ import annotations

from pathlib import Path

import pytest

from unseen.batch.manifest import read_rows
from unseen.errors import UnseenError


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_folder_lists_videos_and_frame_folders_with_cli_defaults(tmp_path: Path):
    _touch(tmp_path / "lib" / "b10.mkv")
    _touch(tmp_path / "lib" / "b2.mp4")
    _touch(tmp_path / "lib" / "clip" / "00000.jpg")
    _touch(tmp_path / "lib" / "notes.txt")
    _touch(tmp_path / "lib" / ".b2.mp4.partial-1234.mp4")
    (tmp_path / "lib" / "empty").mkdir()
    rows = read_rows(tmp_path / "lib", tmp_path / "out", {"masks": str(tmp_path / "m" / "{stem}.png"), "method": "memory", "dilate": 6})
    assert [Path(r.input).name for r in rows] == ["b2.mp4", "b10.mkv", "clip"]
    assert [Path(r.output).name for r in rows] == ["b2.mp4", "b10.mp4", "clip.mp4"]
    assert [Path(r.masks).name for r in rows] == ["b2.png", "b10.png", "clip.png"]
    assert {(r.method, r.dilate, r.weights, r.problem) for r in rows} == {("memory", 6, "small", None)}


def test_csv_rows_override_defaults_with_typed_values_and_paths_from_the_manifest(tmp_path: Path):
    _touch(tmp_path / "data" / "a.mp4")
    _touch(tmp_path / "data" / "b.mp4")
    manifest = tmp_path / "data" / "rows.csv"
    manifest.write_text(
        'input,output,box,at,score,masks,method\na.mp4,clean/a.mkv,"10,20,30,40",5,0.5,,\nb.mp4,,,,,masks/{stem},telea\nc.mp4,,,x1,,,\n'
    )
    rows = read_rows(manifest, tmp_path / "out", {"method": "model", "crf": 20})
    a, b, c = rows
    assert (a.box, a.at, a.score, a.method, a.crf, a.masks) == ("10,20,30,40", 5, 0.5, "model", 20, None)
    assert a.output == str(tmp_path / "out" / "clean" / "a.mkv") and a.problem is None
    assert (b.masks, b.method, b.output) == (str(tmp_path / "data" / "masks" / "b"), "telea", str(tmp_path / "out" / "b.mp4"))
    assert "at: expected a whole number, got 'x1'" in c.problem and "no such video" not in c.problem


def test_jsonl_rows_comments_lists_and_a_broken_line(tmp_path: Path):
    _touch(tmp_path / "a.mp4")
    manifest = tmp_path / "rows.jsonl"
    manifest.write_text(
        '# clips to clean\n{"input": "a.mp4", "box": [1, 2, 3, 4], "dilate": 3}\n{"input": "a.mp4", "output": "a2.mp4", \n\n[1]\n'
    )
    rows = read_rows(manifest, tmp_path / "out")
    assert (rows[0].box, rows[0].dilate, rows[0].problem) == ("1,2,3,4", 3, None)
    assert rows[1].problem.startswith("line 3 is not JSON") and rows[2].problem == "line 5 is not a JSON object"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("input,mask\na.mp4,m.png\n", "unknown columns ['mask']"),
        ("video\na.mp4\n", "needs a header row with an `input` column"),
        ("input,output\na.mp4,x.mp4\na.mp4,x.mp4\n", "would both write"),
        ("input\n", "the manifest has no rows"),
    ],
)
def test_manifest_mistakes_stop_before_anything_runs(tmp_path: Path, text: str, message: str):
    _touch(tmp_path / "a.mp4")
    (tmp_path / "rows.csv").write_text(text)
    with pytest.raises(UnseenError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_rows(tmp_path / "rows.csv", tmp_path / "out")


def test_a_frame_folder_given_as_the_library_is_refused(tmp_path: Path):
    _touch(tmp_path / "clip" / "00000.png")
    with pytest.raises(UnseenError, match="one frame folder"):
        read_rows(tmp_path / "clip", tmp_path / "out")
    _touch(tmp_path / "lib" / "x.txt")
    with pytest.raises(UnseenError, match="no videos"):
        read_rows(tmp_path / "lib", tmp_path / "out")
