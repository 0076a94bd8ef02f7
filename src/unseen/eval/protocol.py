"""The synthetic-mask evaluation protocol: reproducible masks over frames whose true content is known."""

from __future__ import annotations

import numpy as np

from unseen.datasets.holes import MaskConfig, MaskGenerator

PROTOCOL_DILATION = 4  # 3x3 cross, 4 iterations, as the published protocol


def stationary_masks(seed: int, t: int, h: int, w: int) -> np.ndarray:
    """Stationary free-form stroke masks (FuseFormer/E2FGVI kind), bool (T, H, W)."""
    cfg = MaskConfig(w_stroke=1, w_blob=0, w_silhouette=0, w_hand=0, max_objects=1, min_area=0.04, max_area=0.12, dilate=PROTOCOL_DILATION)
    return MaskGenerator(cfg)(np.random.default_rng(seed), t, h, w, moving=False)


def moving_masks(seed: int, t: int, h: int, w: int, silhouettes: list[np.ndarray] | None = None) -> np.ndarray:
    """Moving object-silhouette masks (blob shapes when no silhouettes are given), bool (T, H, W)."""
    cfg = MaskConfig(
        w_stroke=0, w_blob=0 if silhouettes else 1, w_silhouette=1, w_hand=0, max_objects=1,
        min_area=0.04, max_area=0.12, dilate=PROTOCOL_DILATION,
    )  # fmt: skip
    return MaskGenerator(cfg, silhouettes)(np.random.default_rng(seed), t, h, w, moving=True)
