"""Inpainters by name: the classical baselines and the learned model."""

from __future__ import annotations

from unseen.engine.backends import BACKENDS
from unseen.engine.inpainter import Inpainter
from unseen.errors import UnseenError

METHODS = ("model", "memory", "lastseen", "telea")


def make_inpainter(method: str, weights: str = "small", delay: int = 0, backend: str = "auto", threads: int = 0, engine=None) -> Inpainter:
    """Build the inpainter called `method`; `weights` is a preset name or a .safetensors path for `model`;
    `delay` k > 0 lets the model batch k + 1 frames (k frames of added delay); `backend` (auto, eager,
    compile, onnx, openvino) and `threads` (0: one) set how the model runs. A full `EngineConfig` given as
    `engine` takes the place of delay, backend and threads."""
    if engine is not None:
        delay, backend, threads = engine.delay, engine.backend, engine.threads
    if threads < 0:
        raise UnseenError("--threads must be 0 (automatic) or more")
    if method != "model" and (delay or backend not in ("auto", "eager")):
        raise UnseenError(f"--delay and --backend apply to the model only; {method} has neither")
    if method == "telea":
        from unseen.engine.telea import TeleaInpainter

        return TeleaInpainter()
    if method == "lastseen":
        from unseen.engine.memory import LastSeenInpainter

        return LastSeenInpainter()
    if method == "memory":
        from unseen.engine.memory import MemoryInpainter

        return MemoryInpainter()
    if method == "model":
        from unseen.engine.online import EngineConfig, OnlineInpainter

        if backend not in BACKENDS:
            raise UnseenError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        return OnlineInpainter.from_weights(weights, engine or EngineConfig(delay=delay, backend=backend, threads=threads))
    raise UnseenError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
