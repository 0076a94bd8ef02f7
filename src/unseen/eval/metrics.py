"""Quality metrics on uint8 RGB frames: PSNR, SSIM, flow warping error, in-hole flicker."""

from __future__ import annotations

import numpy as np

from unseen.vision.motion import warp  # along a flow as returned by `flow_with_occlusion`

MAX_PSNR = 100.0


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB between two images of the same shape (capped at 100 dB when identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    if mse == 0:
        return MAX_PSNR
    return min(MAX_PSNR, 10.0 * np.log10(peak * peak / mse))


def ssim(a: np.ndarray, b: np.ndarray, win_size: int | None = 65) -> float:
    """Structural similarity of two uint8 RGB images; win_size 65 as the published video-inpainting protocol, None for skimage's 7."""
    from skimage.metrics import structural_similarity

    if win_size is not None:
        win_size = min(win_size, min(a.shape[:2]) // 2 * 2 - 1)
    return float(structural_similarity(a, b, channel_axis=-1, data_range=255, win_size=win_size))


def _grey(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def flow_with_occlusion(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DIS optical flow from `dst` back to `src` (for warping src onto dst) and a bool map of non-occluded dst pixels.

    Occlusion check: forward-backward consistency (|F_fw + F_bw(warped)| small).
    """
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    a, b = _grey(src), _grey(dst)
    back = dis.calc(b, a, None)  # dst -> src
    fwd = dis.calc(a, b, None)  # src -> dst
    h, w = a.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    fwd_at = cv2.remap(fwd, gx + back[..., 0], gy + back[..., 1], cv2.INTER_LINEAR)
    err = np.linalg.norm(back + fwd_at, axis=2)
    mag = np.linalg.norm(back, axis=2) ** 2 + np.linalg.norm(fwd_at, axis=2) ** 2
    valid = err**2 < 0.01 * mag + 0.5
    inside = (gx + back[..., 0] >= 0) & (gx + back[..., 0] <= w - 1) & (gy + back[..., 1] >= 0) & (gy + back[..., 1] <= h - 1)
    return back, valid & inside


def warping_error(outputs: list[np.ndarray], reference: list[np.ndarray]) -> float:
    """Flow warping error E_warp (Lai et al. 2018): mean squared difference (x 1e3, images in [0, 1]) between each output
    frame and the previous output frame warped onto it, over non-occluded pixels. The flow comes from `reference`
    (the original video) by OpenCV's DIS; published numbers used FlowNet2, so compare trends, not digits."""
    errors = []
    for t in range(1, len(outputs)):
        flow, valid = flow_with_occlusion(reference[t - 1], reference[t])
        warped = warp(outputs[t - 1], flow).astype(np.float64) / 255
        diff = ((outputs[t].astype(np.float64) / 255 - warped) ** 2).sum(axis=2)
        if valid.any():
            errors.append(float(diff[valid].mean()))
    return 1e3 * float(np.mean(errors)) if errors else 0.0


def hole_flicker(outputs: list[np.ndarray], truth: list[np.ndarray], masks: list[np.ndarray]) -> float:
    """Mean |(O_t - O_t-1) - (G_t - G_t-1)| in grey levels over pixels inside the hole in both frames: 0 when the
    fill changes exactly as the true content does."""
    values = []
    for t in range(1, len(outputs)):
        both = masks[t] & masks[t - 1]
        if both.any():
            d_out = outputs[t].astype(np.int16) - outputs[t - 1]
            d_true = truth[t].astype(np.int16) - truth[t - 1]
            values.append(float(np.abs(d_out - d_true)[both].mean()))
    return float(np.mean(values)) if values else 0.0
