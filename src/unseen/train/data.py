"""Training samples: clips from `unseen.datasets` (any layout it understands), augmented, with synthetic holes
and the engine's own classical guide."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

from unseen.datasets.clips import CachedClip, Clip, discover_clips, load_silhouettes
from unseen.datasets.holes import MaskConfig, MaskGenerator
from unseen.errors import UnseenError


@dataclass
class DataConfig:
    """Where training clips come from and how samples are drawn."""

    roots: list[str] = field(default_factory=list)
    weights: list[float] | None = None  # sampling weight per root (default: equal)
    height: int = 128
    width: int = 128
    frames: int = 5
    guide_rim: int = 0  # the classical guide's rim_fill: set by the trainer to the model's `guide_rim`
    max_stride: int = 2  # frames of a sample are 1..max_stride apart
    scale_min: float = 1.0  # resize so the crop covers this .. scale_max of the short side
    scale_max: float = 1.6
    jitter: float = 0.08  # brightness/contrast/saturation jitter amplitude
    cache: bool = True  # decode each clip once at reduced size and keep it in memory
    cache_short_side: int = 224
    cache_max_frames: int = 400
    masks: MaskConfig = field(default_factory=MaskConfig)


@dataclass(frozen=True)
class SampleKey:
    """Which sample to draw and at which size: the RNG is seeded by (seed, *ids)."""

    ids: tuple[int, ...]
    height: int
    width: int
    frames: int


def classical_guide(frames: np.ndarray, masks: np.ndarray, rim_fill: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The engine's online classical guide of a clip, frame by frame (only frames <= t).

    frames uint8 (T, H, W, 3), masks bool (T, H, W) -> (guide uint8 (T, H, W, 3), confidence float32 (T, H, W) in
    [0, 1]): what `OnlineInpainter` gives the network (still-camera memory, flow-guided propagation, Telea).
    """
    from unseen.engine.propagation import GuideBuilder, GuideConfig

    builder = GuideBuilder(GuideConfig(rim_fill=rim_fill))  # `rim_fill`: the model's `guide_rim`
    fills, confidence = zip(*(builder.step(f, m) for f, m in zip(frames, masks, strict=True)), strict=True)
    return np.stack(fills), np.stack(confidence)


class ClipDataset:
    """Map-style dataset: sample `i` is a deterministic function of (seed, i).

    Returns dict with `frames` (T, 3, H, W) in [-1, 1], `masks` (T, 1, H, W) in {0, 1} and
    `guide` (T, 4, H, W): the engine's classical guide in [-1, 1] plus its confidence channel in [0, 1].
    """

    def __init__(self, config: DataConfig, seed: int = 0, length: int = 10**9) -> None:
        if not config.roots:
            raise UnseenError("no training data: set data.roots to one or more folders")
        self.config, self.seed, self.length = config, seed, length
        self.sources: list[list[Clip]] = []
        for root in config.roots:
            clips = [c for c in discover_clips(root) if c.length >= 2]
            if not clips:
                raise UnseenError(f"{root}: no clips found (expected JPEGImages/<clip>/, videos/, or frame folders)")
            if config.cache:
                clips = [CachedClip(c, config.cache_short_side, config.cache_max_frames) for c in clips]
            self.sources.append(clips)
        w = np.array(config.weights or [1.0] * len(self.sources), float)
        if len(w) != len(self.sources):
            raise UnseenError(f"data.weights has {len(w)} entries for {len(self.sources)} roots")
        self.cum = np.cumsum(w / w.sum())
        self.masks = MaskGenerator(config.masks, load_silhouettes([c for s in self.sources for c in s]))

    def __len__(self) -> int:
        return self.length

    def prefetch(self, progress: bool = True, threads: int = 2) -> None:
        """Decode every cached clip now (before worker processes fork, so they share the frames)."""
        from concurrent.futures import ThreadPoolExecutor

        from tqdm import tqdm

        clips = [c for s in self.sources for c in s if isinstance(c, CachedClip)]
        with ThreadPoolExecutor(threads) as pool, tqdm(total=len(clips), desc="decoding clips", disable=not progress) as bar:
            for _ in pool.map(lambda c: c.read([0]), clips):
                bar.update(1)

    def num_clips(self) -> int:
        """Clips over all roots."""
        return sum(len(s) for s in self.sources)

    def _pick(self, rng: np.random.Generator, frames: int) -> tuple[Clip, list[int]]:
        cfg = self.config
        src = self.sources[min(bisect.bisect_right(self.cum, rng.random()), len(self.sources) - 1)]
        clip = src[rng.integers(len(src))]
        stride = int(rng.integers(1, cfg.max_stride + 1))
        while stride > 1 and (frames - 1) * stride >= clip.length:
            stride -= 1
        span = (frames - 1) * stride + 1
        start = int(rng.integers(0, max(1, clip.length - span + 1)))
        idx = [min(clip.length - 1, start + k * stride) for k in range(frames)]
        if rng.random() < 0.5 and clip.length > span:  # time reversal is as valid a motion as forward
            idx = idx[::-1]
        return clip, idx

    def _augment(self, rng: np.random.Generator, frames: list[np.ndarray], height: int, width: int) -> np.ndarray:
        import cv2

        cfg = self.config
        h, w = frames[0].shape[:2]
        scale = rng.uniform(cfg.scale_min, cfg.scale_max) * max(height / h, width / w)
        nh, nw = max(height, round(h * scale)), max(width, round(w * scale))
        y0, x0 = int(rng.integers(0, nh - height + 1)), int(rng.integers(0, nw - width + 1))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        out = np.stack([cv2.resize(f, (nw, nh), interpolation=interp)[y0 : y0 + height, x0 : x0 + width] for f in frames])
        if rng.random() < 0.5:
            out = out[:, :, ::-1]
        if cfg.jitter > 0:
            x = out.astype(np.float32)
            mean = x.mean()
            x = (x - mean) * (1 + rng.uniform(-cfg.jitter, cfg.jitter)) + mean * (1 + rng.uniform(-cfg.jitter, cfg.jitter))
            grey = x.mean(-1, keepdims=True)
            x = grey + (x - grey) * (1 + rng.uniform(-cfg.jitter, cfg.jitter))
            out = np.clip(x, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(out)

    def __getitem__(self, key: int | SampleKey) -> dict:
        """Sample `key`: an index (sizes from the config) or a `SampleKey` (a curriculum stage's sizes)."""
        import torch

        from unseen.engine.tensors import clip_to_tensor

        cfg = self.config
        if not isinstance(key, SampleKey):
            key = SampleKey((int(key),), cfg.height, cfg.width, cfg.frames)
        rng = np.random.default_rng([self.seed, *key.ids])
        clip, idx = self._pick(rng, key.frames)
        frames = self._augment(rng, clip.read(idx), key.height, key.width)
        t, h, w = frames.shape[:3]
        masks = self.masks(rng, t, h, w)
        hidden = frames.copy()
        hidden[masks] = 0  # the classical fill never sees the true content under the hole
        fill, confidence = classical_guide(hidden, masks, self.config.guide_rim)
        guide = torch.cat([clip_to_tensor(fill), torch.from_numpy(confidence)[:, None]], dim=1)
        return {
            "frames": clip_to_tensor(frames),
            "masks": torch.from_numpy(masks).float()[:, None],
            "guide": guide,
        }
