"""`unseen bench speed`: frames per second, latency, memory and start-up of every method, measured in one run.

With `--load N`, N busy-loop processes run beside each row's second measurement: every row is printed quiet and
loaded, so the ratio between the two says what a user with other work on the CPU gets.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from unseen.bench.rss import peak_rss_mb, reset_peak, rss_mb
from unseen.engine.inpainter import Inpainter

REAL_CLIP = "davis-dance-twirl"  # val clip: moving camera, a dancer whose mask changes shape and place every frame


@dataclass
class SpeedRow:
    """One measured line (fps_loaded: the same run with the busy-loop load beside it, when asked)."""

    name: str
    frames: int
    fps: float
    p50_ms: float
    p95_ms: float
    peak_rss_mb: float
    note: str = ""
    fps_loaded: float | None = None


class BusyLoad:
    """N processes spinning in a busy loop (another program using the CPU) while the block runs."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self.started: list[subprocess.Popen] = []

    def __enter__(self) -> BusyLoad:
        for _ in range(self.processes):
            self.started.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        time.sleep(0.3)  # let them get scheduled
        return self

    def __exit__(self, *exc: object) -> None:
        for p in self.started:
            p.kill()
        for p in self.started:
            p.wait()
        self.started = []


class NaiveModel(Inpainter):
    """The network without the engine: every frame recomputes a whole clip of context at full working size."""

    name = "model-naive"

    def __init__(self, weights: str, bf16: bool = True) -> None:
        from unseen.engine.backends import native_bf16
        from unseen.engine.memory import BackgroundMemory
        from unseen.model.checkpoint import load_generator

        self.model = load_generator(weights)
        self.bf16 = bf16 and native_bf16()
        self.frames: list[np.ndarray] = []
        self.masks: list[np.ndarray] = []
        self.guides: list[np.ndarray] = []
        self.flags: list[np.ndarray] = []
        self.memory = BackgroundMemory()

    def step(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch

        from unseen.engine.memory import memory_fill
        from unseen.engine.tensors import clip_to_tensor, tensor_to_frame

        guide, flag = memory_fill(self.memory, frame, mask)
        k = self.model.config.cache_frames
        for store, item in ((self.frames, frame), (self.masks, mask), (self.guides, guide), (self.flags, flag)):
            store.append(item)
            del store[:-k]
        f = clip_to_tensor(np.stack(self.frames))[None]
        m = torch.from_numpy(np.stack(self.masks)).float()[None, :, None]
        g = torch.cat([clip_to_tensor(np.stack(self.guides)), torch.from_numpy(np.stack(self.flags)).float()[:, None]], 1)[None]
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            out = self.model(f, m, g)
        return tensor_to_frame(out[:, -1].float())


def _roi_note(sizes: list[tuple[int, int] | None], times: np.ndarray) -> str:
    """How often the region of interest changed size, and what the frame right after a change cost."""
    changed = [i for i in range(1, len(sizes)) if sizes[i] is not None and sizes[i] != sizes[i - 1]]
    if not changed:
        return ""
    distinct = len({s for s in sizes if s is not None})
    after = np.array([times[i] for i in changed]) * 1000
    rest = np.delete(times, changed) * 1000
    return f"ROI: {distinct} sizes, {len(changed)} changes; frame after a change p50 {np.median(after):.1f} ms vs {np.median(rest):.1f} ms"


def measure(name: str, make: Callable[[], Inpainter], frames: np.ndarray, masks: np.ndarray, warmup: int, note: str = "") -> SpeedRow:
    """Run `make()` over the clip; time every frame after `warmup` frames (and note ROI size changes)."""
    inpainter = make()
    reset_peak()
    times, sizes = [], []
    roi = getattr(inpainter, "roi", None)
    for i, (f, m) in enumerate(zip(frames, masks, strict=True)):
        start = time.perf_counter()
        inpainter.push(f, m)  # a delayed engine returns frames in batches: per-frame time is the average
        if i >= warmup:
            times.append(time.perf_counter() - start)
            box = roi.box if roi is not None else None
            sizes.append((box[2] - box[0], box[3] - box[1]) if box else None)
    inpainter.flush()
    t = np.array(times)
    note = "; ".join(x for x in (note, _roi_note(sizes, t)) if x)
    ms = t * 1000
    return SpeedRow(name, len(t), 1000 / ms.mean(), float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), peak_rss_mb(), note)


