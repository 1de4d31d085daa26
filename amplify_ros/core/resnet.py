"""ResNet-18 image encoder, written here and trained from scratch (no weights can be fetched).

Returns the last feature map as patch tokens. ``width`` scales every stage (64 is the standard
network, 32 a quarter of its compute); ``stem_pool=False`` drops the stem's max-pool, doubling
the token grid (a 128 px image gives 8x8 tokens instead of 4x4).

Axis letters: B batch, V views, P patch tokens, C channels.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.skip(x))


class ResNet18(nn.Module):
    def __init__(self, width: int = 64, stem_pool: bool = True) -> None:
        super().__init__()
        widths = [width, 2 * width, 4 * width, 8 * width]
        stem = [nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
        if stem_pool:
            stem.append(nn.MaxPool2d(3, 2, 1))
        self.stem = nn.Sequential(*stem)
        stages, cin = [], width
        for i, cout in enumerate(widths):
            stages += [_BasicBlock(cin, cout, 1 if i == 0 else 2), _BasicBlock(cout, cout, 1)]
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.out_dim = widths[-1]
        self.stride = 16 if not stem_pool else 32
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for block in self.stages:  # start each residual branch at zero: trains faster from scratch
            nn.init.zeros_(block.bn2.weight)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, H, W) float, already normalised -> tokens (B, P, C)."""
        return rearrange(self.stages(self.stem(images)), "b c h w -> b (h w) c")

    def num_tokens(self, height: int, width: int) -> int:
        return -(-height // self.stride) * -(-width // self.stride)


def normalise_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 (..., H, W, 3) -> float (..., 3, H, W) roughly zero-mean, unit-scale."""
    x = images.float().div(255.0).sub(0.5).div(0.25)
    return x.movedim(-1, -3)
