"""OnlineInpainter: the real-time engine around the generator.

Per frame: update the full-resolution background memory (follows camera motion, resets on cuts);
scale to the working resolution; crop a region of interest around the holes; build the classical
guide there (memory, else Telea); step the generator with its cache of past frames; upsample the
correction and composite it into the full-resolution original with a feathered edge.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from unseen.engine.backends import make_runner
from unseen.engine.composite import composite_patch
from unseen.engine.inpainter import Inpainter
from unseen.engine.memory import BackgroundMemory
from unseen.engine.model_inpainter import frame_to_tensor
from unseen.engine.roi import RoiTracker
from unseen.engine.telea import telea_fill
from unseen.model.generator import InpaintGenerator


@dataclass
class EngineConfig:
    """Settings of the online engine."""

    work_width: int = 480  # working resolution the network runs at (frames are scaled to fit inside)
    work_height: int = 288
    roi: bool = True  # run the network only on a window around the holes
    roi_margin: int = 16  # context around the holes, in working-resolution pixels
    context_frames: int | None = 5  # frames the temporal attention sees (None: the model's own setting)
    reference_frames: bool = False  # keep the model's sparse long-range reference frames
    backend: str = "eager"  # eager, compile (torch.compile) or onnx (ONNX Runtime)
    bf16: bool = True  # bfloat16 autocast on CPU (torch backends) where it is faster
    threads: int = 0  # torch threads (0: leave as is)
    feather: int = 2  # feathered edge width in full-resolution pixels
    trust_memory: int = 5  # with the camera still this many frames, hole pixels the memory has seen are final:
    # the network runs only around the rest (0: always run the network on the whole hole)


def _resize(image: np.ndarray, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    import cv2

    if image.shape[1] == size[0] and image.shape[0] == size[1]:
        return image
    interp = cv2.INTER_NEAREST if nearest else (cv2.INTER_AREA if size[0] < image.shape[1] else cv2.INTER_LINEAR)
    return cv2.resize(image, size, interpolation=interp)


class OnlineInpainter(Inpainter):
    """Frame-by-frame inpainting with the generator, a KV cache, background memory and a region of interest."""

    name = "model"

    def __init__(self, model: InpaintGenerator, config: EngineConfig | None = None) -> None:
        self.config = config or EngineConfig()
        overrides: dict = {}
        if self.config.context_frames:
            overrides["cache_frames"] = self.config.context_frames
        if not self.config.reference_frames:
            overrides["ref_count"] = 0
        if overrides:
            model.config = replace(model.config, **overrides)
        self.model = model.eval()
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        self.memory = BackgroundMemory()
        self.cache = model.new_cache()
        self.runner = make_runner(model, self.config.backend, self.config.bf16, self.config.threads)
        self.roi = RoiTracker(model.config.unit, self.config.roi_margin, grow=self.config.roi_margin // 2)
        self.frames_seen = 0

    @classmethod
    def from_weights(cls, weights: str = "small", config: EngineConfig | None = None) -> OnlineInpainter:
        """Load shipped weights by preset name, or a .safetensors path."""
        from unseen.model.checkpoint import load_generator

        return cls(load_generator(weights), config)

    def reset(self) -> None:
        self.memory.reset()
        self.cache.reset()
        self.roi.reset()

    def work_size(self, width: int, height: int) -> tuple[int, int]:
        """Working (width, height) for a frame size: scaled down to fit, never up."""
        s = min(1.0, self.config.work_width / width, self.config.work_height / height)
        return max(8, round(width * s)), max(8, round(height * s))

    @torch.no_grad()
    def step(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """uint8 RGB (H, W, 3) + bool hole (H, W) -> inpainted frame at full resolution."""
        height, width = mask.shape
        value, from_memory = self.memory.update(frame, mask)
        if self.memory.cut:
            self.cache.reset()
        self.frames_seen += 1
        if not mask.any():
            return frame.copy()
        trusted = self.config.trust_memory > 0 and self.memory.still_frames >= self.config.trust_memory
        if trusted and not (mask & ~from_memory).any():
            return composite_patch(frame, value, mask, self.config.feather)  # all seen: no network needed
        ww, wh = self.work_size(width, height)
        small = _resize(frame, (ww, wh))
        small_mask = _resize(mask.astype(np.uint8) * 255, (ww, wh)) > 0
        small_known = _resize((~mask | from_memory).astype(np.uint8) * 255, (ww, wh)) == 255
        need = small_mask & ~small_known if trusted else small_mask
        if not need.any():
            need = small_mask
        box = self.roi.update(need, ww, wh) if self.config.roi else (0, 0, ww, wh)
        if self.roi.moved:
            self.cache.reset()
        x0, y0, x1, y1 = box
        crop = small[y0:y1, x0:x1]
        crop_mask = small_mask[y0:y1, x0:x1]
        crop_value = _resize(value, (ww, wh))[y0:y1, x0:x1]
        crop_from_mem = crop_mask & small_known[y0:y1, x0:x1]
        guide = crop.copy()
        guide[crop_from_mem] = crop_value[crop_from_mem]
        rest = crop_mask & ~crop_from_mem
        if rest.any():
            guide = telea_fill(guide, rest)
        f = frame_to_tensor(crop)
        m = torch.from_numpy(crop_mask)[None, None].float()
        g = torch.cat([frame_to_tensor(guide), torch.from_numpy(crop_from_mem)[None, None].float()], dim=1)
        out = self.model.step(f, m, g if self.model.config.guide else None, self.cache, runner=self.runner)
        pred = out[0].float().permute(1, 2, 0).add(1.0).mul(127.5).numpy()  # (h, w, 3) float 0..255
        residual = pred - guide.astype(np.float32)
        # back to full resolution: the box in full-resolution pixels
        sx, sy = width / ww, height / wh
        fx0, fy0 = int(np.floor(x0 * sx)), int(np.floor(y0 * sy))
        fx1, fy1 = min(width, int(np.ceil(x1 * sx))), min(height, int(np.ceil(y1 * sy)))
        size = (fx1 - fx0, fy1 - fy0)
        full_mask = mask[fy0:fy1, fx0:fx1]
        if size == (x1 - x0, y1 - y0):
            patch = pred
        else:
            guide_full = _resize(guide, size).astype(np.float32)
            mem = from_memory[fy0:fy1, fx0:fx1]
            guide_full[mem] = value[fy0:fy1, fx0:fx1][mem]
            patch = guide_full + _resize(residual, size)
        patch = np.clip(np.round(patch), 0, 255).astype(np.uint8)
        if trusted:  # seen pixels come from memory, the network's patch fills the rest of its box
            fill = frame.copy()
            fill[from_memory] = value[from_memory]
            region = fill[fy0:fy1, fx0:fx1]
            inside = full_mask & ~from_memory[fy0:fy1, fx0:fx1]
            region[inside] = patch[inside]
            outside = mask & ~from_memory
            outside[fy0:fy1, fx0:fx1] = False
            if outside.any():  # unseen pixels outside the box (rare): the classical fill
                fill = telea_fill(fill, outside)
            return composite_patch(frame, fill, mask, self.config.feather)
        return composite_patch(frame, patch, full_mask, self.config.feather, (fx0, fy0))
