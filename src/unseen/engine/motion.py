"""Global (camera) motion between two frames: sparse Lucas-Kanade flow outside the holes, RANSAC similarity."""

from __future__ import annotations

import numpy as np


def global_motion(prev: np.ndarray, cur: np.ndarray, exclude: np.ndarray | None = None, max_points: int = 200) -> np.ndarray | None:
    """2x3 similarity matrix mapping `prev` to `cur` (uint8 grey images), or None when it cannot be trusted.

    Feature points inside `exclude` (bool, e.g. the dilated holes: moving objects) are not used.
    """
    import cv2

    allowed = None if exclude is None else (~exclude).astype(np.uint8)
    pts = cv2.goodFeaturesToTrack(prev, max_points, 0.01, 7, mask=allowed)
    if pts is None or len(pts) < 8:
        return None
    nxt, status, _ = cv2.calcOpticalFlowPyrLK(prev, cur, pts, None, winSize=(21, 21), maxLevel=3)
    ok = status[:, 0] == 1
    if ok.sum() < 8:
        return None
    matrix, inliers = cv2.estimateAffinePartial2D(pts[ok], nxt[ok], method=cv2.RANSAC, ransacReprojThreshold=1.0)
    if matrix is None or inliers is None or inliers.mean() < 0.5:
        return None
    return matrix


def is_translation(matrix: np.ndarray, tolerance: float = 2e-3) -> bool:
    """True when a similarity matrix has (almost) no rotation or scale."""
    return bool(np.abs(matrix[:, :2] - np.eye(2)).max() < tolerance)
