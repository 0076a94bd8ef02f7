"""Metric functions against hand-computed values."""

import numpy as np
import pytest

from tests.conftest import textured_background
from unseen.eval.metrics import hole_flicker, psnr, ssim, warping_error
from unseen.eval.protocol import moving_masks, stationary_masks


def test_psnr_of_a_known_mse():
    a = np.zeros((10, 10, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 30  # MSE = 900 / 300 = 3
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 3))
    assert psnr(a, a) == 100.0


def test_ssim_of_identical_images_is_one_and_lower_for_noise():
    img = textured_background(80, 96)
    assert ssim(img, img) == pytest.approx(1.0)
    noisy = np.clip(img + np.random.default_rng(0).normal(0, 20, img.shape), 0, 255).astype(np.uint8)
    assert ssim(img, noisy) < 0.97 and ssim(img, noisy, None) < 0.9  # the 65-px window is more lenient


def test_warping_error_of_a_pure_translation_is_near_zero():
    world = textured_background(120, 200, seed=3)
    frames = [world[:, 2 * t : 2 * t + 160].copy() for t in range(6)]
    assert warping_error(frames, frames) < 0.5
    rng = np.random.default_rng(1)
    flickering = [np.clip(f.astype(int) + rng.integers(-25, 25, f.shape), 0, 255).astype(np.uint8) for f in frames]
    assert warping_error(flickering, frames) > 5 * max(warping_error(frames, frames), 0.05)


def test_hole_flicker():
    truth = [np.full((8, 8, 3), 100, np.uint8)] * 3
    masks = [np.ones((8, 8), bool)] * 3
    assert hole_flicker(truth, truth, masks) == 0
    out = [np.full((8, 8, 3), v, np.uint8) for v in (100, 110, 100)]
    assert hole_flicker(out, truth, masks) == pytest.approx(10)


def test_protocol_masks_are_reproducible_from_the_seed():
    a, b = stationary_masks(5, 4, 60, 80), stationary_masks(5, 4, 60, 80)
    assert np.array_equal(a, b) and all(np.array_equal(a[0], m) for m in a)
    c, d = moving_masks(5, 4, 60, 80), moving_masks(5, 4, 60, 80)
    assert np.array_equal(c, d) and not all(np.array_equal(c[0], m) for m in c)
    assert not np.array_equal(stationary_masks(6, 4, 60, 80), a)


def test_lpips_from_weights_on_disk(tmp_path):
    import torch

    from unseen.errors import UnseenError
    from unseen.eval.lpips import LPIPS, _alexnet_features

    torch.manual_seed(0)
    torch.save({f"features.{k}": v for k, v in _alexnet_features().state_dict().items()}, tmp_path / "alexnet.pth")
    torch.save({f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) for i, c in enumerate((64, 192, 384, 256, 256))}, tmp_path / "alex.pth")
    metric = LPIPS(tmp_path / "alexnet.pth", tmp_path / "alex.pth")
    img = textured_background(64, 64)
    assert metric.frames(img, img) == pytest.approx(0.0, abs=1e-7)
    assert metric.frames(img, 255 - img) > metric.frames(img, np.clip(img.astype(int) + 3, 0, 255).astype(np.uint8)) > 0
    with pytest.raises(UnseenError, match="not found"):
        LPIPS(tmp_path / "nope.pth", tmp_path / "alex.pth")
    torch.save({"lin0.model.1.weight": torch.rand(1, 64, 1, 1)}, tmp_path / "bad.pth")
    with pytest.raises(UnseenError, match="do not match"):
        LPIPS(tmp_path / "alexnet.pth", tmp_path / "bad.pth")
