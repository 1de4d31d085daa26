"""Motion tokenizer: point-track velocities -> FSQ motion codes -> per-point displacement classes.

Encoder: velocities of all views at one time step form one token; a causal transformer and FSQ
turn the (horizon-1) tokens into discrete codes. Decoder: learned time queries cross-attend to
the codes; for every (view, point, step) a small MLP of [time feature, point embedding, view
embedding], added to the time feature, gives logits over a window x window grid of whole-pixel
displacements (15x15: +-7 px per step), trained with cross-entropy.

Deviation from the paper's code (measured to matter for pixel accuracy): the class of a step
is the change of the *rounded displacement from the start point*, not the difference of
rounded absolute positions, so a perfectly classified track is within half a pixel of the truth
instead of within one pixel.

Axis letters: B batch, V views, S track steps (horizon), T = S - 1 velocity steps / codes,
N points, K = window * window classes, C FSQ channels, D width, E point-MLP width.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from amplify_ros.core.fsq import FSQ
from amplify_ros.core.transformer import Transformer, causal_mask


@dataclass
class TokenizerConfig:
    # inputs / outputs
    image_size: int = 128  # square images; displacement classes are pixels of this size
    views: int = 1
    num_points: int = 400
    horizon: int = 16
    window: int = 15  # displacement classes per axis (odd): +-(window // 2) px per step
    # architecture
    dim: int = 256
    enc_depth: int = 2
    dec_depth: int = 1
    heads: int = 8
    point_mlp_dim: int = 256
    fsq_levels: list[int] = field(default_factory=lambda: [8, 8, 6, 5])
    dropout: float = 0.1
    # training
    view_weights: list[float] | None = None  # loss weight per view (paper: 0.9 / 0.1)
    train_points: int | None = None  # points per sample in the decoder loss (None: all)
    still_weight: float = 1.0  # loss weight of the "no motion" class (the paper's unused weighted_ce)

    def __post_init__(self) -> None:
        if self.window % 2 == 0 or self.window < 3:
            raise ValueError(f"window must be odd and >= 3, got {self.window}")
        if self.horizon < 2:
            raise ValueError(f"horizon must be >= 2, got {self.horizon}")
        if self.view_weights is not None and len(self.view_weights) != self.views:
            raise ValueError(f"view_weights has {len(self.view_weights)} entries for {self.views} views")
        if self.train_points is not None and not 0 < self.train_points <= self.num_points:
            raise ValueError(f"train_points must be in 1..{self.num_points}, got {self.train_points}")

    @property
    def code_len(self) -> int:
        return self.horizon - 1


def displacement_classes(tracks: torch.Tensor, image_size: int, window: int) -> torch.Tensor:
    """tracks (..., S, N, 2) normalised -> classes (..., S-1, N) of each step's whole-pixel move."""
    px = (tracks.clamp(-1, 1) + 1) * (image_size / 2)
    rounded = torch.round(px - px[..., :1, :, :])  # (..., S, N, 2) from the start point
    r = window // 2
    step = (rounded[..., 1:, :, :] - rounded[..., :-1, :, :]).clamp(-r, r).long()
    return (step[..., 0] + r) * window + (step[..., 1] + r)


