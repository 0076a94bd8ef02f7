"""`unseen bench speed`: frames per second, latency and memory of every method, measured in one run."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from unseen.bench.rss import peak_rss_mb, reset_peak, rss_mb
from unseen.engine.inpainter import Inpainter


@dataclass
class SpeedRow:
    """One measured line."""

    name: str
    frames: int
    fps: float
    p50_ms: float
    p95_ms: float
    peak_rss_mb: float
    note: str = ""


class NaiveModel(Inpainter):
    """The network without the engine: every frame recomputes a whole clip of context at full working size."""

    name = "model-naive"

    def __init__(self, weights: str, bf16: bool = True) -> None:
        from unseen.model.checkpoint import load_generator

        self.model = load_generator(weights)
        self.bf16 = bf16
        self.frames: list[np.ndarray] = []
        self.masks: list[np.ndarray] = []
        self.guides: list[np.ndarray] = []
        self.flags: list[np.ndarray] = []
        from unseen.engine.memory import BackgroundMemory

        self.memory = BackgroundMemory()

    def step(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        from unseen.engine.memory import memory_fill
        from unseen.engine.tensors import tensor_to_frame
        from unseen.train.data import to_tensor_clip

        guide, flag = memory_fill(self.memory, frame, mask)
        k = self.model.config.cache_frames
        for store, item in ((self.frames, frame), (self.masks, mask), (self.guides, guide), (self.flags, flag)):
            store.append(item)
            del store[:-k]
        f = to_tensor_clip(np.stack(self.frames))[None]
        m = torch.from_numpy(np.stack(self.masks)).float()[None, :, None]
        g = torch.cat([to_tensor_clip(np.stack(self.guides)), torch.from_numpy(np.stack(self.flags)).float()[:, None]], 1)[None]
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            out = self.model(f, m, g)
        return tensor_to_frame(out[:, -1].float())


def measure(name: str, make: Callable[[], Inpainter], frames: np.ndarray, masks: np.ndarray, warmup: int, note: str = "") -> SpeedRow:
    """Run `make()` over the clip; time every frame after `warmup` frames."""
    inpainter = make()
    reset_peak()
    times = []
    for i, (f, m) in enumerate(zip(frames, masks, strict=True)):
        start = time.perf_counter()
        inpainter.push(f, m)  # a delayed engine returns frames in batches: per-frame time is the average
        if i >= warmup:
            times.append(time.perf_counter() - start)
    inpainter.flush()
    t = np.array(times) * 1000
    return SpeedRow(name, len(t), 1000 / t.mean(), float(np.percentile(t, 50)), float(np.percentile(t, 95)), peak_rss_mb(), note)


def _scaled(frames: np.ndarray, masks: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    f = np.stack([cv2.resize(x, size, interpolation=cv2.INTER_CUBIC) for x in frames])
    m = np.stack([cv2.resize(x.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0 for x in masks])
    return f, m


def run_speed_bench(
    frames: int = 1000,
    warmup: int = 30,
    naive_frames: int = 60,
    backends: tuple[str, ...] = ("eager", "onnx"),
    weights: str = "small",
    hd_frames: int = 200,
    soak: int = 0,
    threads: int = 0,
) -> list[SpeedRow]:
    """Measure telea, memory, the naive model and the engine (each backend) on a generated 480x288 clip; print a table."""
    import torch
    from tqdm import tqdm

    from unseen.engine.memory import MemoryInpainter
    from unseen.engine.online import EngineConfig, OnlineInpainter
    from unseen.engine.telea import TeleaInpainter
    from unseen.eval.synthetic import moving_object_scene
    from unseen.masks.hygiene import dilate

    if threads:
        torch.set_num_threads(threads)
    scene = moving_object_scene(warmup + frames, 288, 480, seed=0, area=0.08)
    clip, holes = scene.frames, dilate(scene.masks, 4)
    coverage = holes.mean()
    plan: list[tuple[str, Callable[[], Inpainter], int, str]] = [
        ("telea", TeleaInpainter, warmup + frames, ""),
        ("memory", MemoryInpainter, warmup + frames, ""),
        ("model, naive (full frame, clip recomputed)", lambda: NaiveModel(weights), min(warmup + frames, warmup + naive_frames), "bf16"),
    ]
    for backend in backends:
        bf16 = backend != "onnx"
        for trust, label in ((5, ""), (0, ", network every frame")):
            # trust 5: the default engine; on this still camera the memory's pixels are final once seen, and the
            # network runs only where it has not seen the background. trust 0: the network fills the whole hole
            # on every frame, as with a moving camera
            cfg = EngineConfig(backend=backend, bf16=bf16, threads=threads, trust_memory=trust)
            make = partial(OnlineInpainter.from_weights, weights, cfg)
            plan.append((f"engine, {backend}{label}", make, warmup + frames, "bf16" if bf16 else "fp32"))
    cfg = EngineConfig(backend="eager", delay=3, threads=threads, trust_memory=0)
    plan.append(
        (
            "engine, eager, network every frame, delay 3 (batches of 4)",
            partial(OnlineInpainter.from_weights, weights, cfg),
            warmup + frames,
            "bf16; +3 frames latency",
        )
    )
    rows = []
    for name, make, n, note in tqdm(plan, desc="methods", unit="method"):
        rows.append(measure(name, make, clip[:n], holes[:n], warmup, note))
    hd_clip, hd_holes = _scaled(clip[: warmup + hd_frames], holes[: warmup + hd_frames], (1280, 720))
    cfg = EngineConfig(backend=backends[0], bf16=backends[0] != "onnx", threads=threads, trust_memory=0)
    rows.append(
        measure(
            f"engine, {backends[0]}, network every frame, 1280x720 input",
            partial(OnlineInpainter.from_weights, weights, cfg),
            hd_clip,
            hd_holes,
            warmup,
            "incl. full-res compositing",
        )
    )
    print_table(rows, coverage)
    if soak:
        run_soak(weights, soak, threads)
    return rows


def run_soak(weights: str, frames: int, threads: int = 0) -> tuple[float, float]:
    """Run the engine for `frames` frames; report RSS at frame 1000 and at the end (memory must stay flat)."""
    from unseen.engine.online import EngineConfig, OnlineInpainter
    from unseen.eval.synthetic import moving_object_scene
    from unseen.masks.hygiene import dilate

    scene = moving_object_scene(500, 288, 480, seed=1, area=0.08)
    holes = dilate(scene.masks, 4)
    engine = OnlineInpainter.from_weights(weights, EngineConfig(threads=threads))
    at_1000 = 0.0
    for i in range(frames):
        j = i % 1000
        j = j if j < 500 else 999 - j  # play the clip back and forth: no cut, endless motion
        engine.step(scene.frames[j], holes[j])
        if i + 1 == min(1000, frames):
            at_1000 = rss_mb()
    end = rss_mb()
    print(f"soak: RSS {at_1000:.1f} MB at frame {min(1000, frames)}, {end:.1f} MB at frame {frames} ({100 * (end / at_1000 - 1):+.1f}%)")
    return at_1000, end


def print_table(rows: list[SpeedRow], coverage: float) -> None:
    """Markdown table with ratios against the naive model and against telea."""
    naive = next((r for r in rows if r.name.startswith("model, naive")), None)
    telea = next((r for r in rows if r.name == "telea"), None)
    import os

    print(
        f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; clip 480x288, hole {100 * coverage:.1f}% of the frame"
    )
    print("| method | frames | fps | p50 ms | p95 ms | peak RSS MB | x naive | x telea | note |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        xn = f"{r.fps / naive.fps:.1f}" if naive else "-"
        xt = f"{r.fps / telea.fps:.2f}" if telea else "-"
        print(f"| {r.name} | {r.frames} | {r.fps:.1f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.peak_rss_mb:.0f} | {xn} | {xt} | {r.note} |")
