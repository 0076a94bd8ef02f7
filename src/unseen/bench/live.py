"""`unseen bench live`: round-trip speed of the live server with simulated WebSocket clients, and in a real browser."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from unseen.server.protocol import decode_result, encode_frame


async def _client(url: str, frames: np.ndarray, box: list[int], seconds: float) -> list[float]:
    """One simulated camera: one frame in flight, next frame as soon as the result arrives; returns latencies (s)."""
    import websockets

    latencies = []
    async with websockets.connect(url, max_size=None, compression=None) as ws:
        await ws.send(json.dumps({"type": "select", "box": box}))
        end = time.perf_counter() + seconds
        i = 0
        while time.perf_counter() < end:
            start = time.perf_counter()
            await ws.send(encode_frame(i + 1, frames[i % len(frames)]))
            header, _, _ = decode_result(await ws.recv())
            assert header["id"] == i + 1
            latencies.append(time.perf_counter() - start)
            i += 1
    return latencies[3:]  # the first frames include the tracker's initial segmentation


def run_live_bench(clients: tuple[int, ...] = (1, 2, 4), seconds: float = 10.0, weights: str = "small", browser: bool = True) -> None:
    """Print fps and p50/p95 round trip for each client count, plus the real-browser figure when Chromium is available."""
    from unseen.bench.browser import chromium_path, run_page, serve_in_process, write_y4m
    from unseen.eval.synthetic import moving_object_scene

    scene = moving_object_scene(120, 288, 480, seed=5, area=0.08)
    ys, xs = np.nonzero(scene.masks[0])
    box = [int(xs.min() - 6), int(ys.min() - 6), int(xs.max() - xs.min() + 12), int(ys.max() - ys.min() + 12)]
    print("| clients | fps per client | total fps | p50 ms | p95 ms |")
    print("|---:|---:|---:|---:|---:|")
    with serve_in_process(["--weights", weights]) as url:
        ws_url = url.replace("http://", "ws://") + "ws"
        for n in clients:

            async def many(n: int = n) -> list[list[float]]:
                return await asyncio.gather(*(_client(ws_url, scene.frames, box, seconds) for _ in range(n)))

            results = asyncio.run(many())
            lat = np.concatenate([np.array(r) for r in results]) * 1000
            per_client = np.mean([len(r) / sum(r) for r in results])
            print(
                f"| {n} | {per_client:.1f} | {per_client * n:.1f} | {np.percentile(lat, 50):.0f} | {np.percentile(lat, 95):.0f} |",
                flush=True,
            )
        if browser:
            if chromium_path() is None:
                print("browser: Chromium not installed (apt-get install chromium); skipped")
                return
            try:
                import playwright  # noqa: F401
            except ImportError:
                print("browser: playwright not installed (pip install playwright); skipped")
                return
            with tempfile.TemporaryDirectory() as tmp:
                y4m = write_y4m(Path(tmp) / "cam.y4m", scene.frames)
                x, y, w, h = box
                run = run_page(url, y4m, (480, 288), (x, y, x + w, y + h), frames=int(seconds * 10))
            print(f"browser (Chromium, 480x288 fake camera): {run.fps:.1f} fps, {run.latency_ms:.0f} ms round trip")
