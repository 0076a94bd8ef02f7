"""Model configurations: one dataclass, named presets (tiny / small / base)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace

from unseen.errors import UnseenError


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of the generator.

    The token grid has stride `4 * token_stride` against the input; inputs are padded to
    a multiple of `unit` (= token stride x window) and cropped back, so any size works.
    """

    name: str = "small"
    guide: bool = True  # extra input: a classical fill of the hole; the output is a residual on it
    enc_channels: tuple[int, int] = (32, 64)  # channels at stride 2 and stride 4
    enc_group_layers: int = 2  # hierarchical grouped-conv layers with channel-group skips
    groups: int = 4
    dim: int = 128  # token width
    token_stride: int = 2  # token grid stride against the stride-4 features
    depth: int = 6  # transformer blocks, alternating temporal / spatial
    heads: int = 4
    window: int = 6  # spatial window side, in tokens
    mlp_ratio: float = 2.0
    cache_frames: int = 6  # K: a frame attends to itself and the K-1 frames before it
    ref_stride: int = 0  # every ref_stride-th frame is kept as a long-range reference (0: none)
    ref_count: int = 0  # how many such reference frames stay visible beyond the last K
    guide_rim: int = 0  # the classical guide these weights were trained on: 0 plain Telea where nothing was seen
    # (v1), N > 0 Telea at full resolution within N px of the rim and at half resolution deeper (GuideConfig.rim_fill)

    @property
    def unit(self) -> int:
        """Input sides are padded to a multiple of this many pixels."""
        return 4 * self.token_stride * self.window

    def to_json(self) -> str:
        """The config as a JSON string (stored in checkpoint metadata)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        """Inverse of `to_json`; unknown keys are an error."""
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise UnseenError(f"model config has unknown fields {sorted(unknown)}; is the checkpoint from a newer unseen?")
        if "enc_channels" in data:
            data["enc_channels"] = tuple(data["enc_channels"])
        return cls(**data)


PRESETS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(
        name="tiny", enc_channels=(8, 16), enc_group_layers=1, groups=2, dim=32, depth=2, heads=2, window=4, cache_frames=4
    ),
    "small": ModelConfig(name="small", ref_stride=12, ref_count=2),
    "base": ModelConfig(
        name="base",
        enc_channels=(64, 128),
        enc_group_layers=4,
        groups=4,
        dim=256,
        depth=8,
        heads=8,
        window=8,
        mlp_ratio=4.0,
        cache_frames=10,
        ref_stride=10,
        ref_count=3,
    ),
}


def get_preset(name: str, **overrides: object) -> ModelConfig:
    """A named preset, optionally with fields replaced."""
    if name not in PRESETS:
        raise UnseenError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[name], **overrides) if overrides else PRESETS[name]
