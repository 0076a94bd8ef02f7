"""The one place where images cross between numpy (uint8 RGB, H x W x 3) and torch (float RGB in [-1, 1])."""

from __future__ import annotations

import numpy as np
import torch

from unseen.engine.graph import clip_to_array, frame_to_array


def frame_to_tensor(frame: np.ndarray) -> torch.Tensor:
    """uint8 RGB (H, W, 3) -> float (1, 3, H, W) in [-1, 1] (the values of `graph.frame_to_array`)."""
    return torch.from_numpy(frame_to_array(frame))


def clip_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """uint8 RGB (T, H, W, 3) -> float (T, 3, H, W) in [-1, 1] (the values of `graph.clip_to_array`)."""
    return torch.from_numpy(clip_to_array(frames))


def tensor_to_frame(x: torch.Tensor) -> np.ndarray:
    """float (1, 3, H, W) in [-1, 1] -> uint8 RGB (H, W, 3)."""
    y = x[0].float().add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
    return y.permute(1, 2, 0).contiguous().numpy()
