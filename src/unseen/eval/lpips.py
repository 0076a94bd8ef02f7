"""LPIPS (Zhang et al. 2018, AlexNet variant) from weights the user provides: nothing is downloaded.

Needs two files: a torchvision AlexNet state dict (`features.*` keys) and the LPIPS v0.1 linear layers for
AlexNet (`lin0.model.1.weight` ... `lin4.model.1.weight`, the `alex.pth` shipped inside the lpips package).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from unseen.errors import UnseenError

_CHANNELS = (64, 192, 384, 256, 256)
_TAPS = (1, 4, 7, 9, 11)  # after each ReLU of torchvision's AlexNet.features


def _alexnet_features() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
    )  # fmt: skip


def _load(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise UnseenError(f"{path}: LPIPS weights not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises several types
        raise UnseenError(f"{path}: not a readable state dict ({exc.__class__.__name__})") from None


class LPIPS(nn.Module):
    """Perceptual distance between images; 0 for identical images, larger is more different."""

    def __init__(self, alexnet: str | Path, linear: str | Path) -> None:
        super().__init__()
        self.features = _alexnet_features()
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in _CHANNELS)
        backbone = {k[len("features.") :]: v for k, v in _load(alexnet).items() if k.startswith("features.")}
        lins = _load(linear)
        try:
            self.features.load_state_dict(backbone)
            for i, lin in enumerate(self.lins):
                lin.weight.data.copy_(lins[f"lin{i}.model.1.weight"])
        except (RuntimeError, KeyError) as exc:
            raise UnseenError(f"LPIPS weights do not match AlexNet / LPIPS v0.1 ({str(exc)[:100]})") from None
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """a, b: (N, 3, H, W) in [-1, 1] -> (N,) distances."""
        x, y = (a - self.shift) / self.scale, (b - self.shift) / self.scale
        total = a.new_zeros(a.shape[0])
        taps = iter(self.lins)
        for i, layer in enumerate(self.features):
            x, y = layer(x), layer(y)
            if i in _TAPS:
                nx = x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
                ny = y / (y.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
                total = total + next(taps)((nx - ny) ** 2).mean(dim=(1, 2, 3))
        return total

    @torch.no_grad()
    def frames(self, a: np.ndarray, b: np.ndarray) -> float:
        """LPIPS of two uint8 RGB frames."""
        from unseen.engine.tensors import frame_to_tensor

        return float(self(frame_to_tensor(a), frame_to_tensor(b))[0])
