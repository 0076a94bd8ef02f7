"""The box tracker's cheaper per-frame helpers give, bit for bit, what the whole-frame computations they replace gave."""

import cv2
import numpy as np
import pytest

from unseen.masks.tracker import _bounds, _dilate, _mean_abs_diff


@pytest.mark.parametrize("shape", [(270, 480), (37, 53), (1, 7), (9, 1)])
def test_mean_abs_diff_is_numpys_mean_bit_for_bit(shape):
    rng = np.random.default_rng(len(shape) + shape[0])
    frame = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    # a background warped with the camera holds fractions; channels of very different sizes show any reordering
    # of the sum ((c0 + c1) + c2 and c0 + (c1 + c2) round differently)
    scale = np.array([1e-3, 1.0, 300.0])[rng.permutation(3)]
    background = (rng.random((*shape, 3)) * scale).astype(np.float32)
    want = np.abs(frame.astype(np.float32) - background).mean(axis=2)
    got = _mean_abs_diff(frame, background)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got, want)
    # a window of the frame (a strided view) too
    if min(shape) > 4:
        win = np.s_[2:-1, 3:-2]
        assert np.array_equal(
            _mean_abs_diff(frame[win], background[win]), np.abs(frame[win].astype(np.float32) - background[win]).mean(axis=2)
        )


def test_mean_abs_diff_on_a_real_warped_background():
    rng = np.random.default_rng(5)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (90, 160, 3), dtype=np.uint8), (5, 5), 0)
    background = cv2.warpAffine(frame.astype(np.float32), np.array([[1.01, 0.01, 0.37], [-0.01, 0.99, -0.61]]), (160, 90))
    assert np.array_equal(_mean_abs_diff(frame, background), np.abs(frame.astype(np.float32) - background).mean(axis=2))


@pytest.mark.parametrize("iterations", [1, 4])
@pytest.mark.parametrize("radius", [1, 4, 16])
def test_dilation_around_the_mask_is_the_whole_frames(radius, iterations):
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
    h, w = 60, 80
    yy, xx = np.mgrid[:h, :w]
    masks = [
        (xx - 40) ** 2 / 100 + (yy - 30) ** 2 / 30 <= 1,  # inside the frame
        (xx - 3) ** 2 + (yy - 57) ** 2 <= 49,  # across a corner
        (xx > 70) | ((yy == 3) & (xx == 5)),  # a band at the edge and a lone pixel far from it
        np.zeros((h, w), bool),
    ]
    for mask in masks:
        want = cv2.dilate(mask.astype(np.uint8), kernel, iterations=iterations) > 0
        assert np.array_equal(_dilate(mask, kernel, iterations), want)
    assert np.array_equal(
        _dilate(masks[0], np.ones((15, 15), np.uint8)), cv2.dilate(masks[0].astype(np.uint8), np.ones((15, 15), np.uint8)) > 0
    )


def test_bounds_are_the_true_pixels_box():
    mask = np.zeros((20, 30), bool)
    assert _bounds(mask) is None
    mask[3, 7] = mask[11, 2] = True
    assert _bounds(mask) == (2, 3, 8, 12)
