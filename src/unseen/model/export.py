"""ONNX export of the generator (dynamic clip length, height and width)."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from unseen.model.generator import InpaintGenerator


def _export_atomic(module: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], axes: dict, opset: int) -> Path:
    """torch.onnx.export (TorchScript exporter: dynamic axes without onnxscript) to a temporary file, then rename."""
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent if path.parent.exists() else None)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module, args, tmp, input_names=inputs, output_names=outputs, dynamic_axes=axes, opset_version=opset, dynamo=False
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def export_clip_onnx(model: InpaintGenerator, path: str | Path, opset: int = 17) -> Path:
    """Export `forward(frames, masks, guide)` to ONNX with dynamic T, H, W; written atomically."""
    path = Path(path)
    model = model.eval()
    t, h, w = 2, model.config.unit, model.config.unit
    frames = torch.zeros(1, t, 3, h, w)
    masks = torch.zeros(1, t, 1, h, w)
    args: tuple = (frames, masks)
    names = ["frames", "masks"]
    if model.config.guide:
        args += (torch.zeros(1, t, 4, h, w),)
        names.append("guide")
    axes = {n: {1: "T", 3: "H", 4: "W"} for n in names + ["output"]}
    return _export_atomic(model, args, path, names, ["output"], axes, opset)


class StepGraph(nn.Module):
    """`step_tensors` with flat inputs/outputs: (frame, mask, guide, k_0..k_L-1, v_0..v_L-1) -> (out, new k..., new v...)."""

    def __init__(self, model: InpaintGenerator) -> None:
        super().__init__()
        self.model = model
        self.layers = sum(1 for b in model.blocks if b.temporal)

    def forward(self, frame: Tensor, mask: Tensor, guide: Tensor, *past: Tensor) -> tuple[Tensor, ...]:
        n = self.layers
        out, keys, values = self.model.step_tensors(frame, mask, guide, list(past[:n]), list(past[n:]))
        return (out, *keys, *values)


def step_io_names(model: InpaintGenerator) -> tuple[list[str], list[str]]:
    """Input and output names of the exported step graph."""
    n = sum(1 for b in model.blocks if b.temporal)
    inputs = ["frame", "mask", "guide"] + [f"past_k{i}" for i in range(n)] + [f"past_v{i}" for i in range(n)]
    outputs = ["output"] + [f"new_k{i}" for i in range(n)] + [f"new_v{i}" for i in range(n)]
    return inputs, outputs


def export_step_onnx(model: InpaintGenerator, path: str | Path, opset: int = 17) -> Path:
    """Export one online step with the key/value cache as explicit inputs (dynamic H, W, windows, past length)."""
    path = Path(path)
    model = model.eval()
    if not model.config.guide:
        raise ValueError("step export supports guided models only")
    u = model.config.unit
    frame = torch.zeros(1, 3, u, 2 * u)
    mask = torch.zeros(1, 1, u, 2 * u)
    guide = torch.zeros(1, 4, u, 2 * u)
    keys, values = model.empty_past(frame)
    with torch.no_grad():
        _, k1, v1 = model.step_tensors(frame, mask, guide, keys, values)  # one real past frame to trace with
    inputs, outputs = step_io_names(model)
    axes: dict[str, dict[int, str]] = {"frame": {2: "H", 3: "W"}, "mask": {2: "H", 3: "W"}, "guide": {2: "H", 3: "W"}}
    axes["output"] = {2: "H", 3: "W"}
    for name in inputs[3:]:
        axes[name] = {1: "windows", 3: "past"}
    for name in outputs[1:]:
        axes[name] = {1: "windows"}
    return _export_atomic(StepGraph(model), (frame, mask, guide, *k1, *v1), path, inputs, outputs, axes, opset)
