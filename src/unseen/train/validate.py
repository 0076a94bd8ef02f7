"""Validation during training: held-out clips, protocol masks, the online model against the baselines."""

from __future__ import annotations

import numpy as np

from unseen.datasets.clips import discover_clips, load_silhouettes
from unseen.eval.metrics import psnr, ssim
from unseen.eval.protocol import moving_masks, stationary_masks
from unseen.model.generator import InpaintGenerator
from unseen.pipeline import load_inpainter
from unseen.train.config import ValConfig

# Bumped whenever validation scores stop being comparable with earlier ones (a resumed run then forgets its
# best score). 2: hole pixels are zeroed before any method sees them and the engine composites without a feather.
VAL_PROTOCOL = 2


class Validator:
    """Loads the validation clips once; `run(model)` returns mean PSNR/SSIM for the model (through the online
    engine, as users run it), the memory baseline and Telea."""

    def __init__(self, config: ValConfig) -> None:
        import cv2

        self.config = config
        clips = [c for root in config.roots for c in discover_clips(root)]
        silhouettes = load_silhouettes(clips)
        step = max(1, len(clips) // max(1, config.clips))
        self.cases: list[tuple[str, np.ndarray, np.ndarray]] = []
        for i, clip in enumerate(clips[::step][: config.clips]):
            n = min(config.frames, clip.length)
            frames = np.stack(
                [cv2.resize(f, (config.width, config.height), interpolation=cv2.INTER_AREA) for f in clip.read(list(range(n)))]
            )
            t, h, w = frames.shape[:3]
            self.cases.append(("stationary", frames, stationary_masks(config.seed + i, t, h, w)))
            self.cases.append(("moving", frames, moving_masks(config.seed + i, t, h, w, silhouettes)))
        self.baselines = {name: self._score(lambda name=name: load_inpainter(name)) for name in ("telea", "memory")}

    def _score(self, make) -> dict[str, float]:
        psnrs, ssims = [], []
        for _, frames, masks in self.cases:
            method = make()
            shown = frames.copy()
            shown[masks] = 0  # as in the evaluation protocol: what is under the hole never reaches a method
            outs = [method.step(f, m) for f, m in zip(shown, masks, strict=True)]
            psnrs += [psnr(o, f) for o, f in zip(outs, frames, strict=True)]
            ssims += [ssim(o, f, None) for o, f in zip(outs, frames, strict=True)]
        return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims))}

    def run(self, model: InpaintGenerator) -> dict[str, float]:
        """Score `model` online; returns psnr/ssim for model and the two baselines."""
        import torch

        was_training, threads = model.training, torch.get_num_threads()
        options = {"work_width": self.config.width, "work_height": self.config.height, "backend": "eager", "bf16": False}
        try:
            score = self._score(lambda: load_inpainter("model", model, **options))  # exactly what users run
        finally:  # the engine sets its own thread count: training goes on with the trainer's
            torch.set_num_threads(threads)
            model.train(was_training)
        out = {"psnr_model": score["psnr"], "ssim_model": score["ssim"]}
        for name, s in self.baselines.items():
            out[f"psnr_{name}"], out[f"ssim_{name}"] = s["psnr"], s["ssim"]
        return out