def measure_pipeline(
    name: str, make: Callable[[], Inpainter], frames: np.ndarray, masks: np.ndarray, warmup: int, note: str = ""
) -> SpeedRow:
    """Run `make()` through `unseen remove`'s overlapped stages (`pipeline.stages.run`: the engine's guide for
    frame t + 1 in the mask thread while the network runs frame t); per-frame times are the intervals between
    finished frames after `warmup`."""
    from unseen.pipeline.stages import run

    inpainter = make()
    reset_peak()
    holes = iter(masks)
    done: list[float] = []
    run(iter(frames), lambda _frame: next(holes), inpainter, lambda _out: done.append(time.perf_counter()))
    ms = np.diff(np.array(done[warmup:])) * 1000
    return SpeedRow(name, len(ms), 1000 / ms.mean(), float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), peak_rss_mb(), note)


def measure_with_load(
    name: str,
    make: Callable[[], Inpainter],
    frames: np.ndarray,
    masks: np.ndarray,
    warmup: int,
    note: str,
    load: int,
    how: Callable[..., SpeedRow] = measure,
) -> SpeedRow:
    """`how` (`measure`, or `measure_pipeline`) quiet, then (load > 0) again beside `load` busy-loop processes."""
    row = how(name, make, frames, masks, warmup, note)
    if load:
        with BusyLoad(load):
            row.fps_loaded = how(name, make, frames, masks, warmup).fps
    return row


