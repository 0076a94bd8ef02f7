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


def process_rss_mb(pid: int) -> float:
    """Resident memory of another process in MB (Linux /proc; 0 where unavailable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class ServerProcess:
    """A running `unseen live`: its base URL and process id."""

    url: str
    pid: int


@contextmanager
def serve_in_process(args: list[str]):
    """Run `unseen live --port P [args]` as its own process (as a user would); yields a ServerProcess."""
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
        yield ServerProcess(url, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class BrowserRun:
    """What the page showed: canvas pixels before and after the selection, and the speed it saw."""

    before: np.ndarray  # (H, W, 4) RGBA
    after: np.ndarray
    fps: float
    latency_ms: float  # median round trip, capture to paint
    p95_ms: float
    server_ms: float  # the server's own time for the last frame
    page_ms: float  # the page's own time for the last frame (capture, encode, decode, composite)


@dataclass
class Paint:
    """One repaint of the page, read back: the probed rects ((h, w, 4) RGBA each) and the server's header fields."""

    rects: list[np.ndarray]
    state: str  # idle | removing | lost
    applied: int  # control messages the server had applied to this frame
    filled: bool  # a patch was composited


class LivePage:
    """The live page in headless Chromium with a Y4M file as the camera (use as a context manager)."""

    def __init__(self, url: str, y4m: Path, viewport: tuple[int, int] = (900, 600), downloads: Path | None = None) -> None:
        self.url, self.y4m, self.viewport, self.downloads = url, y4m, viewport, downloads

    def __enter__(self) -> LivePage:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        try:
            self.browser = self._pw.chromium.launch(
                executable_path=chromium_path(), headless=True, args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={self.y4m}"]
            )
            w, h = self.viewport
            self.page = self.browser.new_page(viewport={"width": w, "height": h}, accept_downloads=True)
            self.page.goto(self.url)
        except BaseException:
            self._pw.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.browser.close()
        finally:
            self._pw.stop()

    def value(self, name: str):
        """A field of the page's `window.unseen`."""
        return self.page.evaluate(f"window.unseen.{name}")

    def wait_frames(self, more: int, timeout_s: float = 300) -> None:
        """Wait until the page has painted `more` frames beyond now."""
        start = self.value("frames")
        self.page.wait_for_function(f"window.unseen.frames >= {start + more}", timeout=timeout_s * 1000)

    def wait_ready(self, frames: int = 5) -> None:
        """Wait until the page streams (connected and `frames` painted)."""
        self.page.wait_for_function(f"window.unseen && window.unseen.ready && window.unseen.frames > {frames}", timeout=120000)

    def canvas(self, rect: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """The view canvas, or the rect (x, y, w, h) of it, as (H, W, 4) uint8 RGBA."""
        x, y, w, h = rect or (0, 0, *self.page.evaluate("[document.getElementById('view').width, document.getElementById('view').height]"))
        data = self.page.evaluate(f"Array.from(document.getElementById('view').getContext('2d').getImageData({x}, {y}, {w}, {h}).data)")
        return np.array(data, np.uint8).reshape(h, w, 4)

    def draw_box(self, box: tuple[float, float, float, float]) -> None:
        """Drag the mouse over the canvas from (x0, y0) to (x1, y1), canvas pixels, as a user would."""
        w = self.page.evaluate("document.getElementById('view').width")
        r = self.page.locator("#view").bounding_box()
        k = r["width"] / w
        self.page.mouse.move(r["x"] + box[0] * k, r["y"] + box[1] * k)
        self.page.mouse.down()
        self.page.mouse.move(r["x"] + box[2] * k, r["y"] + box[3] * k, steps=5)
        self.page.mouse.up()

    def box_on_object(self, scene) -> tuple[int, int, int, int]:
        """x0, y0, x1, y1 of a box around a `ClipScene`'s object where the page shows it now (and shortly after)."""
        from unseen.bench.scene import index_area, read_index

        x, y, w, h = scene.box_at(read_index(self.canvas(index_area(scene.size[1]))))
        return x, y, x + w, y + h

    def click(self, selector: str) -> None:
        """Click a control of the page (e.g. "#reset")."""
        self.page.click(selector)

    def hint(self) -> str:
        """The hint line the user reads."""
        return self.page.inner_text("#hint")

    def start_probes(self, rects: list[tuple[int, int, int, int]]) -> None:
        """Read these canvas rects (x, y, w, h) back after every paint from now on."""
        self.page.evaluate(f"window.unseen.samples = []; window.unseen.probes = {[list(r) for r in rects]}")

    def samples(self, rects: list[tuple[int, int, int, int]]) -> list[Paint]:
        """Every paint since the last call: the probed rects and what the server said about that frame."""
        import base64

        return [
            Paint(
                [np.frombuffer(base64.b64decode(b), np.uint8).reshape(r[3], r[2], 4) for b, r in zip(paint["rects"], rects, strict=True)],
                paint["state"],
                paint["applied"],
                paint["filled"],
            )
            for paint in self.page.evaluate("window.unseen.samples.splice(0)")
        ]

    def record(self, frames: int, path: Path) -> Path:
        """Press Record, let `frames` frames paint, press Stop; saves the page's download to `path`."""
        self.click("#record")
        self.wait_frames(frames)
        with self.page.expect_download(timeout=60000) as info:
            self.click("#record")
        info.value.save_as(str(path))
        return path

    def speed(self) -> tuple[float, float, float, float, float]:
        """(fps, median round trip ms, p95 ms, server ms, page ms) as the page measures them."""
        v = self.page.evaluate("[window.unseen.fps, window.unseen.latencies, window.unseen.serverMs, window.unseen.pageMs]")
        lat = np.array(v[1] or [0.0])
        return v[0], float(np.median(lat)), float(np.percentile(lat, 95)), v[2], v[3]


def run_page(
    url: str, y4m: Path, size: tuple[int, int], box: tuple[float, float, float, float], frames: int, screenshot: Path | None = None
) -> BrowserRun:
    """Open the page with `y4m` as the camera, draw `box` (x0, y0, x1, y1 in canvas pixels), wait `frames` results."""
    with LivePage(url, y4m) as live:
        live.wait_ready()
        before = live.canvas()
        live.draw_box(box)
        live.wait_frames(10)
        live.page.evaluate("window.unseen.latencies.length = 0")  # the speed of steady removal, not of its start
        live.wait_frames(frames)
        after = live.canvas()
        fps, median, p95, server, page = live.speed()
        if screenshot is not None:
            live.page.screenshot(path=str(screenshot))
    return BrowserRun(before, after, fps, median, p95, server, page)
