"""Windowed attention blocks: temporal (one window over all visible frames) and spatial (one window, one frame).

Token grids are laid out (B, T, H, W, C). Windows are `w x w` tokens; shifted blocks roll the grid
by w/2 first (Swin) and mask attention between tokens that the roll brought together across the seam.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def window_partition(x: Tensor, w: int) -> Tensor:
    """(B, T, H, W, C) -> (B, T, nW, w*w, C), windows in row-major order."""
    b, t, h, wd, c = x.shape
    x = x.reshape(b, t, h // w, w, wd // w, w, c)
    return x.permute(0, 1, 2, 4, 3, 5, 6).reshape(b, t, (h // w) * (wd // w), w * w, c)


def window_merge(x: Tensor, w: int, h: int, wd: int) -> Tensor:
    """Inverse of `window_partition`: (B, T, nW, w*w, C) -> (B, T, H, W, C)."""
    b, t, _, _, c = x.shape
    x = x.reshape(b, t, h // w, wd // w, w, w, c)
    return x.permute(0, 1, 2, 4, 3, 5, 6).reshape(b, t, h, wd, c)


def shift_region_mask(h: int, wd: int, w: int, shift: int, device: torch.device) -> Tensor:
    """Bool (nW, N, N): True where two tokens of a window may attend after a cyclic shift by `shift`.

    Tokens that came from different sides of the wrap-around seam carry different region ids and
    must not see each other.
    """
    rows = torch.arange(h, device=device)
    cols = torch.arange(wd, device=device)
    region_r = (rows >= h - w).long() + (rows >= h - shift).long()
    region_c = (cols >= wd - w).long() + (cols >= wd - shift).long()
    ids = (region_r[:, None] * 3 + region_c[None, :]).reshape(1, 1, h, wd, 1)
    ids = window_partition(ids, w)[0, 0, :, :, 0]  # (nW, N)
    return ids[:, :, None] == ids[:, None, :]


def visible_frames(query_index: Tensor, key_index: Tensor, cache_frames: int, ref_stride: int, ref_count: int) -> Tensor:
    """Bool (Tq, Tk): frame `key` is visible from frame `query` (causal, last K plus sparse references)."""
    q = query_index[:, None]
    k = key_index[None, :]
    lag = q - k
    visible = (lag >= 0) & (lag < cache_frames)
    if ref_stride > 0 and ref_count > 0:
        is_ref = torch.remainder(k, ref_stride) == 0
        visible = visible | ((lag >= 0) & is_ref & (lag < cache_frames + ref_stride * ref_count))
    return visible


def masked_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
    """softmax(q k^T / sqrt(d) | mask) v, written out: at these small window shapes it is several times faster
    on CPU than F.scaled_dot_product_attention (measured), and it exports to ONNX as plain MatMul/Softmax."""
    scores = torch.matmul(q, k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.matmul(scores.softmax(dim=-1).to(v.dtype), v)


class PositionEncodingGenerator(nn.Module):
    """Conditional positional encoding (Chu et al. 2021): x + depthwise 3x3 conv of x, per frame."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(dim, dim, 3, padding=1, groups=dim)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, T, H, W, C) -> same shape."""
        b, t, h, w, c = x.shape
        y = x.reshape(b * t, h, w, c).permute(0, 3, 1, 2)
        y = self.proj(y).permute(0, 2, 3, 1).reshape(b, t, h, w, c)
        return x + y


class WindowBlock(nn.Module):
    """Pre-norm transformer block with windowed multi-head attention.

    temporal=True: each window attends over the same window in every visible frame (causal in time).
    temporal=False: each window attends within its own frame.
    """

    def __init__(self, dim: int, heads: int, window: int, shift: bool, temporal: bool, mlp_ratio: float) -> None:
        super().__init__()
        self.heads = heads
        self.window = window
        self.shift = window // 2 if shift else 0
        self.temporal = temporal
        self.peg = PositionEncodingGenerator(dim)
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(
        self,
        x: Tensor,
        time_mask: Tensor | None = None,
        past: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor] | None]:
        """x: (B, T, H, W, C) tokens.

        time_mask: bool (T, T) frame visibility for a clip (temporal blocks); with `past`, (T, M+T).
        past: cached (keys, values) of earlier frames, each (B, nW, heads, M*N, C/heads), for
        stepping new frames after them (T == 1, or T > 1 with a time_mask). Returns the new tokens and, for temporal blocks, this call's
        (keys, values) laid out like `past` so the caller can cache them.
        """
        x = self.peg(x)
        b, t, h, wd, c = x.shape
        w, hd = self.window, c // self.heads
        y = self.norm1(x)
        if self.shift:
            y = torch.roll(y, shifts=(-self.shift, -self.shift), dims=(2, 3))
        y = window_partition(y, w)  # (B, T, nW, N, C)
        nw, n = y.shape[2], y.shape[3]
        qkv = self.qkv(y).reshape(b, t, nw, n, 3, self.heads, hd).permute(4, 0, 1, 2, 5, 3, 6)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B, T, nW, heads, N, hd)
        region = shift_region_mask(h, wd, w, self.shift, x.device) if self.shift else None
        new_kv = None
        if self.temporal:
            q = q.permute(0, 2, 3, 1, 4, 5).reshape(b, nw, self.heads, t * n, hd)
            k = k.permute(0, 2, 3, 1, 4, 5).reshape(b, nw, self.heads, t * n, hd)
            v = v.permute(0, 2, 3, 1, 4, 5).reshape(b, nw, self.heads, t * n, hd)
            new_kv = (k, v)
            mask = None
            if past is not None:
                k = torch.cat([past[0].to(k.dtype), k], dim=3)
                v = torch.cat([past[1].to(v.dtype), v], dim=3)
                frames_k = k.shape[3] // n
                if time_mask is not None:  # several new frames: (T, M+T) visibility of past and new frames
                    tm = time_mask.repeat_interleave(n, 0).repeat_interleave(n, 1)
                    mask = tm[None] if region is None else tm[None] & region.repeat(1, t, frames_k)
                    mask = mask.unsqueeze(1)
                elif region is not None:
                    mask = region.repeat(1, 1, frames_k).unsqueeze(1)  # (nW, 1, N, M*N)
            else:
                if time_mask is not None:
                    tm = time_mask.repeat_interleave(n, 0).repeat_interleave(n, 1)  # (T*N, T*N)
                    mask = tm[None] if region is None else tm[None] & region.repeat(1, t, t)
                    mask = mask.unsqueeze(1)
                elif region is not None:
                    mask = region.repeat(1, t, t).unsqueeze(1)
            out = masked_attention(q, k, v, mask)
            out = out.reshape(b, nw, self.heads, t, n, hd).permute(0, 3, 1, 4, 2, 5)
        else:
            mask = region.unsqueeze(1) if region is not None else None  # (nW, 1, N, N)
            out = masked_attention(q, k, v, mask)
            out = out.permute(0, 1, 2, 4, 3, 5)
        out = out.reshape(b, t, nw, n, c)
        out = window_merge(out, w, h, wd)
        if self.shift:
            out = torch.roll(out, shifts=(self.shift, self.shift), dims=(2, 3))
        x = x + self.proj(out)
        x = x + self.mlp(self.norm2(x))
        return x, new_kv
