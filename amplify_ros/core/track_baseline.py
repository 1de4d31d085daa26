"""ATM-style baseline: regress future point positions directly (no tokens), same image encoder.

Every query point becomes a token (its start position through a small MLP, plus a view
embedding) next to the image patch tokens and the sentence token; a bidirectional transformer
reads them all and each point token regresses its displacement from the start at every future
step, trained with MSE (points the ground truth marks invisible weigh 0.1, as in ATM). Point
tokens carry no identity beyond their position, so any set of query points can be asked for:
training uses a random subset per sample, evaluation the full grid.

Axis letters: B batch, V views, S steps, N points, D width.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from einops import rearrange
from torch import nn

from amplify_ros.core.image_tokens import ImageTokens, TrunkConfig
from amplify_ros.core.text import WordBagEncoder
from amplify_ros.core.tracks import IMAGE_SIZE
from amplify_ros.core.transformer import Transformer


@dataclass
class TrackBaselineConfig(TrunkConfig):
    # inputs / outputs
    image_size: int = IMAGE_SIZE
    views: int = 1
    horizon: int = 16
    vocab: list[str] = field(default_factory=lambda: ["<unk>"])
    # training
    train_points: int | None = 100  # query points per sample during training (None: all)
    invisible_weight: float = 0.1


class TrackBaseline(nn.Module):
    def __init__(self, cfg: TrackBaselineConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.dim
        self.image_tokens = ImageTokens(cfg.image_size, cfg.views, d, cfg.resnet_width, cfg.stem_pool)
        self.text = WordBagEncoder(cfg.vocab, d)
        self.point_in = nn.Sequential(nn.Linear(2, d), nn.GELU(), nn.Linear(d, d))
        self.view_emb = nn.Parameter(torch.randn(cfg.views, d) * 0.02)
        self.trunk = Transformer(d, cfg.depth, cfg.heads, cfg.dropout)
        self.out = nn.Linear(d, (cfg.horizon - 1) * 2)
        nn.init.zeros_(self.out.weight)  # start from "nothing moves"
        nn.init.zeros_(self.out.bias)

    def predict_tracks(self, images: torch.Tensor, sentences: list[str], start: torch.Tensor) -> torch.Tensor:
        """images (B, V, H, W, 3), start (B, V, N, 2) normalised -> tracks (B, V, S, N, 2)."""
        b, v, n, _ = start.shape
        points = self.point_in(start) + rearrange(self.view_emb, "v d -> 1 v 1 d")
        ctx = torch.cat([self.image_tokens(images), self.text(sentences).unsqueeze(1)], dim=1)
        x = self.trunk(torch.cat([ctx, rearrange(points, "b v n d -> b (v n) d")], dim=1))
        delta = rearrange(self.out(x[:, ctx.shape[1] :]), "b (v n) (s c) -> b v s n c", v=v, c=2)
        return torch.cat([start.unsqueeze(2), start.unsqueeze(2) + delta], dim=2)

    def forward(
        self, images: torch.Tensor, sentences: list[str], tracks: torch.Tensor, visible: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """tracks (B, V, S, N, 2) normalised, visible (B, V, S, N) -> weighted MSE of steps 1..S-1."""
        cfg = self.cfg
        n = tracks.shape[3]
        if self.training and cfg.train_points is not None and cfg.train_points < n:
            keep = torch.randperm(n, device=tracks.device)[: cfg.train_points]
            tracks, visible = tracks[..., keep, :], visible[..., keep]
        pred = self.predict_tracks(images, sentences, tracks[:, :, 0])
        weight = torch.where(visible[:, :, 1:], 1.0, cfg.invisible_weight).unsqueeze(-1)
        err = (pred[:, :, 1:] - tracks[:, :, 1:]) ** 2
        loss = (err * weight).sum() / (weight.sum() * 2)
        return loss, {"loss": loss.item(), "mse": err.mean().item()}
