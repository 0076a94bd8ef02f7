"""Camera motion between frames from the background: sparse Lucas-Kanade flow outside the holes (RANSAC
similarity or homography, or the fraction of background points that did not move); backward warping along a
dense flow."""

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


def motion_explains(prev: np.ndarray, cur: np.ndarray, matrix: np.ndarray, gain: float = 0.8) -> bool:
    """True when warping `prev` by `matrix` (2x3) explains `cur` (uint8 grey) clearly better than leaving it in place:
    mean absolute difference away from the borders below `gain` times the unwarped one. A still camera with a large
    object moving in front of it gives a global motion that follows the object and explains less of the frame than
    no motion at all."""
    import cv2

    h, w = prev.shape
    inner = (slice(h // 12, h - h // 12), slice(w // 12, w - w // 12))  # away from the borders the warp invents
    warped = cv2.warpAffine(prev, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return float(cv2.absdiff(cur, warped)[inner].mean()) < gain * float(cv2.absdiff(cur, prev)[inner].mean())


def is_translation(matrix: np.ndarray, tolerance: float = 2e-3) -> bool:
    """True when a similarity matrix has (almost) no rotation or scale."""
    return bool(np.abs(matrix[:, :2] - np.eye(2)).max() < tolerance)


def background_points(grey: np.ndarray, exclude: np.ndarray | None = None, max_points: int = 400) -> np.ndarray | None:
    """Corner points (N, 1, 2) float32 of a uint8 grey image outside `exclude` (bool), or None when too few."""
    import cv2

    allowed = None if exclude is None else (~exclude).astype(np.uint8)
    pts = cv2.goodFeaturesToTrack(grey, max_points, 0.005, 4, mask=allowed)
    return None if pts is None or len(pts) < 8 else pts


def track_points(ref: np.ndarray, cur: np.ndarray, pts: np.ndarray | None, exclude: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Lucas-Kanade tracks of `pts` (N, 1, 2) from `ref` into `cur` (uint8 grey): (src, dst) float32 (M, 2) of the
    points tracked and lying outside `exclude` (bool: the holes), or None when fewer than 8."""
    import cv2

    if pts is None:
        return None
    nxt, status, _ = cv2.calcOpticalFlowPyrLK(ref, cur, pts, None, winSize=(15, 15), maxLevel=2)
    h, w = cur.shape
    xy = np.clip(pts[:, 0].astype(int), 0, (w - 1, h - 1))
    ok = (status[:, 0] == 1) & ~exclude[xy[:, 1], xy[:, 0]]
    if ok.sum() < 8:
        return None
    return pts[ok, 0], nxt[ok, 0]


def still_fraction(
    tracks: tuple[np.ndarray, np.ndarray] | None, shape: tuple[int, int], tolerance: float, cells: tuple[int, int] = (8, 6)
) -> float | None:
    """Fraction of the image's cells (a cols x rows grid over an image of `shape` (H, W)) whose tracked points
    (`track_points`) moved less than `tolerance` px; None without tracks.

    Counted per cell, not per point: a person in front of a plain wall has most of the corners, yet the wall's
    few corners in many cells say the camera is still. Sub-pixel jitter and compression noise stay under the
    tolerance.
    """
    if tracks is None:
        return None
    src, dst = tracks
    h, w = shape
    xy = np.clip(src.astype(int), 0, (w - 1, h - 1))
    still = np.linalg.norm(dst - src, axis=1) < tolerance
    cell = (xy[:, 1] * cells[1] // h) * cells[0] + xy[:, 0] * cells[0] // w
    total = np.bincount(cell, minlength=cells[0] * cells[1])
    votes = np.bincount(cell, weights=still, minlength=cells[0] * cells[1])
    counted = total > 0
    return float(np.mean(votes[counted] * 2 >= total[counted]))


def camera_homography(tracks: tuple[np.ndarray, np.ndarray] | None, threshold: float = 1.0) -> np.ndarray | None:
    """3x3 homography mapping the tracks' `dst` points onto their `src` points (this frame -> the reference), fitted
    by RANSAC (`threshold` px) to the background's tracks; None when too few or when fewer than half fit it."""
    import cv2

    if tracks is None or len(tracks[0]) < 12:
        return None
    src, dst = tracks
    matrix, inliers = cv2.findHomography(dst, src, cv2.RANSAC, threshold)
    if matrix is None or inliers is None or inliers.mean() < 0.5:
        return None
    return matrix


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward-warp `image` (H, W[, C]) along a dense flow (H, W, 2) from the target to `image`, in pixels
    (bilinear, edges replicated)."""
    import cv2

    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
