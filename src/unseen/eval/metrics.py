"""Quality metrics on uint8 RGB frames: PSNR, SSIM, flow warping error, in-hole flicker."""

from __future__ import annotations

import numpy as np

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
