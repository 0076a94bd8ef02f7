"""ONNX export of the generator (dynamic clip length, height and width)."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import torch

from unseen.model.generator import InpaintGenerator


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
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent if path.parent.exists() else None)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model, args, tmp, input_names=names, output_names=["output"], dynamic_axes=axes, opset_version=opset, dynamo=False
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
