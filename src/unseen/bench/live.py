"""`unseen bench live`: round trip of the live server with simulated WebSocket clients and in a real browser,
on a real clip (with a textured object moving over it) or a generated scene; and the server's memory after."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from unseen.server.protocol import decode_result, encode_frame


async def _client(url: str, frames: np.ndarray, box: list[int], seconds: float, inflight: int = 1) -> list[float]:
    """One simulated camera keeping `inflight` frames in flight (the next is sent as a reply arrives);
    returns the round trips (s)."""
    import websockets

    latencies = []
    sent: dict[int, float] = {}
    async with websockets.connect(url, max_size=None, compression=None) as ws:
        await ws.send(json.dumps({"type": "select", "box": box}))
        end = time.perf_counter() + seconds
        i = 0
        while True:
            while len(sent) < inflight and time.perf_counter() < end:
                i += 1
                sent[i] = time.perf_counter()
                await ws.send(encode_frame(i, frames[i % len(frames)]))
            if not sent:
                break
            header, _, _ = decode_result(await ws.recv())
            for skipped in [i for i in sent if i < header["id"]]:  # replaced by a newer frame before it started:
                del sent[skipped]  # no reply comes for it (as the page does)
            latencies.append(time.perf_counter() - sent.pop(header["id"]))
    return latencies[3:]  # the first frames include the tracker's initial segmentation


def _work_frames(frames: np.ndarray, work: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Frames scaled to fit the working size as the page sends them, and the scale."""
    import cv2

    h, w = frames.shape[1:3]
    k = min(1.0, work[0] / w, work[1] / h)
    size = (round(w * k), round(h * k))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]), k


def run_live_bench(
    clients: tuple[int, ...] = (1, 2, 4),
    seconds: float = 10.0,
    weights: str = "small",
    browser: bool = True,
    clip: str | None = None,
    size: tuple[int, int] = (640, 360),
) -> None:
    """Print fps and p50/p95 round trip per client count, the real-browser figures (Chromium, when installed),
    and the server's RSS idle, with clients, and after they left."""
    from unseen.bench.browser import process_rss_mb, serve_in_process
    from unseen.errors import UnseenError

    if clip:
        from unseen.bench.scene import object_over_clip

        if not Path(clip).exists():
            raise UnseenError(f"--clip {clip}: no such file")
        scene = object_over_clip(clip, 150, size)
        frames, box = scene.frames, scene.box
        what = f"{Path(clip).name} at {size[0]}x{size[1]} with a textured object moving over it"
    else:
        from unseen.datasets.synthetic import moving_object_scene

        scene = None
        generated = moving_object_scene(120, size[1], size[0], seed=5, area=0.03)
        ys, xs = np.nonzero(generated.masks[0])
        frames = generated.frames
        box = (int(xs.min() - 8), int(ys.min() - 8), int(xs.max() - xs.min() + 16), int(ys.max() - ys.min() + 16))
        what = f"a generated scene at {size[0]}x{size[1]}"
    work, k = _work_frames(frames, (480, 288))
    work_box = [round(v * k) for v in box]
    print(f"live server on {what}; protocol clients send {work.shape[2]}x{work.shape[1]} JPEGs as the page does")
    print("| clients | frames in flight | fps per client | total fps | p50 ms | p95 ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    with serve_in_process(["--weights", weights]) as server:
        time.sleep(1.0)
        idle = process_rss_mb(server.pid)
        peak = idle
        ws_url = server.url.replace("http://", "ws://") + "ws"
        for n, inflight in [(c, k) for c in clients for k in ((1, 2) if c == 1 else (1,))]:

            async def many(n: int = n, inflight: int = inflight) -> list[list[float]]:
                return await asyncio.gather(*(_client(ws_url, work, work_box, seconds, inflight) for _ in range(n)))

            start = time.perf_counter()
            results = asyncio.run(many())
            elapsed = time.perf_counter() - start
            peak = max(peak, process_rss_mb(server.pid))
            lat = np.concatenate([np.array(r) for r in results]) * 1000
            per_client = np.mean([(len(r) + 3) / elapsed for r in results])
            print(
                f"| {n} | {inflight} | {per_client:.1f} | {per_client * n:.1f} | {np.percentile(lat, 50):.0f} | {np.percentile(lat, 95):.0f} |",
                flush=True,
            )
        if browser:
            _browser_rows(server.url, frames, box, scene, seconds)
            peak = max(peak, process_rss_mb(server.pid))
        time.sleep(2.0)
        after = process_rss_mb(server.pid)
    print(f"server RSS: idle {idle:.0f} MB, with clients up to {peak:.0f} MB, after they left {after:.0f} MB ({after - idle:+.0f} MB)")


def _browser_rows(url: str, frames: np.ndarray, box: tuple[int, int, int, int], scene, seconds: float) -> None:
    """The page in headless Chromium with the clip as its camera: its own choice of frames in flight, then 1 and 2."""
    from unseen.bench.browser import LivePage, chromium_path, write_y4m

    if chromium_path() is None:
        print("browser: Chromium not installed (apt-get install chromium); skipped")
        return
    try:
        import playwright  # noqa: F401
    except ImportError:
        print("browser: playwright not installed (pip install playwright); skipped")
        return
    h, w = frames.shape[1:3]
    print(f"\nreal browser (headless Chromium, {w}x{h} fake camera at 30 fps), the page's own figures:")
    print("| frames in flight | fps | p50 ms | p95 ms | server ms | page ms |")
    print("|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        y4m = write_y4m(Path(tmp) / "cam.y4m", frames)
        for inflight in ("auto", 1, 2):
            with LivePage(url if inflight == "auto" else f"{url}?inflight={inflight}", y4m) as live:
                live.wait_ready()
                x, y, bw, bh = box
                live.draw_box(live.box_on_object(scene) if scene is not None else (x, y, x + bw, y + bh))
                live.page.wait_for_function("window.unseen.state === 'removing'", timeout=120000)
                live.wait_frames(10)
                live.page.evaluate("window.unseen.latencies.length = 0")
                time.sleep(seconds)
                fps, p50, p95, server_ms, page_ms = live.speed()
            print(f"| {inflight} | {fps:.1f} | {p50:.0f} | {p95:.0f} | {server_ms:.0f} | {page_ms:.0f} |", flush=True)
