"""Inpainters by name: the classical baselines and the learned model."""

from __future__ import annotations

from unseen.engine.inpainter import Inpainter
from unseen.errors import UnseenError

METHODS = ("model", "memory", "telea")


def make_inpainter(method: str, weights: str = "small") -> Inpainter:
    """Build the inpainter called `method`; `weights` is a preset name or a .safetensors path for `model`."""
    if method == "telea":
        from unseen.engine.telea import TeleaInpainter

        return TeleaInpainter()
    if method == "memory":
        from unseen.engine.memory import MemoryInpainter

        return MemoryInpainter()
    if method == "model":
        from unseen.engine.online import OnlineInpainter

        return OnlineInpainter.from_weights(weights)
    raise UnseenError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
