"""Training clips: discovery over dataset layouts, on-demand decoding, augmentation, synthetic holes.

Layouts understood for a root folder:
- YouTube-VOS / DAVIS: `root/JPEGImages/<clip>/*.jpg` (+ optional `root/Annotations/<clip>/*.png`);
- video files: `root/videos/*.mp4|mkv|...`, or video files directly in `root`;
- IPN Hand: `root/<video>/*.jpg` (one frame folder per video), also under `root/frames/`;
- a single folder of frames, or a single video file.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from unseen.errors import UnseenError
from unseen.io.frames import is_video_path, list_images, read_image_rgb
from unseen.train.masks import MaskConfig, MaskGenerator


@dataclass
class DataConfig:
    """Where training clips come from and how samples are drawn."""

    roots: list[str] = field(default_factory=list)
    weights: list[float] | None = None  # sampling weight per root (default: equal)
    height: int = 128
    width: int = 128
    frames: int = 5
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


class Clip:
    """A sequence of frames that can be read by index."""

    name: str
    length: int
    annotations: Path | None = None

    def read(self, indices: list[int]) -> list[np.ndarray]:
        """Frames at these indices as uint8 RGB."""
        raise NotImplementedError


class FolderClip(Clip):
    """A folder of frame images."""

    def __init__(self, folder: Path, annotations: Path | None = None) -> None:
        self.name = folder.name
        self.files = list_images(folder)
        self.length = len(self.files)
        self.annotations = annotations if annotations and annotations.is_dir() else None

    def read(self, indices: list[int]) -> list[np.ndarray]:
        return [read_image_rgb(self.files[i]) for i in indices]


class VideoClip(Clip):
    """A video file; reads seek to the first wanted frame and decode forward (no full decode)."""

    def __init__(self, path: Path) -> None:
        import av

        self.name = path.stem
        self.path = path
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            self.length = int(s.frames or 0)
            self.fps = float(s.average_rate or 25)
        if self.length <= 0:
            from unseen.io.frames import VideoSource

            src = VideoSource(path)
            self.length = src.info.frame_count
            src.close()

    def read(self, indices: list[int]) -> list[np.ndarray]:
        import av

        wanted = sorted(set(indices))
        out: dict[int, np.ndarray] = {}
        with av.open(str(self.path)) as c:
            stream = c.streams.video[0]
            start_time = None
            if wanted[0] > 0 and stream.time_base and stream.average_rate:
                ts = int(wanted[0] / float(stream.average_rate) / float(stream.time_base))
                try:
                    c.seek(ts + (stream.start_time or 0), stream=stream, backward=True)
                    start_time = stream.start_time or 0
                except av.error.FFmpegError:
                    start_time = None
            i = -1
            for frame in c.decode(stream):
                if start_time is not None and frame.pts is not None:
                    i = int(round((frame.pts - start_time) * float(stream.time_base) * float(stream.average_rate)))
                else:
                    i += 1
                if i in wanted and i not in out:
                    out[i] = frame.to_ndarray(format="rgb24")
                if i >= wanted[-1]:
                    break
        if not out:
            raise UnseenError(f"{self.path}: could not decode frames {wanted[0]}..{wanted[-1]}")
        last = out[max(out)]
        return [out.get(i, last) for i in indices]


class CachedClip(Clip):
    """Wraps a clip; on first use decodes up to `max_frames` frames at a reduced size, then serves from memory."""

    def __init__(self, clip: Clip, short_side: int, max_frames: int) -> None:
        self.clip, self.short_side = clip, short_side
        self.name, self.annotations = clip.name, clip.annotations
        self.length = min(clip.length, max_frames)
        self.frames: list[np.ndarray] | None = None

    def read(self, indices: list[int]) -> list[np.ndarray]:
        import cv2

        if self.frames is None:
            frames = self.clip.read(list(range(self.length)))
            h, w = frames[0].shape[:2]
            s = self.short_side / min(h, w)
            if s < 1:
                size = (max(1, round(w * s)), max(1, round(h * s)))
                frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
            self.frames = frames
        return [self.frames[i] for i in indices]


def discover_clips(root: str | Path) -> list[Clip]:
    """All clips under a root folder (see the module docstring for the layouts)."""
    root = Path(root)
    if not root.exists():
        raise UnseenError(f"{root}: training data folder not found")
    if root.is_file():
        return [VideoClip(root)] if is_video_path(root) else []
    clips: list[Clip] = []
    if (root / "JPEGImages").is_dir():
        for d in sorted((root / "JPEGImages").iterdir()):
            if d.is_dir() and list_images(d):
                clips.append(FolderClip(d, root / "Annotations" / d.name))
    if (root / "videos").is_dir():
        clips += [VideoClip(p) for p in sorted((root / "videos").iterdir()) if p.is_file() and is_video_path(p)]
    if (root / "frames").is_dir():
        clips += discover_clips(root / "frames")
    if clips:
        return clips
    if list_images(root):
        return [FolderClip(root)]
    for p in sorted(root.iterdir()):
        if p.is_dir() and list_images(p):
            clips.append(FolderClip(p))
        elif p.is_file() and is_video_path(p):
            clips.append(VideoClip(p))
    return clips


def load_silhouettes(clips: list[Clip], per_clip: int = 6, max_side: int = 128) -> list[np.ndarray]:
    """Object shapes (bool masks cropped to the object) from the clips' annotation folders."""
    import cv2

    shapes = []
    for clip in clips:
        if clip.annotations is None:
            continue
        files = list_images(clip.annotations)
        for f in files[:: max(1, len(files) // per_clip)][:per_clip]:
            ann = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            if ann is None:
                continue
            for obj in np.unique(ann)[1:]:
                m = ann == obj
                ys, xs = np.nonzero(m)
                if len(ys) < 64:
                    continue
                m = m[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
                s = max_side / max(m.shape)
                if s < 1:
                    m = (
                        cv2.resize(
                            m.astype(np.uint8), (max(2, int(m.shape[1] * s)), max(2, int(m.shape[0] * s))), interpolation=cv2.INTER_NEAREST
                        )
                        > 0
                    )
                shapes.append(m)
    return shapes


def classical_guide(frames: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The engine's online classical guide of a clip, frame by frame (only frames <= t).

    frames uint8 (T, H, W, 3), masks bool (T, H, W) -> (guide uint8 (T, H, W, 3), confidence float32 (T, H, W) in
    [0, 1]): what `OnlineInpainter` gives the network (still-camera memory, flow-guided propagation, Telea).
    """
    from unseen.engine.propagation import GuideBuilder

    builder = GuideBuilder()
    fills, confidence = zip(*(builder.step(f, m) for f, m in zip(frames, masks, strict=True)), strict=True)
    return np.stack(fills), np.stack(confidence)


def to_tensor_clip(frames: np.ndarray):
    """uint8 (T, H, W, 3) -> float tensor (T, 3, H, W) in [-1, 1]."""
    import torch

    return torch.from_numpy(frames).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


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
        fill, confidence = classical_guide(hidden, masks)
        guide = torch.cat([to_tensor_clip(fill), torch.from_numpy(confidence)[:, None]], dim=1)
        return {
            "frames": to_tensor_clip(frames),
            "masks": torch.from_numpy(masks).float()[:, None],
            "guide": guide,
        }