def classes_to_tracks(classes: torch.Tensor, start: torch.Tensor, image_size: int, window: int) -> torch.Tensor:
    """classes (..., T, N), start (..., N, 2) normalised -> tracks (..., T+1, N, 2) normalised."""
    r = window // 2
    step = torch.stack([classes // window - r, classes % window - r], dim=-1).float() * (2 / image_size)
    moved = torch.cumsum(step, dim=-3) + start.unsqueeze(-3)
    return torch.cat([start.unsqueeze(-3), moved], dim=-3)


class MotionTokenizer(nn.Module):
    def __init__(self, cfg: TokenizerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, t = cfg.dim, cfg.code_len
        self.fsq = FSQ(cfg.fsq_levels)
        self.proj_in = nn.Linear(cfg.views * cfg.num_points * 2, d)
        self.enc_pos = nn.Parameter(torch.randn(t, d) * 0.02)
        self.encoder = Transformer(d, cfg.enc_depth, cfg.heads, cfg.dropout)
        self.to_fsq = nn.Linear(d, self.fsq.dim)
        self.from_fsq = nn.Linear(self.fsq.dim, d)
        self.dec_pos = nn.Parameter(torch.randn(t, d) * 0.02)
        self.decoder = Transformer(d, cfg.dec_depth, cfg.heads, cfg.dropout, cross=True)
        e = cfg.point_mlp_dim
        self.time_in = nn.Linear(d, e)
        self.point_emb = nn.Parameter(torch.randn(cfg.num_points, e) * 0.02)
        self.view_emb = nn.Parameter(torch.randn(cfg.views, e) * 0.02)
        self.point_out = nn.Linear(e, d)
        self.head = nn.Linear(d, cfg.window**2)
        self.register_buffer("_enc_mask", causal_mask(t), persistent=False)

    @property
    def codebook_size(self) -> int:
        return self.fsq.codebook_size

    def encode(self, tracks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """tracks (B, V, S, N, 2) -> (codes (B, T, C) with straight-through gradient, indices (B, T))."""
        # velocities in pixels per step: O(1) inputs (in normalised units they are ~0.01 and the
        # encoder collapses onto a single code)
        vel = (tracks[:, :, 1:] - tracks[:, :, :-1]) * (self.cfg.image_size / 2)
        x = self.proj_in(rearrange(vel, "b v t n c -> b t (v n c)")) + self.enc_pos
        x = self.encoder(x, mask=self._enc_mask)
        return self.fsq(self.to_fsq(x))

    def decode_logits(self, codes: torch.Tensor, points: torch.Tensor | None = None) -> torch.Tensor:
        """codes (B, T, C) -> logits (B, V, T, N', K) for ``points`` (N' point indices; None: all)."""
        ctx = self.from_fsq(codes)
        x = self.decoder(self.dec_pos.expand(len(codes), -1, -1), context=ctx)  # (B, T, D)
        point = self.point_emb if points is None else self.point_emb[points]
        hidden = torch.relu(
            rearrange(self.time_in(x), "b t e -> b 1 t 1 e")
            + rearrange(self.view_emb, "v e -> 1 v 1 1 e")
            + rearrange(point, "n e -> 1 1 1 n e")
        )  # (B, V, T, N', E)
        # head(x + point_out(hidden)) without materialising (B, V, T, N', D): the maps are linear
        fused_w = self.head.weight @ self.point_out.weight  # (K, E)
        fused_b = self.head.weight @ self.point_out.bias  # (K,)
        base = rearrange(self.head(x), "b t k -> b 1 t 1 k")
        return base + hidden @ fused_w.T + fused_b

    def forward(self, tracks: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Cross-entropy of the reconstructed displacement classes; tracks (B, V, S, N, 2)."""
        cfg = self.cfg
        codes, indices = self.encode(tracks)
        points = None
        if self.training and cfg.train_points is not None and cfg.train_points < cfg.num_points:
            points = torch.randperm(cfg.num_points, device=tracks.device)[: cfg.train_points]
        logits = self.decode_logits(codes, points)
        target = displacement_classes(tracks, cfg.image_size, cfg.window)  # (B, V, T, N)
        if points is not None:
            target = target[..., points]
        weight = torch.ones(cfg.window**2, device=logits.device)
        weight[(cfg.window // 2) * (cfg.window + 1)] = cfg.still_weight  # class of (0, 0)
        ce = F.cross_entropy(rearrange(logits, "b v t n k -> b k v t n"), target, weight=weight, reduction="none")
        per_view = ce.mean(dim=(0, 2, 3))  # (V,)
        weights = torch.tensor(cfg.view_weights or [1.0 / cfg.views] * cfg.views, device=ce.device)
        loss = (per_view * weights).sum()
        with torch.no_grad():
            acc = (logits.argmax(-1) == target).float().mean()
            usage = torch.unique(indices).numel() / self.codebook_size
        return loss, {"loss": loss.item(), "class_acc": acc.item(), "code_usage": usage}

    @torch.inference_mode()
    def reconstruct(self, tracks: torch.Tensor) -> torch.Tensor:
        """tracks (B, V, S, N, 2) -> tracks decoded from their own codes, same shape."""
        codes, _ = self.encode(tracks)
        return self.decode(codes, tracks[:, :, 0])

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """codes (B, T, C), start points (B, V, N, 2) -> tracks (B, V, S, N, 2) (argmax classes)."""
        classes = self.decode_logits(codes).argmax(-1)
        return classes_to_tracks(classes, start, self.cfg.image_size, self.cfg.window)

    @torch.inference_mode()
    def decode_indices(self, indices: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        return self.decode(self.fsq.indices_to_codes(indices), start)
