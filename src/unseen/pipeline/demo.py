"""`unseen demo`: a built-in clip made from a real photograph, an object moving over it, removed online."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from unseen.errors import UnseenError
from unseen.io.frames import SourceInfo
from unseen.io.writers import check_output_path, open_writer
from unseen.pipeline.assembly import load_inpainter

DEMO_SIZE = (480, 288)  # width, height


def demo_background() -> np.ndarray:
    """A real photograph shipped with scikit-image (coffee cup), cropped/resized to the demo size, uint8 RGB."""
    import cv2
    from skimage import data

    image = data.coffee()  # (400, 600, 3)
    w, h = DEMO_SIZE
    target = h / w
    ih, iw = image.shape[:2]
    if ih / iw > target:
        ch = int(iw * target)
        image = image[(ih - ch) // 2 : (ih - ch) // 2 + ch]
    else:
        cw = int(ih / target)
        image = image[:, (iw - cw) // 2 : (iw - cw) // 2 + cw]
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)


def demo_clip(frames: int, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """(frames, object masks, background): a textured ball, in view from frame 0, that moves, pauses and leaves."""
    import cv2

    rng = np.random.default_rng(seed)
    bg = demo_background()
    h, w = bg.shape[:2]
    radius = int(h * 0.16)
    texture = (rng.integers(0, 2, (8, 8)) * 120 + 60).astype(np.uint8)
    texture = cv2.resize(texture, (2 * radius, 2 * radius), interpolation=cv2.INTER_NEAREST)
    clip, masks = [], []
    for t in range(frames):
        p = t / max(1, frames - 1)
        # in view from the start (what it hides is never seen until it moves), pause, then leave right
        x = w * 0.3 + (w * 0.25) * min(p / 0.4, 1.0) + (w * 0.45 + 2 * radius) * max(0.0, (p - 0.6) / 0.4)
        y = h * 0.55 + h * 0.12 * np.sin(2 * np.pi * p)
        mask = np.zeros((h, w), np.uint8)
        cv2.circle(mask, (int(x), int(y)), radius, 1, -1)
        frame = bg.copy()
        ys, xs = np.nonzero(mask)
        tex = texture[np.clip(ys - int(y) + radius, 0, 2 * radius - 1), np.clip(xs - int(x) + radius, 0, 2 * radius - 1)]
        frame[ys, xs] = np.stack([tex, 40 + tex // 3, 200 - tex // 2], 1)
        clip.append(frame)
        masks.append(mask > 0)
    return clip, masks, bg


def run_demo(out: str, method: str = "model", frames: int = 90, overwrite: bool = False, progress: bool = True) -> float:
    """Write input | mask | output side by side to `out`; print and return the clip PSNR (pooled MSE) against the true background."""
    from tqdm import tqdm

    from unseen.masks.hygiene import dilate

    if frames < 2 or frames > 10000:
        raise UnseenError("--frames must be between 2 and 10000")
    out_path = check_output_path(out, overwrite)
    if out_path.suffix.lower() not in (".mp4", ".mkv", ".mov"):
        raise UnseenError(f"{out_path}: the demo writes a video; give a .mp4, .mkv or .mov path")
    inpainter = load_inpainter(method)
    clip, masks, bg = demo_clip(frames)
    h, w = bg.shape[:2]
    info = SourceInfo(width=3 * w, height=h, fps=25.0, frame_count=frames)
    squared_error = 0.0
    start = time.perf_counter()
    with open_writer(out_path, info, overwrite) as writer:
        for frame, mask in tqdm(list(zip(clip, masks, strict=True)), unit="frame", disable=not progress, file=sys.stderr):
            hole = dilate(mask, 4)
            result = inpainter.step(frame, hole)
            squared_error += float(np.mean((result.astype(np.float64) - bg) ** 2))
            shown = np.repeat((hole * 255).astype(np.uint8)[..., None], 3, axis=2)
            writer.write(np.concatenate([frame, shown, result], axis=1))
        writer.commit()
    seconds = time.perf_counter() - start
    mse = squared_error / frames
    score = float(10 * np.log10(255.0**2 / mse)) if mse > 0 else float("inf")
    print(
        f"wrote {Path(out)}: input | mask | output, {frames} frames in {seconds:.1f} s; method {method}: PSNR {score:.2f} dB against the true background"
    )
    return score
