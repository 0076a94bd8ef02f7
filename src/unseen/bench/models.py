"""`unseen models`: presets with parameter counts and compute per frame."""

from __future__ import annotations

import torch

from unseen.model.config import PRESETS
from unseen.model.generator import InpaintGenerator, count_parameters


def gflops_per_frame(model: InpaintGenerator, height: int, width: int) -> float:
    """GFLOPs (2 x multiply-adds) of one stepped frame at height x width, counted by torch's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode

    c = 4 if model.config.guide else None
    frame = torch.zeros(1, 3, height, width)
    mask = torch.zeros(1, 1, height, width)
    guide = torch.zeros(1, c, height, width) if c else None
    cache = model.new_cache()
    model.step(frame, mask, guide, cache)  # fill one frame of cache so attention sees a past frame
    with FlopCounterMode(display=False) as counter:
        model.step(frame, mask, guide, cache)
    return counter.get_total_flops() / 1e9


def print_presets(height: int = 288, width: int = 480) -> None:
    """Print a table of presets."""
    print(f"{'preset':8} {'params':>9} {'GFLOPs/frame':>13}  dim depth heads window  cache  (at {width}x{height}, one stepped frame)")
    for name, cfg in PRESETS.items():
        model = InpaintGenerator(cfg).eval()
        params = count_parameters(model)
        gf = gflops_per_frame(model, height, width)
        print(f"{name:8} {params / 1e6:8.2f}M {gf:13.2f}  {cfg.dim:3} {cfg.depth:5} {cfg.heads:5} {cfg.window:6}  {cfg.cache_frames:5}")


def time_step(
    weights: str, height: int = 288, width: int = 480, backends: tuple[str, ...] = ("eager-fp32", "eager-bf16", "onnx"), repeats: int = 15
) -> dict[str, float]:
    """Milliseconds per stepped frame (full frame, a full cache of past frames) for each backend; printed as a table."""
    import time

    from unseen.engine.backends import CompiledRunner, EagerRunner, OnnxRunner, OpenVinoRunner
    from unseen.model.checkpoint import load_generator

    model = load_generator(weights)
    cfg = model.config
    frame = torch.rand(1, 3, height, width) * 2 - 1
    mask = (torch.rand(1, 1, height, width) > 0.9).float()
    guide = torch.cat([frame, torch.zeros(1, 1, height, width)], 1)
    keys, values = model.empty_past(frame)
    with torch.no_grad():  # fill the cache with the frames a step attends to (K - 1)
        for _ in range(cfg.cache_frames - 1):
            _, k, v = model.step_tensors(frame, mask, guide, keys, values)
            keys = [torch.cat([a, b], 3) for a, b in zip(keys, k, strict=True)]
            values = [torch.cat([a, b], 3) for a, b in zip(values, v, strict=True)]
    makers = {
        "eager-fp32": lambda: EagerRunner(model, False),
        "eager-bf16": lambda: EagerRunner(model, True),
        "compile-bf16": lambda: CompiledRunner(model, True),
        "onnx": lambda: OnnxRunner(model),
        "openvino-bf16": lambda: OpenVinoRunner(model, bf16=True),
        "openvino-fp32": lambda: OpenVinoRunner(model, bf16=False),
    }
    results = {}
    from unseen.engine.backends import resolve_threads

    torch.set_num_threads(resolve_threads(0))
    print(f"{cfg.name}: one frame at {width}x{height}, {cfg.cache_frames - 1} past frames cached, {torch.get_num_threads()} thread(s)")
    for name in backends:
        run = makers[name]()
        start = time.perf_counter()
        for _ in range(3):
            run(frame, mask, guide, keys, values)
        warm = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(repeats):
            run(frame, mask, guide, keys, values)
        results[name] = (time.perf_counter() - start) / repeats * 1000
        ran = "; ran fp32: this CPU has no native bf16" if name.endswith("bf16") and run.precision != "bf16" else ""
        print(f"  {name:13} {results[name]:7.1f} ms/frame   (first 3 calls {warm:.1f} s{ran})", flush=True)
    return results
