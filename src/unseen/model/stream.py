"""The stream cache of online stepping: which past frames' keys/values each new frame sees. Shared by the torch
generator (`InpaintGenerator.step`, `step_many`) and the exported step graph (`engine/graph.py`); no torch here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from unseen.model.config import ModelConfig


@dataclass
class StreamCache:
    """State for stepping frame by frame: per temporal block, the keys/values of the visible past frames.

    Bounded: frames leave the cache as soon as no future frame can see them (last K frames plus
    the sparse reference frames of the config). Keys and values are torch tensors or numpy arrays, as stepped.
    """

    frame_index: int = 0
    size: tuple[int, int] | None = None  # padded input (H, W) the cached tokens belong to
    frames: list[int] = field(default_factory=list)
    keys: list[list[Any]] = field(default_factory=list)  # [block][cached frame] (B, nW, heads, N, hd)
    values: list[list[Any]] = field(default_factory=list)

    def reset(self) -> None:
        """Forget everything (scene cut, new stream, new size)."""
        self.frame_index, self.size = 0, None
        self.frames, self.keys, self.values = [], [], []


def visible(lag: int, index: int, config: ModelConfig) -> bool:
    """Whether cached frame `index`, `lag` frames before the query, is visible to it (as `attention.visible_frames`)."""
    if lag < 0:
        return False
    if lag < config.cache_frames:
        return True
    refs = config.ref_stride > 0 and config.ref_count > 0
    return refs and index % config.ref_stride == 0 and lag < config.cache_frames + config.ref_stride * config.ref_count


def past_shape(config: ModelConfig, batch: int, height: int, width: int) -> tuple[int, int, int, int, int]:
    """Shape of an empty (zero frames) past key or value for a (batch, 3, height, width) input: (B, windows, heads,
    0, head size), the input padded to the config's unit."""
    per_token = 4 * config.token_stride
    th = -(-height // config.unit) * config.unit // per_token
    tw = -(-width // config.unit) * config.unit // per_token
    return batch, (th // config.window) * (tw // config.window), config.heads, 0, config.dim // config.heads


def open_past(
    cache: StreamCache,
    shape: Sequence[int],
    config: ModelConfig,
    empty: Callable[[], tuple[list, list]],
    concat: Callable[[list], Any],
) -> tuple[list, list]:
    """Past keys/values per temporal block for the next input of `shape` (..., H, W): the cached frames joined
    along the token axis by `concat`, or `empty()` when the cache is empty or holds another (padded) size."""
    unit = config.unit
    size = (-(-shape[-2] // unit) * unit, -(-shape[-1] // unit) * unit)
    if cache.size is not None and cache.size != size:
        cache.reset()
    if cache.size is None or not cache.frames:
        cache.size = size
        keys, values = empty()
        cache.keys = [[] for _ in keys]
        cache.values = [[] for _ in values]
        return keys, values
    return [concat(layer) for layer in cache.keys], [concat(layer) for layer in cache.values]


def record(cache: StreamCache, config: ModelConfig, keys: Sequence[Sequence], values: Sequence[Sequence], count: int = 1) -> None:
    """Add the keys/values of the next `count` frames (per block, one entry per frame) and drop what no future frame
    sees."""
    for li in range(len(keys)):
        cache.keys[li].extend(keys[li])
        cache.values[li].extend(values[li])
    cache.frames.extend(range(cache.frame_index, cache.frame_index + count))
    cache.frame_index += count
    keep = [i for i, f in enumerate(cache.frames) if visible(cache.frame_index - f, f, config)]
    if len(keep) < len(cache.frames):
        cache.frames = [cache.frames[i] for i in keep]
        cache.keys = [[layer[i] for i in keep] for layer in cache.keys]
        cache.values = [[layer[i] for i in keep] for layer in cache.values]
