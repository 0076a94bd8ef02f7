"""Synthetic hole masks for self-supervised training and for the evaluation protocol.

A mask clip is bool (T, H, W), True = hole. Shapes: free-form strokes, polygon blobs, real object
silhouettes, hand-like shapes; motion: stationary, constant velocity, accelerating, entering /
stopping / leaving.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from unseen.masks.hygiene import dilate


@dataclass
class MaskConfig:
    """Mix of shapes and motions (weights need not sum to 1)."""

    w_stroke: float = 0.3
    w_blob: float = 0.3
    w_silhouette: float = 0.25
    w_hand: float = 0.15
    p_moving: float = 0.7  # weighted towards a moving object over a static scene
    max_objects: int = 2
    min_area: float = 0.03  # fraction of the frame covered by one object (approximate)
    max_area: float = 0.2
    dilate: int = 1  # 3x3 cross dilation iterations


def stroke_shape(rng: np.random.Generator, size: int) -> np.ndarray:
    """Free-form brush strokes (the FuseFormer/E2FGVI kind) on a size x size canvas."""
    import cv2

    canvas = np.zeros((size, size), np.uint8)
    for _ in range(rng.integers(1, 4)):
        x, y = rng.uniform(0.2, 0.8, 2) * size
        width = int(rng.uniform(0.06, 0.16) * size)
        angle = rng.uniform(0, 2 * np.pi)
        for _ in range(rng.integers(3, 8)):
            angle += rng.uniform(-1.2, 1.2)
            length = rng.uniform(0.1, 0.3) * size
            nx = float(np.clip(x + length * np.cos(angle), 0, size - 1))
            ny = float(np.clip(y + length * np.sin(angle), 0, size - 1))
            cv2.line(canvas, (int(x), int(y)), (int(nx), int(ny)), 1, max(2, width))
            cv2.circle(canvas, (int(nx), int(ny)), max(1, width // 2), 1, -1)
            x, y = nx, ny
    return canvas > 0


def blob_shape(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random polygon (star-convex, smoothed radii)."""
    import cv2

    n = int(rng.integers(6, 14))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(0.25, 0.48, n) * size
    radii = (radii + np.roll(radii, 1) + np.roll(radii, -1)) / 3
    c = size / 2
    pts = np.stack([c + radii * np.cos(angles), c + radii * np.sin(angles)], 1).astype(np.int32)
    canvas = np.zeros((size, size), np.uint8)
    cv2.fillPoly(canvas, [pts], 1)
    return canvas > 0


def hand_shape(rng: np.random.Generator, size: int) -> np.ndarray:
    """A palm (ellipse) with 3-5 finger-like capsules and a forearm."""
    import cv2

    canvas = np.zeros((size, size), np.uint8)
    c = np.array([size * 0.5, size * 0.55])
    palm = (int(size * rng.uniform(0.16, 0.22)), int(size * rng.uniform(0.18, 0.25)))
    cv2.ellipse(canvas, (int(c[0]), int(c[1])), palm, 0, 0, 360, 1, -1)
    base = -np.pi / 2 + rng.uniform(-0.3, 0.3)
    fingers = int(rng.integers(3, 6))
    for i in range(fingers):
        a = base + (i - (fingers - 1) / 2) * rng.uniform(0.25, 0.4)
        length = size * rng.uniform(0.2, 0.3)
        start = c + np.array([np.cos(a), np.sin(a)]) * palm[1] * 0.8
        end = start + np.array([np.cos(a), np.sin(a)]) * length
        cv2.line(canvas, tuple(start.astype(int)), tuple(end.astype(int)), 1, max(2, int(size * 0.07)))
    cv2.line(canvas, (int(c[0]), int(c[1])), (int(c[0]), size - 1), 1, int(size * 0.25))
    return canvas > 0


