"""T-PatchGAN discriminator (Chang et al. 2019, as used by STTN/DSTT), batch kept apart from time."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils import spectral_norm


class TPatchGAN(nn.Module):
    """3D-conv patch discriminator with spectral norm; scores local spatio-temporal patches.

    Input (B, T, 3, H, W) in [-1, 1]; output logits (B, T, C', H/32, W/32) (one per patch).
    """

    def __init__(self, channels: int = 32, layers: int = 5) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        c_in = 3
        for i in range(layers):
            c_out = channels * min(2**i, 4)
            mods.append(spectral_norm(nn.Conv3d(c_in, c_out, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2), bias=False)))
            mods.append(nn.LeakyReLU(0.2, inplace=True))
            c_in = c_out
        mods.append(nn.Conv3d(c_in, c_in, (3, 5, 5), stride=(1, 1, 1), padding=(1, 2, 2)))
        self.net = nn.Sequential(*mods)

    def forward(self, video: Tensor, return_features: bool = False) -> Tensor | tuple[Tensor, list[Tensor]]:
        """video (B, T, 3, H, W) -> logits (B, T, C', h, w); optionally with intermediate features."""
        x = video.transpose(1, 2)  # (B, 3, T, H, W): batch stays batch, time is a conv axis
        feats = []
        for mod in self.net:
            x = mod(x)
            if isinstance(mod, nn.LeakyReLU):
                feats.append(x)
        out = x.transpose(1, 2)
        return (out, feats) if return_features else out
