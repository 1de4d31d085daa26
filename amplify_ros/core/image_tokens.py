"""What the image-conditioned models share: ResNet-18 patch tokens and the trunk sizes.

Axis letters: B batch, V views, P patch tokens per view, D width.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange
from torch import nn

from amplify_ros.core.resnet import ResNet18, normalise_images


@dataclass
class TrunkConfig:
    """Sizes of an image encoder + transformer trunk (forward, track baseline, inverse, BC)."""

    dim: int = 256
    depth: int = 4
    heads: int = 8
    dropout: float = 0.1
    resnet_width: int = 32
    stem_pool: bool = False  # False: 8x8 patch tokens at 128 px (4x the convolution cost)


class ImageTokens(nn.Module):
    """ResNet-18 patch tokens of every view, projected to the model width, with position and
    view embeddings; shared by the forward model, the track baseline and the inverse model."""

    def __init__(self, image_size: int, views: int, dim: int, width: int, stem_pool: bool) -> None:
        super().__init__()
        self.resnet = ResNet18(width, stem_pool)
        self.num_tokens = views * self.resnet.num_tokens(image_size, image_size)
        self.proj = nn.Linear(self.resnet.out_dim, dim)
        self.pos = nn.Parameter(torch.randn(self.num_tokens, dim) * 0.02)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, V, H, W, 3) uint8 -> (B, V*P, D)."""
        b = images.shape[0]
        feats = self.resnet(normalise_images(rearrange(images, "b v h w c -> (b v) h w c")))
        return self.proj(rearrange(feats, "(b v) p c -> b (v p) c", b=b)) + self.pos
