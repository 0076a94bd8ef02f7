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


def test_frechet_distance_matches_closed_forms():
    from unseen.eval.vfid import frechet_distance, vfid

    # 1-D Gaussians: (m1 - m2)^2 + s1 + s2 - 2 sqrt(s1 s2)
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]])) == pytest.approx(4 + 4 + 9 - 12)
    # diagonal covariances: per-dimension sum
    d = frechet_distance(np.zeros(3), np.diag([1.0, 4.0, 9.0]), np.ones(3), np.diag([1.0, 1.0, 1.0]))
    assert d == pytest.approx(3 + (1 + 1 - 2) + (4 + 1 - 4) + (9 + 1 - 6))
    # a rotated (non-diagonal) pair with commuting covariances equals the diagonal case
    r = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    c1, c2 = r @ np.diag([2.0, 8.0]) @ r.T, r @ np.diag([8.0, 2.0]) @ r.T
    assert frechet_distance(np.zeros(2), c1, np.zeros(2), c2) == pytest.approx(2 * (2 + 8 - 2 * 4))
    rng = np.random.default_rng(0)
    feats = [rng.normal(size=16) for _ in range(6)]
    assert vfid(feats, feats) == pytest.approx(0.0, abs=1e-5)  # rank-deficient covariances: sqrt of ~1e-15 eigenvalues
    assert vfid(feats, [f + 1.0 for f in feats]) == pytest.approx(16.0)
    assert np.isnan(vfid(feats[:1], feats[:1]))


def test_i3d_loads_pytorch_i3d_layout(tmp_path):
    import torch

    from unseen.errors import UnseenError
    from unseen.eval.vfid import I3DFeatures

    torch.manual_seed(0)
    state = I3DFeatures().state_dict()
    # module names of pytorch-i3d's InceptionI3d, so its rgb_imagenet.pt loads as is
    for key in ("Conv3d_1a_7x7.conv3d.weight", "Conv3d_2c_3x3.bn.running_var", "Mixed_4f.b1b.conv3d.weight", "Mixed_5c.b3b.bn.bias"):
        assert key in state
    assert state["Conv3d_1a_7x7.conv3d.weight"].shape == (64, 3, 7, 7, 7)
    assert state["Mixed_5c.b0.conv3d.weight"].shape == (384, 832, 1, 1, 1)
    state["logits.conv3d.weight"] = torch.zeros(400, 1024, 1, 1, 1)  # the classifier head is ignored
    torch.save(state, tmp_path / "rgb_imagenet.pt")
    net = I3DFeatures.from_file(tmp_path / "rgb_imagenet.pt")
    video = np.stack([np.roll(textured_background(48, 64), 3 * i, axis=1) for i in range(8)])
    feat = net.video(video)
    assert feat.shape == (1024,) and np.isfinite(feat).all()
    assert np.array_equal(feat, net.video(video))
    assert not np.allclose(feat, net.video(255 - video))
    with pytest.raises(UnseenError, match="not found"):
        I3DFeatures.from_file(tmp_path / "nope.pt")
    torch.save({"Conv3d_1a_7x7.conv3d.weight": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(UnseenError, match="do not match"):
        I3DFeatures.from_file(tmp_path / "bad.pt")
