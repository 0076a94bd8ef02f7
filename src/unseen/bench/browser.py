"""Drive the live page in headless Chromium (Playwright) with a generated clip as the webcam."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]


def chromium_path() -> str | None:
    """Debian's Chromium, if installed."""
    found = shutil.which("chromium") or "/usr/bin/chromium"
    return found if Path(found).exists() else None


def free_port() -> int:
    """A free TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_y4m(path: Path, frames: np.ndarray, fps: int = 30) -> Path:
    """Raw 4:2:0 Y4M (what Chromium's fake camera reads) from uint8 RGB frames."""
    import cv2

    h, w = frames.shape[1:3]
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            f.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


@contextmanager
def serve_in_thread(app):
    """Run an ASGI app with uvicorn on a free localhost port; yields the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws_per_message_deflate=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def serve_in_process(args: list[str]):
    """Run `unseen live --port P [args]` as its own process (as a user would); yields the base URL."""
    import subprocess
    import sys
    import urllib.request

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "unseen", "live", "--port", str(port), *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url + "api/info", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"unseen live exited: {proc.stderr.read().decode()[-500:]}") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class BrowserRun:
    """What the page showed: canvas pixels before and after the selection, and the speed it saw."""

    before: np.ndarray  # (H, W, 4) RGBA
    after: np.ndarray
    fps: float
    latency_ms: float


def run_page(
    url: str, y4m: Path, size: tuple[int, int], box: tuple[float, float, float, float], frames: int, screenshot: Path | None = None
) -> BrowserRun:
    """Open the page with `y4m` as the camera, draw `box` (x0, y0, x1, y1 in canvas pixels), wait `frames` results."""
    from playwright.sync_api import sync_playwright

    w, h = size
    read = f"Array.from(document.getElementById('view').getContext('2d').getImageData(0, 0, {w}, {h}).data)"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path(), headless=True, args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={y4m}"]
        )
        try:
            page = browser.new_page(viewport={"width": 900, "height": 600})
            page.goto(url)
            page.wait_for_function("window.unseen && window.unseen.ready && window.unseen.frames > 5", timeout=60000)
            before = np.array(page.evaluate(read), np.uint8).reshape(h, w, 4)
            r = page.locator("#view").bounding_box()
            sx, sy = r["width"] / w, r["height"] / h
            page.mouse.move(r["x"] + box[0] * sx, r["y"] + box[1] * sy)
            page.mouse.down()
            page.mouse.move(r["x"] + box[2] * sx, r["y"] + box[3] * sy, steps=5)
            page.mouse.up()
            start = page.evaluate("window.unseen.frames")
            page.wait_for_function(f"window.unseen.frames > {start + frames}", timeout=300000)
            after = np.array(page.evaluate(read), np.uint8).reshape(h, w, 4)
            fps, latency = page.evaluate("window.unseen.fps"), page.evaluate("window.unseen.latency")
            if screenshot is not None:
                page.screenshot(path=str(screenshot))
        finally:
            browser.close()
    return BrowserRun(before, after, fps, latency)