def _crop_to_content(shape: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(shape)
    if len(ys) == 0:
        return shape
    return shape[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _trajectory(rng: np.random.Generator, t: int, h: int, w: int, moving: bool) -> np.ndarray:
    """Centre positions (T, 2) as (x, y): stationary, velocity + acceleration, or enter/stop/leave."""
    start = np.array([rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h])
    if not moving:
        return np.repeat(start[None], t, 0)
    kind = rng.choice(["drift", "enter_stop_leave"], p=[0.7, 0.3])
    if kind == "drift":
        speed = rng.uniform(0.005, 0.04) * max(h, w)
        angle = rng.uniform(0, 2 * np.pi)
        vel = speed * np.array([np.cos(angle), np.sin(angle)])
        acc = rng.normal(0, 0.002 * max(h, w), 2)
        pos = [start]
        for _ in range(t - 1):
            vel = vel + acc + rng.normal(0, 0.002 * max(h, w), 2)
            nxt = pos[-1] + vel
            for d, lim in ((0, w), (1, h)):  # bounce off the borders
                if nxt[d] < 0 or nxt[d] > lim:
                    vel[d] = -vel[d]
                    nxt[d] = np.clip(nxt[d], 0, lim)
            pos.append(nxt)
        return np.array(pos)
    # enter from a side, stop for a while, leave
    side = rng.integers(4)
    outside = {0: (-0.3 * w, start[1]), 1: (1.3 * w, start[1]), 2: (start[0], -0.3 * h), 3: (start[0], 1.3 * h)}[side]
    outside = np.array(outside)
    a, b = sorted(rng.integers(0, t + 1, 2))
    pos = []
    for i in range(t):
        if i < a:
            f = (i + 1) / (a + 1)
            pos.append(outside + (start - outside) * f)
        elif i < b:
            pos.append(start)
        else:
            f = (i - b + 1) / (t - b + 1)
            pos.append(start + (outside - start) * f)
    return np.array(pos)


class MaskGenerator:
    """Draws mask clips (T, H, W) from a seeded RNG; silhouettes come from given example masks."""

    def __init__(self, config: MaskConfig | None = None, silhouettes: list[np.ndarray] | None = None) -> None:
        self.config = config or MaskConfig()
        self.silhouettes = [s for s in (silhouettes or []) if s.sum() > 16]

    def _shape(self, rng: np.random.Generator) -> np.ndarray:
        cfg = self.config
        kinds = ["stroke", "blob", "silhouette", "hand"]
        weights = np.array([cfg.w_stroke, cfg.w_blob, cfg.w_silhouette if self.silhouettes else 0.0, cfg.w_hand])
        kind = rng.choice(kinds, p=weights / weights.sum())
        if kind == "silhouette":
            shape = self.silhouettes[rng.integers(len(self.silhouettes))]
            if rng.random() < 0.5:
                shape = shape[:, ::-1]
            return _crop_to_content(shape)
        maker = {"stroke": stroke_shape, "blob": blob_shape, "hand": hand_shape}[kind]
        return _crop_to_content(maker(rng, 128))

    def __call__(self, rng: np.random.Generator, t: int, h: int, w: int, moving: bool | None = None) -> np.ndarray:
        """A bool (T, H, W) mask clip."""
        import cv2

        cfg = self.config
        out = np.zeros((t, h, w), bool)
        if moving is None:
            moving = bool(rng.random() < cfg.p_moving)
        for _ in range(int(rng.integers(1, cfg.max_objects + 1))):
            shape = self._shape(rng)
            area = rng.uniform(cfg.min_area, cfg.max_area) * h * w
            sh, sw = shape.shape
            scale = np.sqrt(area / max(1.0, float(shape.sum())))
            nh, nw = max(2, min(h, int(sh * scale))), max(2, min(w, int(sw * scale)))
            obj = cv2.resize(shape.astype(np.uint8), (nw, nh), interpolation=cv2.INTER_NEAREST) > 0
            path = _trajectory(rng, t, h, w, moving)
            for i, (cx, cy) in enumerate(path):
                x0, y0 = int(round(cx - nw / 2)), int(round(cy - nh / 2))
                xa, ya, xb, yb = max(0, x0), max(0, y0), min(w, x0 + nw), min(h, y0 + nh)
                if xa < xb and ya < yb:
                    out[i, ya:yb, xa:xb] |= obj[ya - y0 : yb - y0, xa - x0 : xb - x0]
        return dilate(out, cfg.dilate)
