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
