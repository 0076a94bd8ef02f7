"""The learned inpainter behind the `Inpainter` interface: classical guide + generator stepping with a cache."""

from __future__ import annotations

import numpy as np
import torch

from unseen.engine.inpainter import Inpainter
from unseen.engine.memory import BackgroundMemory, memory_fill
from unseen.model.generator import InpaintGenerator


def frame_to_tensor(frame: np.ndarray) -> torch.Tensor:
    """uint8 RGB (H, W, 3) -> float (1, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float().div(127.5).sub(1.0)


def tensor_to_frame(x: torch.Tensor) -> np.ndarray:
    """float (1, 3, H, W) in [-1, 1] -> uint8 RGB (H, W, 3)."""
    y = x[0].float().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
    return y.permute(1, 2, 0).contiguous().numpy()


class ModelInpainter(Inpainter):
    """Runs the generator online on whole frames: memory/Telea guide in, residual correction out."""

    name = "model"

    def __init__(self, model: InpaintGenerator, bf16: bool = False) -> None:
        self.model = model.eval()
        self.bf16 = bf16
        self.memory = BackgroundMemory()
        self.cache = model.new_cache()

    def reset(self) -> None:
        self.memory.reset()
        self.cache.reset()

    @torch.no_grad()
    def step(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        guide, from_memory = memory_fill(self.memory, frame, mask)
        f = frame_to_tensor(frame)
        m = torch.from_numpy(mask)[None, None].float()
        g = torch.cat([frame_to_tensor(guide), torch.from_numpy(from_memory)[None, None].float()], dim=1)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            out = self.model.step(f, m, g if self.model.config.guide else None, self.cache)
        result = tensor_to_frame(out)
        result[~mask] = frame[~mask]
        return result
