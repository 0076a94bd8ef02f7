"""The generator: a causal decoupled spatial-temporal Swin transformer for video inpainting.

Per-frame convolutional encoder (stride 4, hierarchical grouped layers as in DSTT) -> token
embedding (strided conv) -> blocks alternating temporal and spatial windowed attention, with
shifted windows on every other pair and conditional positional encodings -> per-frame decoder
with an encoder skip -> output composited with the known pixels.

Images are float RGB in [-1, 1], shaped (B, T, 3, H, W); masks are (B, T, 1, H, W) with 1 = hole.
With `config.guide`, a guide (B, T, 4, H, W) is given too: a classical fill of the hole (RGB) and a
flag (1 where that fill came from the background memory, i.e. was actually seen); the network then
predicts a residual on the guide and starts out as the identity on it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unseen.model.attention import WindowBlock, visible_frames
from unseen.model.config import ModelConfig
from unseen.model.stream import StreamCache, open_past, past_shape, record


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2, inplace=True)


class GroupSkipLayer(nn.Module):
    """Grouped 3x3 conv over channel groups that each see their share of the stem features and the current ones."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.groups = groups
        self.conv = nn.Conv2d(channels * 2, channels, 3, padding=1, groups=groups)
        self.act = _act()

    def forward(self, x: Tensor, stem: Tensor) -> Tensor:
        """x, stem: (N, C, H, W) -> (N, C, H, W)."""
        n, c, h, w = x.shape
        g = self.groups
        both = torch.cat([stem.reshape(n, g, c // g, h, w), x.reshape(n, g, c // g, h, w)], dim=2)
        return x + self.act(self.conv(both.reshape(n, 2 * c, h, w)))


class FrameEncoder(nn.Module):
    """Per-frame encoder to stride 4: two strided convs, then hierarchical grouped layers."""

    def __init__(self, in_ch: int, c1: int, c2: int, layers: int, groups: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_ch, c1, 5, stride=2, padding=2), _act(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), _act(),
            nn.Conv2d(c2, c2, 3, padding=1), _act(),
        )  # fmt: skip
        self.layers = nn.ModuleList(GroupSkipLayer(c2, groups) for _ in range(layers))

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, in_ch, H, W) -> (N, c2, H/4, W/4)."""
        stem = self.stem(x)
        y = stem
        for layer in self.layers:
            y = layer(y, stem)
        return y


class FrameDecoder(nn.Module):
    """Per-frame decoder from stride-4 features (tokens unembedded + encoder skip) to an RGB image."""

    def __init__(self, c1: int, c2: int, residual: bool) -> None:
        super().__init__()
        self.fuse = nn.Sequential(nn.Conv2d(c2 * 2, c2, 1), _act())
        self.up1 = nn.Sequential(nn.Conv2d(c2, c1, 3, padding=1), _act())
        self.up2 = nn.Sequential(nn.Conv2d(c1, c1, 3, padding=1), _act())
        self.out = nn.Conv2d(c1, 3 * 4, 3, padding=1)  # pixel-shuffled to full resolution
        self.shuffle = nn.PixelShuffle(2)
        if residual:  # start (almost) as the identity on the guide; tiny weights keep gradients flowing
            nn.init.normal_(self.out.weight, std=1e-3)
            nn.init.zeros_(self.out.bias)

    def forward(self, tokens: Tensor, skip: Tensor) -> Tensor:
        """tokens, skip: (N, c2, H/4, W/4) -> (N, 3, H, W)."""
        y = self.fuse(torch.cat([tokens, skip], dim=1))
        y = self.up1(F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False))
        return self.shuffle(self.out(self.up2(y)))


class InpaintGenerator(nn.Module):
    """Causal DSTT-style generator with Swin windows and conditional positional encodings."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c1, c2 = config.enc_channels
        in_ch = 3 + 1 + (4 if config.guide else 0)  # masked RGB, hole, [guide RGB, from-memory flag]
        self.encoder = FrameEncoder(in_ch, c1, c2, config.enc_group_layers, config.groups)
        s = config.token_stride
        self.embed = nn.Conv2d(c2, config.dim, kernel_size=2 * s - 1 if s > 1 else 1, stride=s, padding=s - 1)
        self.blocks = nn.ModuleList(
            WindowBlock(
                config.dim,
                config.heads,
                config.window,
                shift=(i // 2) % 2 == 1,
                temporal=i % 2 == 0,
                mlp_ratio=config.mlp_ratio,
            )
            for i in range(config.depth)
        )
        self.norm = nn.LayerNorm(config.dim)
        self.unembed = nn.Sequential(nn.Conv2d(config.dim, c2 * s * s, 1), nn.PixelShuffle(s))
        self.decoder = FrameDecoder(c1, c2, residual=config.guide)

    # -- shared pieces -----------------------------------------------------------------------
    def _pad(self, x: Tensor, mode: str) -> Tensor:
        """Pad (N, C, H, W) on the bottom/right to a multiple of the config's unit."""
        u = self.config.unit
        h, w = x.shape[-2:]
        ph, pw = (-h) % u, (-w) % u  # no shape-dependent branch: keeps the ONNX graph size-agnostic
        if mode == "zeros":
            return F.pad(x, (0, pw, 0, ph))
        return F.pad(x, (0, pw, 0, ph), mode="replicate")

    def _inputs(self, frames: Tensor, masks: Tensor, guide: Tensor | None) -> tuple[Tensor, Tensor]:
        """Flatten time into batch and build the padded network input; returns (input, base image)."""
        b, t, _, h, w = frames.shape
        f = frames.reshape(b * t, 3, h, w)
        m = masks.reshape(b * t, 1, h, w).to(f.dtype)
        if self.config.guide:
            if guide is None:
                raise ValueError("this model needs a guide fill (config.guide=True)")
            g = guide.reshape(b * t, guide.shape[2], h, w)
            base = g[:, :3] * m + f * (1 - m)
            flag = g[:, 3:4] * m if g.shape[1] > 3 else torch.zeros_like(m)
            parts = [f * (1 - m), m, base, flag]
        else:
            base = f * (1 - m)
            parts = [base, m]
        x = torch.cat([self._pad(p, "zeros" if p.shape[1] == 1 else "replicate") for p in parts], dim=1)
        return x, self._pad(base, "replicate")

    def _decode(self, tokens: Tensor, skip: Tensor, base: Tensor) -> Tensor:
        """tokens (B, T, h, w, C) -> residual/prediction (B*T, 3, H, W) before compositing."""
        b, t, h, w, c = tokens.shape
        y = self.norm(tokens).reshape(b * t, h, w, c).permute(0, 3, 1, 2)
        y = self.decoder(self.unembed(y), skip)
        if self.config.guide:
            return base + y
        return torch.tanh(y)

    @staticmethod
    def _composite(pred: Tensor, frames: Tensor, masks: Tensor) -> Tensor:
        """Keep known pixels exactly; fill holes with the clamped prediction. All (B, T, C, H, W)."""
        pred = pred.clamp(-1.0, 1.0)
        m = masks.to(pred.dtype)
        return pred * m + frames * (1 - m)

    # -- clip forward (training, offline checks) ---------------------------------------------
    def forward(self, frames: Tensor, masks: Tensor, guide: Tensor | None = None, composite: bool = True) -> Tensor:
        """Inpaint a clip causally. frames (B, T, 3, H, W) in [-1, 1], masks (B, T, 1, H, W) in {0, 1}.

        Frame t is computed from frames <= t only. Returns (B, T, 3, H, W); with composite=False the
        raw prediction (unclamped) is returned everywhere, for losses on the valid region.
        """
        b, t, _, h, w = frames.shape
        tok, skip, base = self._tokens(frames, masks, guide)
        idx = torch.arange(t, device=frames.device)
        cfg = self.config
        time_mask = visible_frames(idx, idx, cfg.cache_frames, cfg.ref_stride, cfg.ref_count)
        for block in self.blocks:
            tok, _ = block(tok, time_mask=time_mask)
        pred = self._decode(tok, skip, base)[:, :, :h, :w].reshape(b, t, 3, h, w)
        return self._composite(pred, frames, masks) if composite else pred

    # -- stepping (online inference) ---------------------------------------------------------
    def new_cache(self) -> StreamCache:
        """An empty cache for `step`."""
        return StreamCache()

    def step_tensors(
        self, frame: Tensor, mask: Tensor, guide: Tensor | None, past_keys: list[Tensor], past_values: list[Tensor]
    ) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """Pure one-frame step: (B, 3, H, W) frame + past keys/values per temporal block -> output and this frame's keys/values.

        Past tensors are (B, nW, heads, M*N, C/heads) for M visible past frames (M may be 0). No
        Python state is touched, so this is what ONNX export and torch.compile see.
        """
        h, w = frame.shape[-2:]
        tok, skip, base = self._tokens(frame[:, None], mask[:, None], None if guide is None else guide[:, None])
        tok, new_keys, new_values = self._blocks_after_past(tok, past_keys, past_values, None)
        pred = self._decode(tok, skip, base)[:, :, :h, :w]
        out = self._composite(pred[:, None], frame[:, None], mask[:, None])[:, 0]
        return out, new_keys, new_values

    def step_frames(
        self,
        frames: Tensor,
        masks: Tensor,
        guide: Tensor | None,
        past_keys: list[Tensor],
        past_values: list[Tensor],
        time_mask: Tensor,
    ) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """T new frames (B, T, 3, H, W) at once after the cached past: `time_mask` (T, M+T) says which past and new
        frames each new frame sees. Returns outputs (B, T, 3, H, W) and the new frames' keys/values (T*N each)."""
        b, t, _, h, w = frames.shape
        tok, skip, base = self._tokens(frames, masks, guide)
        tok, new_keys, new_values = self._blocks_after_past(tok, past_keys, past_values, time_mask)
        pred = self._decode(tok, skip, base)[:, :, :h, :w].reshape(b, t, 3, h, w)
        return self._composite(pred, frames, masks), new_keys, new_values

    def _tokens(self, frames: Tensor, masks: Tensor, guide: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """Encode (B, T, ...) frames: tokens (B, T, th, tw, C), the encoder skip features and the guide base."""
        b, t = frames.shape[:2]
        x, base = self._inputs(frames, masks, guide)
        skip = self.encoder(x)
        tok = self.embed(skip)
        _, c, th, tw = tok.shape
        return tok.permute(0, 2, 3, 1).reshape(b, t, th, tw, c), skip, base

    def _blocks_after_past(
        self, tok: Tensor, past_keys: list[Tensor], past_values: list[Tensor], time_mask: Tensor | None
    ) -> tuple[Tensor, list[Tensor], list[Tensor]]:
        """Run every block on new tokens; temporal blocks also see their cached past keys/values."""
        new_keys, new_values = [], []
        li = 0
        for block in self.blocks:
            if block.temporal:
                tok, kv = block(tok, time_mask=time_mask, past=(past_keys[li], past_values[li]))
                new_keys.append(kv[0])
                new_values.append(kv[1])
                li += 1
            else:
                tok, _ = block(tok)
        return tok, new_keys, new_values

    @torch.no_grad()
    def step_many(self, frames: Tensor, masks: Tensor, guide: Tensor | None, cache: StreamCache) -> Tensor:
        """Inpaint the next T frames of a stream in one batch (B, T, ...); equal to T calls of `step`."""
        t = frames.shape[1]
        keys, values = open_past(cache, frames.shape, self.config, lambda: self.empty_past(frames[:, 0]), _join)
        cfg = self.config
        new_idx = torch.arange(cache.frame_index, cache.frame_index + t)
        key_idx = torch.cat([torch.tensor(cache.frames, dtype=torch.long), new_idx])
        time_mask = visible_frames(new_idx, key_idx, cfg.cache_frames, cfg.ref_stride, cfg.ref_count)
        out, new_keys, new_values = self.step_frames(frames, masks, guide, keys, values, time_mask)
        n = new_keys[0].shape[3] // t
        split = [[k[:, :, :, i * n : (i + 1) * n] for i in range(t)] for k in new_keys]
        record(cache, cfg, split, [[v[:, :, :, i * n : (i + 1) * n] for i in range(t)] for v in new_values], count=t)
        return out

    def empty_past(self, frame: Tensor) -> tuple[list[Tensor], list[Tensor]]:
        """Zero-length past keys/values matching a (B, 3, H, W) frame, for the first step."""
        empty = frame.new_zeros(past_shape(self.config, frame.shape[0], *frame.shape[-2:]))
        n = sum(1 for blk in self.blocks if blk.temporal)
        return [empty] * n, [empty] * n

    @torch.no_grad()
    def step(self, frame: Tensor, mask: Tensor, guide: Tensor | None, cache: StreamCache, runner=None) -> Tensor:
        """Inpaint the next frame of a stream. frame (B, 3, H, W), mask (B, 1, H, W); updates `cache`.

        Equal (to float rounding) to `forward` on the whole stream so far, at the cost of one frame.
        `runner` replaces `step_tensors` (same signature): a compiled or ONNX Runtime backend.
        """
        keys, values = open_past(cache, frame.shape, self.config, lambda: self.empty_past(frame), _join)
        out, new_keys, new_values = (runner or self.step_tensors)(frame, mask, guide, keys, values)
        record(cache, self.config, [[k] for k in new_keys], [[v] for v in new_values])
        return out


def _join(layer: list[Tensor]) -> Tensor:
    return torch.cat(layer, dim=3)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
