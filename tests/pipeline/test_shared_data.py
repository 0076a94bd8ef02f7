"""Acceptance on the real clips in ../shared/data (skipped where that folder is absent)."""

import numpy as np

from unseen.cli import main
from unseen.io.frames import open_frames
from unseen.io.masks import MaskFiles
from unseen.masks.hygiene import dilate


def test_tennis_png_folder_with_the_shipped_model(shared_data, tmp_path):
    frames_dir = shared_data / "val" / "JPEGImages" / "propainter-tennis"
    masks_dir = shared_data / "val" / "Annotations" / "propainter-tennis"
    assert main(["remove", str(frames_dir), "--masks", str(masks_dir), "--out", str(tmp_path / "out"), "-q"]) == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == sorted(p.stem + ".png" for p in frames_dir.iterdir())
    assert len(names) == 70
    with open_frames(frames_dir) as src, open_frames(tmp_path / "out") as out:
        inputs, outputs = list(src), list(out)
        info = src.info
    holes = dilate(np.stack(list(MaskFiles(masks_dir, info))[:70]), 4)
    for a, b, h in zip(inputs, outputs, holes, strict=True):
        assert a.shape == b.shape and np.array_equal(a[~h], b[~h])  # lossless outside the holes
    assert np.abs(outputs[30][holes[30]].astype(int) - inputs[30][holes[30]]).mean() > 10  # the player is gone


def test_running_car_with_a_logo_mask(shared_data, tmp_path):
    video = shared_data / "val" / "videos" / "running_car.mp4"
    logo = shared_data / "val" / "videos" / "running_car.mask_logo.png"
    out = tmp_path / "car.mp4"
    assert main(["remove", str(video), "--masks", str(logo), "--out", str(out), "--method", "memory", "-q"]) == 0
    with open_frames(video) as src, open_frames(out) as result:
        assert (result.info.width, result.info.height) == (src.info.width, src.info.height)
        assert result.info.frame_count == src.info.frame_count
        assert abs(result.info.fps - src.info.fps) < 0.01