def _scaled(frames: np.ndarray, masks: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    f = np.stack([cv2.resize(x, size, interpolation=cv2.INTER_CUBIC) for x in frames])
    m = np.stack([cv2.resize(x.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0 for x in masks])
    return f, m


def load_real_clip(data: str | Path, name: str = REAL_CLIP) -> tuple[np.ndarray, np.ndarray]:
    """A val clip's frames (T, H, W, 3) uint8 RGB and object masks (T, H, W) bool, from a DAVIS-layout data folder."""
    from unseen.errors import UnseenError
    from unseen.io.frames import list_images, open_frames
    from unseen.io.masks import read_mask_file

    root = Path(data) / "val"
    images, annotations = root / "JPEGImages" / name, root / "Annotations" / name
    if not images.is_dir() or not annotations.is_dir():
        raise UnseenError(f"{root}: no clip {name} with masks (expected JPEGImages/{name} and Annotations/{name})")
    with open_frames(images) as source:
        frames = np.stack(list(source))
    masks = np.stack([read_mask_file(p) for p in list_images(annotations)])
    if len(masks) != len(frames):
        raise UnseenError(f"{annotations}: {len(masks)} masks for {len(frames)} frames")
    return frames, masks


def _ping_pong(frames: np.ndarray, masks: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` frames played forward and back (no cut, endless motion)."""
    order = np.concatenate([np.arange(len(frames)), np.arange(len(frames) - 2, 0, -1)])
    idx = np.resize(order, n)
    return frames[idx], masks[idx]


_STARTUP_PROBE = """
import json, sys, time
t0 = time.time()
from unseen.pipeline import load_inpainter
from unseen.io.frames import open_frames
from unseen.pipeline.removal import RemoveOptions, build_mask_source
from unseen.pipeline import run
t1 = time.time()
frames, masks, backend = sys.argv[1:4]
inpainter = load_inpainter("model", "small", backend=backend)
t2 = time.time()
first = []
class Enough(Exception):
    pass
def sink(frame):
    first.append(time.time())
    raise Enough
with open_frames(frames) as source:
    holes = build_mask_source(RemoveOptions(input=frames, out="-", masks=masks), source)
    try:
        run(source, holes, inpainter, sink)
    except Enough:
        pass
print(json.dumps({"imports": t1 - t0, "engine": t2 - t1, "first": first[0] - t2, "t0": t0, "done": first[0],
                  "backend": getattr(getattr(inpainter, "runner", None), "name", "-")
                             + ("" if "torch" in sys.modules else " (no torch)")}))
"""


def measure_startup(frames_dir: Path, masks_dir: Path, backend: str, cache: Path) -> dict:
    """Seconds from launching a fresh Python (as `unseen remove` does) to the first output frame, split in stages."""
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    launched = time.time()
    result = subprocess.run(
        [sys.executable, "-c", _STARTUP_PROBE, str(frames_dir), str(masks_dir), backend],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    stages = json.loads(result.stdout.strip().splitlines()[-1])
    stages["interpreter"] = stages["t0"] - launched
    stages["total"] = stages["done"] - launched
    return stages


def run_startup(frames: np.ndarray, masks: np.ndarray) -> list[str]:
    """Start-up lines: auto backend with an empty cache (first run), the same again (every later run), eager."""
    from unseen.io.writers import open_writer  # noqa: F401 - the probe imports it too: warm the disk cache fairly

    lines = []
    with tempfile.TemporaryDirectory(prefix="unseen-startup-") as tmp:
        folder = Path(tmp)
        import cv2

        (folder / "f").mkdir()
        (folder / "m").mkdir()
        for i, (f, m) in enumerate(zip(frames[:8], masks[:8], strict=True)):
            cv2.imwrite(str(folder / "f" / f"{i:05d}.jpg"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(folder / "m" / f"{i:05d}.png"), m.astype(np.uint8) * 255)
        cache = folder / "cache"
        launched = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        lines.append(f"| baseline: python -c 'import torch' | - | | | | | {time.perf_counter() - launched:.2f} |")
        for label, backend in (("auto, first run (exports and compiles)", "auto"), ("auto, later runs", "auto"), ("eager", "eager")):
            s = measure_startup(folder / "f", folder / "m", backend, cache)
            lines.append(
                f"| start-up, {label} | {s['backend']} | {s['interpreter']:.2f} | {s['imports']:.2f} | {s['engine']:.2f} | "
                f"{s['first']:.2f} | **{s['total']:.2f}** |"
            )
    return lines


def run_speed_bench(
    frames: int = 1000,
    warmup: int = 30,
    naive_frames: int = 60,
    backends: tuple[str, ...] = ("eager", "onnx", "openvino"),
    weights: str = "small",
    hd_frames: int = 200,
    soak: int = 0,
    threads: int = 0,
    load: int = 0,
    data: str | None = None,
    startup: bool = True,
    rows: tuple[str, ...] = (),
) -> list[SpeedRow]:
    """Measure telea, memory, the naive model and the engine (each backend) on a generated 480x288 clip, at a 960x540
    working size, and on a real val clip (with `data`); with `load`, each row again beside busy processes; print tables."""
    import torch
    from tqdm import tqdm

    from unseen.datasets.synthetic import moving_object_scene
    from unseen.engine.backends import auto_order, installed_backends, native_bf16, resolve_threads
    from unseen.engine.online import EngineConfig
    from unseen.masks.hygiene import dilate
    from unseen.pipeline import load_inpainter

    available = installed_backends()
    skipped = [b for b in backends if b not in available]
    backends = tuple(b for b in backends if b in available)
    if not backends:
        from unseen.errors import UnseenError

        raise UnseenError(f"none of the backends {skipped} is installed")
    best = next((b for b in auto_order() if b in backends), backends[0])  # rows of one backend run `auto`'s choice
    torch.set_num_threads(resolve_threads(threads))
    load_avg = os.getloadavg()
    scene = moving_object_scene(warmup + frames, 288, 480, seed=0, area=0.08)
    clip, holes = scene.frames, dilate(scene.masks, 4)
    coverage = holes.mean()

    def engine(backend: str, trust: int = 0, **kw) -> Callable[[], Inpainter]:
        cfg = EngineConfig(backend=backend, bf16=backend != "onnx", threads=kw.pop("threads", threads), trust_memory=trust, **kw)
        return partial(load_inpainter, "model", weights, cfg)

    def precision(backend: str) -> str:
        return "bf16" if backend != "onnx" and native_bf16() else "fp32"

    n = warmup + frames
    plan: list[tuple[str, Callable[[], Inpainter], np.ndarray, np.ndarray, str]] = [
        ("telea", partial(load_inpainter, "telea"), clip, holes, ""),
        ("memory", partial(load_inpainter, "memory"), clip, holes, ""),
        (
            "model, naive (full frame, clip recomputed)",
            lambda: NaiveModel(weights),
            clip[: warmup + naive_frames],
            holes[: warmup + naive_frames],
            precision("eager"),
        ),
    ]
    for backend in backends:
        # trust 5: the default engine; on this still camera the memory's pixels are final once seen, and the network
        # runs only where it has not seen the background. trust 0: the network fills the whole hole on every frame
        plan.append((f"engine, {backend}", engine(backend, trust=5), clip, holes, precision(backend)))
        plan.append((f"engine, {backend}, network every frame", engine(backend), clip, holes, precision(backend)))
    short = warmup + min(frames, 20)  # two threads can be 20x slower on a busy machine: fewer frames
    plan.append(
        (
            "engine, eager, network every frame, 2 threads",
            engine("eager", threads=2),
            clip[:short],
            holes[:short],
            f"{precision('eager')}; 2 intra-op threads",
        )
    )
    plan.append(
        (
            "engine, eager, network every frame, delay 3 (batches of 4)",
            engine("eager", delay=3),
            clip,
            holes,
            f"{precision('eager')}; +3 frames latency",
        )
    )
    hd_clip, hd_holes = _scaled(clip[: warmup + hd_frames], holes[: warmup + hd_frames], (1280, 720))
    plan.append((f"engine, {best}, network every frame, 1280x720 input", engine(best), hd_clip, hd_holes, "incl. full-res compositing"))
    big_clip, big_holes = _scaled(clip[: warmup + hd_frames], holes[: warmup + hd_frames], (960, 540))
    for backend in backends:
        plan.append(
            (
                f"engine, {backend}, network every frame, 960x540 working size",
                engine(backend, work_width=960, work_height=540),
                big_clip,
                big_holes,
                precision(backend),
            )
        )
    name = f"engine, {best}, network every frame, overlapped stages (unseen remove)"
    pipelined = {name}  # rows measured through pipeline.stages.run rather than step by step
    plan.append((name, engine(best), clip, holes, precision(best) + "; guide of t + 1 beside the network of t"))
    real_note = ""
    if data:
        real, real_masks = load_real_clip(data)
        real, real_masks = _ping_pong(real, dilate(real_masks, 4), n)
        h, w = real.shape[1:3]
        real_note = f"; real clip {REAL_CLIP} ({w}x{h}, {len(real)} frames played back and forth, hole {100 * real_masks.mean():.1f}%)"
        for backend in backends:
            plan.append((f"real clip, {backend}, network every frame", engine(backend), real, real_masks, precision(backend)))
        name = f"real clip, {best}, network every frame, overlapped stages (unseen remove)"
        pipelined.add(name)
        plan.append((name, engine(best), real, real_masks, precision(best) + "; guide of t + 1 beside the network of t"))
        real_big, real_big_masks = _scaled(real[: warmup + hd_frames], real_masks[: warmup + hd_frames], (960, 540))
        for backend in backends:
            name = f"real clip, {backend}, network every frame, 960x540 working size"
            plan.append((name, engine(backend, work_width=960, work_height=540), real_big, real_big_masks, precision(backend)))
    mask_classes = [c for c in ("person", "hand", "face") if not rows or any(word in f"mask source: {c}" for word in rows)]
    masks_wanted = bool(mask_classes)
    if rows:  # a subset: rows whose name contains one of the texts ("start-up": the start-up table)
        plan = [item for item in plan if any(word in item[0] for word in rows)]
        if not plan and "start-up" not in rows and not masks_wanted:
            from unseen.errors import UnseenError

            raise UnseenError(f"--rows {';'.join(rows)}: no row's name contains any of these")
    print(
        f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average {load_avg[0]:.1f} at the start "
        f"(other work shares this machine); model threads {resolve_threads(threads)}; synthetic clip 480x288, hole {100 * coverage:.1f}%"
        f"{real_note}" + (f"; not installed: {', '.join(skipped)}" if skipped else "")
    )
    print_header(load)
    measured: list[SpeedRow] = []
    for name, make, f, m, note in tqdm(plan, desc="methods", unit="method"):
        how = measure_pipeline if name in pipelined else measure
        measured.append(measure_with_load(name, make, f[:n], m[:n], warmup, note, load, how))
        print_row(measured[-1], measured, load)  # as it comes: a long run interrupted still has its rows
    if masks_wanted:
        for row in _mask_rows(data, load, mask_classes):
            measured.append(row)
            print_row(row, measured, load)
    startup = startup and (not rows or "start-up" in rows)  # a subset of rows: the start-up table only when asked for
    startup_lines = run_startup(real if data else clip, real_masks if data else holes) if startup else []
    if startup_lines:
        print(
            "\n| start-up (fresh process to first output frame, s) | backend | interpreter | imports | model + backend | first frame | total |"
        )
        print("|---|---|---:|---:|---:|---:|---:|")
        print("\n".join(startup_lines))
    if soak:
        run_soak(weights, soak, threads)
    return measured


def _mask_rows(data: str | None, load: int, classes: list[str]) -> list[SpeedRow]:
    """The built-in mask sources per 640x480 frame: on a val webcam clip with a person, hands and a face
    (asl-hungry, played back and forth) when `data` has it, else on a generated clip; with `load`, again beside
    busy processes."""
    from unseen.bench.masks import bench_frames, mask_speed_rows

    clip = Path(data) / "val" / "videos" / "asl-hungry.mkv" if data else None
    frames = bench_frames(clip if clip is not None and clip.exists() else None, 130, back_and_forth=True)
    rows = mask_speed_rows(frames, classes)
    if load:
        with BusyLoad(load):
            for row, loaded in zip(rows, mask_speed_rows(frames, classes), strict=True):
                row.fps_loaded = loaded.fps
    return rows


def run_soak(weights: str, frames: int, threads: int = 0) -> tuple[float, float]:
    """Run the engine for `frames` frames; report RSS at frame 1000 and at the end (memory must stay flat)."""
    from unseen.datasets.synthetic import moving_object_scene
    from unseen.masks.hygiene import dilate
    from unseen.pipeline import load_inpainter

    scene = moving_object_scene(500, 288, 480, seed=1, area=0.08)
    holes = dilate(scene.masks, 4)
    engine = load_inpainter("model", weights, threads=threads)
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


def print_header(load: int = 0) -> None:
    """The markdown table's header (with load: the loaded fps and its ratio to quiet)."""
    loaded = f" fps, {load} busy | x quiet |" if load else ""
    print(f"| method | frames | fps | p50 ms | p95 ms | peak RSS MB | x naive | x telea |{loaded} note |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|" if load else "") + "---|", flush=True)


def print_row(r: SpeedRow, rows: list[SpeedRow], load: int = 0) -> None:
    """One table line, with ratios against the naive model and telea among `rows`."""
    naive = next((x for x in rows if x.name.startswith("model, naive")), None)
    telea = next((x for x in rows if x.name == "telea"), None)
    xn = f"{r.fps / naive.fps:.1f}" if naive else "-"
    xt = f"{r.fps / telea.fps:.2f}" if telea else "-"
    extra = f" {r.fps_loaded:.1f} | {r.fps_loaded / r.fps:.2f} |" if load and r.fps_loaded is not None else (" - | - |" if load else "")
    print(
        f"| {r.name} | {r.frames} | {r.fps:.1f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.peak_rss_mb:.0f} | {xn} | {xt} |{extra} {r.note} |",
        flush=True,
    )


def print_table(rows: list[SpeedRow], load: int = 0) -> None:
    """Markdown table with ratios against the naive model and telea, and (with load) the loaded fps and its ratio."""
    print_header(load)
    for r in rows:
        print_row(r, rows, load)
