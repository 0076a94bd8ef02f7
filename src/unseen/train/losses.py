"""Training losses: masked L1, hinge adversarial, discriminator feature matching, VGG perceptual, temporal."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from unseen.errors import UnseenError


def masked_l1(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Mean absolute error over the pixels where weight is 1 (normalised by that area)."""
    w = weight.expand_as(pred)
    return (torch.abs(pred - target) * w).sum() / w.sum().clamp_min(1.0)


def hinge_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Discriminator hinge loss."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def hinge_g_loss(fake_logits: Tensor) -> Tensor:
    """Generator hinge (non-saturating form used by STTN/DSTT)."""
    return -fake_logits.mean()


def feature_matching_loss(fake_feats: list[Tensor], real_feats: list[Tensor]) -> Tensor:
    """L1 between discriminator features of the output and of the real clip (perceptual fallback)."""
    return sum(F.l1_loss(f, r.detach()) for f, r in zip(fake_feats, real_feats, strict=True)) / len(fake_feats)


def temporal_loss(pred: Tensor, target: Tensor, masks: Tensor) -> Tensor:
    """L1 between frame-to-frame changes of output and target, inside the holes. (B, T, C, H, W)."""
    if pred.shape[1] < 2:
        return pred.new_zeros(())
    dp = pred[:, 1:] - pred[:, :-1]
    dt = target[:, 1:] - target[:, :-1]
    region = torch.maximum(masks[:, 1:], masks[:, :-1])
    return masked_l1(dp, dt, region)


_VGG16_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"]  # up to relu3_3


class VGGPerceptual(nn.Module):
    """Perceptual loss on VGG16 features (relu1_2, relu2_2, relu3_3) from a torchvision-format state dict."""

    def __init__(self, weights: str | Path) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for v in _VGG16_LAYOUT:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                c = int(v)
        self.features = nn.Sequential(*layers)
        path = Path(weights)
        if not path.exists():
            raise UnseenError(f"{path}: VGG16 weights not found")
        state = torch.load(path, map_location="cpu", weights_only=True)
        own = {k: v for k, v in state.items() if k.startswith("features.") and k[len("features.") :] in self.features.state_dict()}
        try:
            self.features.load_state_dict({k[len("features.") :]: v for k, v in own.items()})
        except RuntimeError as exc:
            raise UnseenError(f"{path}: not a torchvision VGG16 state dict ({exc})") from None
        self.requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.taps = {3, 8, 15}

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        """pred, target: (N, 3, H, W) in [-1, 1]."""
        x = ((pred + 1) / 2 - self.mean) / self.std
        y = ((target + 1) / 2 - self.mean) / self.std
        loss = pred.new_zeros(())
        for i, layer in enumerate(self.features):
            x, y = layer(x), layer(y)
            if i in self.taps:
                loss = loss + F.l1_loss(x, y)
        return loss / len(self.taps)
