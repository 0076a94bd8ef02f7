"""End to end in a real browser: Debian's Chromium driven by Playwright, a generated clip as the webcam."""

import os
import shutil

import numpy as np
import pytest


def browser_scene(t: int = 120, h: int = 240, w: int = 320):
    """A red disc circling slowly over a static blue-green textured background."""
    import cv2

    from unseen.eval.synthetic import textured_image

    rng = np.random.default_rng(3)
    bg = textured_image(h, w, rng, cells=10).astype(np.float32)
    bg[..., 0] *= 0.35  # no strong reds in the background
    bg = bg.astype(np.uint8)
    frames, masks = [], []
    for i in range(t):
        a = 2 * np.pi * i / t
        cx, cy = int(w * 0.5 + 22 * np.cos(a)), int(h * 0.5 + 14 * np.sin(a))
        m = np.zeros((h, w), np.uint8)
        cv2.circle(m, (cx, cy), 24, 1, -1)
        f = bg.copy()
        f[m > 0] = (210, 40, 35)
        frames.append(f)
        masks.append(m > 0)
    return np.stack(frames), np.stack(masks), bg


def red_pixels(rgba: np.ndarray) -> int:
    r, g, b = (rgba[..., i].astype(int) for i in range(3))
    return int(((r > 150) & (g < 90) & (b < 90)).sum())


@pytest.mark.browser
def test_box_in_the_page_removes_the_object(tmp_path):
    from unseen.bench.browser import chromium_path, run_page, serve_in_thread, write_y4m
    from unseen.server.app import LiveConfig, create_app

    if chromium_path() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright (the Python package) is not installed")
    frames, masks, bg = browser_scene()
    y4m = write_y4m(tmp_path / "cam.y4m", frames)
    shot = tmp_path / "live.png"
    with serve_in_thread(create_app(LiveConfig(method="model"))) as url:
        # the box covers the disc's whole orbit; the page segments the disc inside it and tracks it
        run = run_page(url, y4m, (320, 240), (160 - 52, 120 - 44, 160 + 52, 120 + 44), frames=40, screenshot=shot)
    print(f"\nbrowser: {run.fps:.1f} fps, {run.latency_ms:.0f} ms round trip")
    if os.environ.get("UNSEEN_SCREENSHOT"):
        shutil.copy(shot, os.environ["UNSEEN_SCREENSHOT"])
    assert red_pixels(run.before) > 1000  # the object was on screen
    assert red_pixels(run.after) < 0.03 * red_pixels(run.before), (red_pixels(run.after), red_pixels(run.before))
    # where the disc's orbit is, the page now shows the background (allowing for JPEG and 4:2:0 camera colour)
    orbit = masks.any(0)
    diff = np.abs(run.after[..., :3][orbit].astype(int) - bg[orbit]).mean()
    assert diff < 30, diff
