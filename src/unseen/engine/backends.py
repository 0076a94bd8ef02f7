"""Ways to run one generator step: torch eager, torch.compile, ONNX Runtime. Same signature as `step_tensors`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from unseen.errors import UnseenError
from unseen.model.generator import InpaintGenerator

BACKENDS = ("eager", "compile", "onnx")


class EagerRunner:
    """`step_tensors` in torch, optionally under bfloat16 autocast."""

    def __init__(self, model: InpaintGenerator, bf16: bool) -> None:
        self.model, self.bf16 = model, bf16
        self.fn = model.step_tensors

    @torch.no_grad()
    def __call__(self, frame: Tensor, mask: Tensor, guide: Tensor | None, keys: list[Tensor], values: list[Tensor]):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            out, k, v = self.fn(frame, mask, guide, keys, values)
        return out.float(), k, v


class CompiledRunner(EagerRunner):
    """`step_tensors` through torch.compile (dynamic shapes: ROI size and past length vary)."""

    def __init__(self, model: InpaintGenerator, bf16: bool) -> None:
        super().__init__(model, bf16)
        self.fn = torch.compile(model.step_tensors, dynamic=True)


class OnnxRunner:
    """The exported step graph in ONNX Runtime (fp32); the cache stays in torch tensors between steps."""

    def __init__(self, model: InpaintGenerator, threads: int = 0, path: str | Path | None = None) -> None:
        import onnxruntime as ort

        from unseen.model.export import export_step_onnx, step_io_names

        if path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="unseen-onnx-")
            path = export_step_onnx(model, Path(self._tmp.name) / "step.onnx")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - ORT raises several types
            raise UnseenError(f"cannot load ONNX step graph {path}: {exc}") from None
        self.inputs, self.outputs = step_io_names(model)
        self.layers = len(model.empty_past(torch.zeros(1, 3, 8, 8))[0])

    def __call__(self, frame: Tensor, mask: Tensor, guide: Tensor | None, keys: list[Tensor], values: list[Tensor]):
        arrays = [frame, mask, guide, *keys, *values]
        feed = {name: np.ascontiguousarray(t.float().numpy()) for name, t in zip(self.inputs, arrays, strict=True)}
        result = self.session.run(self.outputs, feed)
        n = self.layers
        tensors = [torch.from_numpy(r) for r in result]
        return tensors[0], tensors[1 : 1 + n], tensors[1 + n :]


def make_runner(model: InpaintGenerator, backend: str, bf16: bool, threads: int = 0):
    """A step runner for `backend` (eager, compile or onnx)."""
    if backend == "eager":
        return EagerRunner(model, bf16)
    if backend == "compile":
        return CompiledRunner(model, bf16)
    if backend == "onnx":
        return OnnxRunner(model, threads)
    raise UnseenError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
