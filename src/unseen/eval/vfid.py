"""VFID (video Fréchet distance on I3D features, Wang et al. 2018) from weights the user provides.

The published video-inpainting numbers (FuseFormer, E2FGVI, ProPainter) use the Inception-I3D network of
`pytorch-i3d` (`rgb_imagenet.pt`, Kinetics-400 head), take the `Mixed_5c` activations averaged over time and
space (1024 values per video), one vector per video, and the Fréchet distance between the set of real videos and
the set of inpainted ones. Frames go in as RGB in [0, 1], as in E2FGVI's evaluation code. The network here is
written to load exactly that state dict (same module names); nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from unseen.errors import UnseenError


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding (front, back) for one dimension."""
    total = max(kernel - (stride if size % stride == 0 else size % stride), 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int], value: float = 0.0) -> torch.Tensor:
    pads: list[int] = []
    for dim in (2, 1, 0):  # F.pad wants the last dimension first: w, h, t
        pads.extend(_same_pad(x.shape[2 + dim], kernel[dim], stride[dim]))
    return F.pad(x, pads, value=value)


class Unit3D(nn.Module):
    """Conv3d (no bias) + BatchNorm + ReLU with 'SAME' padding; parameter names as in pytorch-i3d."""

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int, int] = (1, 1, 1), stride: tuple[int, int, int] = (1, 1, 1)) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv3d = nn.Conv3d(cin, cout, kernel, stride, bias=False)
        self.bn = nn.BatchNorm3d(cout, eps=0.001, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv3d(_pad_same(x, self.kernel, self.stride))))


class SamePool(nn.Module):
    """Max pooling with 'SAME' padding (zeros, as the reference does after ReLU)."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_pad_same(x, self.kernel, self.stride), self.kernel, self.stride)


class Mixed(nn.Module):
    """Inception block: 1x1 | 1x1->3x3 | 1x1->3x3 | pool->1x1, concatenated."""

    def __init__(self, cin: int, c: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        k3 = (3, 3, 3)
        self.b0 = Unit3D(cin, c[0])
        self.b1a, self.b1b = Unit3D(cin, c[1]), Unit3D(c[1], c[2], k3)
        self.b2a, self.b2b = Unit3D(cin, c[3]), Unit3D(c[3], c[4], k3)
        self.b3a, self.b3b = SamePool(k3, (1, 1, 1)), Unit3D(cin, c[5])

    @property
    def channels(self) -> int:
        return self.b0.conv3d.out_channels + self.b1b.conv3d.out_channels + self.b2b.conv3d.out_channels + self.b3b.conv3d.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


# Inception-v1 widths of the Mixed blocks, in order (I3D, Carreira & Zisserman 2017).
_MIXED = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}
_POOL_BEFORE = {"Mixed_3b": "MaxPool3d_3a_3x3", "Mixed_4b": "MaxPool3d_4a_3x3", "Mixed_5b": "MaxPool3d_5a_2x2"}
_POOLS = {
    "MaxPool3d_3a_3x3": ((1, 3, 3), (1, 2, 2)),
    "MaxPool3d_4a_3x3": ((3, 3, 3), (2, 2, 2)),
    "MaxPool3d_5a_2x2": ((2, 2, 2), (2, 2, 2)),
}


class I3DFeatures(nn.Module):
    """Inception-I3D up to Mixed_5c; `forward` gives the 1024-d space-time mean per video."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = SamePool((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        channels = 192
        for name, widths in _MIXED.items():
            if name in _POOL_BEFORE:
                pool = _POOL_BEFORE[name]
                self.add_module(pool, SamePool(*_POOLS[pool]))
            block = Mixed(channels, widths)
            self.add_module(name, block)
            channels = block.channels
        self.eval().requires_grad_(False)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """video: (N, 3, T, H, W) in [0, 1] -> (N, 1024)."""
        x = video
        for module in self.children():
            x = module(x)
        return x.mean(dim=(2, 3, 4))

    @classmethod
    def from_file(cls, path: str | Path) -> I3DFeatures:
        """Load a pytorch-i3d state dict (e.g. `rgb_imagenet.pt`); the logits layer is not needed."""
        path = Path(path)
        if not path.exists():
            raise UnseenError(f"{path}: I3D weights not found")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - torch raises several types
            raise UnseenError(f"{path}: not a readable state dict ({exc.__class__.__name__})") from None
        if not isinstance(state, dict):
            raise UnseenError(f"{path}: not a state dict")
        state = {k.removeprefix("module."): v for k, v in state.items() if not k.removeprefix("module.").startswith("logits.")}
        net = cls()
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            raise UnseenError(f"{path}: weights do not match Inception-I3D ({str(exc).splitlines()[0][:100]})") from None
        return net.eval().requires_grad_(False)

    @torch.no_grad()
    def video(self, frames: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """Features of one video given as uint8 RGB frames (T, H, W, 3) -> (1024,) float64."""
        x = torch.from_numpy(np.ascontiguousarray(np.stack(list(frames)))).float().div_(255.0)
        return self(x.permute(3, 0, 1, 2).unsqueeze(0))[0].double().numpy()


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^1/2), with the trace of the root from a symmetric eigenproblem."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    cov1, cov2 = np.atleast_2d(cov1), np.atleast_2d(cov2)
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape:
        raise ValueError("means and covariances must have matching shapes")
    # Tr((C1 C2)^1/2) = sum of sqrt(eigenvalues of C1^1/2 C2 C1^1/2), which is symmetric positive semi-definite.
    w, v = np.linalg.eigh(cov1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = root1 @ cov2 @ root1
    eig = np.linalg.eigvalsh((inner + inner.T) / 2)
    tr_root = float(np.sqrt(np.clip(eig, 0, None)).sum())
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * tr_root)


def vfid(real: list[np.ndarray], fake: list[np.ndarray]) -> float:
    """Fréchet distance between two sets of per-video feature vectors (at least 2 videos per set)."""
    if len(real) < 2 or len(fake) < 2:
        return float("nan")
    a, b = np.stack(real), np.stack(fake)
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
