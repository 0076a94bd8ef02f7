"""A textured object moving over a real clip, with each frame's index stamped in a corner: the truth under
the object is the clip itself, and whoever sees a frame (a page, a recording) can tell which one it is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

INDEX_BITS = 10  # frames are numbered modulo 1024
CELL = 8  # px per stamped bit


@dataclass
class ClipScene:
    """frames (T, H, W, 3) uint8 RGB with the object; truth (T, H, W, 3) the clip without it; masks (T, H, W) bool."""

    frames: np.ndarray
    truth: np.ndarray
    masks: np.ndarray
    box: tuple[int, int, int, int]  # x, y, w, h around the object on frame 0, with a margin (what a user would draw)
    area: tuple[int, int, int, int]  # x, y, w, h covering every position of the object

    def box_at(self, index: int, ahead: int = 20) -> tuple[int, int, int, int]:
        """x, y, w, h around the object over frames index..index+ahead (a user's generous box while it moves)."""
        frames = [(index + k) % len(self.masks) for k in range(ahead + 1)]
        return _bounds(self.masks[frames].any(0), margin=round(self.size[0] * 0.015))

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.frames.shape[2], self.frames.shape[1]


def stamp_index(frame: np.ndarray, index: int) -> None:
    """Write `index` in black/white cells along the bottom-left corner of a uint8 RGB frame (in place)."""
    h = frame.shape[0]
    for bit in range(INDEX_BITS):
        frame[h - CELL : h, bit * CELL : (bit + 1) * CELL] = 255 if (index >> bit) & 1 else 0


def read_index(image: np.ndarray) -> int:
    """The index `stamp_index` wrote, from an RGB(A) image of the frame's full size (after lossy coding)."""
    h = image.shape[0]
    value = 0
    for bit in range(INDEX_BITS):
        cell = image[h - CELL + 2 : h - 2, bit * CELL + 2 : (bit + 1) * CELL - 2, :3]
        value |= int(cell.mean() > 128) << bit
    return value


def index_area(height: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the stamped cells."""
    return 0, height - CELL, INDEX_BITS * CELL, CELL


def read_clip(path: Path | str, count: int, size: tuple[int, int]) -> np.ndarray:
    """The first `count` frames of a video, centre-cropped to the aspect of `size` and resized: (T, H, W, 3) uint8."""
    import cv2

    from unseen.errors import UnseenError
    from unseen.io.frames import open_frames

    w, h = size
    out = []
    with open_frames(Path(path)) as src:
        for frame in src:
            fh, fw = frame.shape[:2]
            cw, ch = min(fw, round(fh * w / h)), min(fh, round(fw * h / w))
            x0, y0 = (fw - cw) // 2, (fh - ch) // 2
            out.append(cv2.resize(frame[y0 : y0 + ch, x0 : x0 + cw], (w, h), interpolation=cv2.INTER_AREA))
            if len(out) == count:
                break
    if len(out) < 2:
        raise UnseenError(f"{path}: fewer than 2 frames")
    return np.stack(out)


def object_over_clip(
    path: Path | str, count: int = 150, size: tuple[int, int] = (640, 360), seed: int = 0, stamp: bool = True
) -> ClipScene:
    """A textured ellipse (magenta and orange) gliding in a slow loop over the lower left of a real clip
    (with `stamp`, each frame's index in its bottom-left corner)."""
    import cv2

    w, h = size
    clip = read_clip(path, count, size)
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 2, (h // 9, w // 9), dtype=np.uint8)  # cells of about 9 px
    pattern = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    texture = np.where(pattern[..., None], np.array([235, 40, 200], np.uint8), np.array([250, 150, 20], np.uint8))
    ax, ay = round(w * 0.07), round(h * 0.09)  # the ellipse's half axes
    cx0, cy0 = round(w * 0.3), round(h * 0.72)
    rx, ry = round(w * 0.05), round(h * 0.04)  # the loop the centre follows
    frames, truth, masks = [], [], []
    for i, background in enumerate(clip):
        a = 2 * np.pi * i / len(clip)
        cx, cy = round(cx0 + rx * np.cos(a)), round(cy0 + ry * np.sin(a))
        m = np.zeros((h, w), np.uint8)
        cv2.ellipse(m, (cx, cy), (ax, ay), 15 * np.sin(a), 0, 360, 1, -1)
        mask = m > 0
        frame = background.copy()
        moved = np.roll(texture, (cy - h // 2, cx - w // 2), axis=(0, 1))  # the texture moves with the object
        frame[mask] = moved[mask]
        clean = background.copy()
        if stamp:
            stamp_index(frame, i)
            stamp_index(clean, i)
        frames.append(frame)
        truth.append(clean)
        masks.append(mask)
    masks_arr = np.stack(masks)
    box = _bounds(masks_arr[0], margin=round(w * 0.015))
    area = _bounds(masks_arr.any(0), margin=4)
    return ClipScene(np.stack(frames), np.stack(truth), masks_arr, box, area)


def _bounds(mask: np.ndarray, margin: int) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    x0, y0 = max(0, xs.min() - margin), max(0, ys.min() - margin)
    x1, y1 = min(w, xs.max() + 1 + margin), min(h, ys.max() + 1 + margin)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 arrays of the same shape (inf when equal)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)
