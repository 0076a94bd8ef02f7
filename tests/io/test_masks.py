from pathlib import Path

import numpy as np
import pytest

from tests.conftest import moving_square_clip, write_pngs, write_video
from unseen.errors import UnseenError
from unseen.io.frames import SourceInfo
from unseen.io.masks import MaskFiles


def _info(n: int, names=None, w: int = 48, h: int = 32) -> SourceInfo:
    return SourceInfo(width=w, height=h, fps=25, frame_count=n, names=names)


def test_masks_match_by_name_when_every_frame_has_one(tmp_path: Path):
    _, masks, _ = moving_square_clip(3, 32, 48)
    write_pngs(tmp_path, masks[::-1], ["c.png", "b.png", "a.png"])  # c gets the last mask
    got = list(MaskFiles(tmp_path, _info(3, ["a.jpg", "b.jpg", "c.jpg"])))
    assert all(np.array_equal(g, m) for g, m in zip(got, masks, strict=True))


def test_masks_fall_back_to_order_and_count_mismatch_names_both_counts(tmp_path: Path):
    _, masks, _ = moving_square_clip(3, 32, 48)
    write_pngs(tmp_path, masks, ["m1.png", "m2.png", "m3.png"])
    got = list(MaskFiles(tmp_path, _info(3, ["x.jpg", "y.jpg", "z.jpg"])))
    assert np.array_equal(got[1], masks[1])
    with pytest.raises(UnseenError, match="has 3 masks but the input has 5 frames"):
        MaskFiles(tmp_path, _info(5))


def test_any_nonzero_pixel_is_a_hole_and_single_png_repeats(tmp_path: Path):
    import cv2

    m = np.zeros((32, 48, 3), np.uint8)
    m[5, 7] = (0, 0, 1)  # a faint non-zero pixel in one channel
    cv2.imwrite(str(tmp_path / "logo.png"), m)
    it = iter(MaskFiles(tmp_path / "logo.png", _info(4)))
    first, second = next(it), next(it)
    assert first.sum() == 1 and first[5, 7] and np.array_equal(first, second)


def test_masks_of_another_size_are_resized_nearest_with_a_notice(tmp_path: Path, capsys):
    big = np.zeros((64, 96), bool)
    big[10:20, 30:50] = True
    write_pngs(tmp_path, big[None])
    got = next(iter(MaskFiles(tmp_path, _info(1))))
    assert got.shape == (32, 48) and got[5:10, 15:25].all() and got.sum() == 50
    assert "resizing masks" in capsys.readouterr().err


def test_masks_of_another_shape_are_refused(tmp_path: Path):
    tall = np.zeros((96, 64), bool)  # frames are 48x32: a turned picture, not the same one at another size
    tall[10:20, 30:50] = True
    write_pngs(tmp_path, tall[None])
    with pytest.raises(UnseenError, match="masks are 64x96 but frames are 48x32: another shape"):
        next(iter(MaskFiles(tmp_path, _info(1))))


def test_mask_video_by_order_and_count_check(tmp_path: Path):
    _, masks, _ = moving_square_clip(6, 32, 48)
    vid = np.repeat((masks * 255).astype(np.uint8)[..., None], 3, axis=3)
    path = write_video(tmp_path / "m.mp4", vid)
    got = list(MaskFiles(path, _info(6)))
    assert len(got) == 6
    assert (got[2] == masks[2]).mean() > 0.98
    with pytest.raises(UnseenError, match="has 6 frames but the input has 7"):
        MaskFiles(path, _info(7))
