"""Inpainters by name: the classical baselines and the learned model."""

from __future__ import annotations

from unseen.engine.inpainter import Inpainter
from unseen.errors import UnseenError

METHODS = ("model", "memory", "telea")


def make_inpainter(method: str, weights: str = "small", delay: int = 0) -> Inpainter:
    """Build the inpainter called `method`; `weights` is a preset name or a .safetensors path for `model`;
    `delay` k > 0 lets the model batch k + 1 frames (k frames of added delay)."""
    if method == "telea":
        from unseen.engine.telea import TeleaInpainter

        return TeleaInpainter()
    if method == "memory":
        from unseen.engine.memory import MemoryInpainter

        return MemoryInpainter()
    if method == "model":
        from unseen.engine.online import EngineConfig, OnlineInpainter

        return OnlineInpainter.from_weights(weights, EngineConfig(delay=delay))
    if delay:
        raise UnseenError(f"--delay applies to the model only; {method} has none")
    raise UnseenError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
