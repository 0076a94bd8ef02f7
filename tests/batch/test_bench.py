"""The batch benchmark's rows for the validation set, and its table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from unseen.batch.bench import square_mask, table, write_val_manifest
from unseen.batch.job import RowResult
from unseen.batch.runner import BatchReport


def test_square_mask_is_centred_and_a_third_of_the_height():
    mask = square_mask(90, 60)
    ys, xs = np.nonzero(mask)
    assert mask.shape == (60, 90) and mask.sum() == 400
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (20, 39, 35, 54)


def test_val_manifest_has_every_video_and_annotated_clip(shared_data: Path, tmp_path: Path):
    from unseen.io.masks import read_mask_file

    manifest = write_val_manifest(shared_data / "val", tmp_path)
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    names = [r["output"] for r in rows]
    assert "running_car.mp4" in names and "davis-camel.mp4" in names and len(set(names)) == len(names)
    for row in rows:
        assert Path(row["input"]).exists() and Path(row["masks"]).exists()
    vtest = next(r for r in rows if r["output"] == "vtest.mp4")
    assert read_mask_file(Path(vtest["masks"])).shape == (576, 768)


def test_table_reports_videos_per_hour_and_speed_up():
    one = BatchReport([RowResult("a", "a.mp4", frames=100, seconds=50.0, cpu_seconds=40.0)] * 2, seconds=100.0, summary=Path("s.csv"))
    two = BatchReport([RowResult("a", "a.mp4", frames=100, seconds=50.0, cpu_seconds=40.0)] * 2, seconds=50.0, summary=Path("s.csv"))
    text = table([(1, one), (2, two)], "model")
    assert "| 1 | model | 2 | 200 | 100 | 72 | 2.0 | 1.00 | 0.80 |" in text
    assert "| 2 | model | 2 | 200 | 50 | 144 | 4.0 | 2.00 | 1.60 |" in text
